package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/logctx"
	"github.com/parleyhq/parley/app/store"
)

// Processor handles one provider's raw inbound events (for example "whatsapp").
type Processor func(ctx context.Context, ev *store.InboundEvent) error

// Enqueuer is what the workers and the web layer need of the queue.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Enqueue enqueues t and treats a duplicate (same task id already queued) as success.
func Enqueue(ctx context.Context, q Enqueuer, t *asynq.Task, opts ...asynq.Option) error {
	_, err := q.EnqueueContext(ctx, t, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

// Inbound processes raw inbound events and sweeps for the ones left behind.
type Inbound struct {
	Store      *store.Store
	Queue      Enqueuer
	Log        *slog.Logger
	Processors map[string]Processor
	// SweepAge is how old an unprocessed event must be before the sweep re-enqueues it, so that
	// a sweep does not race the webhook's own enqueue.
	SweepAge time.Duration
	// SweepBatch bounds one sweep.
	SweepBatch int
}

// HandleProcess runs the provider's processor on one event, at least once, idempotently: an
// event already processed is skipped.
func (h *Inbound) HandleProcess(ctx context.Context, t *asynq.Task) error {
	var p InboundProcessPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.EventID <= 0 {
		return fmt.Errorf("inbound:process: bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	ev, err := h.Store.InboundEventByID(ctx, p.EventID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("inbound:process: event %d does not exist: %w", p.EventID, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	// The webhook request that stored the event: payloads queued before request ids were
	// carried (or re-enqueued without one) take it from the event row.
	ctx = logctx.WithRequestID(ctx, ev.RequestID)
	if p.RequestID != "" {
		ctx = logctx.WithRequestID(ctx, p.RequestID)
	}
	if ev.ProcessedAt != nil {
		return nil
	}
	proc, ok := h.Processors[ev.Provider]
	if !ok {
		msg := fmt.Sprintf("no processor for provider %q", ev.Provider)
		_ = h.Store.MarkEventFailed(ctx, ev.ID, msg)
		return fmt.Errorf("inbound:process: %s: %w", msg, asynq.SkipRetry)
	}
	if err := proc(ctx, ev); err != nil {
		_ = h.Store.MarkEventFailed(context.WithoutCancel(ctx), ev.ID, err.Error())
		h.Log.WarnContext(ctx, "inbound event failed", "event_id", ev.ID, "provider", ev.Provider, "kind", ev.Kind, "err", err)
		return err
	}
	if err := h.Store.MarkEventProcessed(ctx, ev.ID); err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "inbound event processed", "event_id", ev.ID, "provider", ev.Provider, "kind", ev.Kind)
	return nil
}

// HandleSweep re-enqueues events that are still unprocessed after SweepAge. Enqueueing an event
// whose task is still queued is a no-op (the task id is the event's).
func (h *Inbound) HandleSweep(ctx context.Context, _ *asynq.Task) error {
	age, batch := h.SweepAge, h.SweepBatch
	if age <= 0 {
		age = 30 * time.Second
	}
	if batch <= 0 {
		batch = 1000
	}
	evs, err := h.Store.UnprocessedEvents(ctx, time.Now().Add(-age), batch)
	if err != nil {
		return err
	}
	n := 0
	for _, ev := range evs {
		t, err := NewInboundProcessTask(ev.ID, ev.RequestID) // the webhook's request id follows the event
		if err != nil {
			return err
		}
		if err := Enqueue(ctx, h.Queue, t); err != nil {
			return fmt.Errorf("sweep: enqueue event %d: %w", ev.ID, err)
		}
		n++
	}
	if n > 0 {
		h.Log.InfoContext(ctx, "sweep re-enqueued unprocessed inbound events", "count", n)
	}
	return nil
}
