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

// Helpers of this file carry a "wa" prefix.

var waT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// waConv makes a workspace, an assistant and a WhatsApp conversation.
func waConv(t *testing.T, s *store.Store) *store.Conversation {
	t.Helper()
	ctx := context.Background()
	w, _, err := s.CreateWorkspaceWithUser(ctx, "WA", fmt.Sprintf("wa%d@example.com", time.Now().UnixNano()), "hash")
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Assistant{WorkspaceID: w.ID, Name: "Shop"}
	if err := s.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	c := &store.Conversation{WorkspaceID: w.ID, AssistantID: &a.ID, Customer: "+16505551234", StartedAt: waT0, AIEnabled: true}
	if _, err := s.FindOrCreateWhatsAppConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func waGet(t *testing.T, s *store.Store, c *store.Conversation) *store.Conversation {
	t.Helper()
	got, err := s.GetConversation(context.Background(), c.WorkspaceID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func waMsg(t *testing.T, s *store.Store, c *store.Conversation, role, pid string, at time.Time) *store.Message {
	t.Helper()
	m := &store.Message{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, Role: role, Content: role + " " + pid, CreatedAt: at}
	if pid != "" {
		m.ProviderMessageID = &pid
	}
	if _, err := s.AddMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInsertInboundEventsOnceEach(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mk := batchEvents
		got, err := s.InsertInboundEvents(ctx, mk("a", "b"))
		if err != nil || len(got) != 2 || got[0].ID == 0 || got[1].ID == 0 || got[0].ID == got[1].ID {
			t.Fatalf("first insert: %v %+v", err, got)
		}
		ids := map[string]int64{got[0].ProviderID: got[0].ID, got[1].ProviderID: got[1].ID}
		got, err = s.InsertInboundEvents(ctx, mk("a", "b", "c"))
		if err != nil || len(got) != 1 || got[0].ProviderID != "c" || got[0].ID == 0 {
			t.Fatalf("second insert returns only the new event: %v %+v", err, got)
		}
		for pid, id := range ids {
			ev, err := s.InboundEventByID(ctx, id)
			if err != nil || ev.ProviderID != pid || ev.Payload != `{"id":"`+pid+`"}` {
				t.Fatalf("event %d: %v %+v", id, err, ev)
			}
		}
		if got, err := s.InsertInboundEvents(ctx, nil); err != nil || len(got) != 0 {
			t.Fatalf("empty: %v %v", err, got)
		}
		// Ten concurrent deliveries of the same batch: each event is new exactly once.
		var wg sync.WaitGroup
		var mu sync.Mutex
		newCount := map[string]int{}
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.InsertInboundEvents(ctx, mk("x", "y", "z"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, ev := range got {
					newCount[ev.ProviderID]++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if newCount["x"] != 1 || newCount["y"] != 1 || newCount["z"] != 1 {
			t.Fatalf("concurrent inserts: %v", newCount)
		}
		evs, err := s.UnprocessedEvents(ctx, time.Now().Add(time.Hour), 100)
		if err != nil || len(evs) != 6 {
			t.Fatalf("stored events: %v %d, want 6", err, len(evs))
		}
		if err := s.MarkEventProcessedNote(ctx, evs[0].ID, "unknown message"); err != nil {
			t.Fatal(err)
		}
		ev, _ := s.InboundEventByID(ctx, evs[0].ID)
		if ev.ProcessedAt == nil || ev.LastError != "unknown message" || ev.Attempts != 1 {
			t.Fatalf("processed with a note: %+v", ev)
		}
		_ = s.MarkEventProcessed(ctx, evs[0].ID) // what Inbound does next: the note stays
		if ev, _ := s.InboundEventByID(ctx, evs[0].ID); ev.LastError != "unknown message" {
			t.Fatalf("note lost: %+v", ev)
		}
	})
}

// Statuses only move forward, whatever order they arrive in.
func TestMessageStatusOnlyForward(t *testing.T) {
	orders := [][]string{
		{"sent", "delivered", "read"},
		{"read", "delivered", "sent"},
		{"delivered", "sent", "read"},
		{"read", "sent"},
		{"sent", "read", "delivered", "sent"},
		{"sent", "failed", "delivered", "read"},
		{"failed", "sent"},
		{"delivered", "warning", "sent"},
	}
	want := []string{"read", "read", "read", "read", "read", "failed", "failed", "delivered"}
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := waConv(t, s)
		for i, order := range orders {
			pid := fmt.Sprintf("wamid.OUT%d", i)
			waMsg(t, s, c, "assistant", pid, waT0.Add(time.Duration(i)*time.Minute))
			for j, st := range order {
				ref, moved, err := s.UpdateMessageStatus(ctx, c.WorkspaceID, pid, st, "131047 Re-engagement message", waT0.Add(time.Duration(j)*time.Second))
				if err != nil {
					t.Fatalf("%v %s: %v", order, st, err)
				}
				if ref.ConversationID != c.ID || ref.WorkspaceID != c.WorkspaceID {
					t.Fatalf("ref: %+v", ref)
				}
				_ = moved
			}
			m, err := s.MessageByProviderID(ctx, c.WorkspaceID, pid)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != want[i] {
				t.Errorf("order %v: status %q, want %q", order, m.Status, want[i])
			}
			if (m.Status == "failed") != (m.StatusError != "") {
				t.Errorf("order %v: status_error %q", order, m.StatusError)
			}
			if m.StatusUpdatedAt == nil {
				t.Errorf("order %v: no status time", order)
			}
		}
		// A late "sent" after "read" reports that nothing moved.
		if _, moved, _ := s.UpdateMessageStatus(ctx, c.WorkspaceID, "wamid.OUT0", "sent", "", waT0); moved {
			t.Fatal("a late sent moved a read message")
		}
		if _, moved, _ := s.UpdateMessageStatus(ctx, c.WorkspaceID, "wamid.OUT2", "failed", "x", waT0); !moved {
			t.Fatal("failed moves a read message to failed")
		}
		// Unknown message, and another workspace's message.
		if _, _, err := s.UpdateMessageStatus(ctx, c.WorkspaceID, "wamid.NOPE", "read", "", waT0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown message: %v", err)
		}
		if _, _, err := s.UpdateMessageStatus(ctx, c.WorkspaceID+999, "wamid.OUT1", "read", "", waT0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another workspace: %v", err)
		}
	})
}

func TestWhatsAppWindowRules(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := waConv(t, s)
		now := waT0.Add(time.Hour)
		W := 24 * time.Hour
		open := func(msg time.Time, at time.Time) bool {
			t.Helper()
			ok, err := s.OpenWhatsAppWindow(ctx, c.WorkspaceID, c.ID, msg, msg.Add(W), at)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		expires := func() (time.Time, *time.Time) {
			t.Helper()
			g := waGet(t, s, c)
			if g.WindowExpiresAt == nil {
				t.Fatal("no deadline")
			}
			return g.WindowExpiresAt.UTC(), g.WindowClosedAt
		}
		if !open(waT0, now) {
			t.Fatal("first customer message opens the window")
		}
		if e, cl := expires(); !e.Equal(waT0.Add(W)) || cl != nil {
			t.Fatalf("window: %v %v", e, cl)
		}
		if open(waT0.Add(-time.Minute), now) {
			t.Fatal("an older message (processed late) never moves the deadline back")
		}
		if !open(waT0.Add(30*time.Minute), now) {
			t.Fatal("a newer message extends the window")
		}
		e, _ := expires()
		if !e.Equal(waT0.Add(30*time.Minute + W)) {
			t.Fatalf("extended to %v", e)
		}
		if open(waT0.Add(30*time.Minute), now) {
			t.Fatal("the same message again changes nothing")
		}

		// The expiry task: before the deadline nothing, after it closed at the deadline.
		if ok, _ := s.CloseExpiredWindow(ctx, c.WorkspaceID, c.ID, e.Add(-time.Second)); ok {
			t.Fatal("closed before the deadline")
		}
		if ok, _ := s.CloseExpiredWindow(ctx, c.WorkspaceID, c.ID, e.Add(time.Second)); !ok {
			t.Fatal("not closed after the deadline")
		}
		if _, cl := expires(); cl == nil || !cl.UTC().Equal(e) {
			t.Fatalf("closed at %v, want the deadline %v", cl, e)
		}
		if ok, _ := s.CloseExpiredWindow(ctx, c.WorkspaceID, c.ID, e.Add(time.Hour)); ok {
			t.Fatal("closing twice reports a change")
		}

		// The customer writes again after the deadline: the window reopens.
		later := e.Add(time.Hour)
		if !open(later, later.Add(time.Second)) {
			t.Fatal("a new customer message reopens a closed window")
		}
		e2, cl := expires()
		if !e2.Equal(later.Add(W)) || cl != nil {
			t.Fatalf("reopened: %v %v", e2, cl)
		}

		// Meta's 131047 closes it at once; a message older than the refusal does not reopen
		// it, a newer one does; a refusal older than the last customer message is ignored.
		refused := later.Add(time.Hour)
		waMsg(t, s, c, "user", "wamid.IN1", later) // keeps last_inbound_at = later
		if ok, err := s.CloseWindowAt(ctx, c.WorkspaceID, c.ID, refused); err != nil || !ok {
			t.Fatalf("131047 after the last customer message closes the window: %v %v", ok, err)
		}
		e3, cl := expires()
		if cl == nil || !cl.UTC().Equal(refused) || !e3.Equal(refused) {
			t.Fatalf("closed by refusal: expires %v closed %v, want both %v", e3, cl, refused)
		}
		if open(later.Add(30*time.Minute), refused.Add(time.Minute)) {
			t.Fatal("a message older than the refusal reopened the window")
		}
		waMsg(t, s, c, "user", "wamid.IN2", refused.Add(time.Hour))
		if ok, _ := s.CloseWindowAt(ctx, c.WorkspaceID, c.ID, refused.Add(time.Minute)); ok {
			t.Fatal("a refusal older than the customer's last message closed the window")
		}
		if !open(refused.Add(time.Hour), refused.Add(time.Hour+time.Second)) {
			t.Fatal("a newer customer message reopens after a refusal")
		}
		if _, cl := expires(); cl != nil {
			t.Fatal("still closed")
		}
	})
}

func TestWindowSweep(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		var convs []*store.Conversation
		for i := 0; i < 5; i++ {
			c := waConv(t, s)
			convs = append(convs, c)
		}
		// 0, 1, 2: expired and still open (lost tasks); 3: open; 4: expired and closed already.
		deadlines := []time.Duration{-time.Hour, -time.Minute, -time.Second, time.Hour, -2 * time.Hour}
		for i, c := range convs {
			d := now.Add(deadlines[i])
			if _, err := s.OpenWhatsAppWindow(ctx, c.WorkspaceID, c.ID, d.Add(-24*time.Hour), d, d.Add(-time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CloseExpiredWindow(ctx, convs[4].WorkspaceID, convs[4].ID, now); err != nil {
			t.Fatal(err)
		}
		first, err := s.CloseExpiredWindows(ctx, now, 2)
		if err != nil || len(first) != 2 {
			t.Fatalf("first round: %v %+v", err, first)
		}
		rest, err := s.CloseExpiredWindows(ctx, now, 2)
		if err != nil || len(rest) != 1 {
			t.Fatalf("second round: %v %+v", err, rest)
		}
		if more, err := s.CloseExpiredWindows(ctx, now, 2); err != nil || len(more) != 0 {
			t.Fatalf("third round: %v %+v", err, more)
		}
		closed := map[int64]int64{}
		for _, cw := range append(first, rest...) {
			closed[cw.ID] = cw.WorkspaceID
		}
		for i, c := range convs[:3] {
			if closed[c.ID] != c.WorkspaceID {
				t.Errorf("conversation %d not swept: %v", i, closed)
			}
			if g := waGet(t, s, c); g.WindowClosedAt == nil || !g.WindowClosedAt.Equal(*g.WindowExpiresAt) {
				t.Errorf("conversation %d: closed at %v", i, g.WindowClosedAt)
			}
		}
		if g := waGet(t, s, convs[3]); g.WindowClosedAt != nil {
			t.Fatal("an open window was closed")
		}
	})
}

// The outgoing message lifecycle: stored under a key, claimed, sending, sent with Meta's id
// (or failed), and a key matched by a status's callback data.
func TestOutgoingMessageLifecycle(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := waConv(t, s)
		ws := c.WorkspaceID
		u := waMsg(t, s, c, "user", "wamid.IN", waT0)
		if l, err := s.LatestUserMessage(ctx, ws, c.ID); err != nil || l.ID != u.ID {
			t.Fatalf("latest: %v %+v", err, l)
		}
		if ok, _ := s.AnsweredAfter(ctx, ws, c.ID, u); ok {
			t.Fatal("nobody answered yet")
		}
		// A reply stored by the LLM layer (no provider id): not an answer until claimed.
		r := waMsg(t, s, c, "assistant", "", waT0.Add(time.Second))
		if ok, _ := s.AnsweredAfter(ctx, ws, c.ID, u); ok {
			t.Fatal("an unclaimed reply counts as an answer")
		}
		key := "parley:reply:1:1"
		if ok, err := s.ClaimOutgoingMessage(ctx, ws, r.ID, key); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if ok, _ := s.ClaimOutgoingMessage(ctx, ws, r.ID, "parley:other"); ok {
			t.Fatal("claimed twice")
		}
		if ok, _ := s.AnsweredAfter(ctx, ws, c.ID, u); !ok {
			t.Fatal("a claimed reply is an answer")
		}
		if ok, _ := s.MarkMessageSending(ctx, ws, r.ID, key, waT0); !ok {
			t.Fatal("sending")
		}
		if ok, _ := s.MarkMessageSending(ctx, ws, r.ID, key, waT0); ok {
			t.Fatal("a send in flight was claimed twice")
		}
		if err := s.MarkMessagePending(ctx, ws, r.ID); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.MessageByID(ctx, ws, r.ID); m.Status != "pending" {
			t.Fatalf("back to pending: %q", m.Status)
		}
		if ok, _ := s.MarkMessageSending(ctx, ws, r.ID, "parley:wrong", waT0); ok {
			t.Fatal("wrong key")
		}
		_, _ = s.MarkMessageSending(ctx, ws, r.ID, key, waT0)
		// Meta's status arrives before the send's answer is stored: matched by the key.
		if ok, err := s.AttachProviderMessageID(ctx, ws, key, "wamid.R"); err != nil || !ok {
			t.Fatalf("attach: %v %v", ok, err)
		}
		if ok, _ := s.MarkMessageSent(ctx, ws, r.ID, key, "wamid.R"); ok {
			t.Fatal("sent after the key was replaced reports a change")
		}
		m, _ := s.MessageByID(ctx, ws, r.ID)
		if *m.ProviderMessageID != "wamid.R" || m.Status != "sent" {
			t.Fatalf("attached: %+v", m)
		}
		if _, err := s.MessageByProviderID(ctx, ws, key); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("the key is gone once Meta's id is stored")
		}
		if ok, _ := s.MarkMessageFailed(ctx, ws, r.ID, "x"); ok {
			t.Fatal("a sent message cannot be failed by the sender")
		}

		// Stored under a key directly, then sent; a status already further is kept.
		k2 := "parley:human:2"
		h := &store.Message{WorkspaceID: ws, ConversationID: c.ID, Role: "human", Content: "hi", ProviderMessageID: &k2, Status: "pending", CreatedAt: waT0.Add(time.Minute)}
		if ok, err := s.AddMessage(ctx, h); err != nil || !ok {
			t.Fatal(err)
		}
		if ok, err := s.MarkMessageSent(ctx, ws, h.ID, k2, "wamid.H"); err != nil || !ok {
			t.Fatalf("sent: %v %v", ok, err)
		}
		if m, _ := s.MessageByProviderID(ctx, ws, "wamid.H"); m.Status != "sent" || m.ID != h.ID {
			t.Fatalf("sent: %+v", m)
		}
		k3 := "parley:human:3"
		f := &store.Message{WorkspaceID: ws, ConversationID: c.ID, Role: "human", Content: "late", ProviderMessageID: &k3, Status: "pending", CreatedAt: waT0.Add(2 * time.Minute)}
		_, _ = s.AddMessage(ctx, f)
		if ok, _ := s.MarkMessageFailed(ctx, ws, f.ID, "window closed"); !ok {
			t.Fatal("fail a pending message")
		}
		if m, _ := s.MessageByID(ctx, ws, f.ID); m.Status != "failed" || m.StatusError != "window closed" {
			t.Fatalf("failed: %+v", m)
		}
		// WhatsApp times are whole seconds: our template sent at :05.3 before the customer's
		// message stamped :05 (sent at :05.6) is not an answer to it.
		sec := waT0.Add(time.Hour)
		k4 := "parley:tpl:4"
		tpl := &store.Message{WorkspaceID: ws, ConversationID: c.ID, Role: "human", Content: "tpl", ProviderMessageID: &k4, Status: "pending", CreatedAt: sec.Add(300 * time.Millisecond)}
		_, _ = s.AddMessage(ctx, tpl)
		cust := waMsg(t, s, c, "user", "wamid.SAMESEC", sec)
		if ok, _ := s.AnsweredAfter(ctx, ws, c.ID, cust); ok {
			t.Fatal("a message stored before the customer's counts as its answer")
		}
		if l, _ := s.LatestUserMessage(ctx, ws, c.ID); l.ID != cust.ID {
			t.Fatalf("latest: %+v", l)
		}
		waMsg(t, s, c, "assistant", "wamid.ANS", sec.Add(2*time.Second))
		if ok, _ := s.AnsweredAfter(ctx, ws, c.ID, cust); !ok {
			t.Fatal("the reply after it is its answer")
		}
		if ok, _ := s.SetCustomerName(ctx, ws, c.ID, "Sheena"); !ok {
			t.Fatal("name set")
		}
		if ok, _ := s.SetCustomerName(ctx, ws, c.ID, "Sheena"); ok {
			t.Fatal("same name again is no change")
		}
	})
}

// A send key names one message for good: after the send replaced it by Meta's id on the
// message, a twin's copy under the same key is not stored (it used to be: the key lived only
// in the provider id, free again once the message was sent), a stored reply cannot be claimed
// with it, and of concurrent callers with a fresh key exactly one stores.
func TestSendKeyNamesOneMessageForGood(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := waConv(t, s)
		ws := c.WorkspaceID
		waMsg(t, s, c, "user", "wamid.IN", waT0)
		out := func(key string) *store.Message {
			k := key
			return &store.Message{WorkspaceID: ws, ConversationID: c.ID, Role: "assistant", Content: "hello", ProviderMessageID: &k, Status: "pending", CreatedAt: waT0.Add(time.Second)}
		}
		key := "parley:reply:9:9"
		first := out(key)
		if ok, err := s.AddOutgoingMessage(ctx, first); err != nil || !ok {
			t.Fatalf("store: %v %v", ok, err)
		}
		if ok, err := s.AddOutgoingMessage(ctx, out(key)); err != nil || ok {
			t.Fatalf("a second copy under the key while it is the provider id: %v %v", ok, err)
		}
		if ok, err := s.MarkMessageSent(ctx, ws, first.ID, key, "wamid.OUT"); err != nil || !ok {
			t.Fatalf("sent: %v %v", ok, err)
		}
		if ok, err := s.AddOutgoingMessage(ctx, out(key)); err != nil || ok {
			t.Fatalf("a twin's copy stored after the send: %v %v", ok, err)
		}
		m, err := s.OutgoingByKey(ctx, ws, key)
		if err != nil || m.ID != first.ID || *m.ProviderMessageID != "wamid.OUT" {
			t.Fatalf("the key names the sent message: %+v %v", m, err)
		}
		stored := waMsg(t, s, c, "assistant", "", waT0.Add(2*time.Second))
		if ok, err := s.ClaimOutgoingMessage(ctx, ws, stored.ID, key); err != nil || ok {
			t.Fatalf("a stored reply claimed a taken key: %v %v", ok, err)
		}
		if _, err := s.OutgoingByKey(ctx, ws, "parley:reply:9:10"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a free key: %v", err)
		}
		page, err := s.Messages(ctx, ws, c.ID, "", 50)
		if err != nil || len(page.Messages) != 3 {
			t.Fatalf("%d messages (%v), want the customer's, the sent one and the unclaimed one", len(page.Messages), err)
		}

		// Concurrent callers with one fresh key: one stores.
		var wg sync.WaitGroup
		var mu sync.Mutex
		stores := 0
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.AddOutgoingMessage(ctx, out("parley:reply:9:11"))
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					stores++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if stores != 1 {
			t.Fatalf("%d callers stored under one key, want 1", stores)
		}
	})
}
