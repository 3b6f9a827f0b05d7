package conversation_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// A reply is asked for by the customer message it answers: only a user message of that very
// conversation qualifies.
func TestCustomerMessage(t *testing.T) {
	ctx := context.Background()
	s := testkit.Store(t)
	svc := &conversation.Service{Store: s}
	w, _, err := s.CreateWorkspaceWithUser(ctx, "Shop", "owner@shop.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	start := func(customer string) (*store.Conversation, *store.Message) {
		c := &store.Conversation{WorkspaceID: w.ID, Type: model.TypeTest, Customer: customer, StartedAt: store.Now()}
		m := &store.Message{WorkspaceID: w.ID, Role: model.RoleUser, Content: "hello", CreatedAt: store.Now()}
		if err := svc.Start(ctx, c, nil, m); err != nil {
			t.Fatal(err)
		}
		return c, m
	}
	a, am := start("a")
	_, bm := start("b")
	reply := &store.Message{WorkspaceID: w.ID, ConversationID: a.ID, Role: model.RoleAssistant, Content: "hi", CreatedAt: store.Now()}
	if _, err := svc.AddMessage(ctx, reply); err != nil {
		t.Fatal(err)
	}
	if m, err := svc.CustomerMessage(ctx, a, am.ID); err != nil || m.ID != am.ID {
		t.Fatalf("own customer message: %v", err)
	}
	for name, id := range map[string]int64{"another conversation's": bm.ID, "an assistant's": reply.ID, "unknown": 1 << 40, "zero": 0} {
		if _, err := svc.CustomerMessage(ctx, a, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s message: %v, want not found", name, err)
		}
	}
}
