package store_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// erasureEvents stores a customer's message (WhatsApp id with characters LIKE would treat as
// wildcards) in a conversation, and three raw events: the message's, a status of it, and a
// status of a message Parley does not know.
func erasureEvents(t *testing.T, s *store.Store) (*store.Conversation, []*store.InboundEvent) {
	t.Helper()
	ctx := context.Background()
	w, _, err := s.CreateWorkspaceWithUser(ctx, "W", "erasure@shop.test", "h")
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Conversation{WorkspaceID: w.ID, Type: "whatsapp", Customer: "+15550001111"}
	if err := s.CreateConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	pid := "wamid.AB_%x=="
	if _, err := s.AddMessage(ctx, &store.Message{WorkspaceID: w.ID, ConversationID: c.ID, Role: "user", Content: "hi", ProviderMessageID: &pid}); err != nil {
		t.Fatal(err)
	}
	evs := []*store.InboundEvent{
		{Provider: "whatsapp", ProviderID: pid, Kind: "message", Payload: "{}"},
		{Provider: "whatsapp", ProviderID: pid + ":delivered", Kind: "status", Payload: "{}"},
		{Provider: "whatsapp", ProviderID: "wamid.AB_Yx==:read", Kind: "status", Payload: "{}"},
	}
	for _, ev := range evs {
		if _, err := s.InsertInboundEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	return c, evs
}

// The migration links the events stored before it to their conversations, exactly.
func TestInboundEventsBackfill(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c, evs := erasureEvents(t, s)
		dir := "migrations/sqlite"
		if s.Dialect == store.Postgres {
			dir = "migrations/pg"
		}
		b, err := fs.ReadFile(store.MigrationFS(), dir+"/20261207000040_inbound_erasure.tx.up.sql")
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range strings.Split(string(b), "--bun:split") {
			if strings.Contains(stmt, "UPDATE inbound_events") {
				if _, err := s.DB.ExecContext(ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, want := range []bool{true, true, false} {
			ev, err := s.InboundEventByID(ctx, evs[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			linked := ev.ConversationID != nil && *ev.ConversationID == c.ID && ev.WorkspaceID != nil && *ev.WorkspaceID == c.WorkspaceID
			if linked != want || (!want && ev.ConversationID != nil) {
				t.Errorf("event %s: conversation %v workspace %v; want linked=%v", ev.ProviderID, ev.ConversationID, ev.WorkspaceID, want)
			}
		}
	})
}

// Deleting a conversation deletes the raw events linked to it, and only those.
func TestDeleteConversationDeletesItsEvents(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c, evs := erasureEvents(t, s)
		for _, ev := range evs[:2] {
			if err := s.LinkInboundEvent(ctx, ev.Provider, ev.ProviderID, c.WorkspaceID, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		// Another workspace cannot link an event that belongs to this one.
		if err := s.LinkInboundEvent(ctx, "whatsapp", evs[0].ProviderID, c.WorkspaceID+1000, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteConversation(ctx, c.WorkspaceID, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Scrub(ctx); err != nil {
			t.Fatal(err)
		}
		for i, ev := range evs {
			_, err := s.InboundEventByID(ctx, ev.ID)
			if gone := err != nil; gone != (i < 2) {
				t.Errorf("event %s after the deletion: %v", ev.ProviderID, err)
			}
		}
	})
}
