package workers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/workers"
)

// An end enqueues its evaluation through the app's hook; the same task enqueued again (a
// duplicate, the sweep) is one task; an end whose hook was lost gets its run from the sweep;
// the worker runs each once: one LLM call and one ledger row per end.
func TestEvaluationRunsOncePerEnd(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	a.Conversations.OnUserMessage = nil
	l := testkit.NewFakeLLM(t)
	l.Delay = 300 * time.Millisecond
	p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: l.URL + "/v1", APIKey: "sk-test", Timeout: 5 * time.Second, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	a.Evaluations.LLM = p // the service the app's end hook and the worker share
	ws, hooked := exSetup(t, a, model.TypeWidget)
	_, lost := exSetup(t, a, model.TypeWidget)
	for _, c := range []*store.Conversation{hooked, lost} {
		m := &store.Message{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, Role: model.RoleUser, Content: "my parcel is late"}
		if _, err := a.Store.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// The hooked end: the app's hook creates run 0 and enqueues it.
	end, err := a.Conversations.End(ctx, ws, hooked.ID, model.EndVisitor, time.Time{})
	if err != nil || end == nil {
		t.Fatal(err)
	}
	run, err := a.Evaluations.Begin(ctx, end) // what the hook created
	if err != nil || run.Status != model.EvalPending {
		t.Fatalf("run 0: %+v %v", run, err)
	}
	// A duplicate enqueue is the same task.
	if err := a.Tasks.EnqueueEvaluation(ctx, run); err != nil {
		t.Fatal(err)
	}
	// The lost end: stored without its hook (the process died right after).
	if e, err := a.Store.EndConversation(ctx, lost.WorkspaceID, lost.ID, model.EndIdle, time.Now().Add(-2*time.Minute)); err != nil || e == nil {
		t.Fatal(err)
	}
	sweep := &workers.Evaluation{Evaluations: a.Evaluations, Tasks: a.Tasks, Log: testkit.Logger(t), Age: time.Nanosecond}
	if err := sweep.HandleSweep(ctx, nil); err != nil {
		t.Fatal(err)
	}
	pending, err := asynq.NewInspectorFromRedisClient(a.Redis).ListPendingTasks(workers.QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ti := range pending {
		if ti.Type == workers.TypeEvaluationRun {
			n++
			if !strings.HasPrefix(ti.ID, a.Tasks.Prefix()+":evaluation:") {
				t.Fatalf("task id %q", ti.ID)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d evaluation tasks queued, want 2 (one per end)", n)
	}

	srv := asynq.NewServerFromRedisClient(a.Redis, asynq.Config{Concurrency: 4, Queues: workers.QueuePriorities, Logger: quiet{}})
	if err := srv.Start(workers.NewMux(workers.Handlers{Evaluation: sweep, Tasks: a.Tasks})); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h, _ := a.Store.GetConversation(ctx, ws, hooked.ID)
		lc, _ := a.Store.GetConversation(ctx, lost.WorkspaceID, lost.ID)
		if h.EvaluationStatus == model.EvalDone && lc.EvaluationStatus == model.EvalDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not evaluated: %q %q", h.EvaluationStatus, lc.EvaluationStatus)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The sweep again: nothing is pending, nothing is asked again.
	if err := sweep.HandleSweep(ctx, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if l.Calls() != 2 {
		t.Fatalf("%d LLM calls, want 2 (one per end)", l.Calls())
	}
	for _, c := range []*store.Conversation{hooked, lost} {
		rows, _ := a.Store.ConversationUsage(ctx, c.WorkspaceID, c.ID)
		got, _ := a.Store.GetConversation(ctx, c.WorkspaceID, c.ID)
		if len(rows) != 1 || rows[0].Purpose != store.PurposeEvaluation || got.CostEvaluationNanos != rows[0].CostNanos ||
			rows[0].RequestID != fmt.Sprintf("evaluate:%d:1:%d:0", c.ID, model.EvaluatorsVersion(nil)) {
			t.Fatalf("conversation %d: ledger %+v, cost_evaluation_nanos %d", c.ID, rows, got.CostEvaluationNanos)
		}
	}
	// The schedule has the sweep.
	found := false
	for _, e := range (workers.Schedule{Tasks: a.Tasks}).Entries() {
		found = found || e.Task.Type() == workers.TypeEvaluationSweep
	}
	if !found {
		t.Fatal("the evaluation sweep is not scheduled")
	}
}

// A bad payload is not retried.
func TestEvaluationBadPayload(t *testing.T) {
	h := &workers.Evaluation{}
	err := h.HandleRun(context.Background(), asynq.NewTask(workers.TypeEvaluationRun, []byte(`{"run_id":0}`)))
	if err == nil || !strings.Contains(err.Error(), asynq.SkipRetry.Error()) {
		t.Fatalf("err %v", err)
	}
}
