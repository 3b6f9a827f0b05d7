package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// A replay and its turns are written together; a turn's answer is recorded once with its
// ledger row; a deleted conversation takes its replays (they copy the customer's words) but
// not their ledger rows.
func TestReplayRows(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w, _, err := st.CreateWorkspaceWithUser(ctx, "R", "r@example.com", "hash")
		if err != nil {
			t.Fatal(err)
		}
		a := &store.Assistant{WorkspaceID: w.ID, Name: "A", Model: "gpt-4o-mini"}
		if err := st.CreateAssistant(ctx, a); err != nil {
			t.Fatal(err)
		}
		conv := &store.Conversation{WorkspaceID: w.ID, AssistantID: &a.ID, Type: model.TypeWidget, Customer: "c"}
		if err := st.CreateConversation(ctx, conv); err != nil {
			t.Fatal(err)
		}
		r := &store.Replay{WorkspaceID: w.ID, ConversationID: &conv.ID, AssistantID: a.ID, Version: 1}
		turns := []store.ReplayTurn{{Customer: "hi", Original: "hello", OriginalCostNanos: 5}, {Customer: "bye", OriginalCostNanos: 7}}
		if ins, err := st.CreateReplay(ctx, r, turns); err != nil || !ins || r.ID == 0 || r.TurnsTotal != 2 || r.OriginalCostNanos != 12 {
			t.Fatalf("create: %v %v %+v", ins, err, r)
		}
		if _, err := st.CreateReplay(ctx, &store.Replay{WorkspaceID: w.ID, AssistantID: a.ID}, nil); err == nil {
			t.Error("a replay without a version was written")
		}
		if _, err := st.ReplayByID(ctx, w.ID+1, r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another workspace's replay: %v", err)
		}
		ans := func(cost int64) store.ReplayAnswer {
			return store.ReplayAnswer{WorkspaceID: w.ID, ReplayID: r.ID, Idx: 0, Content: "hey", Model: "m", LatencyMS: 9,
				Usage: &store.UsageEntry{WorkspaceID: w.ID, ReplayID: &r.ID, RequestID: store.ReplayTurnRequestID(r.ID, 0), Purpose: store.PurposeReplay,
					Model: "m", PromptTokens: 3, CompletionTokens: 2, CostNanos: cost}}
		}
		if ok, err := st.RecordReplayAnswer(ctx, ans(40)); err != nil || !ok {
			t.Fatalf("record: %v %v", ok, err)
		}
		if ok, err := st.RecordReplayAnswer(ctx, ans(99)); err != nil || ok {
			t.Fatalf("record again: %v %v", ok, err)
		}
		got, ts, err := st.ReplayWithTurns(ctx, w.ID, r.ID)
		if err != nil || got.TurnsDone != 1 || got.CostNanos != 40 || ts[0].Replayed == nil || *ts[0].Replayed != "hey" || ts[0].CostNanos != 40 || ts[1].Replayed != nil {
			t.Fatalf("after recording: %+v %+v %v", got, ts, err)
		}
		if ok, err := st.StartReplay(ctx, w.ID, r.ID); err != nil || !ok {
			t.Fatalf("start: %v %v", ok, err)
		}
		out := store.ReplayOutcome{WorkspaceID: w.ID, ReplayID: r.ID, Status: model.JobDone,
			Replayed: store.ReplayEvaluations{{Name: "outcome", Status: "done"}},
			Usage:    []*store.UsageEntry{{WorkspaceID: w.ID, ReplayID: &r.ID, RequestID: store.ReplayEvalRequestID(r.ID, "replayed"), Purpose: store.PurposeReplay, Model: "m", CostNanos: 60}}}
		if ok, err := st.FinishReplay(ctx, out); err != nil || !ok {
			t.Fatalf("finish: %v %v", ok, err)
		}
		if ok, err := st.FinishReplay(ctx, out); err != nil || ok {
			t.Fatalf("finish again: %v %v", ok, err)
		}
		got, _ = st.ReplayByID(ctx, w.ID, r.ID)
		led, _ := st.ReplayLedger(ctx, w.ID, r.ID)
		if got.Status != model.JobDone || got.CostNanos != 100 || len(led) != 2 || len(got.ReplayedEvaluations) != 1 {
			t.Fatalf("finished: %+v, ledger %d", got, len(led))
		}
		if ok, _ := st.StartReplay(ctx, w.ID, r.ID); ok {
			t.Error("a finished replay started again")
		}
		if err := st.DeleteConversation(ctx, w.ID, conv.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ReplayByID(ctx, w.ID, r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the deleted conversation's replay: %v", err)
		}
		if e, err := st.UsageByRequestID(ctx, w.ID, store.ReplayTurnRequestID(r.ID, 0)); err != nil || e.CostNanos != 40 || e.ReplayID != nil {
			t.Errorf("the ledger row after the deletion: %+v %v", e, err)
		}
	})
}
