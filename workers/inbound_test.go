package workers_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/inbound"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/workers"
)

func TestSweepReenqueuesAndWorkerProcessesOnce(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	var calls atomic.Int32
	h := &workers.Inbound{Service: &inbound.Service{Store: a.Store, Log: testkit.Logger(t), Processors: map[string]inbound.Processor{"test": func(ctx context.Context, ev *store.InboundEvent) error {
		calls.Add(1)
		if ev.Payload == `"fail"` {
			return errors.New("provider said no")
		}
		return nil
	}}}, Tasks: a.Tasks, Log: testkit.Logger(t), SweepAge: time.Second}

	// Two events stored but never enqueued (Redis was down when they arrived), one fresh.
	old := time.Now().Add(-time.Minute).UTC()
	e1 := &store.InboundEvent{Provider: "test", ProviderID: "a", Payload: `"ok"`, ReceivedAt: old}
	e2 := &store.InboundEvent{Provider: "test", ProviderID: "b", Payload: `"fail"`, ReceivedAt: old}
	e3 := &store.InboundEvent{Provider: "test", ProviderID: "c", Payload: `"ok"`}
	for _, ev := range []*store.InboundEvent{e1, e2, e3} {
		if _, err := a.Store.InsertInboundEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.HandleSweep(ctx, tk.InboundSweep()); err != nil {
		t.Fatal(err)
	}
	// A second sweep while they are queued enqueues nothing new (task id = event id).
	if err := h.HandleSweep(ctx, tk.InboundSweep()); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(a.Redis)
	pending, err := insp.ListPendingTasks(workers.QueueCritical)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 {
		t.Fatalf("pending tasks after two sweeps: %d, want 2 (the fresh event is left to its own enqueue)", len(pending))
	}
	// Run them through the real handler.
	for _, ti := range pending {
		_ = h.HandleProcess(ctx, asynq.NewTask(ti.Type, ti.Payload))
	}
	got1, _ := a.Store.InboundEventByID(ctx, e1.ID)
	got2, _ := a.Store.InboundEventByID(ctx, e2.ID)
	if got1.ProcessedAt == nil || got1.Attempts != 1 {
		t.Fatalf("e1: %+v", got1)
	}
	if got2.ProcessedAt != nil || got2.Attempts != 1 || got2.LastError != "provider said no" {
		t.Fatalf("e2 keeps its error for the next sweep: %+v", got2)
	}
	// At-least-once: running e1 again does not call the processor again.
	before := calls.Load()
	p, _ := json.Marshal(workers.InboundProcessPayload{EventID: e1.ID})
	if err := h.HandleProcess(ctx, asynq.NewTask(workers.TypeInboundProcess, p)); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != before {
		t.Fatal("a processed event must not be processed twice")
	}
}

func TestInboundProcessBadPayloadsSkipRetry(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	h := &workers.Inbound{Service: &inbound.Service{Store: a.Store, Log: testkit.Logger(t), Processors: map[string]inbound.Processor{}}, Tasks: a.Tasks, Log: testkit.Logger(t)}
	ctx := context.Background()
	for _, payload := range []string{`nonsense`, `{"event_id":0}`, `{"event_id":999999}`} {
		err := h.HandleProcess(ctx, asynq.NewTask(workers.TypeInboundProcess, []byte(payload)))
		if !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("%s: %v, want SkipRetry", payload, err)
		}
	}
	ev := &store.InboundEvent{Provider: "carrier-pigeon", ProviderID: "x", Payload: "{}"}
	if _, err := a.Store.InsertInboundEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	p, _ := json.Marshal(workers.InboundProcessPayload{EventID: ev.ID})
	if err := h.HandleProcess(ctx, asynq.NewTask(workers.TypeInboundProcess, p)); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("unknown provider: %v", err)
	}
	got, _ := a.Store.InboundEventByID(ctx, ev.ID)
	if got.LastError == "" {
		t.Fatal("the reason is recorded on the event")
	}
}

// The real asynq server runs a task enqueued by the client, on real Redis or miniredis.
func TestWorkerServerRunsEnqueuedTask(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	done := make(chan int64, 1)
	h := &workers.Inbound{Service: &inbound.Service{Store: a.Store, Log: testkit.Logger(t), Processors: map[string]inbound.Processor{"test": func(ctx context.Context, ev *store.InboundEvent) error {
		done <- ev.ID
		return nil
	}}}, Tasks: a.Tasks, Log: testkit.Logger(t)}
	srv := asynq.NewServerFromRedisClient(a.Redis, asynq.Config{Concurrency: 2, Queues: workers.QueuePriorities, Logger: quiet{}})
	if err := srv.Start(workers.NewMux(workers.Handlers{Inbound: h})); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ev := &store.InboundEvent{Provider: "test", ProviderID: "z", Payload: "{}"}
	if _, err := a.Store.InsertInboundEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	task, _ := tk.InboundProcess(ev.ID, ev.ReceivedAt, "req-1")
	if err := workers.Enqueue(ctx, a.Queue, task); err != nil {
		t.Fatal(err)
	}
	if err := workers.Enqueue(ctx, a.Queue, task); err != nil {
		t.Fatalf("a duplicate enqueue is success: %v", err)
	}
	select {
	case id := <-done:
		if id != ev.ID {
			t.Fatalf("processed %d", id)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the worker did not run the task")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := a.Store.InboundEventByID(ctx, ev.ID)
		if got.ProcessedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("event not marked processed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type quiet struct{}

func (quiet) Debug(...any) {}
func (quiet) Info(...any)  {}
func (quiet) Warn(...any)  {}
func (quiet) Error(...any) {}
func (quiet) Fatal(...any) {}

// Events that keep failing do not starve the ones that never ran: a batch takes the fewest
// attempts first, and carries the webhook's request id.
func TestSweepPrefersEventsThatNeverRan(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	h := &workers.Inbound{Service: &inbound.Service{Store: a.Store, Log: testkit.Logger(t)}, Tasks: a.Tasks, Log: testkit.Logger(t), SweepAge: time.Second, SweepBatch: 2}
	old := time.Now().Add(-time.Hour).UTC()
	for i, id := range []string{"f1", "f2", "f3"} {
		ev := &store.InboundEvent{Provider: "test", ProviderID: id, Payload: `"fail"`, ReceivedAt: old.Add(time.Duration(i) * time.Second)}
		if _, err := a.Store.InsertInboundEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := a.Store.MarkEventFailed(ctx, ev.ID, "provider said no"); err != nil {
				t.Fatal(err)
			}
		}
	}
	lost := &store.InboundEvent{Provider: "test", ProviderID: "lost", Payload: `"ok"`, ReceivedAt: old.Add(time.Minute), RequestID: "req-lost"}
	if _, err := a.Store.InsertInboundEvent(ctx, lost); err != nil {
		t.Fatal(err)
	}
	if err := h.HandleSweep(ctx, tk.InboundSweep()); err != nil {
		t.Fatal(err)
	}
	pending, err := asynq.NewInspectorFromRedisClient(a.Redis).ListPendingTasks(workers.QueueCritical)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, ti := range pending {
		var p workers.InboundProcessPayload
		_ = json.Unmarshal(ti.Payload, &p)
		if p.EventID == lost.ID {
			found = true
			if p.RequestID != "req-lost" {
				t.Fatalf("swept without the webhook's request id: %+v", p)
			}
		}
	}
	if len(pending) != 2 || !found {
		t.Fatalf("a batch of 2 swept %d tasks, the never-run event among them: %v", len(pending), found)
	}
}
