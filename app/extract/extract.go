// Package extract fills a conversation's variables from what the customer wrote.
//
// A run reads the conversation's messages and the assistant's declared variables and works in
// two steps:
//
//  1. Deterministic extractors, at no cost: email addresses, phone numbers (normalised to
//     E.164), URLs, numbers, dates (ISO, numeric day/month orders with documented ambiguity
//     rules, month names in several languages), yes/no answers (English and other languages)
//     and enum options (whole-word, case-insensitive). See Deterministic.
//  2. The language model, only for what they could not settle (free text such as names,
//     ambiguous values, numbers and yes/no said in words): one structured-output call whose
//     strict JSON schema (llm.VariablesSchema) lists just those variables. Its usage goes to
//     the ledger with purpose "extraction" and request id "extract:<conversation>:<last
//     customer message>" and is added to the conversation's totals. A reply that breaks the
//     schema stores no value of it; the error is recorded on the run and the conversation.
//
// Provenance (enforced by store.ApplyExtraction): every value keeps its source (pre-chat
// form, extracted, API), the message it came from and when it changed; a pre-chat or API
// value is never overwritten by an extraction; among extracted values the latest message
// wins, so "my email is actually ..." replaces the earlier address.
package extract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/app/workspace"
)

// Reasons a run was asked for.
const (
	ReasonMessage = "message" // new customer messages (debounced)
	ReasonEnded   = "ended"   // the conversation ended
	ReasonRerun   = "rerun"   // someone pressed "Re-run extraction"
)

// MaxTextValue bounds a free-text value.
const MaxTextValue = 500

// Extractor runs extractions.
type Extractor struct {
	Store  *store.Store
	LLM    llm.Provider
	Prices *usage.Table
	// Conversations stores each run and tells open pages when variables changed; nil: the
	// same writes with nobody told.
	Conversations *conversation.Service
	Log           *slog.Logger
	// Meter counts the LLM calls, tokens and cost (app/metrics); nil counts nothing.
	Meter usage.Meter
	// History is how many recent messages a run reads (default 200); the model sees the
	// last Transcript of them (default 60).
	History    int
	Transcript int
}

func (x *Extractor) conversations() *conversation.Service {
	if x.Conversations != nil {
		return x.Conversations
	}
	return &conversation.Service{Store: x.Store}
}

// Run names one extraction.
type Run struct {
	WorkspaceID    int64
	ConversationID int64
	Reason         string
	// Token distinguishes reruns of the same state (a rerun asks the model again, under a
	// request id of its own).
	Token string
}

// Result is what a run did.
type Result struct {
	// Skipped says why nothing was done ("" when the run worked).
	Skipped string
	// Deterministic are the values the extractors settled, LLM those the model gave.
	Deterministic map[string]string
	LLM           map[string]string
	// Asked lists the variables sent to the model (empty: no call).
	Asked []string
	// Changed lists the variables whose stored value changed.
	Changed []string
	// Error is the recorded error ("" when none).
	Error string
	// Replayed: this state was extracted before with the same request id (a retried job).
	Replayed  bool
	RequestID string
}

func (x *Extractor) log() *slog.Logger {
	if x.Log != nil {
		return x.Log
	}
	return slog.Default()
}

// RequestID is the ledger's request id of the extraction call reading up to a message.
func RequestID(conversationID, lastMessageID int64, token string) string {
	id := fmt.Sprintf("extract:%d:%d", conversationID, lastMessageID)
	if token != "" {
		id += ":rerun:" + token
	}
	return id
}

// Variables are an assistant's declared variables (with a name) as the LLM request lists them.
func Variables(a *store.Assistant) []llm.VariableSpec {
	var out []llm.VariableSpec
	for _, v := range a.Variables {
		if strings.TrimSpace(v.Name) != "" {
			out = append(out, llm.VariableSpec(v))
		}
	}
	return out
}

// Execute runs one extraction: idempotent (a state already extracted is skipped, an LLM
// call is recorded once per request id) and safe to run concurrently with others of the same
// conversation (the provenance rules hold in the store). It returns an error only for what a
// retry may fix (the database, a retryable provider failure); what went wrong otherwise is
// recorded on the conversation and in Result.Error.
func (x *Extractor) Execute(ctx context.Context, r Run) (Result, error) {
	var res Result
	conv, err := x.Store.GetConversation(ctx, r.WorkspaceID, r.ConversationID)
	if errors.Is(err, store.ErrNotFound) {
		res.Skipped = "the conversation no longer exists"
		return res, nil
	}
	if err != nil {
		return res, err
	}
	hist := x.History
	if hist <= 0 {
		hist = 200
	}
	page, err := x.Store.Messages(ctx, conv.WorkspaceID, conv.ID, "", hist)
	if err != nil {
		return res, err
	}
	msgs := make([]Message, 0, len(page.Messages))
	var last int64
	for _, m := range page.Messages {
		msgs = append(msgs, Message{ID: m.ID, Role: m.Role, Content: m.Content, CreatedAt: m.CreatedAt})
		if m.Role == "user" && m.ID > last {
			last = m.ID
		}
	}
	state, err := x.Store.ExtractionStateOf(ctx, conv.WorkspaceID, conv.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return res, err
	}
	done := int64(0)
	if state != nil {
		done = state.LastMessageID
	}
	apply := store.ExtractionUpdate{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, LastMessageID: last}
	record := func(why string) (Result, error) {
		res.Skipped = why
		if _, err := x.conversations().ApplyExtraction(ctx, apply); err != nil {
			return res, err
		}
		return res, nil
	}
	var vars []llm.VariableSpec
	var a *store.Assistant
	if conv.AssistantID != nil {
		a, err = x.Store.AssistantByID(ctx, conv.WorkspaceID, *conv.AssistantID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return res, err
		}
		if a != nil {
			vars = Variables(a)
		}
	}
	switch {
	case len(vars) == 0:
		return record("the assistant declares no variables")
	case last == 0:
		return record("the customer has not written yet")
	case r.Reason != ReasonRerun && state != nil && done >= last && (r.Reason != ReasonEnded || conv.EndedAt == nil || !state.ExtractedAt.Before(*conv.EndedAt)):
		res.Skipped = "already extracted up to the latest customer message"
		return res, nil
	case r.Reason != ReasonRerun && state != nil && done >= last:
		return record("nothing new since the last extraction")
	}

	existing, err := x.Store.Variables(ctx, conv.WorkspaceID, conv.ID)
	if err != nil {
		return res, err
	}
	fixed := map[string]bool{} // pre-chat and API values: never replaced by a guess
	current := map[string]string{}
	for _, v := range existing {
		current[v.Name] = v.Value
		if v.Source != store.VariableSourceExtracted && strings.TrimSpace(v.Value) != "" {
			fixed[v.Name] = true
		}
	}
	opt := Options{}
	if conv.Type == model.TypeWhatsApp {
		opt.DefaultCallingCode = CountryCode(conv.Customer)
	}
	det := Deterministic(vars, msgs, opt)
	res.Deterministic = map[string]string{}
	var ask []llm.VariableSpec
	for _, v := range vars {
		if fixed[v.Name] {
			continue
		}
		d := det[v.Name]
		if d.Status == Settled {
			res.Deterministic[v.Name] = d.Value
			apply.Values = append(apply.Values, store.ExtractedValue{Name: v.Name, Value: d.Value, MessageID: d.MessageID})
			continue
		}
		if NeedsLLM(v, d) {
			ask = append(ask, v)
		}
	}
	// The model is asked only about what is new: a customer message it has not read, or a
	// rerun.
	if len(ask) > 0 && (last > done || r.Reason == ReasonRerun) && x.LLM != nil {
		token := ""
		if r.Reason == ReasonRerun {
			token = r.Token
			if token == "" {
				token = fmt.Sprint(time.Now().UnixNano())
			}
		}
		res.RequestID = RequestID(conv.ID, last, token)
		if _, err := x.Store.UsageByRequestID(ctx, conv.WorkspaceID, res.RequestID); err == nil {
			res.Replayed = true // applied with its values when it was recorded
			return res, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return res, err
		}
		for _, v := range ask {
			res.Asked = append(res.Asked, v.Name)
		}
		vals, entry, callErr := x.ask(ctx, conv, a, vars, ask, msgs, current, res.RequestID, last)
		if callErr != nil {
			var le *llm.Error
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if x.Meter != nil {
				x.Meter.LLMError(usage.PurposeExtraction, a.Model)
			}
			apply.Error = safeError(callErr)
			apply.LastMessageID = done // not read yet: a retry asks again
			res.Error = apply.Error
			x.log().WarnContext(ctx, "extraction call failed", "conversation_id", conv.ID, "err", callErr)
			if _, err := x.conversations().ApplyExtraction(ctx, apply); err != nil {
				return res, err
			}
			if errors.As(callErr, &le) && le.Retryable {
				return res, callErr
			}
			return res, nil
		}
		apply.Usage = entry
		res.LLM = map[string]string{}
		for _, v := range vals.values {
			res.LLM[v.Name] = v.Value
			apply.Values = append(apply.Values, v)
		}
		if vals.err != "" {
			apply.Error = vals.err
			res.Error = vals.err
		}
	}
	out, err := x.conversations().ApplyExtraction(ctx, apply)
	if err != nil {
		return res, err
	}
	if apply.Usage != nil && !out.Replayed {
		usage.Count(x.Meter, *apply.Usage) // counted once: a replayed request id wrote nothing
	}
	res.Replayed = out.Replayed
	res.Changed = out.Changed
	return res, nil
}

func safeError(err error) string {
	var le *llm.Error
	if errors.As(err, &le) {
		return le.Error()
	}
	return "the language model did not answer"
}

// systemPrompt is the extraction call's instruction.
func systemPrompt(vars []llm.VariableSpec, now time.Time) string {
	var b strings.Builder
	b.WriteString("You read a conversation between a business's assistant and a customer, and extract the details the customer gave about themselves. ")
	b.WriteString("Answer with one JSON object that follows the schema: a value for every key, as a string, or null when the customer did not give it. ")
	b.WriteString("Use only what the customer wrote; never guess. When the customer corrected a detail, give the corrected value. ")
	fmt.Fprintf(&b, "Today is %s. Write dates as YYYY-MM-DD, phone numbers with their country code, yes/no answers as \"true\" or \"false\".\n\nThe details:\n", now.UTC().Format("2006-01-02"))
	for _, v := range vars {
		d := v.Description
		if d == "" {
			d = llm.Humanize(v.Name)
		}
		t := v.Type
		if t == "" {
			t = llm.TypeText
		}
		fmt.Fprintf(&b, "- %s (%s): %s", v.Name, t, d)
		if len(v.Options) > 0 {
			fmt.Fprintf(&b, " One of: %s.", strings.Join(v.Options, ", "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

type llmValues struct {
	values []store.ExtractedValue
	err    string // what was wrong with the reply ("" when nothing)
}

// ask makes the extraction call for the variables in ask and returns the values it gave,
// normalised and checked against the schema, and the ledger row of the call.
func (x *Extractor) ask(ctx context.Context, conv *store.Conversation, a *store.Assistant, all, ask []llm.VariableSpec,
	msgs []Message, current map[string]string, requestID string, last int64) (llmValues, *store.UsageEntry, error) {
	n := x.Transcript
	if n <= 0 {
		n = 60
	}
	tail := msgs
	if len(tail) > n {
		tail = tail[len(tail)-n:]
	}
	req := llm.Request{
		Model:        a.Model,
		MaxTokens:    1000,
		JSONSchema:   llm.VariablesSchema(ask),
		RequestID:    requestID,
		FirstMessage: a.FirstMessage,
		Variables:    ask,
		Collected:    current,
	}
	req.Messages = append(req.Messages, llm.Message{Role: llm.RoleSystem, Content: systemPrompt(ask, time.Now())})
	for _, m := range tail {
		switch m.Role {
		case "user":
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleUser, Content: m.Content})
		case "assistant", "human":
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleAssistant, Content: m.Content})
		}
	}
	resp, err := x.LLM.Complete(ctx, req)
	if err != nil {
		return llmValues{}, nil, err
	}
	prices := workspace.PricesOf(ctx, x.Store, x.Prices, conv.WorkspaceID, x.log())
	cid, lastID := conv.ID, last
	entry, cost, err := usage.Entry(prices, usage.Call{
		WorkspaceID: conv.WorkspaceID, ConversationID: &cid, MessageID: &lastID, AssistantID: conv.AssistantID,
		ConversationType: conv.Type, RequestID: requestID, Purpose: usage.PurposeExtraction, Model: resp.Model,
		Tokens:            usage.Tokens{Prompt: resp.Usage.PromptTokens, Cached: resp.Usage.CachedTokens, Completion: resp.Usage.CompletionTokens},
		AddToConversation: true,
	})
	if err != nil {
		return llmValues{}, nil, err
	}
	vals, verr := Validate(resp.Content, ask)
	out := llmValues{}
	var problems []string
	if verr != nil {
		problems = append(problems, verr.Error())
	}
	if cost.Warning != "" {
		problems = append(problems, cost.Warning+": cost recorded as 0; add a price in Settings")
	}
	out.err = strings.Join(problems, "; ")
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		out.values = append(out.values, store.ExtractedValue{Name: name, Value: vals[name], MessageID: attribute(vals[name], msgs, last)})
	}
	return out, &entry, nil
}

// SchemaError is a reply that does not follow the extraction schema.
type SchemaError struct{ Msg string }

func (e *SchemaError) Error() string { return "the model's reply breaks the schema: " + e.Msg }

// Validate checks an extraction reply against the strict schema of vars (one JSON object,
// every key present, no other key, each value a string or null) and normalises the values by type. A reply that breaks the schema gives no value at all and
// a *SchemaError. A value of the wrong shape for its type (an "email" that is not an address,
// an option that is not one of the variable's) is dropped and reported in the error, the
// other values kept.
func Validate(content string, vars []llm.VariableSpec) (map[string]string, error) {
	s := strings.TrimSpace(content)
	if strings.HasPrefix(s, "```") { // some local models fence JSON despite the schema
		s = strings.TrimPrefix(s, "```json")
		s = strings.TrimPrefix(s, "```")
		s = strings.TrimSuffix(strings.TrimSpace(s), "```")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil || raw == nil {
		return nil, &SchemaError{Msg: "it is not a JSON object"}
	}
	known := map[string]llm.VariableSpec{}
	for _, v := range vars {
		known[v.Name] = v
		if _, ok := raw[v.Name]; !ok {
			return nil, &SchemaError{Msg: fmt.Sprintf("the key %q is missing", v.Name)}
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	strs := map[string]*string{}
	for _, k := range keys {
		if _, ok := known[k]; !ok {
			return nil, &SchemaError{Msg: fmt.Sprintf("the key %q is not in the schema", k)}
		}
		var p *string
		if err := json.Unmarshal(raw[k], &p); err != nil {
			return nil, &SchemaError{Msg: fmt.Sprintf("the value of %q is neither a string nor null", k)}
		}
		strs[k] = p
	}
	out := map[string]string{}
	var bad []string
	for _, v := range vars {
		p := strs[v.Name]
		if p == nil {
			continue
		}
		val := strings.TrimSpace(*p)
		if val == "" || strings.EqualFold(val, "null") {
			continue
		}
		norm, ok := normalize(v, val)
		if !ok {
			bad = append(bad, fmt.Sprintf("the value of %q is not a valid %s", v.Name, typeName(v)))
			continue
		}
		out[v.Name] = norm
	}
	if len(bad) > 0 {
		return out, errors.New(strings.Join(bad, "; "))
	}
	return out, nil
}

func typeName(v llm.VariableSpec) string {
	switch effectiveType(v) {
	case llm.TypeEmail:
		return "email address"
	case llm.TypePhone:
		return "phone number"
	case llm.TypeNumber:
		return "number"
	case llm.TypeDate:
		return "date"
	case llm.TypeBoolean:
		return "yes/no answer"
	case llm.TypeEnum:
		return "option"
	case typeURL:
		return "web address"
	}
	return "text"
}

// normalize turns a model's value into the stored form of its type.
func normalize(v llm.VariableSpec, val string) (string, bool) {
	switch effectiveType(v) {
	case llm.TypeEmail:
		es := Emails(val)
		if len(es) != 1 {
			return "", false
		}
		return es[0], true
	case llm.TypePhone:
		if e, ok, _ := NormalizePhone(val, ""); ok {
			return e, true
		}
		if d := digitCount(val); d >= 6 && d <= 15 && phoneShaped(val) {
			return strings.Join(strings.Fields(val), " "), true // a national number the model could not place
		}
		return "", false
	case llm.TypeNumber:
		return ParseNumber(val)
	case llm.TypeDate:
		return ParseDate(val)
	case llm.TypeBoolean:
		b, ok := ParseBool(val)
		if !ok {
			return "", false
		}
		if b {
			return "true", true
		}
		return "false", true
	case llm.TypeEnum:
		if len(v.Options) == 0 {
			return val, true
		}
		return MatchOption(val, v.Options)
	case typeURL:
		us := URLs(val)
		if len(us) == 1 {
			return us[0], true
		}
		return val, utf8.RuneCountInString(val) <= MaxTextValue
	}
	if utf8.RuneCountInString(val) > MaxTextValue || strings.ContainsRune(val, 0) {
		return "", false
	}
	return val, true
}

func phoneShaped(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || strings.ContainsRune(" +-.()/", r)) {
			return false
		}
	}
	return true
}

// attribute finds the message a model's value came from: the newest customer message that
// holds it (as written, or as the extractors read it); the last customer message when none
// does (the model read the whole conversation).
func attribute(value string, msgs []Message, last int64) int64 {
	lv := strings.ToLower(value)
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.Role != "user" {
			continue
		}
		lc := strings.ToLower(m.Content)
		if strings.Contains(lc, lv) {
			return m.ID
		}
		for _, e := range Emails(m.Content) {
			if strings.EqualFold(e, value) {
				return m.ID
			}
		}
		for _, p := range phoneSpans(m.Content) {
			if e, ok, _ := NormalizePhone(p.text, ""); ok && e == value {
				return m.ID
			}
		}
		for _, d := range Dates(m.Content, m.CreatedAt) {
			if d.Value == value || d.Alt == value {
				return m.ID
			}
		}
		for _, n := range Numbers(m.Content) {
			if n.Value == value {
				return m.ID
			}
		}
	}
	return last
}

// Pending lists up to limit conversations that ended since a time and whose last extraction
// (if any) ran before they ended: the sweep enqueues one more extraction (ReasonEnded) of each.
func (x *Extractor) Pending(ctx context.Context, since time.Time, limit int) ([]store.ConversationRef, error) {
	return x.Store.EndedWithoutFinalExtraction(ctx, since, limit)
}
