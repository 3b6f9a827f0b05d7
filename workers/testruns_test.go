package workers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/workers"
)

// A run started through the app is a row before it is a task; a run whose task was lost is
// enqueued by the sweep; a duplicate enqueue is the same task; the worker finishes both
// (offline provider), and the sweep then finds nothing.
func TestTestRunTaskAndSweep(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	w, _, err := a.Store.CreateWorkspaceWithUser(ctx, "W", "w@example.com", "h")
	if err != nil {
		t.Fatal(err)
	}
	asst := &store.Assistant{WorkspaceID: w.ID, Name: "Support", SystemPrompt: "p"}
	if err := a.Store.CreateAssistant(ctx, asst); err != nil {
		t.Fatal(err)
	}
	set := &store.TestSet{WorkspaceID: w.ID, AssistantID: asst.ID, Name: "s", NameKey: "s", CreatedAt: time.Now().UTC()}
	if _, err := a.Store.DB.NewInsert().Model(set).Returning("id").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	tc := &store.TestCase{WorkspaceID: w.ID, TestSetID: set.ID, CreatedAt: time.Now().UTC(),
		Turns: store.TestCaseTurns{{Customer: "hello", Expected: "Hello! How can I help?"}, {Customer: "bye"}}}
	if _, err := a.Store.DB.NewInsert().Model(tc).Returning("id").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	started, err := a.TestRuns.Start(ctx, w.ID, set.ID, model.VersionRef{Number: 1}, store.Author{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Tasks.EnqueueTestRun(ctx, started); err != nil { // a duplicate
		t.Fatal(err)
	}
	lost, err := a.TestRuns.Create(ctx, w.ID, set.ID, model.VersionRef{Number: 1}, store.Author{Name: "t"}) // no task
	if err != nil {
		t.Fatal(err)
	}
	h := &workers.TestRuns{Runs: a.TestRuns, Tasks: a.Tasks, Log: testkit.Logger(t), Age: time.Nanosecond} // everything is due
	if err := h.HandleSweep(ctx, nil); err != nil {
		t.Fatal(err)
	}
	pending, err := asynq.NewInspectorFromRedisClient(a.Redis).ListPendingTasks(workers.QueueLow)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ti := range pending {
		if ti.Type == workers.TypeTestRunRun {
			n++
			if !strings.HasPrefix(ti.ID, a.Tasks.Prefix()+":testrun:") {
				t.Fatalf("task id %q", ti.ID)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d test run tasks queued, want 2 (one per run)", n)
	}
	srv := asynq.NewServerFromRedisClient(a.Redis, asynq.Config{Concurrency: 2, Queues: workers.QueuePriorities, Logger: quiet{}})
	if err := srv.Start(workers.NewMux(workers.Handlers{TestRuns: h, Tasks: a.Tasks})); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r1, _ := a.Store.TestSetRunByID(ctx, w.ID, started.ID)
		r2, _ := a.Store.TestSetRunByID(ctx, w.ID, lost.ID)
		if r1.Status == model.JobDone && r2.Status == model.JobDone {
			if r1.CasesDone != 1 || r2.CasesDone != 1 {
				t.Fatalf("cases done %d %d", r1.CasesDone, r2.CasesDone)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not finished: %q %q", r1.Status, r2.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if due, err := a.TestRuns.Due(ctx, -time.Hour, 10); err != nil || len(due) != 0 {
		t.Fatalf("finished runs are due: %+v %v", due, err)
	}
	found := false
	for _, e := range (workers.Schedule{Tasks: a.Tasks}).Entries() {
		found = found || e.Task.Type() == workers.TypeTestRunSweep
	}
	if !found {
		t.Fatal("the test run sweep is not scheduled")
	}
}

// A bad payload is not retried.
func TestTestRunBadPayload(t *testing.T) {
	h := &workers.TestRuns{}
	err := h.HandleRun(context.Background(), asynq.NewTask(workers.TypeTestRunRun, []byte(`{"run_id":0}`)))
	if err == nil || !strings.Contains(err.Error(), asynq.SkipRetry.Error()) {
		t.Fatalf("err %v", err)
	}
}
