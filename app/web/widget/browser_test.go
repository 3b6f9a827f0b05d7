package widget_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/webtest"
)

// wHost serves a website on its own port that embeds the widget with the snippet the
// assistant's page shows. "/manual" frames the widget page directly and records whether the
// chat page inside ever ran (it posts "ready" to its parent when it does).
func wHost(t *testing.T, parleyURL, key string) (origin string) {
	t.Helper()
	snippet := fmt.Sprintf(`<script src="%s/static/widget.js" data-assistant="%s" async></script>`, parleyURL, key)
	mux := http.NewServeMux()
	page := func(title string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>%s</title></head><body><h1>%s</h1><p>Welcome to our shop.</p>%s</body></html>`, title, title, snippet)
		}
	}
	mux.HandleFunc("/{$}", page("Shop home"))
	mux.HandleFunc("/other-page", page("Shop catalogue"))
	mux.HandleFunc("/manual", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><body><script>window.addEventListener("message", function (e) { if (e.data && e.data.parley === "ready") window.__parleyReady = true; });</script>`+
			`<iframe id="manual" src="%s/widget/%s?visitor=visitor-manual-01" width="380" height="500"></iframe></body></html>`, parleyURL, key)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	// "localhost" while Parley is at 127.0.0.1: another site, as a real website would be.
	return "http://localhost:" + u.Port()
}

// wFrameCtx attaches to the widget's iframe: it is cross-site, so Chrome runs it as a target
// of its own. newerThan skips the targets of frames that were replaced (after a reload).
func wFrameCtx(t *testing.T, ctx context.Context, prefix string, skip map[string]bool) (context.Context, string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, prefix) && !skip[string(info.TargetID)] {
				fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID))
				t.Cleanup(cancel)
				return fctx, string(info.TargetID)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no iframe target at %s", prefix)
	return nil, ""
}

// A visitor of a website opens the widget, fills the pre-chat form, chats (the reply streams),
// reloads the page and another page of the site and finds the same conversation (through the
// session token in the iframe's storage; without it, the same visitor id shows nothing); the
// dashboard shows it with the purple badge and the pre-chat variables. A site that is not in
// the allowed origins gets no working widget.
func TestBrowserWidgetOnAnotherSite(t *testing.T) {
	// Parley behind a switch that can drop every connection, to show the visitor offline.
	a0 := testkit.App(t, testkit.Config(t))
	// Slow words, so that the typing indicator and the partial reply can be seen.
	a0.Chat.LLM = llm.NewOffline(llm.OfflineOptions{DefaultModel: a0.Config.LLMModel, WordDelay: 60 * time.Millisecond})
	srv := web.New(a0)
	var down atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	e := &env{&webtest.Env{T: t, App: a0, Srv: ts, URL: ts.URL}}
	ws := e.User("ana@example.com", "correct-horse")
	// The host's port is known only once it listens: create the assistant, then allow it.
	a := e.WAssistant(ws)
	host := wHost(t, e.URL, a.PublicKey)
	if _, err := e.App.Store.DB.NewUpdate().Table("assistants").Set("allowed_origins = ?", `["`+host+`"]`).Where("id = ?", a.ID).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	frameURL := e.URL + "/widget/" + a.PublicKey
	ctx := testkit.Browser(t)

	// The launcher appears on the host page in the assistant's colours and title.
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `document.querySelector(".parley-launcher") !== null`)
	if got := webtest.EvalJS[string](t, ctx, `document.querySelector(".parley-launcher").textContent`); got != "Shop help" {
		t.Fatalf("launcher title %q", got)
	}
	if got := webtest.EvalJS[string](t, ctx, `getComputedStyle(document.querySelector(".parley-launcher")).backgroundColor`); got != "rgb(10, 125, 90)" {
		t.Fatalf("launcher colour %q", got)
	}
	if n := webtest.EvalJS[int](t, ctx, `document.querySelectorAll("iframe").length`); n != 0 {
		t.Fatal("the iframe loads when the visitor opens the chat")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.parley-launcher`))); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `document.querySelector(".parley-widget").dataset.parleyFrame === "ready" && getComputedStyle(document.querySelector(".parley-panel")).display === "block"`)
	visitor := webtest.EvalJS[string](t, ctx, `localStorage.getItem("parley:visitor:`+a.PublicKey+`")`)
	if src := webtest.EvalJS[string](t, ctx, `document.querySelector("iframe.parley-frame").src`); !strings.HasPrefix(src, frameURL+"?visitor="+visitor) || len(visitor) != 22 {
		t.Fatalf("iframe %q visitor %q", src, visitor)
	}

	// Inside the iframe: the pre-chat form (server-side errors beside the field), then the chat.
	fctx, first := wFrameCtx(t, ctx, frameURL, nil)
	if err := chromedp.Do(fctx,
		chromedp.WaitVisible(chromedp.CSS(`#pc-email`)),
		chromedp.SendKeys(chromedp.CSS(`#pc-email`), "buyer@shop.test"),
		chromedp.SendKeys(chromedp.CSS(`#pc-name`), "Ann"),
		chromedp.Click(chromedp.CSS(`#start`)),
		chromedp.WaitVisible(chromedp.CSS(`#composer`)),
	); err != nil {
		t.Fatal(err)
	}
	if got := webtest.EvalJS[string](t, fctx, `document.querySelector("#timeline li.msg.assistant .bubble").textContent`); got != "Hi! How can I help?" {
		t.Fatalf("first message %q", got)
	}
	conv := webtest.EvalJS[string](t, fctx, `document.querySelector("#widget-chat").dataset.conversation`)
	if err := chromedp.Do(fctx,
		chromedp.SendKeys(chromedp.CSS(`#message`), "Hello there"),
		chromedp.Click(chromedp.CSS(`#send`)),
	); err != nil {
		t.Fatal(err)
	}
	// The typing indicator shows while the reply streams in, then the stored reply replaces it.
	webtest.WaitJS(t, fctx, `document.querySelector(".pending .typing") !== null && getComputedStyle(document.querySelector(".pending .typing")).display !== "none" && document.querySelector(".pending .content").textContent.length > 0`)
	webtest.WaitJS(t, fctx, `document.querySelectorAll("#timeline li.msg").length === 3 && !document.querySelector(".pending")`)
	reply := webtest.EvalJS[string](t, fctx, `document.querySelector("#timeline li.msg:last-child .bubble").textContent`)
	if !strings.Contains(reply, "company") {
		t.Fatalf("reply %q", reply)
	}
	if v := webtest.EvalJS[string](t, fctx, `document.querySelector("#message").value`); v != "" {
		t.Fatalf("the composer is emptied: %q", v)
	}
	if n := webtest.EvalJS[int](t, fctx, `document.querySelectorAll("#timeline time").length`); n != 3 {
		t.Fatalf("timestamps: %d", n)
	}
	// Offline: the send fails and the chat says so.
	if err := chromedp.Do(fctx, chromedp.SendKeys(chromedp.CSS(`#message`), "are you there?")); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	if err := chromedp.Do(fctx, chromedp.Click(chromedp.CSS(`#send`))); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, fctx, `!document.querySelector("#widget-error").hidden && document.querySelector("#widget-error").textContent.includes("offline")`)
	down.Store(false)

	// A reload of the host page, and another page of the site, resume the same conversation
	// (the panel stays open across pages of the tab).
	for i, p := range []string{"/", "/other-page"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(host+p)); err != nil {
			t.Fatal(err)
		}
		webtest.WaitJS(t, ctx, `document.querySelector(".parley-widget") !== null && document.querySelector(".parley-widget").dataset.parleyFrame === "ready"`)
		skip := map[string]bool{first: true}
		fctx, first = wFrameCtx(t, ctx, frameURL, skip)
		webtest.WaitJS(t, fctx, `document.querySelector("#widget-chat") !== null && document.querySelectorAll("#timeline li.msg").length === 3`)
		if got := webtest.EvalJS[string](t, fctx, `document.querySelector("#widget-chat").dataset.conversation`); got != conv {
			t.Fatalf("page %d: conversation %s, want %s", i, got, conv)
		}
	}
	// What resumed it is the session token, kept in the iframe's own storage (Parley's
	// origin): not in the iframe's address, not in the host site's storage.
	tokenKey := `"parley:session:` + a.PublicKey + `"`
	if tok := webtest.EvalJS[string](t, fctx, `String(localStorage.getItem(`+tokenKey+`))`); !strings.HasPrefix(tok, "pw1.") {
		t.Fatalf("the iframe's storage holds the session token: %q", tok)
	}
	if loc := webtest.EvalJS[string](t, fctx, `location.search`); strings.Contains(loc, "token=") || !strings.Contains(loc, "visitor="+visitor) {
		t.Fatalf("the iframe's address %q", loc)
	}
	if got := webtest.EvalJS[string](t, ctx, `String(localStorage.getItem(`+tokenKey+`))`); got != "null" {
		t.Fatalf("the host site's storage holds %q", got)
	}
	// The visitor's verdict: a thumbs down with a comment on the reply, then "End chat" and
	// a CSAT of 2 with a comment.
	if err := chromedp.Do(fctx,
		chromedp.Click(chromedp.CSS(`#timeline li.msg:last-child .feedback button[data-rating="down"]`)),
	); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, fctx, `!document.querySelector("#timeline li.msg:last-child .fb-comment").hidden`)
	if err := chromedp.Do(fctx,
		chromedp.SendKeys(chromedp.CSS(`#timeline li.msg:last-child .fb-comment textarea`), "Not about my order"),
		chromedp.Click(chromedp.CSS(`#timeline li.msg:last-child .fb-send`)),
	); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, fctx, `!document.querySelector("#timeline li.msg:last-child .fb-thanks").hidden`)
	if err := chromedp.Do(fctx,
		chromedp.Click(chromedp.CSS(`#end-chat-button`)),
		chromedp.WaitVisible(chromedp.CSS(`#csat-form`)),
		chromedp.Click(chromedp.CSS(`#csat-form input[name="score"][value="2"]`)),
		chromedp.SendKeys(chromedp.CSS(`#csat-comment`), "Slow"),
		chromedp.Click(chromedp.CSS(`#csat-send`)),
		chromedp.WaitVisible(chromedp.CSS(`#csat-thanks`)),
	); err != nil {
		t.Fatal(err)
	}
	convID, _ := strconv.ParseInt(conv, 10, 64)
	fb, err := e.App.Store.Feedback(context.Background(), ws.ID, convID)
	if err != nil || len(fb) != 1 {
		t.Fatalf("feedback %v %v", fb, err)
	}
	for _, f := range fb {
		if f.Rating != model.FeedbackDown || f.Comment != "Not about my order" {
			t.Fatalf("feedback %+v", f)
		}
	}
	if c, err := e.App.Store.GetConversation(context.Background(), ws.ID, convID); err != nil || c.EndReason != model.EndVisitor || c.CSATScore == nil || *c.CSATScore != 2 || c.CSATComment != "Slow" {
		t.Fatalf("the end and its CSAT: %+v %v", c, err)
	}

	// The chat's close button closes the panel on the host page.
	if err := chromedp.Do(fctx, chromedp.Click(chromedp.CSS(`#widget-close`))); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `getComputedStyle(document.querySelector(".parley-panel")).display === "none"`)

	// Without the token, the same visitor id (still in the host site's storage, still in the
	// iframe's address) is a new chat that shows no earlier message.
	webtest.EvalJS[bool](t, fctx, `localStorage.removeItem(`+tokenKey+`), true`)
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `document.querySelector(".parley-launcher") !== null`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.parley-launcher`))); err != nil {
		t.Fatal(err)
	}
	fctx, _ = wFrameCtx(t, ctx, frameURL, map[string]bool{first: true})
	webtest.WaitJS(t, fctx, `document.querySelector("#start-form") !== null && document.readyState === "complete"`)
	if got := webtest.EvalJS[string](t, fctx, `document.body.textContent`); strings.Contains(got, "Hello there") || strings.Contains(got, reply) {
		t.Fatalf("a page with only ?visitor= shows the earlier conversation: %q", got)
	}
	if loc := webtest.EvalJS[string](t, fctx, `location.search`); loc != "?visitor="+visitor {
		t.Fatalf("the iframe's address %q", loc)
	}
	if err := chromedp.Do(fctx, chromedp.Click(chromedp.CSS(`#widget-close`))); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `getComputedStyle(document.querySelector(".parley-panel")).display === "none"`)

	// The dashboard: the purple badge and the pre-chat variables.
	webtest.BrowserLogin(t, ctx, e.Env, "ana@example.com")
	webtest.WaitJS(t, ctx, `document.querySelector("tr.conv .badge.widget") !== null`)
	if got := webtest.EvalJS[string](t, ctx, `getComputedStyle(document.querySelector("tr.conv .badge.widget")).color`); got != "rgb(107, 63, 212)" {
		t.Fatalf("badge colour %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.URL+"/conversations/"+conv), chromedp.WaitVisible(chromedp.CSS(`#conv-vars`))); err != nil {
		t.Fatal(err)
	}
	vars := webtest.EvalJS[string](t, ctx, `document.querySelector("#conv-vars").textContent`)
	if !strings.Contains(vars, "buyer@shop.test") || !strings.Contains(vars, "Ann") || !strings.Contains(vars, "Pre-chat form") {
		t.Fatalf("variables %q", vars)
	}

	// A site that is not in the allowed origins: the loader gets no assistant (CORS), shows
	// no launcher, and a frame of the chat page is refused by frame-ancestors.
	evil := wHost(t, e.URL, a.PublicKey)
	if err := chromedp.Do(ctx, chromedp.Navigate(evil+"/")); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `document.querySelector("script[data-assistant]").dataset.parleyState === "unavailable"`)
	if n := webtest.EvalJS[int](t, ctx, `document.querySelectorAll(".parley-launcher, iframe").length`); n != 0 {
		t.Fatal("no widget on a foreign site")
	}
	// The allowed site's chat page runs in a frame (the control) ...
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/manual")); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `window.__parleyReady === true`)
	// ... the foreign site's never does.
	if err := chromedp.Do(ctx, chromedp.Navigate(evil+"/manual")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if webtest.EvalJS[bool](t, ctx, `window.__parleyReady === true`) {
		t.Fatal("a foreign site framed the chat page")
	}
}
