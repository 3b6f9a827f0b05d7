// Package inbound owns the processing of stored raw inbound events (a provider's webhook
// payloads, kept in the database before anything else happens): running each event once
// through its provider's processor, marking it processed or failed, and finding the events
// left behind. It may use app/store; it never imports app/web or workers (the task handlers
// call it, and enqueue what it finds).
package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/app/logctx"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
)

// Processor handles one provider's raw inbound events (for example "whatsapp").
type Processor func(ctx context.Context, ev *store.InboundEvent) error

// Errors no retry can fix.
var (
	ErrNoEvent     = errors.New("inbound: no such event")
	ErrNoProcessor = errors.New("inbound: no processor for the event's provider")
)

// Service processes raw inbound events.
type Service struct {
	Store      *store.Store
	Log        *slog.Logger
	Processors map[string]Processor
	// Retention is how long a processed event is kept (PARLEY_INBOUND_RETENTION); zero means
	// DefaultRetention.
	Retention time.Duration
}

// DefaultRetention is how long processed raw events are kept when Retention is not set.
const DefaultRetention = config.DefaultInboundRetention

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Process runs the provider's processor on event id, at least once, idempotently: an event
// already processed is skipped. requestID is the webhook request that stored it (when empty,
// the event row's is used); the processor's context carries it. ErrNoEvent and
// ErrNoProcessor (the event is marked failed) are for good; the processor's error is
// returned as it is, after the event is marked failed with it.
func (s *Service) Process(ctx context.Context, id int64, requestID string) error {
	ev, err := s.Store.InboundEventByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("event %d does not exist: %w", id, ErrNoEvent)
	}
	if err != nil {
		return err
	}
	// The webhook request that stored the event: payloads queued before request ids were
	// carried (or re-enqueued without one) take it from the event row.
	ctx = logctx.WithRequestID(ctx, ev.RequestID)
	if requestID != "" {
		ctx = logctx.WithRequestID(ctx, requestID)
	}
	if ev.ProcessedAt != nil {
		return nil
	}
	proc, ok := s.Processors[ev.Provider]
	if !ok {
		msg := fmt.Sprintf("no processor for provider %q", ev.Provider)
		_ = s.Store.MarkEventFailed(ctx, ev.ID, msg)
		return fmt.Errorf("%s: %w", msg, ErrNoProcessor)
	}
	if err := proc(ctx, ev); err != nil {
		_ = s.Store.MarkEventFailed(context.WithoutCancel(ctx), ev.ID, err.Error())
		s.log().WarnContext(ctx, "inbound event failed", "event_id", ev.ID, "provider", ev.Provider, "kind", ev.Kind, "err", err)
		return err
	}
	if err := s.Store.MarkEventProcessed(ctx, ev.ID); err != nil {
		return err
	}
	s.log().InfoContext(ctx, "inbound event processed", "event_id", ev.ID, "provider", ev.Provider, "kind", ev.Kind)
	return nil
}

// Pending is one event left unprocessed: its id and the webhook request that stored it.
type Pending struct {
	ID        int64
	RequestID string
	// ReceivedAt is when it was stored: its task id's token (a restored database reuses ids).
	ReceivedAt time.Time
}

// Unprocessed returns at most batch events still unprocessed that were stored before
// olderThan (so that a sweep does not race the webhook's own enqueue).
func (s *Service) Unprocessed(ctx context.Context, olderThan time.Time, batch int) ([]Pending, error) {
	evs, err := s.Store.UnprocessedEvents(ctx, olderThan, batch)
	if err != nil {
		return nil, err
	}
	out := make([]Pending, len(evs))
	for i, ev := range evs {
		out[i] = Pending{ID: ev.ID, RequestID: ev.RequestID, ReceivedAt: ev.ReceivedAt}
	}
	return out, nil
}

// Prune deletes the raw events processed and received more than Retention before now, in
// batches of batch, and returns how many it deleted. Unprocessed events are never deleted:
// they are work still owed (the sweep retries them). A conversation's events also go when the
// conversation is deleted (the store's cascade).
func (s *Service) Prune(ctx context.Context, now time.Time, batch int) (int, error) {
	keep := s.Retention
	if keep <= 0 {
		keep = DefaultRetention
	}
	if batch <= 0 {
		batch = 1000
	}
	before := now.Add(-keep)
	total := 0
	for {
		n, err := s.Store.PruneInboundEvents(ctx, before, batch)
		total += n
		if err != nil {
			return total, err
		}
		if n < batch {
			break
		}
	}
	if total > 0 {
		if err := s.Store.Scrub(ctx); err != nil {
			return total, err
		}
	}
	return total, nil
}
