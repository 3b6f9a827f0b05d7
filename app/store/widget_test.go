package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// Helpers of this file carry a "wg" prefix.

func wgConv(t *testing.T, s *store.Store, ws int64, aid *int64, typ, customer string, last time.Time) *store.Conversation {
	t.Helper()
	c := &store.Conversation{WorkspaceID: ws, AssistantID: aid, Type: typ, Customer: customer, StartedAt: last, LastMessageAt: last}
	if err := s.CreateConversation(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLiveWidgetConversation(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws, other := asWS(t, s, "Alpha"), asWS(t, s, "Beta")
		a := asCreate(t, s, &store.Assistant{WorkspaceID: ws, Name: "A"})
		b := asCreate(t, s, &store.Assistant{WorkspaceID: ws, Name: "B"})
		base := time.Now().Add(-time.Hour).UTC()
		old := wgConv(t, s, ws, &a.ID, model.TypeWidget, "visitor-1", base)
		newer := wgConv(t, s, ws, &a.ID, model.TypeWidget, "visitor-1", base.Add(time.Minute))
		wgConv(t, s, ws, &b.ID, model.TypeWidget, "visitor-2", base)    // another assistant
		wgConv(t, s, ws, &a.ID, model.TypeTest, "visitor-3", base)      // not a widget conversation
		wgConv(t, s, other, &a.ID, model.TypeWidget, "visitor-4", base) // another workspace

		got, err := s.LiveWidgetConversation(ctx, ws, a.ID, "visitor-1")
		if err != nil || got.ID != newer.ID {
			t.Fatalf("newest open conversation: %v %v", got, err)
		}
		if _, err := s.EndConversation(ctx, ws, newer.ID, model.EndAgent, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got, err = s.LiveWidgetConversation(ctx, ws, a.ID, "visitor-1"); err != nil || got.ID != old.ID {
			t.Fatalf("after ending the newest: %v %v", got, err)
		}
		for _, c := range []struct {
			ws, aid int64
			visitor string
		}{{ws, a.ID, "visitor-2"}, {ws, a.ID, "visitor-3"}, {ws, a.ID, "visitor-4"}, {other, a.ID, "visitor-1"}} {
			if _, err := s.LiveWidgetConversation(ctx, c.ws, c.aid, c.visitor); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%+v: %v", c, err)
			}
		}
		if _, err := s.WidgetConversation(ctx, ws, a.ID, old.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WidgetConversation(ctx, ws, b.ID, old.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("a conversation of another assistant is not found")
		}
		if _, err := s.WidgetConversation(ctx, other, a.ID, old.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("a conversation of another workspace is not found")
		}
	})
}

func TestAllowedOriginLists(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws := asWS(t, s, "Alpha")
		asCreate(t, s, &store.Assistant{WorkspaceID: ws, Name: "A", AllowedOrigins: []string{"https://shop.example.com", "http://localhost:3000"}})
		asCreate(t, s, &store.Assistant{WorkspaceID: ws, Name: "Off", AllowedOrigins: []string{"https://off.example.com"}, Disabled: true})
		asCreate(t, s, &store.Assistant{WorkspaceID: ws, Name: "Under", AllowedOrigins: []string{"https://a_b.example.com"}})
		cases := map[string]int{
			"https://shop.example.com": 1,
			"http://localhost:3000":    1,
			"http://localhost:300":     0, // a prefix is not a match
			"https://off.example.com":  0, // disabled
			"https://axb.example.com":  0, // _ is not a wildcard
			"https://a_b.example.com":  1,
			"https://example.com":      0,
		}
		for origin, want := range cases {
			lists, err := s.AllowedOriginLists(ctx, origin)
			if err != nil || len(lists) != want {
				t.Fatalf("%s: %v %v", origin, lists, err)
			}
		}
	})
}
