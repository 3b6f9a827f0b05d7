package testruns_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/testruns"
)

// benchCases is the size of the benchmarks' test set.
const benchCases = 200

// zeroWork is a provider that does no work: it answers every call at once with a fixed
// reply and counts no tokens. It calls itself offline, so evaluations use the offline
// heuristics and judgements the word-overlap rule, as with the offline provider: a run with
// it costs the run's bookkeeping (the store, the grading, the heuristics) and nothing of an
// LLM.
type zeroWork struct{}

func (zeroWork) Name() string  { return "zero-work" }
func (zeroWork) Offline() bool { return true }
func (zeroWork) Complete(context.Context, llm.Request) (llm.Response, error) {
	return llm.Response{Content: "Your order ships on Monday.", Model: llm.OfflineModel}, nil
}
func (z zeroWork) Stream(ctx context.Context, r llm.Request, _ func(string) error) (llm.Response, error) {
	return z.Complete(ctx, r)
}

// benchRun runs a set of 200 cases (2 customer turns each, the first with an expected
// answer: 400 replayed turns, 200 judgements, 200 evaluations) once per iteration with p, and
// reports cases per second. The set is prepared before the timer starts. SQLite, or
// PostgreSQL with DATABASE_URL.
func benchRun(b *testing.B, p llm.Provider) {
	ctx := context.Background()
	st := testkit.Store(b)
	w, _, err := st.CreateWorkspaceWithUser(ctx, "B", fmt.Sprintf("b%d@example.com", time.Now().UnixNano()), "hash")
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{st: st, ws: w.ID}
	f.a = &store.Assistant{WorkspaceID: w.ID, Name: "Support", Model: "gpt-4o-mini", SystemPrompt: "You answer questions about orders.", FirstMessage: "Hello!"}
	if err := st.CreateAssistant(ctx, f.a); err != nil {
		b.Fatal(err)
	}
	cases := make([][]model.TestCaseTurn, benchCases)
	for i := range cases {
		cases[i] = []model.TestCaseTurn{
			{Customer: fmt.Sprintf("Hi, where is my order %d?", 1000+i), Expected: "Your order ships on Monday."},
			{Customer: "And how long do refunds take?"},
		}
	}
	set := f.newSet(b, "bench", cases...)
	svc := service(st, p)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		run, err := svc.Create(ctx, w.ID, set.ID, model.VersionRef{Number: 1}, store.Author{Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if err := svc.Execute(ctx, testruns.Exec{WorkspaceID: w.ID, RunID: run.ID}); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(benchCases*b.N)/elapsed.Seconds(), "cases/s")
	b.ReportMetric(float64(elapsed.Microseconds())/float64(benchCases*b.N)/1000, "ms/case")
}

// BenchmarkRunOffline: a test set of 200 cases run with the offline provider.
//
//	go test -run '^$' -bench 'Run(Offline|ZeroWork)' -benchtime 3x ./app/testruns/
func BenchmarkRunOffline(b *testing.B) { benchRun(b, llm.NewOffline(llm.OfflineOptions{})) }

// BenchmarkRunZeroWork: the same run with a provider that does no work: the bookkeeping.
func BenchmarkRunZeroWork(b *testing.B) { benchRun(b, zeroWork{}) }
