package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// Helpers of this file carry a "tl" prefix.

type tlFixture struct {
	ws         int64
	a1, a2     int64
	widget, wa int64 // conversations
	test       int64
}

const tlVars = `[{"name":"email","type":"email","required":true},{"name":"name","type":"text","required":true},{"name":"plan","type":"enum","options":["Basic","Pro"]}]`

func tlSetup(t *testing.T, s *store.Store) tlFixture {
	t.Helper()
	ctx := context.Background()
	w, _, err := s.CreateWorkspaceWithUser(ctx, "Tally", fmt.Sprintf("tally-%d@example.com", rand.Int63()), "hash")
	if err != nil {
		t.Fatal(err)
	}
	a1 := &store.Assistant{WorkspaceID: w.ID, Name: "Sales", Variables: tlVarsList(t)}
	a2 := &store.Assistant{WorkspaceID: w.ID, Name: "Support"}
	for _, a := range []*store.Assistant{a1, a2} {
		if err := s.CreateAssistant(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	f := tlFixture{ws: w.ID, a1: a1.ID, a2: a2.ID}
	for _, c := range []struct {
		id  *int64
		typ string
		a   int64
	}{{&f.widget, model.TypeWidget, a1.ID}, {&f.wa, model.TypeWhatsApp, a2.ID}, {&f.test, model.TypeTest, a1.ID}} {
		aid := c.a
		conv := &store.Conversation{WorkspaceID: w.ID, AssistantID: &aid, Type: c.typ, Customer: "c-" + c.typ, Charged: c.typ != model.TypeTest}
		if err := s.CreateConversation(ctx, conv); err != nil {
			t.Fatal(err)
		}
		*c.id = conv.ID
	}
	return f
}

func tlEntry(f tlFixture, conv, assistant int64, typ, requestID string, at time.Time, prompt, completion int, cost int64) *store.UsageEntry {
	e := &store.UsageEntry{WorkspaceID: f.ws, ConversationType: typ, RequestID: requestID, Purpose: store.PurposeReply,
		Model: "gpt-4o-mini", PromptTokens: prompt, CachedTokens: prompt / 4, CompletionTokens: completion, CostNanos: cost, CreatedAt: at, Charged: typ != model.TypeTest}
	if conv > 0 {
		c := conv
		e.ConversationID = &c
	}
	if assistant > 0 {
		a := assistant
		e.AssistantID = &a
	}
	return e
}

// tlLedgerSums adds up the whole ledger per rollup key, in Go: what every rollup must equal.
func tlLedgerSums(t *testing.T, s *store.Store) map[store.RollupKey]store.LedgerTotals {
	t.Helper()
	var rows []store.UsageEntry
	if err := s.DB.NewSelect().Model(&rows).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := map[store.RollupKey]store.LedgerTotals{}
	for _, r := range rows {
		k := store.RollupKey{WorkspaceID: r.WorkspaceID, Day: store.Day(r.CreatedAt), Type: r.ConversationType}
		if r.AssistantID != nil {
			k.AssistantID = *r.AssistantID
		}
		v := out[k]
		v.Calls++
		v.PromptTokens += int64(r.PromptTokens)
		v.CachedTokens += int64(r.CachedTokens)
		v.CompletionTokens += int64(r.CompletionTokens)
		v.CostNanos += r.CostNanos
		out[k] = v
	}
	return out
}

func tlRollupLedger(t *testing.T, s *store.Store, ws int64) map[store.RollupKey]store.LedgerTotals {
	t.Helper()
	rows, err := s.Rollups(context.Background(), ws, "2000-01-01", "2100-01-01")
	if err != nil {
		t.Fatal(err)
	}
	out := map[store.RollupKey]store.LedgerTotals{}
	for _, r := range rows {
		if r.Ledger() != (store.LedgerTotals{}) {
			out[r.Key()] = r.Ledger()
		}
	}
	return out
}

func tlTallyAll(t *testing.T, s *store.Store, batch int) int {
	t.Helper()
	total := 0
	for {
		res, err := s.TallyUsage(context.Background(), store.TallyOptions{Batch: batch})
		if err != nil {
			t.Fatal(err)
		}
		total += res.Rows
		if res.Rows == 0 {
			return total
		}
	}
}

func tlSameTotals(t *testing.T, want, got map[store.RollupKey]store.LedgerTotals) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%d rollup keys, want %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: rollup %+v, ledger %+v", k, got[k], w)
		}
	}
}

func TestTallyAddsEveryLedgerRowOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tlSetup(t, s)
		day := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		entries := []*store.UsageEntry{
			tlEntry(f, f.widget, f.a1, model.TypeWidget, "r1", day, 1000, 200, 525300),
			tlEntry(f, f.widget, f.a1, model.TypeWidget, "r2", day.Add(time.Hour), 10, 20, 7),
			tlEntry(f, f.wa, f.a2, model.TypeWhatsApp, "r3", day, 3000, 100, 1_500_000_001),
			// The last microsecond of a day and the first of the next.
			tlEntry(f, f.wa, f.a2, model.TypeWhatsApp, "r4", time.Date(2026, 11, 21, 23, 59, 59, 999999000, time.UTC), 1, 1, 1),
			tlEntry(f, f.wa, f.a2, model.TypeWhatsApp, "r5", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), 2, 2, 2),
			tlEntry(f, f.test, f.a1, model.TypeTest, "r6", day, 50, 50, 999),
			tlEntry(f, 0, 0, "", "r7", day, 5, 5, 5), // a call without a conversation
		}
		for _, e := range entries {
			if _, err := s.InsertUsage(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if n, _ := s.UntalliedUsage(ctx); n != int64(len(entries)) {
			t.Fatalf("untallied %d", n)
		}
		if n := tlTallyAll(t, s, 2); n != len(entries) {
			t.Fatalf("tallied %d rows, want %d", n, len(entries))
		}
		want := tlLedgerSums(t, s)
		tlSameTotals(t, want, tlRollupLedger(t, s, f.ws))
		if got := want[store.RollupKey{WorkspaceID: f.ws, Day: "2026-11-21", AssistantID: f.a2, Type: model.TypeWhatsApp}]; got.Calls != 1 || got.CostNanos != 1 {
			t.Fatalf("day boundary: %+v", got)
		}
		// Again: nothing left to claim, nothing changes.
		if n := tlTallyAll(t, s, 2); n != 0 {
			t.Fatalf("second tally claimed %d rows", n)
		}
		tlSameTotals(t, want, tlRollupLedger(t, s, f.ws))
		drift, err := s.LedgerRollupDrift(ctx, "2026-11-01", "2026-12-01")
		if err != nil || len(drift) != 0 {
			t.Fatalf("drift after tally: %v %v", drift, err)
		}
		// A new row is added to its day's rollup only.
		if _, err := s.InsertUsage(ctx, tlEntry(f, f.widget, f.a1, model.TypeWidget, "r8", day, 1, 1, 100)); err != nil {
			t.Fatal(err)
		}
		if n := tlTallyAll(t, s, 500); n != 1 {
			t.Fatalf("tallied %d", n)
		}
		tlSameTotals(t, tlLedgerSums(t, s), tlRollupLedger(t, s, f.ws))
	})
}

func TestTallyFailureRollsBackTheBatch(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tlSetup(t, s)
		day := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		for i := range 5 {
			if _, err := s.InsertUsage(ctx, tlEntry(f, f.widget, f.a1, model.TypeWidget, fmt.Sprintf("f%d", i), day, 10, 10, 11)); err != nil {
				t.Fatal(err)
			}
		}
		boom := errors.New("injected")
		_, err := s.TallyUsage(ctx, store.TallyOptions{Batch: 3, BeforeCommit: func(context.Context) error { return boom }})
		if !errors.Is(err, boom) {
			t.Fatalf("want the injected error, got %v", err)
		}
		// A context cancelled mid-way rolls back too.
		cctx, cancel := context.WithCancel(ctx)
		_, err = s.TallyUsage(cctx, store.TallyOptions{Batch: 3, BeforeCommit: func(context.Context) error { cancel(); return nil }})
		if err == nil {
			t.Fatal("a cancelled tally must not commit")
		}
		if n, _ := s.UntalliedUsage(ctx); n != 5 {
			t.Fatalf("after failed batches %d rows are untallied, want 5", n)
		}
		if got := tlRollupLedger(t, s, f.ws); len(got) != 0 {
			t.Fatalf("failed batches left rollups: %v", got)
		}
		tlTallyAll(t, s, 3)
		tlSameTotals(t, tlLedgerSums(t, s), tlRollupLedger(t, s, f.ws))
	})
}

func TestConcurrentTalliesCountEachRowOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tlSetup(t, s)
		r := rand.New(rand.NewSource(7))
		base := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
		convs := []struct {
			id, a int64
			typ   string
		}{{f.widget, f.a1, model.TypeWidget}, {f.wa, f.a2, model.TypeWhatsApp}, {f.test, f.a1, model.TypeTest}}
		for i := range 300 {
			c := convs[r.Intn(len(convs))]
			at := base.Add(time.Duration(r.Intn(4*24*3600)) * time.Second)
			if _, err := s.InsertUsage(ctx, tlEntry(f, c.id, c.a, c.typ, fmt.Sprintf("c%d", i), at, r.Intn(5000), r.Intn(900), r.Int63n(3_000_000))); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					res, err := s.TallyUsage(ctx, store.TallyOptions{Batch: 7})
					if err != nil {
						errs <- err
						return
					}
					if res.Rows == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		tlSameTotals(t, tlLedgerSums(t, s), tlRollupLedger(t, s, f.ws))
	})
}

func TestRepairLedgerRollups(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tlSetup(t, s)
		day := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		for i, c := range []struct {
			conv, a int64
			typ     string
		}{{f.widget, f.a1, model.TypeWidget}, {f.wa, f.a2, model.TypeWhatsApp}, {f.test, f.a1, model.TypeTest}} {
			if _, err := s.InsertUsage(ctx, tlEntry(f, c.conv, c.a, c.typ, fmt.Sprintf("x%d", i), day, 100, 50, int64(1000+i))); err != nil {
				t.Fatal(err)
			}
		}
		tlTallyAll(t, s, 100)
		want := tlLedgerSums(t, s)
		// Drift three ways: a wrong cost, a lost row, a row the ledger does not know.
		if _, err := s.DB.ExecContext(ctx, "UPDATE usage_daily SET cost_nanos = cost_nanos + 7 WHERE workspace_id = ? AND type = ?", f.ws, model.TypeWidget); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB.ExecContext(ctx, "DELETE FROM usage_daily WHERE workspace_id = ? AND type = ?", f.ws, model.TypeWhatsApp); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertRollups(ctx, []store.UsageDaily{{WorkspaceID: f.ws, Day: "2026-11-21", AssistantID: f.a2, Type: model.TypeWidget, LLMCalls: 3, CostNanos: 9}}); err != nil {
			t.Fatal(err)
		}
		drift, err := s.LedgerRollupDrift(ctx, "2026-11-19", "2026-11-23")
		if err != nil || len(drift) != 3 {
			t.Fatalf("drift: %v %v", drift, err)
		}
		fixed, err := s.RepairLedgerRollups(ctx, "2026-11-19", "2026-11-23")
		if err != nil || len(fixed) != 3 {
			t.Fatalf("repaired: %v %v", fixed, err)
		}
		for _, fx := range fixed {
			if fx.String() == "" {
				t.Fatal("a fix says what it changed")
			}
		}
		tlSameTotals(t, want, tlRollupLedger(t, s, f.ws))
		if drift, _ := s.LedgerRollupDrift(ctx, "2026-11-19", "2026-11-23"); len(drift) != 0 {
			t.Fatalf("drift after repair: %v", drift)
		}
		// Repairing again changes nothing.
		if fixed, err := s.RepairLedgerRollups(ctx, "2026-11-19", "2026-11-23"); err != nil || len(fixed) != 0 {
			t.Fatalf("second repair: %v %v", fixed, err)
		}
	})
}

func TestConversationTotalsVerification(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tlSetup(t, s)
		m := &store.Message{WorkspaceID: f.ws, ConversationID: f.widget, Role: "assistant", Content: "hi", PromptTokens: 100, CachedTokens: 10, CompletionTokens: 20, CostNanos: 5000}
		e := tlEntry(f, f.widget, f.a1, model.TypeWidget, "reply:1", time.Now(), 100, 20, 5000)
		e.CachedTokens = 10
		if _, err := s.AddMessageWithUsage(ctx, m, e); err != nil {
			t.Fatal(err)
		}
		x := tlEntry(f, f.widget, f.a1, model.TypeWidget, "extract:1", time.Now(), 300, 40, 777)
		x.Purpose = store.PurposeExtraction
		if _, err := s.InsertUsageAddingToConversation(ctx, x); err != nil {
			t.Fatal(err)
		}
		if d, err := s.ConversationTotalsDrift(ctx, []int64{f.widget, f.wa}); err != nil || len(d) != 0 {
			t.Fatalf("drift: %v %v", d, err)
		}
		if _, err := s.DB.ExecContext(ctx, "UPDATE conversations SET cost_nanos = cost_nanos + 1, prompt_tokens = 0 WHERE id = ?", f.widget); err != nil {
			t.Fatal(err)
		}
		d, err := s.ConversationTotalsDrift(ctx, []int64{f.widget})
		if err != nil || len(d) != 1 || d[0].Want.CostNanos != 5777 || d[0].Want.PromptTokens != 400 || d[0].Want.CachedTokens != 85 || d[0].Want.CompletionTokens != 60 {
			t.Fatalf("drift: %+v %v", d, err)
		}
		fixed, err := s.RepairConversationTotals(ctx, f.widget)
		if err != nil || fixed == nil {
			t.Fatalf("repair: %v %v", fixed, err)
		}
		c, _ := s.GetConversation(ctx, f.ws, f.widget)
		if c.CostNanos != 5777 || c.PromptTokens != 400 {
			t.Fatalf("after repair: %d %d", c.CostNanos, c.PromptTokens)
		}
		if fixed, err := s.RepairConversationTotals(ctx, f.widget); err != nil || fixed != nil {
			t.Fatalf("nothing left to repair: %v %v", fixed, err)
		}
	})
}

// tlVarsList decodes tlVars as the store reads the column.
func tlVarsList(t *testing.T) store.Variables {
	var vs store.Variables
	if err := vs.Scan(tlVars); err != nil {
		t.Fatal(err)
	}
	return vs
}
