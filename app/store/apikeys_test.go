package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// API keys carry a scope (keys made before scopes become write keys, migration
// 20261207000070) and list their creator.
func TestAPIKeyScopesAndCreators(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws, u, err := s.CreateWorkspaceWithUser(ctx, "W", "ana@example.com", "hash")
		if err != nil {
			t.Fatal(err)
		}
		old, err := s.CreateAPIKey(ctx, ws.ID, "old", "pk_live_old", "hash-old", nil)
		if err != nil || old.Scope != model.ScopeWrite {
			t.Fatalf("CreateAPIKey: %+v %v", old, err)
		}

		// The keys as they were before the migration: no scope column; then migrate up.
		for _, q := range []string{
			"ALTER TABLE api_keys DROP COLUMN scope",
			"DELETE FROM bun_migrations WHERE name = '20261207000070'",
		} {
			if _, err := s.DB.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if names, err := s.MigrateUp(ctx); err != nil || len(names) != 1 {
			t.Fatalf("migrate up: %v %v", names, err)
		}
		if k, err := s.APIKeyByHash(ctx, "hash-old"); err != nil || k.Scope != model.ScopeWrite {
			t.Fatalf("an existing key becomes a write key: %+v %v", k, err)
		}

		bob := &store.User{WorkspaceID: ws.ID, Email: "bob@example.com", Name: "Bob Builder", PasswordHash: "hash", Role: model.UserRoleMember, CreatedAt: time.Now()}
		if err := s.CreateUser(ctx, bob, model.MemberAdmin); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateAPIKey(ctx, ws.ID, "bob's", "pk_live_bob", "hash-bob", &bob.ID); err != nil {
			t.Fatal(err)
		}
		read := &store.APIKey{WorkspaceID: ws.ID, Name: "reader", Prefix: "pk_live_rea", KeyHash: "hash-read", Scope: model.ScopeRead, CreatedBy: &u.ID}
		if err := s.InsertAPIKey(ctx, read); err != nil || read.ID == 0 || read.CreatedAt.IsZero() {
			t.Fatalf("InsertAPIKey: %+v %v", read, err)
		}
		if k, err := s.APIKeyByHash(ctx, "hash-read"); err != nil || k.Scope != model.ScopeRead || k.ID != read.ID {
			t.Fatalf("read key: %+v %v", k, err)
		}
		// The database refuses any other scope, the empty one included: nothing is written.
		for _, scope := range []string{"", "admin", "READ"} {
			bad := &store.APIKey{WorkspaceID: ws.ID, Name: "bad", Prefix: "pk_live_bad", KeyHash: "hash-bad-" + scope, Scope: scope}
			if err := s.InsertAPIKey(ctx, bad); err == nil {
				t.Fatalf("scope %q was stored", scope)
			}
		}

		// The list: newest first, the creator's name and email when a user made the key.
		other, _, _ := s.CreateWorkspaceWithUser(ctx, "X", "xavier@example.com", "hash")
		if _, err := s.CreateAPIKey(ctx, other.ID, "theirs", "pk_live_the", "hash-theirs", nil); err != nil {
			t.Fatal(err)
		}
		keys, err := s.APIKeys(ctx, ws.ID)
		if err != nil || len(keys) != 3 {
			t.Fatalf("APIKeys: %+v %v", keys, err)
		}
		if k := keys[0]; k.Name != "reader" || k.Scope != model.ScopeRead || k.CreatorEmail != "ana@example.com" || k.CreatorName != u.Name {
			t.Fatalf("first key: %+v", k)
		}
		if k := keys[1]; k.Name != "bob's" || k.Scope != model.ScopeWrite || k.CreatorEmail != "bob@example.com" || k.CreatorName != "Bob Builder" {
			t.Fatalf("second key: %+v", k)
		}
		if k := keys[2]; k.Name != "old" || k.Scope != model.ScopeWrite || k.CreatorEmail != "" || k.CreatorName != "" {
			t.Fatalf("third key: %+v", k)
		}
	})
}
