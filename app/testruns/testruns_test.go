package testruns_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/evaluation"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/testruns"
	"github.com/parleyhq/parley/app/usage"
)

type fixture struct {
	st  *store.Store
	ws  int64
	a   *store.Assistant
	set *store.TestSet
}

// setup makes a workspace, an assistant (v1 published, "published prompt"; v2 the draft,
// "draft prompt") and a test set of it with the cases given (each a list of turns).
func setup(t *testing.T, st *store.Store, cases ...[]model.TestCaseTurn) *fixture {
	t.Helper()
	ctx := context.Background()
	w, _, err := st.CreateWorkspaceWithUser(ctx, "X", fmt.Sprintf("x%d@example.com", time.Now().UnixNano()), "hash")
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Assistant{WorkspaceID: w.ID, Name: "Support", Model: "gpt-4o-mini", SystemPrompt: "published prompt"}
	if err := st.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := a.Behaviour()
	b.SystemPrompt = "draft prompt"
	if _, a, err = st.SaveAssistantVersion(ctx, w.ID, a.ID, b, store.Author{Name: "test"}, false); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, ws: w.ID, a: a}
	f.set = f.newSet(t, "regressions", cases...)
	return f
}

// newSet writes a set and its cases (rows as app/testsets stores them).
func (f *fixture) newSet(t testing.TB, name string, cases ...[]model.TestCaseTurn) *store.TestSet {
	t.Helper()
	ctx := context.Background()
	set := &store.TestSet{WorkspaceID: f.ws, AssistantID: f.a.ID, Name: name, NameKey: name, CreatedAt: time.Now().UTC()}
	if _, err := f.st.DB.NewInsert().Model(set).Returning("id").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, turns := range cases {
		c := &store.TestCase{WorkspaceID: f.ws, TestSetID: set.ID, Title: fmt.Sprintf("case %d", i+1), Turns: turns, CreatedAt: time.Now().UTC()}
		if _, err := f.st.DB.NewInsert().Model(c).Returning("id").Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return set
}

func fakeProvider(t *testing.T, l *testkit.FakeLLM) llm.Provider {
	t.Helper()
	p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: l.URL + "/v1", APIKey: "sk-fake", DefaultModel: "gpt-4o-mini", Timeout: 5 * time.Second, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func service(st *store.Store, p llm.Provider) *testruns.Service {
	prices := usage.Default()
	ev := &evaluation.Service{Store: st, LLM: p, Prices: prices}
	return &testruns.Service{Store: st, LLM: p, Prices: prices,
		Engine: &replay.Engine{Store: st, LLM: p, Prices: prices, Evaluations: ev}}
}

// isJudge reports a judgement request (its schema has "same").
func isJudge(r testkit.LLMRequest) bool {
	_, ok := r.Schema["same"]
	return ok
}

// judgeFake answers replies with reply, judgements with same (and a reason), evaluations
// with the fake's defaults.
func judgeFake(t *testing.T, reply string, same func() bool) *testkit.FakeLLM {
	l := testkit.NewFakeLLM(t)
	l.Reply = reply
	l.Answer = func(n int, r testkit.LLMRequest) testkit.LLMAnswer {
		if isJudge(r) {
			if same() {
				return testkit.LLMAnswer{Content: `{"same": true, "reason": "both say Monday"}`}
			}
			return testkit.LLMAnswer{Content: `{"same": false, "reason": "the dates differ"}`}
		}
		return answer(r, reply)
	}
	return l
}

// answer is the fake's answer to a reply (reply) or an evaluation (every evaluator a valid
// value: an enum's first, true, 4, or text).
func answer(r testkit.LLMRequest, reply string) testkit.LLMAnswer {
	if r.Schema == nil {
		return testkit.LLMAnswer{Content: reply}
	}
	vals := map[string]any{}
	for k, p := range r.Schema {
		ps, _ := p.(map[string]any)
		props, _ := ps["properties"].(map[string]any)
		vs, _ := props["value"].(map[string]any)
		var v any = "text"
		if k == model.EvalLanguage {
			v = "en"
		}
		if enum, ok := vs["enum"].([]any); ok && len(enum) > 0 {
			v = enum[0]
			if vs["type"] == "integer" {
				v = 4
			}
		} else if vs["type"] == "boolean" {
			v = true
		}
		vals[k] = map[string]any{"value": v, "reason": "the customer said so"}
	}
	b, _ := json.Marshal(vals)
	return testkit.LLMAnswer{Content: string(b)}
}

type ledgerRow struct {
	RequestID string `bun:"request_id"`
	Purpose   string `bun:"purpose"`
	CostNanos int64  `bun:"cost_nanos"`
}

func ledger(t *testing.T, st *store.Store, ws int64) []ledgerRow {
	t.Helper()
	var rows []ledgerRow
	if err := st.DB.NewSelect().TableExpr("usage_ledger").Column("request_id", "purpose", "cost_nanos").
		Where("workspace_id = ?", ws).OrderExpr("id").Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func twoTurns(expected1, expected2 string) []model.TestCaseTurn {
	return []model.TestCaseTurn{{Customer: "When does my order ship?", Expected: expected1}, {Customer: "And the refund?", Expected: expected2}}
}

// A run with the fake LLM: every case replayed and graded; the judge's requests carry the
// expected and the replayed answer; the run's cost equals the ledger's rows of its replays,
// each written once; the totals are written at the end.
func TestRunGradesWithTheLLM(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := setup(t, st,
			twoTurns("It ships on Monday.", ""),    // one judgement
			[]model.TestCaseTurn{{Customer: "hi"}}) // nothing expected: evaluators only
		l := judgeFake(t, "Your order ships on Monday.", func() bool { return true })
		svc := service(st, fakeProvider(t, l))
		var enqueued []int64
		svc.Enqueue = func(_ context.Context, r *store.TestSetRun) error { enqueued = append(enqueued, r.ID); return nil }
		run, err := svc.Start(ctx, f.ws, f.set.ID, model.VersionRef{Draft: true}, store.Author{Name: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if run.Version != 2 || run.Status != model.JobPending || run.CasesTotal != 2 || len(enqueued) != 1 || enqueued[0] != run.ID {
			t.Fatalf("run %+v, enqueued %v", run, enqueued)
		}
		if err := svc.Execute(ctx, testruns.Exec{WorkspaceID: f.ws, RunID: run.ID}); err != nil {
			t.Fatal(err)
		}
		rep, err := svc.Load(ctx, f.ws, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Run.Status != model.JobDone || rep.Run.CasesDone != 2 || rep.Run.CasesPassed != 2 || rep.Totals.PassRate != 1 {
			t.Fatalf("run %+v totals %+v; case errors %q %q", rep.Run, rep.Totals, rep.Cases[0].Error, rep.Cases[1].Error)
		}
		if _, ok := rep.Totals.Ratings[model.EvalCSATEstimate]; !ok {
			t.Fatalf("no average of the rating evaluator: %+v", rep.Totals.Ratings)
		}
		j, ok := rep.Cases[0].Judgement(0)
		if !ok || !j.Same || j.Method != testruns.MethodLLM || j.Reason != "both say Monday" {
			t.Fatalf("judgement %+v %v", j, ok)
		}
		if len(rep.Cases[1].Judgements) != 0 {
			t.Fatalf("a case without expected answers was judged: %+v", rep.Cases[1].Judgements)
		}
		// The judge's request: the expected and the replayed answer, structured, with its request id.
		var judges []testkit.LLMRequest
		for _, r := range l.Requests() {
			if isJudge(r) {
				judges = append(judges, r)
			}
		}
		if len(judges) != 1 {
			t.Fatalf("%d judge requests, want 1", len(judges))
		}
		body := fmt.Sprint(judges[0].Body["messages"])
		if !strings.Contains(body, "It ships on Monday.") || !strings.Contains(body, "Your order ships on Monday.") {
			t.Fatalf("the judge was not shown both answers: %s", body)
		}
		wantID := testruns.JudgeRequestID(run.ID, *rep.Cases[0].CaseID, 0)
		if got := judges[0].Header.Get("X-Client-Request-Id"); got != wantID {
			t.Fatalf("judge request id %q, want %q", got, wantID)
		}
		// Costs equal the ledger: 3 answers + 2 evaluations + 1 judgement, each once, purpose replay.
		rows := ledger(t, st, f.ws)
		var sum int64
		for _, r := range rows {
			if r.Purpose != store.PurposeReplay {
				t.Fatalf("ledger row %+v is not purpose replay", r)
			}
			sum += r.CostNanos
		}
		if len(rows) != 6 || len(rows) != l.Calls() {
			t.Fatalf("%d ledger rows for %d calls, want 6", len(rows), l.Calls())
		}
		cost, n, err := st.TestSetRunLedger(ctx, f.ws, run.ID)
		if err != nil || n != 6 || cost != sum || cost <= 0 {
			t.Fatalf("run ledger %d nanos in %d rows (%v), sum %d", cost, n, err, sum)
		}
		if rep.Run.CostNanos != cost || rep.Totals.CostNanos != cost || rep.Cases[0].CostNanos+rep.Cases[1].CostNanos != cost {
			t.Fatalf("run cost %d, totals %d, cases %d+%d, ledger %d", rep.Run.CostNanos, rep.Totals.CostNanos, rep.Cases[0].CostNanos, rep.Cases[1].CostNanos, cost)
		}
		// Executing again (a duplicate task) changes nothing and calls nothing.
		calls := l.Calls()
		if err := svc.Execute(ctx, testruns.Exec{WorkspaceID: f.ws, RunID: run.ID}); err != nil {
			t.Fatal(err)
		}
		again, _ := st.TestSetRunByID(ctx, f.ws, run.ID)
		if l.Calls() != calls || len(ledger(t, st, f.ws)) != 6 || again.CasesDone != 2 || again.CostNanos != cost {
			t.Fatalf("a second execution did something: calls %d->%d, run %+v", calls, l.Calls(), again)
		}
	})
}

// A killed worker (the context cancelled after the first case) and a retried one (the judge
// failing with a 500 once) resume: every case finished once, every call in the ledger once,
// the counters right.
func TestRunResumesAfterAKillAndARetry(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := setup(t, st, twoTurns("It ships on Monday.", "Refunds take 5 days."), twoTurns("Monday.", ""), twoTurns("", "5 days."))
		var mu sync.Mutex
		failJudge := 1
		l := testkit.NewFakeLLM(t)
		l.Reply = "Your order ships on Monday."
		l.Answer = func(n int, r testkit.LLMRequest) testkit.LLMAnswer {
			if !isJudge(r) {
				return answer(r, "Your order ships on Monday.")
			}
			mu.Lock()
			defer mu.Unlock()
			if failJudge > 0 {
				failJudge--
				return testkit.LLMAnswer{Status: http.StatusInternalServerError, Message: "boom", Type: "server_error"}
			}
			return testkit.LLMAnswer{Content: `{"same": false, "reason": "differs"}`}
		}
		svc := service(st, fakeProvider(t, l))
		run, err := svc.Create(ctx, f.ws, f.set.ID, model.VersionRef{Number: 1}, store.Author{Name: "t"})
		if err != nil {
			t.Fatal(err)
		}
		// 1. The judge fails (retryable): the execution stops with the error, nothing finished.
		err = svc.Execute(ctx, testruns.Exec{WorkspaceID: f.ws, RunID: run.ID})
		if err == nil || !llm.IsRetryable(err) {
			t.Fatalf("want the retryable failure, got %v", err)
		}
		// 2. Killed after its first case.
		kctx, kill := context.WithCancel(ctx)
		err = svc.Execute(kctx, testruns.Exec{WorkspaceID: f.ws, RunID: run.ID, OnCase: func(done, total int) { kill() }})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want the kill, got %v", err)
		}
		mid, _ := st.TestSetRunByID(ctx, f.ws, run.ID)
		if mid.CasesDone != 1 || mid.Status != model.JobRunning {
			t.Fatalf("after the kill: %+v", mid)
		}
		// 3. The retry finishes it.
		if err := svc.Execute(ctx, testruns.Exec{WorkspaceID: f.ws, RunID: run.ID}); err != nil {
			t.Fatal(err)
		}
		end, _ := st.TestSetRunByID(ctx, f.ws, run.ID)
		if end.Status != model.JobDone || end.CasesDone != 3 || end.CasesPassed != 0 {
			t.Fatalf("end %+v", end)
		}
		// 6 answers + 3 evaluations + 4 judgements, each request id once.
		rows := ledger(t, st, f.ws)
		seen := map[string]bool{}
		for _, r := range rows {
			if seen[r.RequestID] {
				t.Fatalf("request %s charged twice", r.RequestID)
			}
			seen[r.RequestID] = true
		}
		if len(rows) != 13 {
			t.Fatalf("%d ledger rows, want 13: %+v", len(rows), rows)
		}
		cost, _, _ := st.TestSetRunLedger(ctx, f.ws, run.ID)
		if end.CostNanos != cost {
			t.Fatalf("run cost %d, ledger %d", end.CostNanos, cost)
		}
	})
}

// The offline provider: the whole flow without a network; the judge is the word-overlap rule.
func TestRunOffline(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		off := llm.NewOffline(llm.OfflineOptions{})
		f := setup(t, st, twoTurns("something else entirely", ""), []model.TestCaseTurn{{Customer: "hello"}})
		svc := service(st, off)
		run, err := svc.Create(ctx, f.ws, f.set.ID, model.VersionRef{Draft: true}, store.Author{Name: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Execute(ctx, testruns.Exec{WorkspaceID: f.ws, RunID: run.ID}); err != nil {
			t.Fatal(err)
		}
		rep, err := svc.Load(ctx, f.ws, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Run.Status != model.JobDone || rep.Run.CasesDone != 2 {
			t.Fatalf("run %+v", rep.Run)
		}
		j, ok := rep.Cases[0].Judgement(0)
		if !ok || j.Method != testruns.MethodOffline || j.Same {
			t.Fatalf("offline judgement %+v", j)
		}
		if rep.Cases[0].IsPassed() {
			t.Fatal("a case whose answer differs passed")
		}
		for _, c := range rep.Cases {
			for _, tu := range c.Turns {
				if tu.Replayed == nil || *tu.Replayed == "" {
					t.Fatalf("turn not replayed: %+v", tu)
				}
			}
		}
	})
}

// Start refuses what cannot run, and writes nothing then.
func TestStartRefusals(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := setup(t, st, twoTurns("x", ""))
		svc := service(st, llm.NewOffline(llm.OfflineOptions{}))
		empty := f.newSet(t, "empty")
		if _, err := svc.Start(ctx, f.ws, f.set.ID, model.VersionRef{Number: 9}, store.Author{}); !errors.Is(err, testruns.ErrNoSuchVersion) {
			t.Fatalf("v9: %v", err)
		}
		if _, err := svc.Start(ctx, f.ws, empty.ID, model.VersionRef{Number: 1}, store.Author{}); !errors.Is(err, testruns.ErrNoCases) {
			t.Fatalf("empty set: %v", err)
		}
		if _, err := svc.Start(ctx, f.ws+1000, f.set.ID, model.VersionRef{Number: 1}, store.Author{}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace: %v", err)
		}
		if _, a, err := st.PublishAssistantVersion(ctx, f.ws, f.a.ID, 2, store.Author{}); err != nil || a.DraftVersion != 0 {
			t.Fatal(err)
		}
		if _, err := svc.Start(ctx, f.ws, f.set.ID, model.VersionRef{Draft: true}, store.Author{}); !errors.Is(err, store.ErrNoDraft) {
			t.Fatalf("no draft: %v", err)
		}
		if runs, _ := st.TestSetRuns(ctx, f.ws, f.set.ID, 0); len(runs) != 0 {
			t.Fatalf("refusals wrote runs: %+v", runs)
		}
	})
}

// Compare and the gate follow the regression rule: the draft's judgements say "different"
// where the published version's said "same": its pass rate is lower, the case regressed, the
// gate refuses the draft until a run of it is not worse.
func TestCompareAndGate(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := setup(t, st, twoTurns("It ships on Monday.", ""), []model.TestCaseTurn{{Customer: "hi"}})
		same := true
		l := judgeFake(t, "Your order ships on Monday.", func() bool { return same })
		svc := service(st, fakeProvider(t, l))
		runOf := func(ref model.VersionRef) *store.TestSetRun {
			t.Helper()
			r, err := svc.Create(ctx, f.ws, f.set.ID, ref, store.Author{Name: "t"})
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Execute(ctx, testruns.Exec{WorkspaceID: f.ws, RunID: r.ID}); err != nil {
				t.Fatal(err)
			}
			return r
		}
		f.a.PublishGate = true
		draft, err := st.AssistantVersionByNumber(ctx, f.ws, f.a.ID, 2)
		if err != nil {
			t.Fatal(err)
		}
		// No run at all: the gate says what to run.
		if err := svc.Gate(ctx, f.a, draft); !isRefusal(err) || !strings.Contains(err.Error(), "run a test set") {
			t.Fatalf("gate without runs: %v", err)
		}
		base := runOf(model.VersionRef{Number: 1})
		same = false
		now := runOf(model.VersionRef{Draft: true})
		cmp, err := svc.Compare(ctx, f.ws, base.ID, now.ID, model.DefaultRegressionTolerance)
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Worse() || !cmp.PassRateRegressed() || len(cmp.Cases) != 2 || !cmp.Cases[0].Regressed || cmp.Cases[1].Regressed {
			t.Fatalf("comparison %+v", cmp)
		}
		if err := svc.Gate(ctx, f.a, draft); !isRefusal(err) || !strings.Contains(err.Error(), "worse") {
			t.Fatalf("gate of a worse draft: %v", err)
		}
		// Gate off, or publishing the published version: no check.
		f.a.PublishGate = false
		if err := svc.Gate(ctx, f.a, draft); err != nil {
			t.Fatal(err)
		}
		f.a.PublishGate = true
		v1, _ := st.AssistantVersionByNumber(ctx, f.ws, f.a.ID, 1)
		if err := svc.Gate(ctx, f.a, v1); err != nil {
			t.Fatal(err)
		}
		// A new run of the draft that is not worse opens the gate.
		same = true
		fixed := runOf(model.VersionRef{Draft: true})
		if err := svc.Gate(ctx, f.a, draft); err != nil {
			t.Fatalf("gate after run %d: %v", fixed.ID, err)
		}
		// Runs of different sets do not compare.
		other := f.newSet(t, "other", []model.TestCaseTurn{{Customer: "x"}})
		r2, err := svc.Create(ctx, f.ws, other.ID, model.VersionRef{Number: 1}, store.Author{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Compare(ctx, f.ws, base.ID, r2.ID, 0.2); !errors.Is(err, testruns.ErrDifferentSets) {
			t.Fatalf("different sets: %v", err)
		}
	})
}

// The sweep's list: runs left pending or running, not the finished ones.
func TestDue(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := setup(t, st, []model.TestCaseTurn{{Customer: "hi"}})
		svc := service(st, llm.NewOffline(llm.OfflineOptions{}))
		pending, err := svc.Create(ctx, f.ws, f.set.ID, model.VersionRef{Number: 1}, store.Author{})
		if err != nil {
			t.Fatal(err)
		}
		done, err := svc.Create(ctx, f.ws, f.set.ID, model.VersionRef{Number: 1}, store.Author{})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Execute(ctx, testruns.Exec{WorkspaceID: f.ws, RunID: done.ID}); err != nil {
			t.Fatal(err)
		}
		svc.Now = func() time.Time { return time.Now().Add(time.Hour) }
		due, err := svc.Due(ctx, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 1 || due[0].ID != pending.ID {
			t.Fatalf("due %+v, want run %d only", due, pending.ID)
		}
		svc.Now = nil
		if due, _ := svc.Due(ctx, time.Minute, 10); len(due) != 0 {
			t.Fatalf("a fresh run is due already: %+v", due)
		}
	})
}

// isRefusal reports the gate's refusal (assistants.GateRefusal), which the publish path
// answers with 409.
func isRefusal(err error) bool {
	_, ok := assistants.IsRefusal(err)
	return ok
}
