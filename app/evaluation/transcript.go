package evaluation

import (
	"context"
	"strings"

	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/app/workspace"
)

// Transcript is one transcript to evaluate with an assistant's evaluators: a conversation's
// end (Execute) or a side of a replay (app/replay). Call names the ledger row of the call, if
// one is made: its workspace, request id, purpose, conversation or replay; the model and
// tokens are filled from the answer.
type Transcript struct {
	Assistant *store.Assistant // nil: the built-in evaluators only
	Messages  []Message
	// Facts are what the offline heuristics read besides the messages.
	Facts Facts
	Call  usage.Call
	// LastAttempt: no retry follows, so a retryable provider failure fails the evaluation
	// instead of being returned.
	LastAttempt bool
}

// Judged is what evaluating a transcript produced.
type Judged struct {
	// Status is model.EvalDone or EvalFailed, Error what went wrong ("" when nothing).
	Status string
	Error  string
	Values []store.EvaluationValue
	// Provider is the model that answered, or "offline"; Asked whether an LLM call was made.
	Provider string
	Asked    bool
	// Usage is the ledger row of the call to write (nil when none was made); nothing is
	// written here, so the caller stores it with its result, once.
	Usage *store.UsageEntry
}

// Evaluate evaluates a transcript with the evaluators of t.Assistant (the built-in ones and its
// custom ones) in one LLM call, or with the offline heuristics when the provider is offline.
// It returns an error only for what a retry may fix (the context, a retryable provider
// failure while attempts remain); any other provider failure is a Judged with status failed.
// It is the one home of evaluating: Execute (a conversation's end) and replays call it.
func (s *Service) Evaluate(ctx context.Context, t Transcript) (Judged, error) {
	evs := Evaluators(t.Assistant)
	var out Judged
	out.Status = model.EvalDone
	if s.LLM == nil || s.LLM.Offline() {
		out.Provider = Provider
		out.Values = Offline(t.Messages, evs, t.Facts)
		return out, nil
	}
	out.Asked = true
	resp, callErr := s.LLM.Complete(ctx, s.request(t.Assistant, evs, t.Messages, t.Call.RequestID))
	if callErr != nil {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if s.Meter != nil {
			s.Meter.LLMError(t.Call.Purpose, modelOf(t.Assistant))
		}
		s.log().WarnContext(ctx, "evaluation call failed", "request_id", t.Call.RequestID, "err", callErr)
		if llm.IsRetryable(callErr) && !t.LastAttempt {
			return out, callErr
		}
		out.Status, out.Error = model.EvalFailed, safeError(callErr)
		for _, e := range evs {
			out.Values = append(out.Values, failed(e, out.Error))
		}
		return out, nil
	}
	prices := workspace.PricesOf(ctx, s.Store, s.Prices, t.Call.WorkspaceID, s.log())
	c := t.Call
	c.Model = resp.Model
	c.Tokens = usage.Tokens{Prompt: resp.Usage.PromptTokens, Cached: resp.Usage.CachedTokens, Completion: resp.Usage.CompletionTokens}
	e, cost, err := usage.Entry(prices, c)
	if err != nil {
		return out, err
	}
	warning := ""
	if cost.Warning != "" {
		warning = cost.Warning + ": cost recorded as 0; add a price in Settings"
	}
	out.Usage = &e
	out.Provider = resp.Model
	p := Parse(resp.Content, evs)
	out.Values = p.Values
	out.Error = strings.Trim(strings.Join([]string{p.Err, warning}, "; "), "; ")
	if p.NotJSON {
		out.Status = model.EvalFailed
	}
	return out, nil
}
