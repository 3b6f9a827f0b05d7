package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// No assistant is without an identity secret: new ones get one, existing ones get one from
// the migration (20261207000050), each its own; rotation changes it within the workspace only.
func TestAssistantIdentitySecrets(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws, _, err := s.CreateWorkspaceWithUser(ctx, "W", "w@example.com", "hash")
		if err != nil {
			t.Fatal(err)
		}
		var as []*store.Assistant
		for _, name := range []string{"One", "Two"} {
			a := &store.Assistant{WorkspaceID: ws.ID, Name: name, Model: "m"}
			if err := s.CreateAssistant(ctx, a); err != nil {
				t.Fatal(err)
			}
			as = append(as, a)
		}
		if len(as[0].IdentitySecret) != 64 || as[0].IdentitySecret == as[1].IdentitySecret || as[0].IdentityRequired {
			t.Fatalf("new assistants: %q %q", as[0].IdentitySecret, as[1].IdentitySecret)
		}

		// The assistants as they were before the migration: no columns; then migrate up.
		for _, q := range []string{
			"ALTER TABLE assistants DROP COLUMN identity_required",
			"ALTER TABLE assistants DROP COLUMN identity_secret",
			"DELETE FROM bun_migrations WHERE name = '20261207000050'",
		} {
			if _, err := s.DB.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		names, err := s.MigrateUp(ctx)
		if err != nil || len(names) != 1 {
			t.Fatalf("migrate up: %v %v", names, err)
		}
		var secrets []string
		for _, a := range as {
			got, err := s.AssistantByID(ctx, ws.ID, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.IdentitySecret) != 64 || got.IdentityRequired {
				t.Fatalf("migrated %s: %q %v", a.Name, got.IdentitySecret, got.IdentityRequired)
			}
			secrets = append(secrets, got.IdentitySecret)
		}
		if secrets[0] == secrets[1] {
			t.Fatal("each assistant gets its own secret")
		}

		// identity_required is written with the other settings; the secret is not.
		got, err := s.ModifyAssistant(ctx, ws.ID, as[0].ID, func(a *store.Assistant) error {
			a.IdentityRequired, a.IdentitySecret = true, "overwritten"
			return nil
		})
		if err != nil || !got.IdentityRequired {
			t.Fatalf("modify: %v", err)
		}
		got, _ = s.AssistantByID(ctx, ws.ID, as[0].ID)
		if !got.IdentityRequired || got.IdentitySecret != secrets[0] {
			t.Fatalf("after modify: %v %q", got.IdentityRequired, got.IdentitySecret)
		}
		// Rotation: a new secret, in the assistant's workspace only.
		other, _, _ := s.CreateWorkspaceWithUser(ctx, "X", "x@example.com", "hash")
		if _, err := s.RotateIdentitySecret(ctx, other.ID, as[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rotate from another workspace: %v", err)
		}
		secret, err := s.RotateIdentitySecret(ctx, ws.ID, as[0].ID)
		got, _ = s.AssistantByID(ctx, ws.ID, as[0].ID)
		if err != nil || secret == secrets[0] || got.IdentitySecret != secret {
			t.Fatalf("rotate: %v", err)
		}
	})
}
