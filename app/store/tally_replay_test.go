package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// The calls of replays and test set runs (purpose replay, no conversation, no conversation
// type) are rolled up under their own bucket, store.RollupTypeReplay, beside the
// conversation types: never under "" and never under a conversation type; the reconciliation
// agrees with the tally and the activity refresh leaves them alone.
func TestTallyRollsReplaysUpUnderTheirPurpose(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tlSetup(t, s)
		at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
		day := store.Day(at)
		reply := tlEntry(f, f.widget, f.a1, model.TypeWidget, "reply-1", at, 100, 10, 1000)
		replayed := tlEntry(f, 0, f.a1, "", "replay:1:0", at, 200, 20, 2000)
		judged := tlEntry(f, 0, f.a1, "", "testrun:1:case:1:judge:0", at.Add(time.Minute), 50, 5, 300)
		other := tlEntry(f, 0, f.a2, "", "replay:2:0", at, 10, 1, 70)
		for _, e := range []*store.UsageEntry{replayed, judged, other} {
			e.Purpose = store.PurposeReplay
		}
		for _, e := range []*store.UsageEntry{reply, replayed, judged, other} {
			if _, err := s.InsertUsage(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if n := tlTallyAll(t, s, 2); n != 4 {
			t.Fatalf("tallied %d rows, want 4", n)
		}
		want := map[store.RollupKey]store.LedgerTotals{
			{WorkspaceID: f.ws, Day: day, AssistantID: f.a1, Type: model.TypeWidget}:       {Calls: 1, PromptTokens: 100, CachedTokens: 25, CompletionTokens: 10, CostNanos: 1000},
			{WorkspaceID: f.ws, Day: day, AssistantID: f.a1, Type: store.RollupTypeReplay}: {Calls: 2, PromptTokens: 250, CachedTokens: 62, CompletionTokens: 25, CostNanos: 2300},
			{WorkspaceID: f.ws, Day: day, AssistantID: f.a2, Type: store.RollupTypeReplay}: {Calls: 1, PromptTokens: 10, CachedTokens: 2, CompletionTokens: 1, CostNanos: 70},
		}
		tlSameTotals(t, want, tlRollupLedger(t, s, f.ws))

		next := store.Day(at.Add(24 * time.Hour))
		if drift, err := s.LedgerRollupDrift(ctx, day, next); err != nil || len(drift) != 0 {
			t.Fatalf("drift after the tally: %v %v", drift, err)
		}
		if fixes, err := s.RepairLedgerRollups(ctx, day, next); err != nil || len(fixes) != 0 {
			t.Fatalf("repair after the tally: %v %v", fixes, err)
		}
		if _, err := s.RefreshActivityRollups(ctx, f.ws, day, next); err != nil {
			t.Fatal(err)
		}
		rows, err := s.Rollups(ctx, f.ws, day, next)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Type == "" {
				t.Errorf("a rollup without a type: %+v", r)
			}
			if r.Type == store.RollupTypeReplay && (r.Conversations != 0 || r.Messages != 0) {
				t.Errorf("replays counted as conversations or messages: %+v", r)
			}
		}
		tlSameTotals(t, want, tlRollupLedger(t, s, f.ws))

		// A rollup tallied before the rule (under "") is found and repaired by the reconciliation.
		if err := s.InsertRollups(ctx, []store.UsageDaily{{WorkspaceID: f.ws, Day: day, AssistantID: f.a2, Type: "", LLMCalls: 1, CostNanos: 70}}); err != nil {
			t.Fatal(err)
		}
		if fixes, err := s.RepairLedgerRollups(ctx, day, next); err != nil || len(fixes) != 1 || fixes[0].Key.Type != "" || fixes[0].Want != (store.LedgerTotals{}) {
			t.Fatalf("repair of a rollup under \"\": %v %v", fixes, err)
		}
		tlSameTotals(t, want, tlRollupLedger(t, s, f.ws))
	})
}
