package dashboard_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// An htmx form the server refuses with 422 shows why, in a real browser: htmx 2 swaps no 4xx
// answer unless told to, so the dashboard's htmx-config swaps 422 (a handler's own fragment
// saying what to fix). "Add to test set" with no set and no name is refused; the panel says
// so, and the form is still there to fix it.
func TestBrowserRefusedFormShowsWhy(t *testing.T) {
	e := newEnv(t)
	ws := e.User("rita@shop.test", "correct-horse")
	ctx := context.Background()
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "Parcel helper", Model: "gpt-4o-mini"}
	if err := e.App.Store.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	conv := &store.Conversation{WorkspaceID: ws.ID, AssistantID: &a.ID, Type: model.TypeWidget, Customer: "buyer@shop.test", StartedAt: at, LastMessageAt: at}
	if err := e.App.Conversations.Create(ctx, conv); err != nil {
		t.Fatal(err)
	}
	m := &store.Message{WorkspaceID: ws.ID, ConversationID: conv.ID, Role: model.RoleUser, Content: "Where is my parcel?", ContentType: "text", CreatedAt: at}
	if _, err := e.App.Conversations.AddMessage(ctx, m); err != nil {
		t.Fatal(err)
	}

	b := testkit.Browser(t)
	webtest.BrowserLogin(t, b, e.Env, "rita@shop.test")
	if err := chromedp.Do(b,
		chromedp.Navigate(e.URL+"/conversations/"+webtest.Itoa(conv.ID)),
		chromedp.WaitVisible(chromedp.CSS(`#testset-add-submit`)),
		chromedp.Click(chromedp.CSS(`#testset-add-submit`)),
	); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, b, `!!document.querySelector("#testset-add-error")`)
	if got := webtest.EvalJS[string](t, b, `document.querySelector("#testset-add-error").textContent`); strings.TrimSpace(got) == "" {
		t.Fatal("the refusal says nothing")
	}
	if n := webtest.EvalJS[int](t, b, `document.querySelectorAll("#testset-add").length`); n != 1 {
		t.Fatalf("%d panels after the refusal", n)
	}
	if !webtest.EvalJS[bool](t, b, `!!document.querySelector("#testset-add #testset-add-form #testset-add-name")`) {
		t.Fatal("the form is gone after the refusal")
	}
	var sets int
	if err := e.App.Store.DB.NewRaw("SELECT count(*) FROM test_sets WHERE workspace_id = ?", ws.ID).Scan(ctx, &sets); err != nil || sets != 0 {
		t.Fatalf("sets after the refusal: %d %v", sets, err)
	}
}
