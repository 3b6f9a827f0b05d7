package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// The sessions table: the owner is written at login only, a save after a deletion brings back
// no logged-in row, lists and deletions stay within one user and workspace, and pruning
// removes expired and idle rows only.
func TestSessionsStore(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		wsA, ua, err := s.CreateWorkspaceWithUser(ctx, "A", "a@a.test", "x")
		if err != nil {
			t.Fatal(err)
		}
		_, ub, err := s.CreateWorkspaceWithUser(ctx, "B", "b@b.test", "x")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		save := func(hash string, u *store.User, seen time.Time, expiry time.Time) {
			t.Helper()
			r := &store.Session{TokenHash: hash, Data: []byte("data-" + hash), Expiry: expiry, LastSeenAt: seen, ClientIP: "192.0.2.1", UserAgent: "UA " + hash}
			if u != nil {
				r.UserID, r.WorkspaceID = &u.ID, &u.WorkspaceID
			}
			if err := s.SaveSession(ctx, r); err != nil {
				t.Fatalf("save %s: %v", hash, err)
			}
		}
		month := now.Add(30 * 24 * time.Hour)
		save("a1", ua, now, month)
		save("a2", ua, now.Add(-time.Minute), month)
		save("b1", ub, now, month)
		save("anon", nil, now, month)
		save("visitor", nil, now.Add(-2*time.Hour), month) // a login page left for two hours
		save("old", ua, now.Add(-13*time.Hour), month)     // idle too long
		save("dead", ua, now, now.Add(-time.Second))       // past its deadline
		save("a1", nil, now.Add(time.Second), month)       // a later save of a1: no owner given
		r, err := s.SessionByHash(ctx, "a1")
		if err != nil || r.UserID == nil || *r.UserID != ua.ID || *r.WorkspaceID != wsA.ID || r.UserAgent != "UA a1" {
			t.Fatalf("a later save must keep the owner: %+v %v", r, err)
		}
		if !r.LastSeenAt.Equal(now.Add(time.Second)) {
			t.Fatalf("last seen after a save: %v", r.LastSeenAt)
		}
		if _, err := s.SessionByHash(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown hash: %v", err)
		}

		list, err := s.UserSessions(ctx, ua.ID, now, now.Add(-12*time.Hour))
		if err != nil || len(list) != 2 || list[0].TokenHash != "a1" || list[1].TokenHash != "a2" {
			t.Fatalf("A's live sessions, most recent first: %+v %v", list, err)
		}
		if list[0].Data != nil {
			t.Fatal("the list does not read the session data")
		}
		// B's user cannot end A's session.
		if err := s.DeleteUserSession(ctx, ub.ID, list[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("B deleting A's session: %v", err)
		}
		if err := s.DeleteUserSession(ctx, ua.ID, list[0].ID); err != nil {
			t.Fatal(err)
		}
		// A save racing the deletion comes back anonymous, never logged in.
		save("a1", nil, now, month)
		if r, err := s.SessionByHash(ctx, "a1"); err != nil || r.UserID != nil {
			t.Fatalf("a save after a revocation: %+v %v", r, err)
		}

		n, err := s.PruneSessions(ctx, now, now.Add(-12*time.Hour), now.Add(-time.Hour))
		if err != nil || n != 3 {
			t.Fatalf("pruned %d (want old, dead and visitor): %v", n, err)
		}
		for _, h := range []string{"old", "dead", "visitor"} {
			if _, err := s.SessionByHash(ctx, h); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s survived pruning: %v", h, err)
			}
		}
		if n, err := s.DeleteUserSessions(ctx, ua.ID); err != nil || n != 1 {
			t.Fatalf("A's remaining sessions: %d %v", n, err)
		}
		for _, h := range []string{"b1", "anon", "a1"} {
			if _, err := s.SessionByHash(ctx, h); err != nil {
				t.Errorf("%s must survive A's log out everywhere: %v", h, err)
			}
		}
	})
}
