package workers_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/workers"
)

type tyFixture struct {
	ws    int64
	convs []*store.Conversation
}

func tySetup(t testing.TB, s *store.Store, perType int) tyFixture {
	t.Helper()
	ctx := context.Background()
	w, _, err := s.CreateWorkspaceWithUser(ctx, "Tally", fmt.Sprintf("ty%d@example.com", time.Now().UnixNano()), "hash")
	if err != nil {
		t.Fatal(err)
	}
	f := tyFixture{ws: w.ID}
	var as []int64
	for i := range 3 {
		a := &store.Assistant{WorkspaceID: w.ID, Name: fmt.Sprintf("A%d", i)}
		if err := s.CreateAssistant(ctx, a); err != nil {
			t.Fatal(err)
		}
		as = append(as, a.ID)
	}
	for i := 0; i < perType; i++ {
		for _, typ := range model.Types {
			aid := as[(i+len(typ))%len(as)]
			c := &store.Conversation{WorkspaceID: w.ID, AssistantID: &aid, Type: typ, Customer: fmt.Sprintf("%s-%d", typ, i), Charged: typ != model.TypeTest}
			if err := s.CreateConversation(ctx, c); err != nil {
				t.Fatal(err)
			}
			f.convs = append(f.convs, c)
		}
	}
	return f
}

// tyRecord records one LLM call the way the product does: a reply with its message, an
// extraction added to the conversation, or (for the days before today) a bare ledger row.
func tyRecord(ctx context.Context, s *store.Store, prices *usage.Table, f tyFixture, r *rand.Rand, id string) error {
	c := f.convs[r.Intn(len(f.convs))]
	cid := c.ID
	call := usage.Call{WorkspaceID: f.ws, ConversationID: &cid, AssistantID: c.AssistantID, ConversationType: c.Type, RequestID: id,
		Model:  []string{"gpt-4o-mini", "gpt-4.1", "gpt-5-nano"}[r.Intn(3)],
		Tokens: usage.Tokens{Prompt: r.Intn(20000), Cached: r.Intn(3000), Completion: r.Intn(2000)}}
	switch r.Intn(10) {
	case 0, 1, 2, 3, 4:
		call.Purpose = usage.PurposeReply
		_, err := usage.RecordReply(ctx, s, prices, call, &store.Message{Role: "assistant", Content: "reply " + id})
		return err
	case 5, 6, 7:
		call.Purpose, call.AddToConversation = usage.PurposeExtraction, true
		_, err := usage.Record(ctx, s, prices, call)
		return err
	}
	call.Purpose = usage.PurposeReply
	e, _, err := usage.Entry(prices, call)
	if err != nil {
		return err
	}
	e.CreatedAt = time.Now().UTC().AddDate(0, 0, -r.Intn(4)).Add(-time.Duration(r.Intn(3600)) * time.Second)
	_, err = s.InsertUsage(ctx, &e)
	return err
}

func tyLedger(t *testing.T, s *store.Store) (map[store.RollupKey]store.LedgerTotals, int64) {
	t.Helper()
	var rows []store.UsageEntry
	if err := s.DB.NewSelect().Model(&rows).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := map[store.RollupKey]store.LedgerTotals{}
	var cost int64
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
		cost += r.CostNanos
	}
	return out, cost
}

// A thousand tally jobs, some delivered twice and run concurrently, many failing mid-way
// (an error before the commit, a context cancelled inside the transaction or between
// batches), while calls keep being recorded (each twice): afterwards every rollup equals the
// ledger to the nano-dollar, and every conversation's totals its messages and extraction
// calls.
func TestThousandTallyJobsEqualTheLedger(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tySetup(t, s, 10)
		prices := usage.Default()
		const jobs, calls = 1000, 1200

		var recorded atomic.Int64
		produce := func(seed int64, from, to int) error {
			r := rand.New(rand.NewSource(seed))
			for i := from; i < to; i++ {
				id := fmt.Sprintf("call:%d", i)
				// Record twice, with the same random choices: the ledger keeps one row.
				for range 2 {
					rr := rand.New(rand.NewSource(int64(i)))
					if err := tyRecord(ctx, s, prices, f, rr, id); err != nil {
						return err
					}
				}
				recorded.Add(1)
				if r.Intn(4) == 0 {
					time.Sleep(time.Duration(r.Intn(300)) * time.Microsecond)
				}
			}
			return nil
		}

		var failures, cancels, okRuns atomic.Int64
		runJob := func(job int, delivery int) {
			r := rand.New(rand.NewSource(int64(job*7 + delivery)))
			jctx, cancel := context.WithCancel(ctx)
			defer cancel()
			h := &workers.Tally{Tally: &usage.Tally{Store: s, Log: testkit.Logger(t), Batch: 1 + r.Intn(25), MaxBatches: 1 + r.Intn(4), ActivityEvery: -1}}
			batches := 0
			switch mode := r.Intn(100); {
			case mode < 12: // fail before the commit of the first or the second batch (a first one stays)
				failAt := 1 + r.Intn(2)
				h.BeforeCommit = func(context.Context) error {
					batches++
					if batches == failAt {
						return errors.New("injected failure")
					}
					return nil
				}
			case mode < 18: // the worker is stopped inside the transaction
				h.BeforeCommit = func(context.Context) error { cancel(); return nil }
			case mode < 22: // the worker is stopped at any moment
				var c2 context.CancelFunc
				jctx, c2 = context.WithTimeout(jctx, time.Duration(r.Intn(2000))*time.Microsecond)
				defer c2()
			}
			err := h.HandleTally(jctx, tk.UsageTally())
			switch {
			case err == nil:
				okRuns.Add(1)
			case jctx.Err() != nil:
				cancels.Add(1)
			default:
				failures.Add(1)
			}
		}

		var wg sync.WaitGroup
		prodErr := make(chan error, 3)
		for p := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				prodErr <- produce(int64(p), p*calls/3, (p+1)*calls/3)
			}()
		}
		queue := make(chan [2]int)
		var jw sync.WaitGroup
		for range 6 {
			jw.Add(1)
			go func() {
				defer jw.Done()
				for j := range queue {
					runJob(j[0], j[1])
				}
			}()
		}
		r := rand.New(rand.NewSource(42))
		deliveries := 0
		for j := range jobs {
			queue <- [2]int{j, 0}
			deliveries++
			if r.Intn(5) == 0 { // at least once: some jobs arrive twice
				queue <- [2]int{j, 1}
				deliveries++
			}
		}
		close(queue)
		jw.Wait()
		wg.Wait()
		close(prodErr)
		for err := range prodErr {
			if err != nil {
				t.Fatal(err)
			}
		}
		if failures.Load() == 0 || cancels.Load() == 0 {
			t.Fatalf("the test must inject failures: %d failed, %d cancelled", failures.Load(), cancels.Load())
		}
		t.Logf("%d deliveries of %d jobs: %d ok, %d failed, %d cancelled; %d calls recorded", deliveries, jobs, okRuns.Load(), failures.Load(), cancels.Load(), recorded.Load())

		// The last (scheduled) tally drains what the failures left.
		h := &workers.Tally{Tally: &usage.Tally{Store: s, Log: testkit.Logger(t), ActivityEvery: -1}}
		if _, err := h.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := s.UntalliedUsage(ctx); err != nil || n != 0 {
			t.Fatalf("untallied: %d %v", n, err)
		}
		want, ledgerCost := tyLedger(t, s)
		if n, _ := s.DB.NewSelect().Model((*store.UsageEntry)(nil)).Count(ctx); n != calls {
			t.Fatalf("%d ledger rows for %d calls recorded twice each", n, calls)
		}
		rows, err := s.Rollups(ctx, f.ws, "2000-01-01", "2100-01-01")
		if err != nil {
			t.Fatal(err)
		}
		got := map[store.RollupKey]store.LedgerTotals{}
		var rollupCost int64
		for _, r := range rows {
			got[r.Key()] = r.Ledger()
			rollupCost += r.CostNanos
		}
		if len(got) != len(want) {
			t.Fatalf("%d rollup rows, %d ledger keys", len(got), len(want))
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: rollup %+v, ledger %+v", k, got[k], w)
			}
		}
		if rollupCost != ledgerCost || ledgerCost == 0 {
			t.Fatalf("cost: rollups %d, ledger %d nano-dollars", rollupCost, ledgerCost)
		}
		ids := make([]int64, len(f.convs))
		for i, c := range f.convs {
			ids[i] = c.ID
		}
		if drift, err := s.ConversationTotalsDrift(ctx, ids); err != nil || len(drift) != 0 {
			t.Fatalf("conversation totals: %v %v", drift, err)
		}
		out, err := h.Reconcile(ctx)
		if err != nil || len(out.Fixed) != 0 {
			t.Fatalf("reconcile after the jobs: %v %v", out.Fixed, err)
		}
	})
}

func TestReconcileRepairsDrift(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := tySetup(t, s, 2)
		prices := usage.Default()
		r := rand.New(rand.NewSource(1))
		for i := range 40 {
			if err := tyRecord(ctx, s, prices, f, r, fmt.Sprintf("rc:%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		h := &workers.Tally{Tally: &usage.Tally{Store: s, Log: testkit.Logger(t), ReconcileDays: 7}}
		out, err := h.Run(ctx)
		if err != nil || out.Rows != 40 || !out.ActivityFresh {
			t.Fatalf("tally: %+v %v", out, err)
		}
		// A conversation whose totals drifted is repaired by the next tally touching it.
		c := f.convs[0]
		if _, err := s.DB.ExecContext(ctx, "UPDATE conversations SET cost_nanos = cost_nanos + 5 WHERE id = ?", c.ID); err != nil {
			t.Fatal(err)
		}
		cid := c.ID
		if _, err := usage.Record(ctx, s, prices, usage.Call{WorkspaceID: f.ws, ConversationID: &cid, AssistantID: c.AssistantID, ConversationType: c.Type,
			RequestID: "rc:extra", Purpose: usage.PurposeExtraction, Model: "gpt-4o-mini", Tokens: usage.Tokens{Prompt: 10, Completion: 1}, AddToConversation: true}); err != nil {
			t.Fatal(err)
		}
		out, err = h.Run(ctx)
		if err != nil || len(out.TotalsFixed) != 1 || out.TotalsFixed[0].ConversationID != c.ID {
			t.Fatalf("totals repair: %+v %v", out, err)
		}
		// Rollups that drifted from the ledger are repaired by the reconciliation.
		if _, err := s.DB.ExecContext(ctx, "UPDATE usage_daily SET cost_nanos = cost_nanos + 1, llm_calls = llm_calls + 2 WHERE workspace_id = ?", f.ws); err != nil {
			t.Fatal(err)
		}
		rec, err := h.Reconcile(ctx)
		if err != nil || len(rec.Fixed) == 0 {
			t.Fatalf("reconcile: %+v %v", rec, err)
		}
		want, _ := tyLedger(t, s)
		rows, _ := s.Rollups(ctx, f.ws, "2000-01-01", "2100-01-01")
		for _, r := range rows {
			if r.Ledger() != want[r.Key()] {
				t.Errorf("%s: %+v, want %+v", r.Key(), r.Ledger(), want[r.Key()])
			}
		}
		if rec, err := h.Reconcile(ctx); err != nil || len(rec.Fixed) != 0 {
			t.Fatalf("second reconcile: %+v %v", rec, err)
		}
	})
}

// BenchmarkTallyJob measures one usage:tally job over a backlog of new ledger rows (what a
// minute of calls leaves): the claim, the rollup upserts and the verification of the touched
// conversations' totals. With "+activity" every job also refreshes the activity figures of
// today and yesterday.
func BenchmarkTallyJob(b *testing.B) {
	for _, c := range []struct {
		rows     int
		activity bool
	}{{1, false}, {100, false}, {1000, false}, {100, true}} {
		name := fmt.Sprintf("rows=%d", c.rows)
		if c.activity {
			name += "+activity"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := testkit.Store(b)
			f := tySetup(b, s, 50)
			h := &workers.Tally{Tally: &usage.Tally{Store: s, Log: testkit.Logger(b), ActivityEvery: -1}}
			if c.activity {
				h.ActivityEvery = time.Nanosecond
			}
			prices := usage.Default()
			r := rand.New(rand.NewSource(1))
			next := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				entries := make([]store.UsageEntry, c.rows)
				for j := range entries {
					conv := f.convs[r.Intn(len(f.convs))]
					cid := conv.ID
					e, _, err := usage.Entry(prices, usage.Call{WorkspaceID: f.ws, ConversationID: &cid, AssistantID: conv.AssistantID, ConversationType: conv.Type,
						RequestID: fmt.Sprintf("bench:%d", next), Purpose: usage.PurposeReply, Model: "gpt-4o-mini", Tokens: usage.Tokens{Prompt: r.Intn(5000), Completion: r.Intn(500)}})
					if err != nil {
						b.Fatal(err)
					}
					e.CreatedAt = store.Now()
					entries[j] = e
					next++
				}
				if _, err := s.DB.NewInsert().Model(&entries).Exec(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := h.Run(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
			b.ReportMetric(float64(b.N*c.rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkRefreshActivity measures the recomputation of the activity rollups of the first
// workspace of PARLEY_BENCH_DATABASE_URL (for example 1,000,000 conversations loaded with
// `parley seed --bulk`): the two days every tally refreshes, and the reconciliation's week.
func BenchmarkRefreshActivity(b *testing.B) {
	u := os.Getenv("PARLEY_BENCH_DATABASE_URL")
	if u == "" {
		b.Skip("PARLEY_BENCH_DATABASE_URL is not set")
	}
	s := testkit.DB{Dialect: store.Postgres, DatabaseURL: u}.Open(b)
	ctx := context.Background()
	ws, err := s.FirstWorkspace(ctx)
	if err != nil {
		b.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for _, days := range []int{2, 7, 90} {
		b.Run(fmt.Sprintf("days=%d", days), func(b *testing.B) {
			from, to := store.Day(today.AddDate(0, 0, -(days-1))), store.Day(today.AddDate(0, 0, 1))
			for i := 0; i < b.N; i++ {
				if _, err := s.RefreshActivityRollups(ctx, ws.ID, from, to); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
