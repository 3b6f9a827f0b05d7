package reeval_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/reeval"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

type fixture struct {
	s        *store.Store
	svc      *reeval.Service
	ws       int64
	asst     *store.Assistant
	enqueued []store.EvaluationRun
}

func newFixture(t *testing.T, s *store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	w, _, err := s.CreateWorkspaceWithUser(ctx, "Alpha", "alpha@example.com", "hash")
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Assistant{WorkspaceID: w.ID, Name: "A", Evaluators: store.Evaluators{
		{Name: "refund_asked", Question: "Refund?", Type: model.EvaluatorBoolean, Options: []string{}, Version: 2}}}
	if err := s.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	opts, err := redis.ParseURL(testkit.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	f := &fixture{s: s, ws: w.ID, asst: a}
	f.svc = &reeval.Service{Store: s, Jobs: conversation.BulkJobs{Redis: rdb, Kind: reeval.JobKind},
		Enqueue: func(_ context.Context, r *store.EvaluationRun) { f.enqueued = append(f.enqueued, *r) }}
	return f
}

func (f *fixture) conv(t *testing.T, typ string) *store.Conversation {
	t.Helper()
	at := time.Now().Add(-time.Hour).UTC()
	c := &store.Conversation{WorkspaceID: f.ws, AssistantID: &f.asst.ID, Type: typ, Customer: "c", StartedAt: at, LastMessageAt: at}
	if err := f.s.CreateConversation(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// finish marks a run done as the engine would, with its cost and provider.
func (f *fixture) finish(t *testing.T, id int64, provider string, cost int64) {
	t.Helper()
	if _, err := f.s.DB.NewUpdate().Model((*store.EvaluationRun)(nil)).Set("status = ?", model.EvalDone).
		Set("provider = ?", provider).Set("cost_nanos = ?", cost).Set("finished_at = ?", time.Now().UTC()).
		Where("id = ?", id).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func runs(t *testing.T, s *store.Store, ws, conv int64) []store.EvaluationRun {
	t.Helper()
	rs, err := s.EvaluationRuns(context.Background(), ws, conv, 100)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestAgainMakesTheNextRunOfTheCurrentEnd(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s)
		c := f.conv(t, model.TypeWidget)
		version := model.EvaluatorsVersion(f.asst.Evaluators)

		// An open conversation that never ended: end 0, run 1.
		r, err := f.svc.Again(ctx, f.ws, c.ID)
		if err != nil || r.EndSeq != 0 || r.Run != 1 || r.Status != model.EvalPending || r.EvaluatorsVersion != version {
			t.Fatalf("open conversation: %+v %v", r, err)
		}
		// Asked again while it is pending: the same run, not enqueued twice.
		r2, err := f.svc.Again(ctx, f.ws, c.ID)
		if err != nil || r2.ID != r.ID || len(f.enqueued) != 1 || f.enqueued[0].ID != r.ID {
			t.Fatalf("pending twice: %+v %v, enqueued %d", r2, err, len(f.enqueued))
		}
		f.finish(t, r.ID, "gpt-4o-mini", 1000)

		// Ended: the automatic run 0 of end 1 exists; Evaluate again is run 1, then 2.
		if _, err := s.EndConversation(ctx, f.ws, c.ID, model.EndAPI, time.Time{}); err != nil {
			t.Fatal(err)
		}
		auto := &store.EvaluationRun{WorkspaceID: f.ws, ConversationID: c.ID, EndSeq: 1, Run: 0, EvaluatorsVersion: version, Status: model.EvalDone, CreatedAt: time.Now().UTC()}
		if _, err := s.DB.NewInsert().Model(auto).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB.NewUpdate().Model((*store.Conversation)(nil)).Set("evaluation_status = ?", model.EvalDone).Where("id = ?", c.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		r3, err := f.svc.Again(ctx, f.ws, c.ID)
		if err != nil || r3.EndSeq != 1 || r3.Run != 1 || r3.Status != model.EvalPending {
			t.Fatalf("ended: %+v %v", r3, err)
		}
		got, _ := s.GetConversation(ctx, f.ws, c.ID)
		if got.EvaluationStatus != model.EvalPending {
			t.Fatalf("evaluation_status %q, want pending", got.EvaluationStatus)
		}
		f.finish(t, r3.ID, "gpt-4o-mini", 1000)
		r4, err := f.svc.Again(ctx, f.ws, c.ID)
		if err != nil || r4.EndSeq != 1 || r4.Run != 2 {
			t.Fatalf("third: %+v %v", r4, err)
		}
		// The history keeps every run, the latest first.
		rs := runs(t, s, f.ws, c.ID)
		if len(rs) != 4 || rs[0].ID != r4.ID || rs[1].ID != r3.ID || rs[2].ID != auto.ID || rs[3].ID != r.ID {
			t.Fatalf("history %+v", rs)
		}
		// Another workspace's conversation does not exist.
		other, _, err := s.CreateWorkspaceWithUser(ctx, "Beta", "beta@example.com", "hash")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Again(ctx, other.ID, c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other workspace: %v", err)
		}
		if n := len(runs(t, s, f.ws, c.ID)); n != 4 {
			t.Fatalf("runs after a refused request: %d", n)
		}
	})
}

func TestBulkEstimateAndProgress(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s)
		var widgets []*store.Conversation
		for range 5 {
			widgets = append(widgets, f.conv(t, model.TypeWidget))
		}
		wa := f.conv(t, model.TypeWhatsApp)
		// Two priced runs (3000 and 5000 nano-dollars) and an offline one, which is free.
		for i, cost := range []int64{3000, 5000} {
			r, err := f.svc.Again(ctx, f.ws, widgets[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			f.finish(t, r.ID, "gpt-4o-mini", cost)
		}
		r, err := f.svc.Again(ctx, f.ws, wa.ID)
		if err != nil {
			t.Fatal(err)
		}
		f.finish(t, r.ID, "offline", 0)
		// One widget conversation has a pending run: the bulk job skips it.
		if _, err := f.svc.Again(ctx, f.ws, widgets[4].ID); err != nil {
			t.Fatal(err)
		}
		f.enqueued = nil

		q := url.Values{"type": {model.TypeWidget}}
		_, filter, err := conversation.ParseQuery(q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		est, err := f.svc.EstimateMatching(ctx, f.ws, filter)
		if err != nil {
			t.Fatal(err)
		}
		if est.Conversations != 5 || !est.Known || est.Sample != 2 || est.PerRun != 4000 || est.Total != 20000 {
			t.Fatalf("estimate %+v", est)
		}
		if got := est.Label(); got != "about $0.00002 (5 × $0.000004, the average of the last 2 evaluations)" {
			t.Fatalf("label %q", got)
		}
		f.svc.Offline = true
		if est, _ := f.svc.EstimateMatching(ctx, f.ws, filter); est.Label() != "free (offline provider)" {
			t.Fatalf("offline label %q", est.Label())
		}

		const job = "job1"
		if err := f.svc.StartBulk(ctx, f.ws, job, est.Conversations); err != nil {
			t.Fatal(err)
		}
		if j, err := f.svc.Job(ctx, f.ws, job); err != nil || j.State != "queued" || j.Total != 5 {
			t.Fatalf("queued job %+v %v", j, err)
		}
		n, err := f.svc.RunBulk(ctx, f.ws, job, q.Encode(), time.Now(), 2)
		if err != nil || n != 4 {
			t.Fatalf("bulk: %d %v", n, err)
		}
		j, err := f.svc.Job(ctx, f.ws, job)
		if err != nil || j.State != "done" || j.Deleted != 4 || j.Total != 5 {
			t.Fatalf("done job %+v %v", j, err)
		}
		if len(f.enqueued) != 4 {
			t.Fatalf("enqueued %d runs, want 4", len(f.enqueued))
		}
		for i, c := range widgets {
			rs := runs(t, s, f.ws, c.ID)
			want := 2 // a finished run and the bulk's
			if i >= 2 {
				want = 1 // the bulk's, or (widgets[4]) the pending one it skipped
			}
			if len(rs) != want || rs[0].Status != model.EvalPending {
				t.Fatalf("widget %d runs %+v", i, rs)
			}
		}
		if rs := runs(t, s, f.ws, wa.ID); len(rs) != 1 {
			t.Fatalf("the WhatsApp conversation does not match the filter: %+v", rs)
		}
		// The bulk deletions' jobs are another key space.
		if _, err := (conversation.BulkJobs{Redis: f.svc.Jobs.Redis}).Get(ctx, f.ws, job); !errors.Is(err, conversation.ErrNoJob) {
			t.Fatalf("a bulk evaluation is visible as a deletion: %v", err)
		}
		// A filter that does not parse fails the job without a retry.
		if _, err := f.svc.RunBulk(ctx, f.ws, "job2", "range=bogus", time.Now(), 2); !errors.Is(err, reeval.ErrBadBulk) {
			t.Fatalf("bad filter: %v", err)
		}
	})
}
