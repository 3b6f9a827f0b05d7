package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/usage"
)

// heldLLM answers only when the test lets it.
type heldLLM struct {
	asked   chan struct{}
	release chan struct{}
}

func (p *heldLLM) Name() string  { return "held" }
func (p *heldLLM) Offline() bool { return false }
func (p *heldLLM) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	p.asked <- struct{}{}
	<-p.release
	return llm.Response{Content: "Your email, please?", Model: "gpt-4o-mini", Usage: llm.Usage{PromptTokens: 10, CompletionTokens: 5}}, nil
}
func (p *heldLLM) Stream(ctx context.Context, req llm.Request, onDelta func(string) error) (llm.Response, error) {
	return p.Complete(ctx, req)
}

// onceSetup is setup with Redis and the event bus, the way the container builds the responder.
func onceSetup(t *testing.T, p llm.Provider) (*chat.Responder, *store.Store, *store.Conversation, *store.Assistant, int64) {
	t.Helper()
	r, st, conv, a := setup(t, p)
	opts, err := redis.ParseURL(testkit.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	bus := events.NewBus(rdb, testkit.Logger(t))
	t.Cleanup(bus.Close)
	r.Redis, r.Events = rdb, bus
	r.Conversations = &conversation.Service{Store: st, Events: bus}
	latest, err := st.LatestUserMessage(context.Background(), conv.WorkspaceID, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r, st, conv, a, latest.ID
}

type outcome struct {
	rep chat.Reply
	err error
}

// Two callers ask for the same reply: the LLM is asked once, and the second caller gets the
// first one's stored message as soon as it is stored.
func TestReplyOnceAsksOnceAndTheWaiterGetsTheReply(t *testing.T) {
	p := &heldLLM{asked: make(chan struct{}, 2), release: make(chan struct{})}
	r, _, conv, a, userMsg := onceSetup(t, p)
	ctx := context.Background()
	first := make(chan outcome, 1)
	go func() { rep, err := r.ReplyOnce(ctx, conv, a, userMsg, nil); first <- outcome{rep, err} }()
	<-p.asked
	second := make(chan outcome, 1)
	go func() { rep, err := r.ReplyOnce(ctx, conv, a, userMsg, nil); second <- outcome{rep, err} }()
	time.Sleep(200 * time.Millisecond) // the second caller is waiting
	close(p.release)
	o1 := <-first
	if o1.err != nil || o1.rep.Replayed || o1.rep.Message.Content != "Your email, please?" {
		t.Fatalf("first: %+v %v", o1.rep, o1.err)
	}
	select {
	case o2 := <-second:
		if o2.err != nil || !o2.rep.Replayed || o2.rep.Message.ID != o1.rep.Message.ID {
			t.Fatalf("second: %+v %v", o2.rep, o2.err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the waiting caller did not get the stored reply")
	}
	select {
	case <-p.asked:
		t.Fatal("the LLM was asked twice")
	default:
	}
}

// The waiting side (Test Chat's second tab) waits on the event bus, not by polling the
// database: a reply stored without an event does not wake it (a poller finds it within 300
// ms), and the reply's event wakes it at once.
func TestReplyOnceWaiterWakesOnTheBusNotByPolling(t *testing.T) {
	p := &heldLLM{asked: make(chan struct{}, 2), release: make(chan struct{})}
	r, st, conv, a, userMsg := onceSetup(t, p)
	r.WaitRecheck = time.Minute
	ctx := context.Background()
	first := make(chan outcome, 1)
	go func() { rep, err := r.ReplyOnce(ctx, conv, a, userMsg, nil); first <- outcome{rep, err} }()
	defer func() { close(p.release); <-first }()
	<-p.asked
	second := make(chan outcome, 1)
	go func() { rep, err := r.ReplyOnce(ctx, conv, a, userMsg, nil); second <- outcome{rep, err} }()
	time.Sleep(200 * time.Millisecond)

	// The reply is stored behind the bus's back.
	cid := conv.ID
	m := &store.Message{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Role: "assistant", Content: "stored quietly"}
	if _, err := usage.RecordReply(ctx, st, usage.Default(), usage.Call{WorkspaceID: conv.WorkspaceID, ConversationID: &cid, ConversationType: conv.Type,
		RequestID: chat.RequestID(conv.ID, userMsg), Purpose: usage.PurposeReply, Model: "gpt-4o-mini"}, m); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-second:
		t.Fatalf("the waiter polled the database: it found the reply without an event (%+v %v)", o.rep, o.err)
	case <-time.After(1500 * time.Millisecond):
	}
	r.Events.Publish(ctx, events.Event{Kind: events.MessageAdded, WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, MessageID: m.ID})
	select {
	case o := <-second:
		if o.err != nil || o.rep.Message.ID != m.ID {
			t.Fatalf("woken: %+v %v", o.rep, o.err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the reply's event did not wake the waiter")
	}
}

// A waiter whose request goes away stops waiting.
func TestReplyOnceWaiterStopsWithItsRequest(t *testing.T) {
	p := &heldLLM{asked: make(chan struct{}, 2), release: make(chan struct{})}
	r, _, conv, a, userMsg := onceSetup(t, p)
	first := make(chan outcome, 1)
	go func() {
		rep, err := r.ReplyOnce(context.Background(), conv, a, userMsg, nil)
		first <- outcome{rep, err}
	}()
	defer func() { close(p.release); <-first }()
	<-p.asked
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := r.ReplyOnce(ctx, conv, a, userMsg, nil); err == nil {
		t.Fatal("a waiter whose request ended got no error")
	}
}
