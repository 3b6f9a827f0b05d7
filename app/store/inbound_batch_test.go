package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

func batchEvents(ids ...string) []*store.InboundEvent {
	evs := make([]*store.InboundEvent, len(ids))
	for i, id := range ids {
		evs[i] = &store.InboundEvent{Provider: "whatsapp", ProviderID: id, Kind: "message", Payload: `{"id":"` + id + `"}`}
	}
	return evs
}

// Many deliveries at once, some of them copies of others: every event is stored once, each
// delivery learns exactly which of its events were new, and a copy's events are new for one
// delivery only.
func TestInboundBatcherStoresEachEventOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		b := store.NewInboundBatcher(s)
		if got, err := b.Insert(ctx, nil); err != nil || len(got) != 0 {
			t.Fatalf("empty delivery: %v %v", err, got)
		}
		const deliveries, copies = 60, 4
		var wg sync.WaitGroup
		var mu sync.Mutex
		newByID := map[string]int{}
		idOf := map[string]int64{}
		for i := 0; i < deliveries; i++ {
			for c := 0; c < copies; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Two events a delivery; delivery i shares its second event with delivery i+1.
					evs := batchEvents(fmt.Sprintf("m%d", i), fmt.Sprintf("s%d", (i+1)/2))
					got, err := b.Insert(ctx, evs)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					for _, ev := range got {
						if ev.ID == 0 {
							t.Errorf("new event %s without an id", ev.ProviderID)
						}
						newByID[ev.ProviderID]++
						idOf[ev.ProviderID] = ev.ID
					}
				}()
			}
		}
		wg.Wait()
		want := deliveries + deliveries/2 + 1
		if len(newByID) != want {
			t.Fatalf("%d distinct new events, want %d", len(newByID), want)
		}
		for pid, n := range newByID {
			if n != 1 {
				t.Errorf("event %s reported new %d times", pid, n)
			}
			ev, err := s.InboundEventByID(ctx, idOf[pid])
			if err != nil || ev.ProviderID != pid || ev.Payload != `{"id":"`+pid+`"}` {
				t.Errorf("event %s: %v %+v", pid, err, ev)
			}
		}
		var stored int
		if err := s.DB.NewSelect().Table("inbound_events").ColumnExpr("count(*)").Scan(ctx, &stored); err != nil || stored != want {
			t.Fatalf("%d rows stored (%v), want %d", stored, err, want)
		}
		// A delivery again, later: nothing new.
		if got, err := b.Insert(ctx, batchEvents("m0", "s0")); err != nil || len(got) != 0 {
			t.Fatalf("redelivery: %v %+v", err, got)
		}
	})
}

// With the database gone every waiting delivery gets the error (the webhook answers 503), and
// a delivery whose request ends first gets its context's error.
func TestInboundBatcherErrors(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		b := store.NewInboundBatcher(s)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := b.Insert(ctx, batchEvents("c1")); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled request: %v", err)
		}
		if err := s.DB.Close(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				got, err := b.Insert(ctx, batchEvents(fmt.Sprintf("d%d", i)))
				if err == nil || errors.Is(err, context.DeadlineExceeded) || len(got) != 0 {
					t.Errorf("delivery %d with the database closed: %v %v", i, err, got)
				}
			}()
		}
		wg.Wait()
	})
}
