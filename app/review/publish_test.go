package review_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// The review's writes publish their change (the conversation, and the counts that saved views
// follow), once per change and never for a write that changed nothing.
func TestReviewWritesPublish(t *testing.T) {
	ctx := context.Background()
	a := testkit.App(t, testkit.Config(t))
	svc := &review.Service{Store: a.Store, Events: a.Events}
	w, _, err := a.Store.CreateWorkspaceWithUser(ctx, "Shop", "owner@shop.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	conv := &store.Conversation{WorkspaceID: w.ID, Type: model.TypeWidget, Customer: "v", StartedAt: time.Now()}
	if err := a.Store.CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	reply := &store.Message{WorkspaceID: w.ID, ConversationID: conv.ID, Role: model.RoleAssistant, Content: "Hi", CreatedAt: store.Now()}
	if _, err := a.Store.AddMessage(ctx, reply); err != nil {
		t.Fatal(err)
	}
	ps := a.Redis.Subscribe(ctx, events.Channel(a.Redis, w.ID))
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := ps.Channel()
	// step returns the kinds published since the last step (a marker ends each step).
	step := func() []string {
		t.Helper()
		const marker = "test-marker"
		a.Events.Publish(ctx, events.Event{Kind: marker, WorkspaceID: w.ID})
		var out []string
		deadline := time.After(5 * time.Second)
		for {
			select {
			case m := <-msgs:
				var ev events.Event
				if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Kind == marker {
					return out
				}
				if ev.Kind != events.CountsChanged && ev.ConversationID != conv.ID {
					t.Fatalf("event of another conversation: %+v", ev)
				}
				out = append(out, ev.Kind)
			case <-deadline:
				t.Fatalf("the marker never came; got %v", out)
			}
		}
	}
	want := func(what string, got []string, kinds ...string) {
		t.Helper()
		if len(got) != len(kinds) {
			t.Fatalf("%s published %v, want %v", what, got, kinds)
		}
		for i := range got {
			if got[i] != kinds[i] {
				t.Fatalf("%s published %v, want %v", what, got, kinds)
			}
		}
	}
	step()
	if err := svc.Update(ctx, w.ID, conv.ID, review.Change{Status: model.ReviewFlagged}); err != nil {
		t.Fatal(err)
	}
	want("a status", step(), events.ConversationChanged, events.CountsChanged)
	if err := svc.Update(ctx, w.ID, conv.ID, review.Change{Status: "nope"}); err == nil {
		t.Fatal("a wrong status was taken")
	}
	want("a refused status", step())
	if _, err := svc.Tag(ctx, w.ID, conv.ID, "urgent"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Tag(ctx, w.ID, conv.ID, "Urgent"); err != nil {
		t.Fatal(err)
	}
	want("a tag, then the same", step(), events.ConversationChanged, events.CountsChanged)
	if err := svc.Untag(ctx, w.ID, conv.ID, "other"); err != nil {
		t.Fatal(err)
	}
	want("untagging what it has not", step())
	if _, err := svc.AddNote(ctx, w.ID, conv.ID, "a note", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Correct(ctx, w.ID, conv.ID, reply.ID, "better"); err != nil {
		t.Fatal(err)
	}
	want("a note and a correction", step(), events.ConversationChanged, events.ConversationChanged)
}
