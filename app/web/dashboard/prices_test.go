package dashboard_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/app/web/webtest"
)

func TestPricesInSettings(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	ctx := context.Background()
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	tok := e.CSRF(c, "/settings")

	d := webtest.Doc(t, e.Get(c, "/settings"))
	if !strings.Contains(d.Find("#prices table").Text(), "gpt-4o-mini") {
		t.Fatal("the effective table lists the built-in prices")
	}
	// Invalid JSON or prices: refused beside the field, nothing stored.
	for _, bad := range []string{`not json`, `[{"match":"x","input_per_1m":"-1","output_per_1m":"1"}]`, `[{"match":"x","input_per_1m":"0","output_per_1m":"0"}]`} {
		d = webtest.Doc(t, e.PostForm(c, "/settings/prices", url.Values{"_csrf": {tok}, "prices": {bad}}, "HX-Request", "true"))
		if d.Find("#prices .field-error").Length() != 1 {
			t.Errorf("%s: no error shown", bad)
		}
	}
	if raw, _ := e.App.Store.WorkspaceSettings(ctx, ws.ID); strings.Contains(raw, "prices") {
		t.Fatalf("a refused table was stored: %s", raw)
	}
	good := `[{"match":"offline","input_per_1m":"1000","output_per_1m":"2000"}]`
	d = webtest.Doc(t, e.PostForm(c, "/settings/prices", url.Values{"_csrf": {tok}, "prices": {good}}, "HX-Request", "true"))
	if d.Find("#prices .field-error").Length() != 0 || !strings.Contains(d.Find("#prices").Text(), "Prices saved") {
		t.Fatalf("valid prices: %s", d.Find("#prices").Text())
	}
	// The next reply is priced with the workspace's entry (the offline model is free by default).
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "A", FirstMessage: "Hi"}
	if err := e.App.Store.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	conv, err := chat.StartSession(ctx, e.App.Store, e.App.Conversations, a, model.TypeWidget, "v", nil)
	if err != nil {
		t.Fatal(err)
	}
	um := &store.Message{WorkspaceID: ws.ID, ConversationID: conv.ID, Role: "user", Content: "hello"}
	if _, err := e.App.Conversations.AddMessage(ctx, um); err != nil {
		t.Fatal(err)
	}
	rep, err := e.App.Chat.Reply(ctx, conv, a, chat.RequestID(conv.ID, um.ID), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Message
	want := int64(m.PromptTokens)*1000*1000 + int64(m.CompletionTokens)*2000*1000
	if m.CostNanos != want || want == 0 {
		t.Fatalf("cost %d, want %d with the workspace's price", m.CostNanos, want)
	}
	e2, _ := e.App.Store.UsageByRequestID(ctx, ws.ID, chat.RequestID(conv.ID, um.ID))
	if p, ok := usage.EntryPrice(*e2); !ok || p.Source != usage.SourceSettings {
		t.Fatalf("the ledger keeps the entry used: %+v", p)
	}
	// A model without a price is named in Settings.
	if _, err := usage.Record(ctx, e.App.Store, e.App.Chat.Prices, usage.Call{WorkspaceID: ws.ID, RequestID: "x-1", Purpose: usage.PurposeReply, Model: "mystery-9000", Tokens: usage.Tokens{Prompt: 5}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(webtest.Doc(t, e.Get(c, "/settings")).Find("#prices [role=alert]").Text(), "mystery-9000") {
		t.Fatal("no-price warning in Settings")
	}
}
