package workers_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/workers"
)

// audit:prune deletes the entries older than PARLEY_AUDIT_RETENTION, in batches, and keeps the
// others; the schedule runs it.
func TestAuditPrune(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws, _, err := s.CreateWorkspaceWithUser(ctx, "A", "a@a.test", "x")
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-31 * 24 * time.Hour)
		for i := range 2500 { // more than one batch
			e := audit.NewBy(audit.System, ws.ID, audit.ConversationDelete, audit.On(audit.TargetConversation, int64(i+1)), nil)
			e.At = old
			if err := s.RecordAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RecordAudit(ctx, audit.NewBy(audit.System, ws.ID, audit.APIKeyCreate, audit.Target{}, nil)); err != nil {
			t.Fatal(err)
		}
		mux := workers.NewMux(workers.Handlers{Audit: &workers.Audit{Service: &audit.Service{Store: s, Retention: 30 * 24 * time.Hour}, Log: testkit.Logger(t)}})
		if err := mux.ProcessTask(ctx, tk.AuditPrune()); err != nil {
			t.Fatal(err)
		}
		rows, _, err := s.AuditLog(ctx, ws.ID, store.AuditFilter{}, "", 100)
		if err != nil || len(rows) != 1 || rows[0].Action != string(audit.APIKeyCreate) {
			t.Fatalf("after the prune: %d rows %v", len(rows), err)
		}
		found := false
		for _, en := range (workers.Schedule{Tasks: tk}).Entries() {
			found = found || en.Task.Type() == workers.TypeAuditPrune
		}
		if !found {
			t.Fatal("the schedule has no audit:prune entry")
		}
	})
}
