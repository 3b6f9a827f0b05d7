package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

func auditEntry(ws int64, action string) *store.AuditEntry {
	return &store.AuditEntry{WorkspaceID: ws, ActorType: "user", ActorID: "7", ActorName: "Ann", Action: action, TargetType: "api_key"}
}

func auditRows(t *testing.T, s *store.Store, ws int64) []store.AuditEntry {
	t.Helper()
	rows, _, err := s.AuditLog(context.Background(), ws, store.AuditFilter{}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// An audit entry is written in the transaction of the change it records: when the change
// fails or rolls back no entry remains, and when the entry cannot be written the change rolls
// back with it; when both commit, both are there.
func TestAuditSameTransaction(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws, _, err := s.CreateWorkspaceWithUser(ctx, "A", "a@a.test", "x")
		if err != nil {
			t.Fatal(err)
		}
		// Committed: the key and its entry, whose target is the new key.
		k, err := s.CreateAPIKey(ctx, ws.ID, "CRM", "pk_1", "hash-1", nil, auditEntry(ws.ID, "api_key.create"))
		if err != nil {
			t.Fatal(err)
		}
		rows := auditRows(t, s, ws.ID)
		if len(rows) != 1 || rows[0].Action != "api_key.create" || rows[0].TargetID != strconv.FormatInt(k.ID, 10) || rows[0].Details != "{}" || rows[0].At.IsZero() {
			t.Fatalf("after a committed creation: %+v", rows)
		}

		// The change fails (no such key): no entry.
		if err := s.RevokeAPIKey(ctx, ws.ID, k.ID+100, auditEntry(ws.ID, "api_key.revoke")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoke of an unknown key: %v", err)
		}
		// The change is refused by its function (rolled back): no entry.
		boom := errors.New("refused")
		if err := s.ModifyWorkspaceSettings(ctx, ws.ID, func(string) (string, error) { return "", boom }, auditEntry(ws.ID, "settings.retention.update")); !errors.Is(err, boom) {
			t.Fatalf("refused settings: %v", err)
		}
		if _, err := s.ModifyAssistant(ctx, ws.ID, 999, func(*store.Assistant) error { return nil }, auditEntry(ws.ID, "assistant.update")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("modify of an unknown assistant: %v", err)
		}
		if err := s.DeleteConversation(ctx, ws.ID, 999, auditEntry(ws.ID, "conversation.delete")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete of an unknown conversation: %v", err)
		}
		if rows := auditRows(t, s, ws.ID); len(rows) != 1 {
			t.Fatalf("failed changes left entries: %+v", rows)
		}

		// The entry cannot be written (an actor type the table refuses): the change rolls back.
		bad := auditEntry(ws.ID, "api_key.revoke")
		bad.ActorType = "robot"
		if err := s.RevokeAPIKey(ctx, ws.ID, k.ID, bad); err == nil {
			t.Fatal("a revocation whose entry cannot be written succeeded")
		}
		if _, err := s.APIKeyByHash(ctx, "hash-1"); err != nil {
			t.Fatalf("the key was revoked although its entry was not written: %v", err)
		}
		bad = auditEntry(ws.ID, "settings.retention.update")
		bad.ActorType = "robot"
		if err := s.ModifyWorkspaceSettings(ctx, ws.ID, func(string) (string, error) { return `{"retention_days":{"test":3}}`, nil }, bad); err == nil {
			t.Fatal("a settings change whose entry cannot be written succeeded")
		}
		if raw, _ := s.WorkspaceSettings(ctx, ws.ID); raw != "{}" {
			t.Fatalf("the settings changed although the entry was not written: %s", raw)
		}

		// Both commit.
		if err := s.RevokeAPIKey(ctx, ws.ID, k.ID, auditEntry(ws.ID, "api_key.revoke")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIKeyByHash(ctx, "hash-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the key is still active: %v", err)
		}
		rows = auditRows(t, s, ws.ID)
		if len(rows) != 2 || rows[0].Action != "api_key.revoke" || rows[1].Action != "api_key.create" {
			t.Fatalf("after the revocation, newest first: %+v", rows)
		}
		// A conversation deleted with its entry.
		c := &store.Conversation{WorkspaceID: ws.ID, Type: "test", Customer: "c"}
		if err := s.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteConversation(ctx, ws.ID, c.ID, auditEntry(ws.ID, "conversation.delete")); err != nil {
			t.Fatal(err)
		}
		if rows := auditRows(t, s, ws.ID); len(rows) != 3 || rows[0].Action != "conversation.delete" {
			t.Fatalf("after a deletion: %+v", rows)
		}
		// Without entries a store method writes as before.
		if err := s.TouchLogin(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if rows := auditRows(t, s, ws.ID); len(rows) != 3 {
			t.Fatalf("a change without an entry wrote one: %d", len(rows))
		}
	})
}

// The log pages newest first with an exact keyset cursor, filters by action and actor, stays
// within its workspace, refuses a cursor it did not make, and is pruned by time.
func TestAuditLogPagingAndPrune(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, _, err := s.CreateWorkspaceWithUser(ctx, "A", "a@a.test", "x")
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := s.CreateWorkspaceWithUser(ctx, "B", "b@b.test", "x")
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-400 * 24 * time.Hour)
		for i := range 7 {
			e := auditEntry(a.ID, "api_key.create")
			if i%2 == 1 {
				e.Action, e.ActorType, e.ActorID, e.ActorName = "conversation.delete", "api_key", "3", "CRM"
			}
			e.TargetID = strconv.Itoa(i)
			if i < 2 {
				e.At = old.Add(time.Duration(i) * time.Minute)
			}
			if err := s.RecordAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RecordAudit(ctx, auditEntry(b.ID, "api_key.create")); err != nil {
			t.Fatal(err)
		}
		var seen []string
		cursor := ""
		for page := 0; ; page++ {
			rows, next, err := s.AuditLog(ctx, a.ID, store.AuditFilter{}, cursor, 3)
			if err != nil {
				t.Fatal(err)
			}
			if want := []int{3, 3, 1}[page]; len(rows) != want {
				t.Fatalf("page %d: %d rows, want %d", page, len(rows), want)
			}
			for _, r := range rows {
				if r.WorkspaceID != a.ID {
					t.Fatalf("another workspace's entry: %+v", r)
				}
				seen = append(seen, r.TargetID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if fmt.Sprint(seen) != "[6 5 4 3 2 1 0]" {
			t.Fatalf("order: %v", seen)
		}
		rows, next, err := s.AuditLog(ctx, a.ID, store.AuditFilter{Action: "conversation.delete"}, "", 10)
		if err != nil || len(rows) != 3 || next != "" {
			t.Fatalf("by action: %d %q %v", len(rows), next, err)
		}
		rows, _, err = s.AuditLog(ctx, a.ID, store.AuditFilter{ActorType: "user", ActorID: "7"}, "", 10)
		if err != nil || len(rows) != 4 {
			t.Fatalf("by actor: %d %v", len(rows), err)
		}
		actors, err := s.AuditActors(ctx, a.ID)
		if err != nil || len(actors) != 2 || actors[0].ActorType != "api_key" || actors[0].ActorName != "CRM" {
			t.Fatalf("actors: %+v %v", actors, err)
		}
		for _, bad := range []string{"x", "YXVkaXQuMA", store.EncodeAuditCursor(5) + "A", store.Cursor{Sort: "last", ID: 3}.Encode()} {
			if _, _, err := s.AuditLog(ctx, a.ID, store.AuditFilter{}, bad, 3); !errors.Is(err, store.ErrBadCursor) {
				t.Fatalf("cursor %q: %v", bad, err)
			}
		}

		n, err := s.PruneAudit(ctx, time.Now().Add(-365*24*time.Hour), 1)
		if err != nil || n != 1 {
			t.Fatalf("prune (a batch of 1): %d %v", n, err)
		}
		n, err = s.PruneAudit(ctx, time.Now().Add(-365*24*time.Hour), 100)
		if err != nil || n != 1 {
			t.Fatalf("prune: %d %v", n, err)
		}
		if rows := auditRows(t, s, a.ID); len(rows) != 5 || rows[len(rows)-1].TargetID != "2" {
			t.Fatalf("after the prune: %+v", rows)
		}
		if rows := auditRows(t, s, b.ID); len(rows) != 1 {
			t.Fatalf("B's recent entry: %+v", rows)
		}
	})
}
