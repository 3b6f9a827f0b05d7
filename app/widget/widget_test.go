package widget_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/widget"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestTokens(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	aid := int64(7)
	conv := &store.Conversation{ID: 42, WorkspaceID: 3, AssistantID: &aid}
	tok := widget.SessionToken(key, conv, now)
	c, err := widget.Verify(key, tok, widget.KindSession, now.Add(time.Hour))
	if err != nil || c.ConversationID != 42 || c.AssistantID != 7 || c.WorkspaceID != 3 {
		t.Fatalf("verify: %+v %v", c, err)
	}
	cases := []struct {
		name  string
		token string
		kind  string
		at    time.Time
		want  error
	}{
		{"expired", tok, widget.KindSession, now.Add(widget.SessionTTL), widget.ErrTokenExpired},
		{"other key", widget.SessionToken([]byte("another key of thirty-two bytes!"), conv, now), widget.KindSession, now, widget.ErrTokenInvalid},
		{"start token used as session", widget.StartToken(key, &store.Assistant{ID: 7, WorkspaceID: 3}, "visitor-1234", now), widget.KindSession, now, widget.ErrTokenInvalid},
		{"session token used as start", tok, widget.KindStart, now, widget.ErrTokenInvalid},
		{"session token used as reply", tok, widget.KindReply, now, widget.ErrTokenInvalid},
		{"reply token used as session", widget.ReplyToken(key, conv, 9, now), widget.KindSession, now, widget.ErrTokenInvalid},
		{"reply token expired", widget.ReplyToken(key, conv, 9, now), widget.KindReply, now.Add(widget.ReplyTTL), widget.ErrTokenExpired},
		{"empty", "", widget.KindSession, now, widget.ErrTokenInvalid},
		{"garbage", "pw1.abc.def", widget.KindSession, now, widget.ErrTokenInvalid},
		{"no prefix", strings.TrimPrefix(tok, "pw1."), widget.KindSession, now, widget.ErrTokenInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := widget.Verify(key, tc.token, tc.kind, tc.at); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if r, err := widget.Verify(key, widget.ReplyToken(key, conv, 9, now), widget.KindReply, now); err != nil || r.MessageID != 9 || r.ConversationID != 42 {
		t.Fatalf("reply token: %+v %v", r, err)
	}
	// Changing the conversation id in the payload breaks the signature.
	other := widget.SessionToken(key, &store.Conversation{ID: 43, WorkspaceID: 3, AssistantID: &aid}, now)
	forged := strings.Split(other, ".")[0] + "." + strings.Split(other, ".")[1] + "." + strings.Split(tok, ".")[2]
	if _, err := widget.Verify(key, forged, widget.KindSession, now); !errors.Is(err, widget.ErrTokenInvalid) {
		t.Fatalf("forged payload: %v", err)
	}
}

func TestVisitorIDs(t *testing.T) {
	id := widget.NewVisitorID()
	if !widget.ValidVisitorID(id) || id == widget.NewVisitorID() {
		t.Fatalf("new visitor id %q", id)
	}
	for _, bad := range []string{"", "short", strings.Repeat("a", 65), "has space in it", "semi;colon1", "<script>x"} {
		if widget.ValidVisitorID(bad) {
			t.Fatalf("%q accepted", bad)
		}
	}
}

func TestOriginsAndColours(t *testing.T) {
	a := &model.Assistant{AssistantSettings: model.AssistantSettings{Name: "Bot", AllowedOrigins: []string{"https://Shop.Example.com", "http://localhost:3000", "javascript:alert(1)", "https://x.test; script-src *"}}}
	if got := widget.FrameAncestors(a); got != "https://shop.example.com http://localhost:3000" {
		t.Fatalf("frame-ancestors %q", got)
	}
	if !widget.OriginAllowed(a, "https://shop.example.com") || widget.OriginAllowed(a, "https://evil.example.com") || widget.OriginAllowed(a, "") || widget.OriginAllowed(a, "null") {
		t.Fatal("origin checks")
	}
	if widget.FrameAncestors(&model.Assistant{}) != "'none'" {
		t.Fatal("no origins: 'none'")
	}
	if widget.Title(a) != "Bot" || widget.Color(a) != widget.DefaultColor {
		t.Fatal("title and colour defaults")
	}
	a.Widget = model.Widget{Title: "Help", Color: "#FFEE00"}
	if widget.Title(a) != "Help" || widget.Color(a) != "#ffee00" {
		t.Fatalf("title %q colour %q", widget.Title(a), widget.Color(a))
	}
	if widget.TextColor("#ffee00") == "#ffffff" || widget.TextColor("#6b3fd4") != "#ffffff" || widget.TextColor("bad") != "#ffffff" {
		t.Fatal("text colour contrast")
	}
}

func TestSessionsIdleRule(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		ws, _, err := st.CreateWorkspaceWithUser(ctx, "W", "w@example.com", "hash")
		if err != nil {
			t.Fatal(err)
		}
		a := &store.Assistant{WorkspaceID: ws.ID, Name: "Bot", FirstMessage: "Hello!", Model: "gpt-4o-mini",
			Variables:     []model.Variable{{Name: "email", Type: "email", Required: true}},
			PrechatFields: []model.PrechatField{{Name: "email", Label: "Email", Type: "email", Required: true}}}
		if err := st.CreateAssistant(ctx, a); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		s := &widget.Sessions{Store: st, Conversations: &conversation.Service{Store: st}, Idle: 30 * time.Minute, Now: func() time.Time { return now }}
		if _, err := s.Resume(ctx, a, "visitor-0001"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no session yet: %v", err)
		}
		if _, err := s.Start(ctx, a, "visitor-0001", map[string]string{"email": "nope"}); err == nil {
			t.Fatal("invalid pre-chat answers start nothing")
		} else if fe, ok := err.(widget.FieldErrors); !ok || fe["email"] == "" {
			t.Fatalf("field errors: %v", err)
		}
		if _, err := s.Start(ctx, a, "visitor-0001", map[string]string{"email": "a@b.co", "extra": "x"}); err == nil {
			t.Fatal("variables beyond the form are refused")
		}
		if n, _ := st.DB.NewSelect().Model((*store.Conversation)(nil)).Count(ctx); n != 0 {
			t.Fatalf("nothing stored: %d conversations", n)
		}
		conv, err := s.Start(ctx, a, "visitor-0001", map[string]string{"email": "a@b.co"})
		if err != nil || conv.Type != model.TypeWidget || conv.Customer != "visitor-0001" {
			t.Fatalf("start: %+v %v", conv, err)
		}
		vars, _ := st.Variables(ctx, ws.ID, conv.ID)
		if len(vars) != 1 || vars[0].Source != "prechat" || vars[0].Value != "a@b.co" {
			t.Fatalf("variables %+v", vars)
		}
		got, err := s.Resume(ctx, a, "visitor-0001")
		if err != nil || got.ID != conv.ID {
			t.Fatalf("resume: %v", err)
		}
		if _, err := s.Resume(ctx, a, "visitor-0002"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("another visitor does not resume it")
		}
		// 31 minutes later the conversation has idled out: it is ended, not resumed.
		now = now.Add(31 * time.Minute)
		if _, err := s.Resume(ctx, a, "visitor-0001"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("idle conversation resumed: %v", err)
		}
		ended, _ := st.GetConversation(ctx, ws.ID, conv.ID)
		// Ended for idling at the moment it idled out (as the end sweep ends it), not now.
		if ended.EndedAt == nil || ended.EndReason != model.EndIdle || !ended.EndedAt.Equal(got.LastMessageAt.Add(30*time.Minute)) {
			t.Fatalf("the idle conversation is ended at its idle moment: %v %q (last message %v)", ended.EndedAt, ended.EndReason, got.LastMessageAt)
		}
		if err := s.Check(ctx, ended); !errors.Is(err, widget.ErrEnded) {
			t.Fatalf("check ended: %v", err)
		}
		next, err := s.Start(ctx, a, "visitor-0001", map[string]string{"email": "a@b.co"})
		if err != nil || next.ID == conv.ID {
			t.Fatalf("a new conversation starts: %v", err)
		}
	})
}
