package store

import (
	"context"
	"sync"
	"time"
)

// InboundBatcher stores webhook deliveries that arrive together in one statement (group
// commit): while a write is under way, the deliveries that come in wait for the next one, so
// under load one INSERT ... ON CONFLICT DO NOTHING and one commit serve many deliveries, and
// with no load each delivery is written at once, alone. A delivery's events always go into the
// same statement, so they are stored all or none; a caller learns which of its events were
// new only after the statement committed.
type InboundBatcher struct {
	store *Store
	// maxWriters bounds the statements under way at once; maxEvents bounds one statement (a
	// delivery larger than that is written alone).
	maxWriters, maxEvents int
	// timeout bounds one statement: it serves many requests, so none of their contexts.
	timeout time.Duration

	mu      sync.Mutex
	pending []*inboundDelivery
	writers int
}

type inboundDelivery struct {
	evs      []*InboundEvent
	inserted []*InboundEvent
	err      error
	done     chan struct{}
}

// NewInboundBatcher returns a batcher writing through s.
func NewInboundBatcher(s *Store) *InboundBatcher {
	return &InboundBatcher{store: s, maxWriters: 4, maxEvents: 256, timeout: 10 * time.Second}
}

// Insert stores evs as InsertInboundEvents does (the same answer: the events that were new,
// with their ids), sharing the statement with the deliveries that arrive meanwhile. When ctx
// ends first, Insert answers ctx's error; the events may still be stored, and a delivery of
// them again finds them there.
func (b *InboundBatcher) Insert(ctx context.Context, evs []*InboundEvent) ([]*InboundEvent, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	d := &inboundDelivery{evs: evs, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, d)
	start := b.writers < b.maxWriters
	if start {
		b.writers++
	}
	b.mu.Unlock()
	if start {
		go b.write()
	}
	select {
	case <-d.done:
		return d.inserted, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// write writes batches of the pending deliveries until none is left.
func (b *InboundBatcher) write() {
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.writers--
			b.mu.Unlock()
			return
		}
		n, events := 0, 0
		for n < len(b.pending) && (n == 0 || events+len(b.pending[n].evs) <= b.maxEvents) {
			events += len(b.pending[n].evs)
			n++
		}
		batch := make([]*inboundDelivery, n)
		copy(batch, b.pending)
		b.pending = append(b.pending[:0], b.pending[n:]...)
		b.mu.Unlock()
		b.writeBatch(batch, events)
	}
}

func (b *InboundBatcher) writeBatch(batch []*inboundDelivery, events int) {
	all := make([]*InboundEvent, 0, events)
	for _, d := range batch {
		for _, ev := range d.evs {
			ev.ID = 0
			all = append(all, ev)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	_, err := b.store.InsertInboundEvents(ctx, all)
	cancel()
	for _, d := range batch {
		d.err = err
		if err == nil {
			// InsertInboundEvents gives an id to the events it inserted, and to one event only
			// of a provider id that appears twice in the statement.
			for _, ev := range d.evs {
				if ev.ID != 0 {
					d.inserted = append(d.inserted, ev)
				}
			}
		}
		close(d.done)
	}
}
