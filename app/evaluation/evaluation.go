// Package evaluation judges a conversation at each of its ends (issue 14 item 2).
//
// A pending row of evaluation_runs is a request to evaluate: the end's hook creates run 0 of
// every end (Begin), "Evaluate again" creates the later ones, and Execute runs any of them by
// its id. A run asks every evaluator of the conversation (the built-in ones and the
// assistant's custom ones, Evaluators) in ONE LLM call with a strict JSON schema (Schema),
// reads the reply per evaluator (Parse: valid values kept, the others failed with the error)
// and stores everything in one transaction (store.ApplyEvaluation): the run, its values, the
// built-in values on the conversation, the call's ledger row (purpose "evaluation", request
// id store.EvaluationRequestID, once) and its cost on the conversation. With the offline
// provider no call is made: deterministic heuristics fill the built-in values (Offline).
//
// Durability: the run's row is the promise, its task the means; a sweep (Due) finds ends
// without a run and runs left pending, and a run already finished is never run again.
package evaluation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
)

// Defaults of a Service.
const (
	// DefaultTranscript is how many of the last messages the model reads, DefaultMessageChars
	// how much of each, DefaultTranscriptChars how much in all (the oldest go first).
	DefaultTranscript      = 80
	DefaultMessageChars    = 2000
	DefaultTranscriptChars = 40000
	// MaxTokens bounds the reply.
	MaxTokens = 2000
)

// Service runs evaluations.
type Service struct {
	Store  *store.Store
	LLM    llm.Provider
	Prices *usage.Table
	// Conversations stores each run and tells open pages; nil: the same writes, nobody told.
	Conversations *conversation.Service
	Log           *slog.Logger
	// Meter counts the LLM calls, tokens and cost; nil counts nothing.
	Meter usage.Meter
	// Transcript bounds the messages read (DefaultTranscript when 0).
	Transcript int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Service) conversations() *conversation.Service {
	if s.Conversations != nil {
		return s.Conversations
	}
	return &conversation.Service{Store: s.Store}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// assistantOf loads the assistant that answers a conversation (nil when it has none, or it
// is gone), by the rule replies follow (store.AnsweringAssistant): a Test Chat is evaluated
// with the evaluators and model of the version it was answered by, a customer channel with
// the published ones.
func (s *Service) assistantOf(ctx context.Context, conv *store.Conversation) (*store.Assistant, error) {
	if conv.AssistantID == nil {
		return nil, nil
	}
	a, err := s.Store.AssistantByID(ctx, conv.WorkspaceID, *conv.AssistantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.Store.AnsweringAssistant(ctx, conv, a)
}

// Begin creates run 0 of an end (the automatic evaluation), once: the end's hook and the
// sweep may both call it. It returns the run (created or found).
func (s *Service) Begin(ctx context.Context, end *store.ConversationEnd) (*store.EvaluationRun, error) {
	conv, err := s.Store.GetConversation(ctx, end.WorkspaceID, end.ConversationID)
	if err != nil {
		return nil, err
	}
	a, err := s.assistantOf(ctx, conv)
	if err != nil {
		return nil, err
	}
	r := &store.EvaluationRun{WorkspaceID: end.WorkspaceID, ConversationID: end.ConversationID, EndSeq: end.Seq, Run: 0,
		EvaluatorsVersion: Version(a)}
	if _, err := s.Store.CreateEvaluationRun(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// Due is the sweep's work: it creates run 0 of up to limit ends older than age that have no
// run (their hook was lost), and returns them with up to limit runs pending for longer than
// age (their task may have been lost). The caller enqueues each.
func (s *Service) Due(ctx context.Context, age time.Duration, limit int) ([]store.EvaluationRun, error) {
	before := s.now().Add(-age)
	ends, err := s.Store.UnevaluatedEnds(ctx, before, limit)
	if err != nil {
		return nil, err
	}
	var out []store.EvaluationRun
	for i := range ends {
		r, err := s.Begin(ctx, &ends[i])
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return out, err
		}
		out = append(out, *r)
	}
	pending, err := s.Store.PendingEvaluationRuns(ctx, before, limit)
	if err != nil {
		return out, err
	}
	for _, p := range pending {
		dup := false
		for _, r := range out {
			dup = dup || r.ID == p.ID
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out, nil
}

// Run names one run to execute.
type Run struct {
	WorkspaceID int64
	RunID       int64
	// LastAttempt: no retry follows (the task's retries are spent), so a retryable provider
	// failure fails the run instead of leaving it pending.
	LastAttempt bool
}

// Result is what Execute did.
type Result struct {
	// Skipped says why nothing was done ("" when the run was executed).
	Skipped string
	// Status is the run's status, Error its error; Values its values.
	Status string
	Error  string
	Values []store.EvaluationValue
	// Provider is the model that answered, or "offline"; Asked whether an LLM call was made.
	Provider  string
	Asked     bool
	RequestID string
	// Latest: the run's values became the conversation's.
	Latest bool
}

// Execute runs one pending run. It is idempotent: a run that is finished (or gone) is skipped,
// and the run's row decides who finishes it, so a duplicate task writes nothing and its call
// is recorded once. It returns an error only for what a retry may fix (the database, a
// retryable provider failure while attempts remain); a provider failure otherwise fails the
// run with the error.
func (s *Service) Execute(ctx context.Context, r Run) (Result, error) {
	var res Result
	run, err := s.Store.EvaluationRunByID(ctx, r.WorkspaceID, r.RunID)
	if errors.Is(err, store.ErrNotFound) {
		res.Skipped = "the run no longer exists"
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if run.Status != model.EvalPending {
		res.Skipped = "the run is " + run.Status + " already"
		res.Status = run.Status
		return res, nil
	}
	conv, err := s.Store.GetConversation(ctx, run.WorkspaceID, run.ConversationID)
	if errors.Is(err, store.ErrNotFound) {
		res.Skipped = "the conversation no longer exists"
		return res, nil
	}
	if err != nil {
		return res, err
	}
	a, err := s.assistantOf(ctx, conv)
	if err != nil {
		return res, err
	}
	msgs, err := s.transcript(ctx, conv, run)
	if err != nil {
		return res, err
	}
	t := Transcript{Assistant: a, Messages: msgs, LastAttempt: r.LastAttempt}
	if s.LLM == nil || s.LLM.Offline() {
		if t.Facts, err = s.facts(ctx, conv, a); err != nil {
			return res, err
		}
	} else {
		res.RequestID = store.EvaluationRequestID(run)
		cid := conv.ID
		t.Call = usage.Call{WorkspaceID: conv.WorkspaceID, ConversationID: &cid, AssistantID: conv.AssistantID,
			ConversationType: conv.Type, RequestID: res.RequestID, Purpose: usage.PurposeEvaluation}
	}
	j, err := s.Evaluate(ctx, t)
	res.Asked = j.Asked
	if err != nil {
		return res, err // the run stays pending; the task is retried
	}
	out := store.EvaluationResult{WorkspaceID: run.WorkspaceID, RunID: run.ID, Status: j.Status, Error: j.Error,
		Values: j.Values, Provider: j.Provider, Usage: j.Usage}
	applied, err := s.conversations().ApplyEvaluation(ctx, out)
	if errors.Is(err, store.ErrNotFound) {
		res.Skipped = "the conversation no longer exists"
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if applied.Replayed {
		res.Skipped = "the run was finished by another task"
		return res, nil
	}
	if out.Usage != nil {
		usage.Count(s.Meter, *out.Usage)
	}
	res.Status, res.Error, res.Values, res.Provider, res.Latest = out.Status, out.Error, out.Values, out.Provider, applied.Latest
	return res, nil
}

func modelOf(a *store.Assistant) string {
	if a == nil {
		return ""
	}
	return a.Model
}

func safeError(err error) string {
	var le *llm.Error
	if errors.As(err, &le) {
		return le.Error()
	}
	return "the language model did not answer"
}

// transcript is the run's end's messages (those written up to the end), the last Transcript of
// them.
func (s *Service) transcript(ctx context.Context, conv *store.Conversation, run *store.EvaluationRun) ([]Message, error) {
	n := s.Transcript
	if n <= 0 {
		n = DefaultTranscript
	}
	var until *time.Time
	if end, err := s.Store.ConversationEndBySeq(ctx, conv.WorkspaceID, conv.ID, run.EndSeq); err == nil {
		until = &end.EndedAt
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	page, err := s.Store.Messages(ctx, conv.WorkspaceID, conv.ID, "", n+50)
	if err != nil {
		return nil, err
	}
	var out []Message
	for _, m := range page.Messages {
		if until != nil && m.CreatedAt.After(*until) {
			continue
		}
		switch m.Role {
		case model.RoleUser, model.RoleAssistant, model.RoleHuman:
			out = append(out, Message{Role: m.Role, Content: m.Content})
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// facts are what the offline heuristics read besides the messages.
func (s *Service) facts(ctx context.Context, conv *store.Conversation, a *store.Assistant) (Facts, error) {
	f := Facts{TakenOver: !conv.AIEnabled || conv.AIChangedBy != ""}
	if a == nil {
		return f, nil
	}
	var required []string
	for _, v := range a.Variables {
		if v.Required && strings.TrimSpace(v.Name) != "" {
			required = append(required, v.Name)
		}
	}
	if len(required) == 0 {
		return f, nil
	}
	vars, err := s.Store.Variables(ctx, conv.WorkspaceID, conv.ID)
	if err != nil {
		return f, err
	}
	have := map[string]bool{}
	for _, v := range vars {
		have[v.Name] = strings.TrimSpace(v.Value) != ""
	}
	for _, n := range required {
		if !have[n] {
			f.MissingRequired = true
		}
	}
	return f, nil
}

// systemPrompt is the evaluation call's instruction.
func systemPrompt(evs []model.Evaluator) string {
	var b strings.Builder
	b.WriteString("You review a finished conversation between a business's assistant and a customer. ")
	b.WriteString("Answer with one JSON object that follows the schema: for every key, an object with the value and a one-line reason that quotes the customer's own words. ")
	b.WriteString("Judge only from the conversation; \"human\" turns are a person of the team.\n\nThe questions:\n")
	for _, e := range evs {
		fmt.Fprintf(&b, "- %s (%s): %s", e.Name, e.Type, e.Question)
		if e.Type == model.EvaluatorOption && len(e.Options) > 0 {
			fmt.Fprintf(&b, " One of: %s.", strings.Join(e.Options, ", "))
		}
		if e.Type == model.EvaluatorRating {
			b.WriteString(" An integer from 1 to 5.")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// request is the one call of a run: the instruction, the transcript as chat messages (bounded:
// each message cut, the oldest dropped past the total), and a last instruction to evaluate.
func (s *Service) request(a *store.Assistant, evs []model.Evaluator, msgs []Message, requestID string) llm.Request {
	req := llm.Request{Model: modelOf(a), MaxTokens: MaxTokens, JSONSchema: Schema(evs), ToolFallback: true, RequestID: requestID}
	if a != nil {
		req.FirstMessage = a.FirstMessage
	}
	var turns []llm.Message
	total := 0
	for i := len(msgs) - 1; i >= 0; i-- {
		c := cut(msgs[i].Content, DefaultMessageChars)
		if total+len(c) > DefaultTranscriptChars {
			break
		}
		total += len(c)
		role := llm.RoleAssistant
		if msgs[i].Role == model.RoleUser {
			role = llm.RoleUser
		} else if msgs[i].Role == model.RoleHuman {
			c = "(a person of the team) " + c
		}
		turns = append(turns, llm.Message{Role: role, Content: c})
	}
	req.Messages = append(req.Messages, llm.Message{Role: llm.RoleSystem, Content: systemPrompt(evs)})
	for i := len(turns) - 1; i >= 0; i-- {
		req.Messages = append(req.Messages, turns[i])
	}
	if len(turns) == 0 {
		req.Messages = append(req.Messages, llm.Message{Role: llm.RoleUser, Content: "(the customer did not write)"})
	}
	req.Messages = append(req.Messages, llm.Message{Role: llm.RoleSystem, Content: "The conversation has ended. Evaluate it now, answering every question of the schema."})
	return req
}
