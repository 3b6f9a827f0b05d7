package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

func evalEntry(ws, conv int64, requestID, purpose string, cost int64) *store.UsageEntry {
	return &store.UsageEntry{WorkspaceID: ws, ConversationID: &conv, RequestID: requestID, Purpose: purpose, Model: "m",
		PromptTokens: 10, CompletionTokens: 2, CostNanos: cost, Charged: true}
}

// A run is created once per key; ApplyEvaluation finishes a pending run once (a second one is
// replayed: nothing written), counts the call's cost in cost_nanos and cost_evaluation_nanos,
// and an older run finishing after a newer one does not take the latest values back.
// Extraction's cost goes to cost_extraction_nanos; CostSplit gives the reply the rest.
func TestEvaluationRunsAndCostSplit(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws := asWS(t, s, "Alpha")
		c := wgConv(t, s, ws, nil, model.TypeWidget, "v", time.Now())
		if _, err := s.AddMessage(ctx, &store.Message{WorkspaceID: ws, ConversationID: c.ID, Role: model.RoleAssistant, Content: "hi", CostNanos: 1000}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.InsertUsageAddingToConversation(ctx, evalEntry(ws, c.ID, "x1", store.PurposeExtraction, 300)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApplyExtraction(ctx, store.ExtractionUpdate{WorkspaceID: ws, ConversationID: c.ID, Usage: evalEntry(ws, c.ID, "x2", store.PurposeExtraction, 200)}); err != nil {
			t.Fatal(err)
		}
		end, err := s.EndConversation(ctx, ws, c.ID, model.EndIdle, time.Time{})
		if err != nil || end == nil {
			t.Fatal(err)
		}
		r0 := &store.EvaluationRun{WorkspaceID: ws, ConversationID: c.ID, EndSeq: 1, EvaluatorsVersion: 7}
		again := &store.EvaluationRun{WorkspaceID: ws, ConversationID: c.ID, EndSeq: 1, EvaluatorsVersion: 7}
		created1, err1 := s.CreateEvaluationRun(ctx, r0)
		created2, err2 := s.CreateEvaluationRun(ctx, again)
		if err1 != nil || err2 != nil || !created1 || created2 || again.ID != r0.ID || r0.ID == 0 {
			t.Fatalf("create twice: %v %v %v %v %d %d", created1, err1, created2, err2, r0.ID, again.ID)
		}
		r1 := &store.EvaluationRun{WorkspaceID: ws, ConversationID: c.ID, EndSeq: 1, EvaluatorsVersion: 7, Run: 1}
		if _, err := s.CreateEvaluationRun(ctx, r1); err != nil {
			t.Fatal(err)
		}
		val := func(name, v string) store.EvaluationValue {
			return store.EvaluationValue{Name: name, Builtin: true, Value: &v, Status: model.EvalDone, EvaluatorVersion: 1}
		}
		// Run 1 ("Evaluate again") finishes first.
		res1 := store.EvaluationResult{WorkspaceID: ws, RunID: r1.ID, Status: model.EvalDone, Provider: "m",
			Values: []store.EvaluationValue{val(model.EvalOutcome, model.OutcomeResolved), val(model.EvalCSATEstimate, "4")},
			Usage:  evalEntry(ws, c.ID, "evaluate:r1", store.PurposeEvaluation, 50)}
		if out, err := s.ApplyEvaluation(ctx, res1); err != nil || out.Replayed || !out.Latest {
			t.Fatalf("run 1: %+v %v", out, err)
		}
		if out, err := s.ApplyEvaluation(ctx, res1); err != nil || !out.Replayed {
			t.Fatalf("run 1 again: %+v %v", out, err)
		}
		// Run 0 finishes late: stored, not latest, the conversation keeps run 1's values.
		res0 := store.EvaluationResult{WorkspaceID: ws, RunID: r0.ID, Status: model.EvalDone, Provider: "m",
			Values: []store.EvaluationValue{val(model.EvalOutcome, model.OutcomeAbandoned)},
			Usage:  evalEntry(ws, c.ID, "evaluate:r0", store.PurposeEvaluation, 70)}
		if out, err := s.ApplyEvaluation(ctx, res0); err != nil || out.Replayed || out.Latest {
			t.Fatalf("run 0: %+v %v", out, err)
		}
		got, _ := s.GetConversation(ctx, ws, c.ID)
		if got.Outcome != model.OutcomeResolved || got.CSATEstimate == nil || *got.CSATEstimate != 4 || got.EvaluationStatus != model.EvalDone {
			t.Fatalf("conversation: %+v", got)
		}
		split := got.CostSplit()
		if got.CostNanos != 1000+300+200+50+70 || split != (store.CostSplit{Reply: 1000, Extraction: 500, Evaluation: 120}) {
			t.Fatalf("cost %d, split %+v", got.CostNanos, split)
		}
		v0, _ := s.EvaluationValues(ctx, ws, r0.ID)
		v1, _ := s.EvaluationValues(ctx, ws, r1.ID)
		if len(v0) != 1 || v0[0].Latest || len(v1) != 2 || !v1[0].Latest || !v1[1].Latest {
			t.Fatalf("latest flags: %+v / %+v", v0, v1)
		}
		if e, _ := s.ConversationEndBySeq(ctx, ws, c.ID, 1); e.EvaluatedAt == nil {
			t.Fatal("the end is not marked evaluated")
		}
		// Another workspace cannot finish a run.
		other := asWS(t, s, "Beta")
		if _, err := s.ApplyEvaluation(ctx, store.EvaluationResult{WorkspaceID: other, RunID: r0.ID, Status: model.EvalDone}); err == nil {
			t.Fatal("a run was finished from another workspace")
		}
		// The sweep's queries: nothing due any more.
		ends, err1 := s.UnevaluatedEnds(ctx, time.Now().Add(time.Hour), 10)
		runs, err2 := s.PendingEvaluationRuns(ctx, time.Now().Add(time.Hour), 10)
		if err1 != nil || err2 != nil || len(ends) != 0 || len(runs) != 0 {
			t.Fatalf("due: %+v %v / %+v %v", ends, err1, runs, err2)
		}
	})
}

// The sweep's queries find an end without a run and a run left pending, only once they are
// older than the cut-off.
func TestEvaluationSweepQueries(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws := asWS(t, s, "Alpha")
		a := wgConv(t, s, ws, nil, model.TypeWidget, "a", time.Now())
		b := wgConv(t, s, ws, nil, model.TypeWidget, "b", time.Now())
		at := time.Now().Add(-10 * time.Minute)
		if _, err := s.EndConversation(ctx, ws, a.ID, model.EndIdle, at); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EndConversation(ctx, ws, b.ID, model.EndIdle, at); err != nil {
			t.Fatal(err)
		}
		r := &store.EvaluationRun{WorkspaceID: ws, ConversationID: b.ID, EndSeq: 1, CreatedAt: at}
		if _, err := s.CreateEvaluationRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		ends, _ := s.UnevaluatedEnds(ctx, time.Now().Add(-time.Minute), 10)
		runs, _ := s.PendingEvaluationRuns(ctx, time.Now().Add(-time.Minute), 10)
		if len(ends) != 1 || ends[0].ConversationID != a.ID || len(runs) != 1 || runs[0].ID != r.ID {
			t.Fatalf("due: %+v / %+v", ends, runs)
		}
		ends, _ = s.UnevaluatedEnds(ctx, at.Add(-time.Minute), 10)
		runs, _ = s.PendingEvaluationRuns(ctx, at.Add(-time.Minute), 10)
		if len(ends) != 0 || len(runs) != 0 {
			t.Fatalf("too young, yet due: %+v / %+v", ends, runs)
		}
	})
}
