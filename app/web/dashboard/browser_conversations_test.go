package dashboard_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

func TestBrowserFilterSearchBackAndLoadMore(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	ctx0 := context.Background()
	base := time.Now().Add(-48 * time.Hour).UTC()
	for i := range 60 {
		cv := &store.Conversation{WorkspaceID: f.ws.ID, Type: model.TypeWidget, Customer: "visitor-" + strconv.Itoa(i), StartedAt: base.Add(time.Duration(i) * time.Minute)}
		if err := e.App.Store.CreateConversation(ctx0, cv); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testkit.Browser(t)
	webtest.BrowserLogin(t, ctx, e.Env, "ana@example.com")
	if n := webtest.EvalJS[int](t, ctx, `document.querySelectorAll("tr.conv").length`); n != 50 {
		t.Fatalf("first page: %d rows", n)
	}
	// Load more appends the rest in place.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#load-more a`))); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `document.querySelectorAll("tr.conv").length === 63 && !document.querySelector("#load-more")`)

	// Filter by type: only WhatsApp badges, and the URL is pushed.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`#f-type`), "whatsapp")); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `location.search.includes("type=whatsapp") && document.querySelectorAll("tr.conv").length === 1`)
	badges := webtest.EvalJS[[]string](t, ctx, `Array.from(document.querySelectorAll("tr.conv .badge")).map(b => b.textContent)`)
	if len(badges) != 1 || badges[0] != "WhatsApp" {
		t.Fatalf("badges after filter: %v", badges)
	}

	// Search, then go back to the type filter.
	// Set both fields without events (as a person editing two fields then pressing Enter).
	webtest.EvalJS[bool](t, ctx, `document.querySelector("#f-type").value = ""; document.querySelector("#f-q").value = "widget"; document.querySelector("#filters").requestSubmit(); true`)
	webtest.WaitJS(t, ctx, `location.search.includes("q=widget") && document.querySelectorAll("tr.conv").length === 1 && document.querySelector("tr.conv").dataset.type === "widget"`)
	if got := webtest.EvalJS[string](t, ctx, `location.search`); got != "?q=widget" {
		t.Fatalf("pushed URL %q: empty fields are left out", got)
	}
	if err := chromedp.Do(ctx, chromedp.NavigateBack()); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `location.search.includes("type=whatsapp") && !location.search.includes("q=") && document.querySelectorAll("tr.conv").length === 1 && document.querySelector("tr.conv").dataset.type === "whatsapp"`)
}

func TestBrowserLiveUpdatesAndEscaping(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	ctx := testkit.Browser(t)
	webtest.BrowserLogin(t, ctx, e.Env, "ana@example.com")
	conv := f.convs["widget"]

	// "Another process": its own Redis connection and bus, writing to the shared database.
	opts, err := redis.ParseURL(e.App.Config.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	other := &conversation.Service{Store: e.App.Store, Events: events.NewBus(rdb, testkit.Logger(t))}

	webtest.WaitJS(t, ctx, `document.querySelector("#live") !== null`)
	waitForSubscriber(t, e)
	hostile := `<script>window.pwned=1</script><b hx-get="/x">bold</b><img src=x onerror="window.pwned=2">`
	m := &store.Message{WorkspaceID: f.ws.ID, ConversationID: conv.ID, Role: "user", Content: hostile}
	if _, err := other.AddMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	rowSel := `document.querySelector("#conv-rows tr.conv")`
	webtest.WaitJS(t, ctx, rowSel+`.id === "conv-`+webtest.Itoa(conv.ID)+`" && `+rowSel+`.querySelector(".preview").textContent.includes("<script>")`)
	// A brand new conversation appears at the top, and the badge counts it.
	nc := &store.Conversation{WorkspaceID: f.ws.ID, Type: model.TypeWhatsApp, Customer: "+15550001111"}
	if err := other.Create(context.Background(), nc); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, rowSel+`.id === "conv-`+webtest.Itoa(nc.ID)+`" && document.querySelector("#nav-count").textContent === "4"`)

	// The detail page appends a message that arrives while it is open.
	if err := chromedp.Do(ctx, chromedp.Navigate(e.URL+"/conversations/"+webtest.Itoa(conv.ID)), chromedp.WaitVisible(chromedp.CSS(`#timeline`))); err != nil {
		t.Fatal(err)
	}
	waitForSubscriber(t, e)
	before := webtest.EvalJS[int](t, ctx, `document.querySelectorAll("#timeline li.msg").length`)
	m2 := &store.Message{WorkspaceID: f.ws.ID, ConversationID: conv.ID, Role: "assistant", Content: "live <i>reply</i>", PromptTokens: 10, CompletionTokens: 5, CostNanos: 4500}
	if _, err := other.AddMessage(context.Background(), m2); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `document.querySelectorAll("#timeline li.msg").length === `+strconv.Itoa(before+1)+` && document.querySelector("#timeline li.msg:last-child .content").textContent === "live <i>reply</i>"`)
	webtest.WaitJS(t, ctx, `document.querySelector("#info-messages").textContent === "`+strconv.Itoa(before+1)+`"`)
	// The hostile message is shown as text, ran nothing, and htmx did not act on it.
	txt := webtest.EvalJS[string](t, ctx, `document.querySelector("#msg-`+webtest.Itoa(m.ID)+` .content").textContent`)
	if txt != hostile {
		t.Fatalf("hostile content: %q", txt)
	}
	if pw := webtest.EvalJS[bool](t, ctx, `window.pwned === undefined && document.querySelector("#timeline script, #timeline img, #timeline b") === null`); !pw {
		t.Fatal("message content was interpreted as HTML")
	}
}

// waitForSubscriber waits until the page's event stream is subscribed.
func waitForSubscriber(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.App.Events.Subscribers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the page never opened its event stream")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
}
