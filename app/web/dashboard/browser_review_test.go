package dashboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// Keyboard review: opened from a filtered list, r marks reviewed and f flags (the bar
// updates in place), t focuses the tag input (where j is typed, not followed), ? shows the
// overlay and Escape closes it, j and k go to the next and previous conversation of that list.
func TestBrowserKeyboardReview(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	ctx0 := context.Background()
	var ids []int64
	for i := range 3 {
		c := &store.Conversation{WorkspaceID: ws.ID, Type: model.TypeWhatsApp, Customer: "+4917" + webtest.Itoa(int64(i)),
			StartedAt: time.Now().Add(-2 * time.Hour), LastMessageAt: time.Now().Add(-time.Duration(10+i) * time.Minute)}
		if err := e.App.Store.CreateConversation(ctx0, c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	// Another type, not in the list the page is opened from.
	if err := e.App.Store.CreateConversation(ctx0, &store.Conversation{WorkspaceID: ws.ID, Type: model.TypeWidget, Customer: "v", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ctx := testkit.Browser(t)
	webtest.BrowserLogin(t, ctx, e.Env, "ana@example.com")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/conversations?type=whatsapp"),
		chromedp.WaitVisible(chromedp.CSS(`#conv-`+webtest.Itoa(ids[1])+` td.customer a`)),
		chromedp.Click(chromedp.CSS(`#conv-`+webtest.Itoa(ids[1])+` td.customer a`)),
		chromedp.WaitVisible(chromedp.CSS(`#review-bar`)),
	); err != nil {
		t.Fatal(err)
	}
	// page waits until the conversation's page is loaded, its script with it.
	page := func(id int64) {
		t.Helper()
		webtest.WaitJS(t, ctx, `location.pathname === "/conversations/`+webtest.Itoa(id)+`" && document.readyState === "complete" && document.querySelector("#review-bar") !== null`)
	}
	page(ids[1])
	key := func(k string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.KeyEvent(k)); err != nil {
			t.Fatal(err)
		}
	}
	// navKey presses a key that navigates, and waits for the navigation it starts.
	navKey := func(k string) {
		t.Helper()
		if res, err := chromedp.RunResponse(ctx, chromedp.KeyEvent(k)); err != nil || res == nil || res.Status != 200 {
			t.Fatalf("key %s: %v %v", k, res, err)
		}
	}
	key("r")
	webtest.WaitJS(t, ctx, `document.querySelector("#review-bar").dataset.status === "reviewed"`)
	key("f")
	webtest.WaitJS(t, ctx, `document.querySelector("#review-bar").dataset.status === "flagged"`)
	key("t")
	webtest.WaitJS(t, ctx, `document.activeElement && document.activeElement.id === "tag-input"`)
	// Typed in the input, j is a letter, not a key of the review.
	key("jam")
	if v := webtest.EvalJS[string](t, ctx, `document.querySelector("#tag-input").value + "|" + document.querySelector("#review-bar").outerHTML.length`); v[:4] != "jam|" {
		t.Fatalf("the tag input holds %q", v)
	}
	key(kb.Enter)
	webtest.WaitJS(t, ctx, `document.querySelector('[data-tag="jam"]') !== null`)
	if got := webtest.EvalJS[string](t, ctx, `location.pathname`); got != "/conversations/"+webtest.Itoa(ids[1]) {
		t.Fatalf("typing j in the tag input navigated to %s", got)
	}
	c, _ := e.App.Store.GetConversation(ctx0, ws.ID, ids[1])
	if c.ReviewStatus != model.ReviewFlagged {
		t.Fatalf("stored status: %s", c.ReviewStatus)
	}
	webtest.EvalJS[bool](t, ctx, `document.activeElement.blur(); true`)
	key("?")
	webtest.WaitJS(t, ctx, `!document.querySelector("#review-help").hidden`)
	key(kb.Escape)
	webtest.WaitJS(t, ctx, `document.querySelector("#review-help").hidden`)
	navKey("j")
	page(ids[2])
	if webtest.EvalJS[bool](t, ctx, `document.querySelector("#review-next") !== null`) {
		t.Fatal("the last of the list has a next")
	}
	navKey("k")
	page(ids[1])
	navKey("k")
	page(ids[0])
}
