package chat

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
)

// MaxMessageLength is the longest message a customer may send.
const MaxMessageLength = 4000

// MaxPrechatValue bounds one pre-chat answer.
const MaxPrechatValue = 500

// ValidUTF8 replaces each byte of s that is not valid UTF-8 with U+FFFD, as encoding/json does
// for the JSON channels, so that a form post stores the same text a JSON post would (and
// PostgreSQL, which refuses invalid UTF-8, never sees it).
func ValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.Map(func(r rune) rune { return r }, s)
}

var phoneRe = regexp.MustCompile(`^\+?[0-9][0-9 ().-]{4,24}$`)

// NormalizePhone keeps a leading + and the digits.
func NormalizePhone(s string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		if (r == '+' && i == 0) || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ValidatePrechat checks answers against the assistant's pre-chat form: required fields
// present, emails and phones well formed, nothing beyond the form. It returns the variables to
// store (by the variable each field fills) and the errors by field name.
func ValidatePrechat(fields []model.PrechatField, answers map[string]string) (map[string]string, map[string]string) {
	vars := map[string]string{}
	errs := map[string]string{}
	known := map[string]bool{}
	for _, f := range fields {
		known[f.Name] = true
		v := strings.TrimSpace(ValidUTF8(answers[f.Name]))
		switch {
		case v == "":
			if f.Required {
				errs[f.Name] = fmt.Sprintf("%s is required.", label(f))
			}
			continue
		case utf8.RuneCountInString(v) > MaxPrechatValue:
			errs[f.Name] = fmt.Sprintf("%s is too long (at most %d characters).", label(f), MaxPrechatValue)
			continue
		case strings.ContainsRune(v, 0):
			errs[f.Name] = fmt.Sprintf("%s must not contain a NUL character.", label(f))
			continue
		}
		switch f.Type {
		case assistants.TypeEmail:
			if !config.LooksLikeEmail(v) {
				errs[f.Name] = fmt.Sprintf("%s must be an email address.", label(f))
				continue
			}
		case assistants.TypePhone:
			if !phoneRe.MatchString(v) {
				errs[f.Name] = fmt.Sprintf("%s must be a phone number.", label(f))
				continue
			}
			v = NormalizePhone(v)
		}
		vars[f.Fills()] = v
	}
	for k := range answers {
		if !known[k] {
			errs[k] = fmt.Sprintf("%s is not a field of this form.", k)
		}
	}
	return vars, errs
}

func label(f model.PrechatField) string {
	if f.Label != "" {
		return f.Label
	}
	return f.Name
}

// ValidateMessage checks a customer's message text.
func ValidateMessage(text string) (string, error) {
	t := strings.TrimSpace(ValidUTF8(text))
	switch {
	case t == "":
		return "", fmt.Errorf("the message is empty")
	case utf8.RuneCountInString(t) > MaxMessageLength:
		return "", fmt.Errorf("the message is longer than %d characters", MaxMessageLength)
	case strings.ContainsRune(t, 0):
		return "", fmt.Errorf("the message contains a NUL character")
	}
	return t, nil
}

// StartSession creates a conversation of the given type for an assistant, stores the
// pre-chat variables, and adds the assistant's first message (which costs nothing). The
// conversation records the version a answers with (the published one, or for a Test Chat
// the version it was overlaid with), and so does the first message.
func StartSession(ctx context.Context, st *store.Store, svc *conversation.Service, a *store.Assistant, typ, customer string, vars map[string]string) (*store.Conversation, error) {
	aid := a.ID
	conv := &store.Conversation{WorkspaceID: a.WorkspaceID, AssistantID: &aid, Type: typ, Customer: customer, Charged: typ != model.TypeTest, AIEnabled: true,
		AssistantVersion: a.VersionPtr()}
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	vs := make([]store.ConversationVariable, 0, len(names))
	for _, k := range names {
		vs = append(vs, store.ConversationVariable{Name: k, Value: vars[k], Source: "prechat"})
	}
	var first *store.Message
	if strings.TrimSpace(a.FirstMessage) != "" {
		first = &store.Message{Role: "assistant", Content: a.FirstMessage, AssistantVersion: a.VersionPtr()}
	}
	// One transaction: a visitor never leaves a conversation without its pre-chat answers.
	if err := svc.Start(ctx, conv, vs, first); err != nil {
		return nil, err
	}
	return conv, nil
}
