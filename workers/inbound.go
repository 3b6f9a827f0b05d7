package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/inbound"
	"github.com/parleyhq/parley/app/store"
)

// Processor handles one provider's raw inbound events (for example "whatsapp").
type Processor = inbound.Processor

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

// Inbound processes raw inbound events and sweeps for the ones left behind: the rules (once,
// idempotently, marked processed or failed) are app/inbound's.
type Inbound struct {
	Service *inbound.Service
	Queue   Enqueuer
	Log     *slog.Logger
	// SweepAge is how old an unprocessed event must be before the sweep re-enqueues it, so that
	// a sweep does not race the webhook's own enqueue.
	SweepAge time.Duration
	// SweepBatch bounds one sweep.
	SweepBatch int

	// Store and Processors make the Service when it is nil. Deprecated: only the app/web tests
	// still build the handler this way (they switch to Service after the web split); the
	// container sets Service.
	Store      *store.Store
	Processors map[string]Processor

	once sync.Once
}

func (h *Inbound) service() *inbound.Service {
	h.once.Do(func() {
		if h.Service == nil {
			h.Service = &inbound.Service{Store: h.Store, Log: h.Log, Processors: h.Processors}
		}
	})
	return h.Service
}

// HandleProcess runs the provider's processor on one event, at least once, idempotently: an
// event already processed is skipped.
func (h *Inbound) HandleProcess(ctx context.Context, t *asynq.Task) error {
	var p InboundProcessPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.EventID <= 0 {
		return fmt.Errorf("inbound:process: bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	err := h.service().Process(ctx, p.EventID, p.RequestID)
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
	evs, err := h.service().Unprocessed(ctx, time.Now().Add(-age), batch)
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
