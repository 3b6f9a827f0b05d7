package conversation_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// published records what a workspace's channel carries, step by step: each step ends with a
// marker event the test publishes itself, so a step's events are exactly those before it.
type published struct {
	t    *testing.T
	bus  *events.Bus
	ws   int64
	msgs <-chan string
}

// step returns the events published since the last step.
func (p *published) step() []events.Event {
	p.t.Helper()
	const marker = "test-marker"
	p.bus.Publish(context.Background(), events.Event{Kind: marker, WorkspaceID: p.ws})
	var out []events.Event
	deadline := time.After(5 * time.Second)
	for {
		select {
		case raw := <-p.msgs:
			var ev events.Event
			if err := json.Unmarshal([]byte(raw), &ev); err != nil {
				p.t.Fatalf("event %q: %v", raw, err)
			}
			if ev.Kind == marker {
				return out
			}
			out = append(out, ev)
		case <-deadline:
			p.t.Fatalf("the marker never came; got %v", out)
		}
	}
}

func kinds(evs []events.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Kind)
	}
	return out
}

func wantEvents(t *testing.T, what string, got []events.Event, conversationID int64, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s published %v, want %v", what, kinds(got), want)
	}
	for i, ev := range got {
		if ev.Kind != want[i] || (ev.Kind != events.CountsChanged && ev.ConversationID != conversationID) {
			t.Fatalf("%s published %+v, want %v of conversation %d", what, got, want, conversationID)
		}
	}
}

// The writes of the WhatsApp channel and of extraction publish their own live events, once
// per change and never for a write that changed nothing: no caller publishes after them.
func TestWritesPublishTheirChange(t *testing.T) {
	ctx := context.Background()
	a := testkit.App(t, testkit.Config(t))
	svc := &conversation.Service{Store: a.Store, Events: a.Events}
	w, _, err := a.Store.CreateWorkspaceWithUser(ctx, "Shop", "owner@shop.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	pid := "106540352242922"
	asst := testkit.Verified(&store.Assistant{WorkspaceID: w.ID, Name: "Shop assistant", WhatsAppPhoneNumberID: &pid})
	if err := a.Store.CreateAssistant(ctx, asst); err != nil {
		t.Fatal(err)
	}
	// Listen to the workspace's channel as every web process does; Receive waits for the
	// subscription's confirmation, so nothing published afterwards is missed.
	ps := a.Redis.Subscribe(ctx, events.Channel(a.Redis, w.ID))
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := make(chan string, 64)
	go func() {
		for m := range ps.Channel() {
			msgs <- m.Payload
		}
	}()
	p := &published{t: t, bus: a.Events, ws: w.ID, msgs: msgs}

	at := store.Now().Add(-time.Minute)
	conv := &store.Conversation{WorkspaceID: w.ID, AssistantID: &asst.ID, Type: model.TypeWhatsApp, Customer: "+16505551234",
		CustomerName: "Ada", StartedAt: at, AIEnabled: true}
	if created, err := svc.FindOrCreateWhatsApp(ctx, conv); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	wantEvents(t, "a new thread", p.step(), conv.ID, events.CountsChanged, events.ConversationChanged)
	again := &store.Conversation{WorkspaceID: w.ID, AssistantID: &asst.ID, Type: model.TypeWhatsApp, Customer: "+16505551234", StartedAt: at}
	if created, err := svc.FindOrCreateWhatsApp(ctx, again); err != nil || created || again.ID != conv.ID {
		t.Fatalf("find: %v %v %d", created, err, again.ID)
	}
	wantEvents(t, "finding the thread", p.step(), conv.ID)

	if ok, err := svc.SetCustomerName(ctx, w.ID, conv.ID, "Ada L."); err != nil || !ok {
		t.Fatalf("name: %v %v", ok, err)
	}
	if ok, err := svc.SetCustomerName(ctx, w.ID, conv.ID, "Ada L."); err != nil || ok {
		t.Fatalf("same name: %v %v", ok, err)
	}
	wantEvents(t, "a new name, then the same", p.step(), conv.ID, events.ConversationChanged)

	deadline := at.Add(24 * time.Hour)
	if moved, err := svc.OpenWindow(ctx, w.ID, conv.ID, at, deadline, store.Now()); err != nil || !moved {
		t.Fatalf("open: %v %v", moved, err)
	}
	if moved, err := svc.OpenWindow(ctx, w.ID, conv.ID, at, deadline, store.Now()); err != nil || moved {
		t.Fatalf("open again: %v %v", moved, err)
	}
	wantEvents(t, "opening the window, then again", p.step(), conv.ID, events.ConversationChanged)

	// An outgoing message under its key, whose send's answer was lost: the status names it by
	// the key, attaches Meta's id, and publishes once.
	key := "parley:reply:test"
	out := &store.Message{WorkspaceID: w.ID, ConversationID: conv.ID, Role: "assistant", Content: "Hi", ContentType: "text",
		CreatedAt: store.Now(), ProviderMessageID: &key, Status: model.StatusSending}
	if _, err := a.Store.AddMessage(ctx, out); err != nil {
		t.Fatal(err)
	}
	p.step()
	if _, err := svc.ApplyStatus(ctx, conversation.MessageStatus{WorkspaceID: w.ID, ProviderMessageID: "wamid.UNKNOWN", Status: model.StatusDelivered, At: store.Now()}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("status of an unknown message: %v", err)
	}
	ref, err := svc.ApplyStatus(ctx, conversation.MessageStatus{WorkspaceID: w.ID, ProviderMessageID: "wamid.A", Key: key, Status: model.StatusDelivered, At: store.Now()})
	if err != nil || ref.ID != out.ID || ref.Status != model.StatusDelivered {
		t.Fatalf("status by key: %+v %v", ref, err)
	}
	if _, err := svc.ApplyStatus(ctx, conversation.MessageStatus{WorkspaceID: w.ID, ProviderMessageID: "wamid.A", Status: model.StatusSent, At: store.Now()}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, "an unknown status, a status by key, a late status", p.step(), conv.ID, events.ConversationChanged)

	// A failed 131047 moves the message and closes the window: one event.
	if _, err := svc.ApplyStatus(ctx, conversation.MessageStatus{WorkspaceID: w.ID, ProviderMessageID: "wamid.A", Status: model.StatusFailed,
		Error: "(#131047) Re-engagement message", At: store.Now(), CloseWindow: true}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, "a failed 131047", p.step(), conv.ID, events.ConversationChanged)
	if c, err := a.Store.GetConversation(ctx, w.ID, conv.ID); err != nil || c.WindowClosedAt == nil {
		t.Fatalf("window after 131047: %+v %v", c, err)
	}

	// A send that failed for good: the message, the conversation's error, one event.
	key2 := "parley:reply:test2"
	out2 := &store.Message{WorkspaceID: w.ID, ConversationID: conv.ID, Role: "assistant", Content: "Hi again", ContentType: "text",
		CreatedAt: store.Now(), ProviderMessageID: &key2, Status: model.StatusPending}
	if _, err := a.Store.AddMessage(ctx, out2); err != nil {
		t.Fatal(err)
	}
	p.step()
	if err := svc.FailMessage(ctx, out2, conversation.SendFailure{Reason: "undeliverable", LastError: "WhatsApp message not sent: undeliverable"}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, "a failed send", p.step(), conv.ID, events.ConversationChanged)
	if m, err := a.Store.MessageByID(ctx, w.ID, out2.ID); err != nil || m.Status != model.StatusFailed || m.StatusError != "undeliverable" {
		t.Fatalf("failed message: %+v %v", m, err)
	}
	if c, err := a.Store.GetConversation(ctx, w.ID, conv.ID); err != nil || c.LastError != "WhatsApp message not sent: undeliverable" {
		t.Fatalf("conversation error: %q %v", c.LastError, err)
	}

	// A send Meta took: its id replaces the key.
	key3 := "parley:reply:test3"
	out3 := &store.Message{WorkspaceID: w.ID, ConversationID: conv.ID, Role: "assistant", Content: "Sent", ContentType: "text",
		CreatedAt: store.Now(), ProviderMessageID: &key3, Status: model.StatusSending}
	if _, err := a.Store.AddMessage(ctx, out3); err != nil {
		t.Fatal(err)
	}
	p.step()
	if err := svc.MarkSent(ctx, out3, key3, "wamid.SENT"); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, "a sent message", p.step(), conv.ID, events.ConversationChanged)
	if m, err := a.Store.MessageByID(ctx, w.ID, out3.ID); err != nil || m.Status != model.StatusSent || *m.ProviderMessageID != "wamid.SENT" {
		t.Fatalf("sent message: %+v %v", m, err)
	}

	// An extraction run publishes when a variable changed, not when nothing did.
	upd := store.ExtractionUpdate{WorkspaceID: w.ID, ConversationID: conv.ID, Values: []store.ExtractedValue{{Name: "email", Value: "ada@example.com"}}}
	if res, err := svc.ApplyExtraction(ctx, upd); err != nil || len(res.Changed) != 1 {
		t.Fatalf("extraction: %+v %v", res, err)
	}
	if res, err := svc.ApplyExtraction(ctx, upd); err != nil || len(res.Changed) != 0 {
		t.Fatalf("same extraction: %+v %v", res, err)
	}
	wantEvents(t, "an extraction, then the same", p.step(), conv.ID, events.ConversationChanged)
}
