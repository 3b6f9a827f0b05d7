package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/evaluation"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/app/workspace"
)

// Engine executes replays: it regenerates every turn not yet replayed, in order, then
// evaluates both sides and finishes the replay.
type Engine struct {
	Store  *store.Store
	LLM    llm.Provider
	Prices *usage.Table
	// Evaluations evaluates both sides (evaluation.Service.Evaluate, the one home of
	// evaluating); nil: one is made from Store, LLM and Prices.
	Evaluations *evaluation.Service
	Log         *slog.Logger
	// Meter counts the LLM calls, tokens and cost; nil counts nothing.
	Meter usage.Meter
}

func (e *Engine) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

func (e *Engine) evaluations() *evaluation.Service {
	if e.Evaluations != nil {
		return e.Evaluations
	}
	return &evaluation.Service{Store: e.Store, LLM: e.LLM, Prices: e.Prices, Log: e.Log, Meter: e.Meter}
}

// Run names one replay to execute.
type Run struct {
	WorkspaceID int64
	ReplayID    int64
	// LastAttempt: no retry follows (the task's retries are spent), so a retryable provider
	// failure fails the replay instead of leaving it running.
	LastAttempt bool
}

// Result is what Execute did.
type Result struct {
	// Skipped says why nothing was done ("" when the replay was worked on).
	Skipped string
	// Status and Error are the replay's; Answered is how many turns this call answered.
	Status   string
	Error    string
	Answered int
}

// Execute works on one replay until it is finished. It is idempotent: a finished replay (or
// one that is gone) is skipped; a turn is answered at most once (its row decides, and its
// ledger row has the request id store.ReplayTurnRequestID), so a killed worker resumes at
// the first turn without an answer and a duplicate task writes nothing twice. It returns an
// error only for what a retry may fix (the database, a retryable provider failure while
// attempts remain); a provider failure otherwise fails the replay with the error.
func (e *Engine) Execute(ctx context.Context, run Run) (Result, error) {
	var res Result
	r, err := e.Store.ReplayByID(ctx, run.WorkspaceID, run.ReplayID)
	if errors.Is(err, store.ErrNotFound) {
		res.Skipped = "the replay no longer exists"
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if r.Finished() {
		res.Skipped, res.Status, res.Error = "the replay is "+r.Status+" already", r.Status, r.Error
		return res, nil
	}
	if _, err := e.Store.StartReplay(ctx, r.WorkspaceID, r.ID); err != nil {
		return res, err
	}
	a, err := e.Store.AssistantByID(ctx, r.WorkspaceID, r.AssistantID)
	if err != nil {
		return res, err // the replay cascades with its assistant: a transient failure
	}
	v, err := e.Store.AssistantVersionByNumber(ctx, r.WorkspaceID, r.AssistantID, r.Version)
	if errors.Is(err, store.ErrNotFound) {
		return e.fail(ctx, r, fmt.Sprintf("version %d of the assistant does not exist", r.Version), res)
	}
	if err != nil {
		return res, err
	}
	answering := v.Overlay(a)
	collected, err := e.collected(ctx, r)
	if err != nil {
		return res, err
	}
	turns, err := e.Store.ReplayTurns(ctx, r.WorkspaceID, r.ID)
	if err != nil {
		return res, err
	}
	prices := workspace.PricesOf(ctx, e.Store, e.Prices, r.WorkspaceID, e.log())
	var transcript []store.Message
	for i := 0; i < len(turns); i++ {
		t := &turns[i]
		transcript = append(transcript, store.Message{Role: model.RoleUser, Content: t.Customer, ContentType: "text"})
		if t.Replayed != nil {
			transcript = append(transcript, store.Message{Role: model.RoleAssistant, Content: *t.Replayed})
			continue
		}
		req := chat.BuildRequest(answering, collected, transcript)
		req.RequestID = store.ReplayTurnRequestID(r.ID, t.Idx)
		started := time.Now()
		resp, callErr := e.LLM.Complete(ctx, req)
		latency := time.Since(started).Milliseconds()
		if callErr != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if e.Meter != nil {
				e.Meter.LLMError(usage.PurposeReplay, req.Model)
			}
			e.log().WarnContext(ctx, "replay call failed", "replay_id", r.ID, "turn", t.Idx, "err", callErr)
			if llm.IsRetryable(callErr) && !run.LastAttempt {
				return res, callErr // the answered turns stay; the task is retried
			}
			return e.fail(ctx, r, fmt.Sprintf("turn %d: %s", t.Idx+1, safeError(callErr)), res)
		}
		rid := r.ID
		entry, _, err := usage.Entry(prices, usage.Call{
			WorkspaceID: r.WorkspaceID, AssistantID: &r.AssistantID, ReplayID: &rid,
			RequestID: req.RequestID, Purpose: usage.PurposeReplay, Model: resp.Model,
			Tokens: usage.Tokens{Prompt: resp.Usage.PromptTokens, Cached: resp.Usage.CachedTokens, Completion: resp.Usage.CompletionTokens},
		})
		if err != nil {
			return res, err
		}
		recorded, err := e.Store.RecordReplayAnswer(ctx, store.ReplayAnswer{WorkspaceID: r.WorkspaceID, ReplayID: r.ID, Idx: t.Idx,
			Content: resp.Content, Model: resp.Model, LatencyMS: latency, Usage: &entry})
		if err != nil {
			return res, err
		}
		if !recorded { // another task answered it meanwhile: read its answer
			fresh, err := e.Store.ReplayTurns(ctx, r.WorkspaceID, r.ID)
			if err != nil {
				return res, err
			}
			if i >= len(fresh) || fresh[i].Replayed == nil {
				return res, fmt.Errorf("replay %d: turn %d neither recorded nor answered", r.ID, t.Idx)
			}
			turns[i] = fresh[i]
			transcript = append(transcript, store.Message{Role: model.RoleAssistant, Content: *turns[i].Replayed})
			continue
		}
		usage.Count(e.Meter, entry)
		res.Answered++
		content := resp.Content
		t.Replayed = &content
		transcript = append(transcript, store.Message{Role: model.RoleAssistant, Content: content})
	}
	return e.finish(ctx, run, r, answering, turns, res)
}

// collected is what the assistant knew when the conversation began: the variables the
// pre-chat form filled (the ones extracted later were learnt from the conversation, which the
// replay regenerates). A test case's replay knows nothing.
func (e *Engine) collected(ctx context.Context, r *store.Replay) (map[string]string, error) {
	out := map[string]string{}
	if r.ConversationID == nil {
		return out, nil
	}
	vars, err := e.Store.Variables(ctx, r.WorkspaceID, *r.ConversationID)
	if err != nil {
		return nil, err
	}
	for _, v := range vars {
		if v.Source == "prechat" && v.Value != "" {
			out[v.Name] = v.Value
		}
	}
	return out, nil
}

// finish evaluates both sides (the original only when it has answers: a test case has none)
// and finishes the replay with the values and the evaluation calls' ledger rows.
func (e *Engine) finish(ctx context.Context, run Run, r *store.Replay, a *store.Assistant, turns []store.ReplayTurn, res Result) (Result, error) {
	var original, replayed []evaluation.Message
	hasOriginal := false
	for _, t := range turns {
		original = append(original, evaluation.Message{Role: model.RoleUser, Content: t.Customer})
		replayed = append(replayed, evaluation.Message{Role: model.RoleUser, Content: t.Customer})
		if t.Original != "" {
			hasOriginal = true
			original = append(original, evaluation.Message{Role: model.RoleAssistant, Content: t.Original})
		}
		if t.Replayed != nil {
			replayed = append(replayed, evaluation.Message{Role: model.RoleAssistant, Content: *t.Replayed})
		}
	}
	out := store.ReplayOutcome{WorkspaceID: r.WorkspaceID, ReplayID: r.ID, Status: model.JobDone}
	ev := e.evaluations()
	side := func(name string, msgs []evaluation.Message) (store.ReplayEvaluations, error) {
		rid := r.ID
		j, err := ev.Evaluate(ctx, evaluation.Transcript{Assistant: a, Messages: msgs, LastAttempt: run.LastAttempt,
			Call: usage.Call{WorkspaceID: r.WorkspaceID, AssistantID: &r.AssistantID, ReplayID: &rid,
				RequestID: store.ReplayEvalRequestID(r.ID, name), Purpose: usage.PurposeReplay}})
		if err != nil {
			return nil, err
		}
		if j.Usage != nil {
			out.Usage = append(out.Usage, j.Usage)
		}
		return Values(evaluation.Evaluators(a), j.Values), nil
	}
	var err error
	if hasOriginal {
		if out.Original, err = side(store.ReplaySideOriginal, original); err != nil {
			return res, err
		}
	}
	if out.Replayed, err = side(store.ReplaySideReplayed, replayed); err != nil {
		return res, err
	}
	finished, err := e.Store.FinishReplay(ctx, out)
	if err != nil {
		return res, err
	}
	if !finished {
		res.Skipped = "the replay was finished by another task"
		return res, nil
	}
	for _, u := range out.Usage {
		usage.Count(e.Meter, *u)
	}
	res.Status = model.JobDone
	return res, nil
}

// Values are evaluation values as a replay stores them, each with its evaluator's type.
func Values(evs []model.Evaluator, vals []store.EvaluationValue) store.ReplayEvaluations {
	types := map[string]string{}
	for _, e := range evs {
		types[e.Name] = e.Type
	}
	out := store.ReplayEvaluations{}
	for _, v := range vals {
		out = append(out, store.ReplayEvaluation{Name: v.Name, Type: types[v.Name], Value: v.Value, Reason: v.Reason, Status: v.Status, Error: v.Error})
	}
	return out
}

// fail finishes the replay as failed with msg.
func (e *Engine) fail(ctx context.Context, r *store.Replay, msg string, res Result) (Result, error) {
	finished, err := e.Store.FinishReplay(ctx, store.ReplayOutcome{WorkspaceID: r.WorkspaceID, ReplayID: r.ID, Status: model.JobFailed, Error: msg})
	if err != nil {
		return res, err
	}
	if !finished {
		res.Skipped = "the replay was finished by another task"
		return res, nil
	}
	res.Status, res.Error = model.JobFailed, msg
	return res, nil
}

func safeError(err error) string {
	var le *llm.Error
	if errors.As(err, &le) {
		return le.Error()
	}
	return "the language model did not answer"
}
