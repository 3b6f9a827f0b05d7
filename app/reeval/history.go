package reeval

import (
	"context"
	"strconv"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Result is one evaluation run of a conversation with its values, as the conversation page
// and the API show them.
type Result struct {
	Run    store.EvaluationRun
	Values []Value
}

// Value is one evaluator's answer in a run. A run that is still pending and has no values yet
// lists the evaluators it will answer (the built-in ones and the assistant's), pending.
type Value struct {
	Name    string
	Type    string // model.EvaluatorTypes ("" when the evaluator is no longer the assistant's)
	Builtin bool
	Value   *string
	Reason  string
	Status  string
	Error   string
	Version int
}

// Typed is the value as the API shows it: a bool for a boolean, an integer for a rating, a
// string otherwise; nil when there is none (pending, failed). A value that does not read as
// its type (the evaluator changed type since) stays a string.
func (v Value) Typed() any {
	if v.Value == nil || v.Status != model.EvalDone {
		return nil
	}
	switch v.Type {
	case model.EvaluatorBoolean:
		if b, err := strconv.ParseBool(*v.Value); err == nil {
			return b
		}
	case model.EvaluatorRating:
		if n, err := strconv.Atoi(*v.Value); err == nil {
			return n
		}
	}
	return *v.Value
}

// History reads up to limit evaluation runs of a conversation, the latest first, with their
// values: three queries whatever the number of runs (the runs, their values, the assistant).
func History(ctx context.Context, st *store.Store, conv *store.Conversation, limit int) ([]Result, error) {
	runs, err := st.EvaluationRuns(ctx, conv.WorkspaceID, conv.ID, limit)
	if err != nil || len(runs) == 0 {
		return nil, err
	}
	ids := make([]int64, len(runs))
	for i := range runs {
		ids[i] = runs[i].ID
	}
	vals, err := st.EvaluationValuesOf(ctx, conv.WorkspaceID, conv.ID, ids)
	if err != nil {
		return nil, err
	}
	evaluators := model.BuiltinEvaluators()
	a, err := answering(ctx, st, conv)
	if err != nil {
		return nil, err
	}
	if a != nil {
		evaluators = append(evaluators, a.Evaluators...)
	}
	types := make(map[string]string, len(evaluators))
	for _, e := range evaluators {
		types[e.Name] = e.Type
	}
	byRun := map[int64][]Value{}
	for _, v := range vals {
		byRun[v.RunID] = append(byRun[v.RunID], Value{Name: v.Name, Type: types[v.Name], Builtin: v.Builtin, Value: v.Value,
			Reason: v.Reason, Status: v.Status, Error: v.Error, Version: v.EvaluatorVersion})
	}
	out := make([]Result, len(runs))
	for i, r := range runs {
		out[i] = Result{Run: r, Values: byRun[r.ID]}
		if len(out[i].Values) == 0 && r.Status == model.EvalPending {
			for _, e := range evaluators {
				out[i].Values = append(out[i].Values, Value{Name: e.Name, Type: e.Type, Builtin: e.Builtin, Status: model.EvalPending, Version: e.Version})
			}
		}
	}
	return out, nil
}
