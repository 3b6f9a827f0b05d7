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

func TestMigrationsUpDownUp(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		// testkit migrated the database already: nothing pending.
		if n, err := s.Pending(ctx); err != nil || n != 0 {
			t.Fatalf("pending after up: %d %v", n, err)
		}
		names, err := s.MigrateDown(ctx)
		if err != nil || len(names) == 0 {
			t.Fatalf("down: %v %v", names, err)
		}
		if n, _ := s.Pending(ctx); n == 0 {
			t.Fatal("after down, migrations must be pending")
		}
		var exists int
		q := "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'conversations'"
		if s.Dialect == store.SQLite {
			q = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'conversations'"
		}
		if err := s.DB.QueryRowContext(ctx, q).Scan(&exists); err != nil || exists != 0 {
			t.Fatalf("conversations table after down: %d %v", exists, err)
		}
		names, err = s.MigrateUp(ctx)
		if err != nil || len(names) == 0 {
			t.Fatalf("up again: %v %v", names, err)
		}
		if err := s.DB.QueryRowContext(ctx, q).Scan(&exists); err != nil || exists != 1 {
			t.Fatalf("conversations table after up: %d %v", exists, err)
		}
		// Up twice is a no-op.
		names, err = s.MigrateUp(ctx)
		if err != nil || len(names) != 0 {
			t.Fatalf("second up: %v %v", names, err)
		}
		st, err := s.MigrationStatuses(ctx)
		if err != nil || len(st) == 0 || !st[0].Applied {
			t.Fatalf("status: %+v %v", st, err)
		}
	})
}

func TestConcurrentMigrateUpTakesTheLock(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		down, err := s.MigrateDown(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		applied := make([]int, 4)
		errs := make([]error, 4)
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				names, err := s.MigrateUp(ctx)
				applied[i], errs[i] = len(names), err
			}()
		}
		wg.Wait()
		total := 0
		for i := range 4 {
			if errs[i] != nil {
				t.Fatalf("migrate %d: %v", i, errs[i])
			}
			total += applied[i]
		}
		if total != len(down) {
			t.Fatalf("each of the %d migrations must be applied exactly once across concurrent runs, got %d", len(down), total)
		}
	})
}

func TestFirstAdminOnlyOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, done := 0, 0
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := s.CreateFirstAdmin(ctx, "W", fmt.Sprintf("admin%d@example.com", i), "hash")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, store.ErrSetupDone):
					done++
				default:
					t.Errorf("unexpected: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 || done != 4 {
			t.Fatalf("created %d, refused %d; want 1 and 4", ok, done)
		}
		n, err := s.CountUsers(ctx)
		if err != nil || n != 1 {
			t.Fatalf("users: %d %v", n, err)
		}
	})
}

func TestUsersAndAPIKeysAreScoped(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws1, u1, err := s.CreateWorkspaceWithUser(ctx, "One", "One@Example.com", "h1")
		if err != nil {
			t.Fatal(err)
		}
		ws2, _, err := s.CreateWorkspaceWithUser(ctx, "Two", "two@example.com", "h2")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateWorkspaceWithUser(ctx, "Dup", "one@example.COM", "h3"); !store.IsUniqueViolation(err) {
			t.Fatalf("emails are unique case-insensitively: %v", err)
		}
		got, err := s.UserByEmail(ctx, "ONE@example.com")
		if err != nil || got.ID != u1.ID {
			t.Fatalf("user by email: %+v %v", got, err)
		}
		k1, err := s.CreateAPIKey(ctx, ws1.ID, "k1", "pk_live_abc", "hash-1", &u1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateAPIKey(ctx, ws2.ID, "k2", "pk_live_def", "hash-2", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateAPIKey(ctx, ws2.ID, "k3", "pk_live_def", "hash-2", nil); !store.IsUniqueViolation(err) {
			t.Fatalf("key hashes are unique: %v", err)
		}
		keys, err := s.APIKeys(ctx, ws1.ID)
		if err != nil || len(keys) != 1 || keys[0].Name != "k1" {
			t.Fatalf("workspace 1 keys: %+v %v", keys, err)
		}
		if err := s.RevokeAPIKey(ctx, ws2.ID, k1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace cannot revoke the key: %v", err)
		}
		if _, err := s.APIKeyByHash(ctx, "hash-1"); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAPIKey(ctx, ws1.ID, k1.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIKeyByHash(ctx, "hash-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a revoked key must not authenticate: %v", err)
		}
		if err := s.RevokeAPIKey(ctx, ws1.ID, k1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoking twice: %v", err)
		}
	})
}

func TestInboundEventsAreStoredOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		inserted := 0
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ev := &store.InboundEvent{Provider: "whatsapp", ProviderID: "wamid.X", Kind: "message", Payload: `{"a":1}`}
				ok, err := s.InsertInboundEvent(ctx, ev)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					if ev.ID == 0 {
						t.Error("inserted event has no id")
					}
					mu.Lock()
					inserted++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if inserted != 1 {
			t.Fatalf("inserted %d times, want 1", inserted)
		}
		old := &store.InboundEvent{Provider: "whatsapp", ProviderID: "wamid.OLD", Payload: "{}", ReceivedAt: time.Now().Add(-time.Hour).UTC()}
		if _, err := s.InsertInboundEvent(ctx, old); err != nil {
			t.Fatal(err)
		}
		evs, err := s.UnprocessedEvents(ctx, time.Now().Add(-time.Minute), 10)
		if err != nil || len(evs) != 1 || evs[0].ProviderID != "wamid.OLD" {
			t.Fatalf("unprocessed older than a minute: %+v %v", evs, err)
		}
		if err := s.MarkEventFailed(ctx, old.ID, "boom"); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkEventProcessed(ctx, old.ID); err != nil {
			t.Fatal(err)
		}
		got, err := s.InboundEventByID(ctx, old.ID)
		if err != nil || got.ProcessedAt == nil || got.Attempts != 2 || got.LastError != "" {
			t.Fatalf("after processing: %+v %v", got, err)
		}
		evs, _ = s.UnprocessedEvents(ctx, time.Now().Add(time.Minute), 10)
		if len(evs) != 1 || evs[0].ProviderID != "wamid.X" {
			t.Fatalf("only the unprocessed event remains: %+v", evs)
		}
	})
}
