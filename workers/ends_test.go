package workers_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/workers"
)

// conversations:end_sweep ends the conversations idle past their type's idle time (each end
// once, OnEnded once) and leaves the others; the schedule runs it every minute.
func TestEndSweepTask(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws, _, err := s.CreateWorkspaceWithUser(ctx, "A", "a@a.test", "x")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		mk := func(typ string, last time.Time) int64 {
			c := &store.Conversation{WorkspaceID: ws.ID, Type: typ, Customer: "c", StartedAt: last, LastMessageAt: last}
			if err := s.CreateConversation(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c.ID
		}
		idle := []int64{mk(model.TypeWidget, now.Add(-time.Hour)), mk(model.TypeTest, now.Add(-time.Hour)), mk(model.TypeWhatsApp, now.Add(-25*time.Hour))}
		recent := []int64{mk(model.TypeWidget, now.Add(-time.Minute)), mk(model.TypeWhatsApp, now.Add(-time.Hour))}
		ended := 0
		svc := &conversation.Service{Store: s, OnEnded: func(context.Context, *store.ConversationEnd) { ended++ }}
		h := &workers.Ends{Conversations: svc, Log: testkit.Logger(t),
			Idle: model.IdleTimes{Widget: 30 * time.Minute, WhatsApp: 24 * time.Hour, Test: 30 * time.Minute}}
		mux := workers.NewMux(workers.Handlers{Ends: h})
		for range 2 {
			if err := mux.ProcessTask(ctx, tk.EndSweep()); err != nil {
				t.Fatal(err)
			}
		}
		if ended != len(idle) {
			t.Fatalf("OnEnded %d times, want %d", ended, len(idle))
		}
		for _, id := range idle {
			if c, _ := s.GetConversation(ctx, ws.ID, id); c.EndedAt == nil || c.EndReason != model.EndIdle || c.EndCount != 1 {
				t.Fatalf("idle conversation %d: %+v", id, c)
			}
		}
		for _, id := range recent {
			if c, _ := s.GetConversation(ctx, ws.ID, id); c.EndedAt != nil {
				t.Fatalf("recent conversation %d ended", id)
			}
		}
		var entry *workers.ScheduleEntry
		for _, en := range (workers.Schedule{Tasks: tk}).Entries() {
			if en.Task.Type() == workers.TypeEndSweep {
				entry = &en
			}
		}
		if entry == nil || entry.Spec != "@every 1m" {
			t.Fatalf("schedule entry: %+v", entry)
		}
	})
}
