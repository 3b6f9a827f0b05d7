package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/inbound"
)

// Inbound processes raw inbound events and sweeps for the ones left behind: the rules (once,
// idempotently, marked processed or failed) are app/inbound's.
type Inbound struct {
	Service *inbound.Service
	Tasks   *Tasks
	Log     *slog.Logger
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
	err := h.Service.Process(ctx, p.EventID, p.RequestID)
	if errors.Is(err, inbound.ErrNoEvent) || errors.Is(err, inbound.ErrNoProcessor) {
		return fmt.Errorf("inbound:process: %w: %w", err, asynq.SkipRetry)
	}
	return err
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
	evs, err := h.Service.Unprocessed(ctx, time.Now().Add(-age), batch)
	if err != nil {
		return err
	}
	n := 0
	for _, ev := range evs {
		t, err := h.Tasks.InboundProcess(ev.ID, ev.ReceivedAt, ev.RequestID) // the webhook's request id follows the event
		if err != nil {
			return err
		}
		if err := h.Tasks.Enqueue(ctx, t); err != nil {
			return fmt.Errorf("sweep: enqueue event %d: %w", ev.ID, err)
		}
		n++
	}
	if n > 0 {
		h.Log.InfoContext(ctx, "sweep re-enqueued unprocessed inbound events", "count", n)
	}
	return nil
}
