package llm

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The offline provider's names.
const (
	// OfflineName is what the UI shows for the offline provider.
	OfflineName = "offline (built-in)"
	// OfflineModel is the model reported by offline responses; the embedded price table
	// prices it at zero.
	OfflineModel = "offline"
	// DefaultGreeting is the offline reply's greeting for assistants without a first message.
	DefaultGreeting = "Hello! How can I help you today?"
	// DefaultWordDelay paces the offline stream so that the UI shows it arriving word by word.
	DefaultWordDelay = 15 * time.Millisecond
)

// OfflineOptions configure the offline provider.
type OfflineOptions struct {
	// DefaultModel is the model whose tokenizer counts tokens when a request names none.
	DefaultModel string
	// WordDelay is the pause before each streamed word (0: none).
	WordDelay time.Duration
}

// Offline is the built-in provider used without an API key. It needs no network and is
// deterministic: the same request always gets the same reply.
//
// Replies (Complete and Stream without JSONSchema):
//   - when the conversation holds no assistant message yet, the reply opens with the
//     assistant's first message (Request.FirstMessage, or DefaultGreeting);
//   - otherwise it opens with "Thank you.";
//   - then it asks, in one plain sentence, for the first required variable that is still
//     missing (see Missing and AskFor), one variable per turn;
//   - when none is missing it says so, and that it cannot answer questions offline.
//
// Extraction (Request.JSONSchema set): the reply is a JSON object in the VariablesSchema shape
// with the values found in the last user message: email addresses, phone numbers and ISO
// dates wherever they appear, and any type when the message answers the question the
// previous offline reply asked (AskFor's sentence).
//
// Usage is counted with tiktoken in the encoding of the requested model (CountMessages for
// the prompt, CountText for the reply); the response's Model is OfflineModel.
type Offline struct {
	opts OfflineOptions
}

// NewOffline returns the offline provider.
func NewOffline(opts OfflineOptions) *Offline {
	return &Offline{opts: opts}
}

// Name implements Provider.
func (o *Offline) Name() string { return OfflineName }

// Offline implements Provider.
func (o *Offline) Offline() bool { return true }

// Complete implements Provider.
func (o *Offline) Complete(ctx context.Context, req Request) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, o.ctxError(err)
	}
	return o.respond(req, o.content(req)), nil
}

// Stream implements Provider: the reply arrives word by word (each delta is a word with the
// whitespace before it), and the deltas add up to the whole reply.
func (o *Offline) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	content := o.content(req)
	var sent strings.Builder
	for _, w := range splitWords(content) {
		if o.opts.WordDelay > 0 {
			t := time.NewTimer(o.opts.WordDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return o.respond(req, sent.String()), o.ctxError(ctx.Err())
			case <-t.C:
			}
		} else if err := ctx.Err(); err != nil {
			return o.respond(req, sent.String()), o.ctxError(err)
		}
		sent.WriteString(w)
		if err := onDelta(w); err != nil {
			return o.respond(req, sent.String()), err
		}
	}
	return o.respond(req, content), nil
}

func (o *Offline) ctxError(err error) error {
	return &Error{Provider: OfflineName, Message: "the request was canceled", err: err}
}

func (o *Offline) respond(req Request, content string) Response {
	model := req.Model
	if model == "" {
		model = o.opts.DefaultModel
	}
	r := Response{
		Content: content,
		Model:   OfflineModel,
		Usage: Usage{
			PromptTokens:     CountMessages(model, req.Messages),
			CompletionTokens: CountText(model, content),
		},
	}
	if req.RequestID != "" {
		r.ProviderRequestID = "offline-" + req.RequestID
	}
	return r
}

func (o *Offline) content(req Request) string {
	if req.JSONSchema != nil {
		return OfflineExtract(req)
	}
	return OfflineReply(req)
}

// OfflineReply is the offline provider's reply to req (see Offline).
func OfflineReply(req Request) string {
	var parts []string
	if !hasRole(req.Messages, RoleAssistant) {
		g := strings.TrimSpace(req.FirstMessage)
		if g == "" {
			g = DefaultGreeting
		}
		parts = append(parts, g)
	} else {
		parts = append(parts, "Thank you.")
	}
	if missing := Missing(req.Variables, req.Collected); len(missing) > 0 {
		parts = append(parts, AskFor(missing[0]))
	} else if len(req.Variables) > 0 && hasRole(req.Messages, RoleUser) {
		parts = append(parts, "I have everything I need for now. I am running offline, so I cannot answer questions myself.")
	} else if hasRole(req.Messages, RoleAssistant) {
		parts = append(parts, "I am running offline, so I cannot answer questions myself.")
	}
	return strings.Join(parts, " ")
}

// AskFor is the sentence the offline provider uses to ask for a variable.
func AskFor(v VariableSpec) string {
	label := Humanize(v.Name)
	if label == "" {
		label = "details"
	}
	switch typeOf(v) {
	case TypeDate:
		return "Could you please tell me your " + label + " (for example 2026-03-01)?"
	case TypeBoolean:
		return "Could you please tell me your " + label + " (yes or no)?"
	case TypeEnum:
		if len(v.Options) > 0 {
			return "Could you please tell me your " + label + "? The options are " + joinOr(v.Options) + "."
		}
	}
	return "Could you please tell me your " + label + "?"
}

func joinOr(xs []string) string {
	switch len(xs) {
	case 1:
		return xs[0]
	case 2:
		return xs[0] + " or " + xs[1]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

func hasRole(msgs []Message, role string) bool {
	for _, m := range msgs {
		if r, _ := normalizeRole(m.Role); r == role {
			return true
		}
	}
	return false
}

// splitWords cuts s into words, each with the whitespace before it.
func splitWords(s string) []string {
	var out []string
	start := 0
	inSpace := true
	for i, r := range s {
		sp := unicode.IsSpace(r)
		if sp && !inSpace && i > start {
			out = append(out, s[start:i])
			start = i
		}
		inSpace = sp
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

var (
	reEmail  = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	rePhone  = regexp.MustCompile(`\+?\(?\d[\d\s().\-]{5,}\d`)
	reDate   = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`)
	reNumber = regexp.MustCompile(`-?\d+(?:[.,]\d+)?`)
	reLeadIn = regexp.MustCompile(`(?i)^(?:(?:my|the)\s+[\w ]{1,30}?\s+(?:is|are)|it\s+is|it's|i\s+am|i'm|this\s+is|call\s+me|sure|yes|ok(?:ay)?)[\s,:!.-]+`)
)

// OfflineExtract is the offline provider's answer to an extraction call: a JSON object in the
// VariablesSchema shape (see Offline).
func OfflineExtract(req Request) string {
	last, asked := lastUserAndAsked(req)
	out := make(map[string]any, len(req.Variables))
	for _, v := range req.Variables {
		out[v.Name] = nil
		if val, ok := extractValue(v, last, v.Name == asked); ok {
			out[v.Name] = val
		}
	}
	b, _ := json.Marshal(out) // keys sorted: deterministic
	return string(b)
}

// lastUserAndAsked returns the last user message and the name of the variable that the
// assistant message just before it asked for with AskFor's sentence ("" when none).
func lastUserAndAsked(req Request) (string, string) {
	lastUser := -1
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if r, _ := normalizeRole(req.Messages[i].Role); r == RoleUser {
			lastUser = i
			break
		}
	}
	if lastUser < 0 {
		return "", ""
	}
	text := req.Messages[lastUser].Content
	for i := lastUser - 1; i >= 0; i-- {
		r, _ := normalizeRole(req.Messages[i].Role)
		if r == RoleUser {
			break
		}
		if r != RoleAssistant {
			continue
		}
		for _, v := range req.Variables {
			if strings.Contains(req.Messages[i].Content, AskFor(v)) {
				return text, v.Name
			}
		}
		break
	}
	return text, ""
}

func extractValue(v VariableSpec, text string, asked bool) (string, bool) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", false
	}
	switch typeOf(v) {
	case TypeEmail:
		if m := reEmail.FindString(text); m != "" {
			return strings.TrimRight(m, "."), true
		}
	case TypePhone:
		for _, m := range rePhone.FindAllString(text, -1) {
			var b strings.Builder
			digits := 0
			for i, r := range m {
				if r == '+' && i == 0 {
					b.WriteRune(r)
				} else if r >= '0' && r <= '9' {
					b.WriteRune(r)
					digits++
				}
			}
			if digits >= 7 && digits <= 15 && !reDate.MatchString(m) {
				return b.String(), true
			}
		}
	case TypeDate:
		for _, m := range reDate.FindAllString(text, -1) {
			if _, err := time.Parse("2006-01-02", m); err == nil {
				return m, true
			}
		}
	case TypeNumber:
		if asked {
			if m := reNumber.FindString(text); m != "" {
				return strings.ReplaceAll(m, ",", "."), true
			}
		}
	case TypeBoolean:
		if asked {
			switch w := strings.ToLower(strings.Trim(firstWord(text), ".,!")); w {
			case "yes", "y", "yeah", "yep", "sure", "true", "ok", "okay":
				return "true", true
			case "no", "n", "nope", "false":
				return "false", true
			}
		}
	case TypeEnum:
		if asked {
			lower := strings.ToLower(text)
			for _, o := range v.Options {
				if containsWord(lower, strings.ToLower(o)) {
					return o, true
				}
			}
		}
	default: // text
		if asked {
			if s := textAnswer(text); s != "" {
				return s, true
			}
		}
	}
	return "", false
}

// textAnswer reads a short free-text answer: "Sure, my name is Jane Doe, and my email is
// jane@example.com." gives "Jane Doe". Email addresses are left out, lead-ins ("my name is",
// "it's", "sure", ...) removed, and the answer ends at the first comma, semicolon or sentence.
func textAnswer(text string) string {
	s := strings.TrimSpace(reEmail.ReplaceAllString(text, ""))
	for range 3 {
		t := strings.TrimSpace(reLeadIn.ReplaceAllString(s, ""))
		if t == s {
			break
		}
		s = t
	}
	if i := strings.IndexAny(s, ",;!?\n"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(strings.TrimRight(s, ".!?,:; "))
	if utf8.RuneCountInString(s) > 100 {
		return ""
	}
	return s
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func containsWord(text, word string) bool {
	if word == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(word)
		beforeOK := j == 0 || !isWordByte(text[j-1])
		afterOK := end == len(text) || !isWordByte(text[end])
		if beforeOK && afterOK {
			return true
		}
		i = j + 1
	}
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}
