package web_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// hsInitScript runs before every page's own scripts: it counts the dialogs a script would
// open, and the requests htmx would send.
const hsInitScript = `
window.__alerts = 0;
["alert", "confirm", "prompt"].forEach(function (k) { window[k] = function () { window.__alerts++; return null; }; });
window.__hx = [];
document.addEventListener("htmx:beforeRequest", function (e) {
  var p = e.detail && e.detail.pathInfo ? e.detail.pathInfo.requestPath : "?";
  window.__hx.push(p);
}, true);
`

// hsCheckScript reports what is wrong on the page: the corpus turned into markup (event
// handler attributes, htmx attributes aimed at /logout or a bulk deletion, images, inline
// scripts, javascript: links), dialogs and htmx requests it caused, and the expected texts
// that are not shown as text.
const hsCheckScript = `(function (expected) {
  var bad = [];
  document.querySelectorAll("*").forEach(function (el) {
    for (var i = 0; i < el.attributes.length; i++) {
      var a = el.attributes[i];
      if (/^on/i.test(a.name)) bad.push("event handler attribute " + el.tagName + " " + a.name);
      if (/^(data-)?hx-/i.test(a.name) && /\/logout/.test(a.value)) bad.push("htmx attribute to /logout: " + el.outerHTML.slice(0, 120));
      if (/^(data-)?hx-/i.test(a.name) && a.value === "/conversations/bulk-delete") bad.push("htmx attribute to bulk-delete: " + el.outerHTML.slice(0, 120));
      if (a.name === "hx-trigger" && a.value === "load") bad.push("hx-trigger=load: " + el.outerHTML.slice(0, 120));
    }
  });
  document.querySelectorAll("img").forEach(function (el) { bad.push("an image: " + el.outerHTML.slice(0, 120)); });
  document.querySelectorAll("script").forEach(function (el) {
    if (!el.src || new URL(el.src).pathname.indexOf("/static/") !== 0) bad.push("a script not from /static/: " + el.outerHTML.slice(0, 120));
  });
  document.querySelectorAll("a[href], form[action], iframe[src]").forEach(function (el) {
    var u = el.getAttribute("href") || el.getAttribute("action") || el.getAttribute("src");
    if (/^\s*javascript:/i.test(u)) bad.push("a javascript: URL: " + el.outerHTML.slice(0, 120));
  });
  if (window.__alerts) bad.push(window.__alerts + " dialogs opened");
  window.__hx.forEach(function (p) { if (/logout|bulk-delete/.test(p)) bad.push("htmx requested " + p); });
  var text = document.body.textContent;
  var values = Array.prototype.map.call(document.querySelectorAll("input, textarea"), function (el) { return el.value; });
  expected.forEach(function (s) {
    if (text.indexOf(s) < 0 && values.indexOf(s) < 0) bad.push("not shown as text: " + JSON.stringify(s.slice(0, 80)));
  });
  return bad.join("\n");
})`

// hsShown is how a string reads in the DOM: the HTML parser turns CR and CRLF into LF.
func hsShown(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

func TestBrowserHostileCorpusShownAsText(t *testing.T) {
	f := hsSetup(t)
	ctx := testkit.Browser(t)
	var dialogs atomic.Int32
	if err := chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: hsInitScript}); err != nil {
		t.Fatal(err)
	}
	webtest.BrowserLogin(t, ctx, f.e.Env, "ana@example.com")

	text := func(max int) []string {
		var out []string
		for _, it := range hsCorpus {
			if v, ok := hsText(it.s, max); ok {
				out = append(out, hsShown(v))
			}
		}
		return out
	}
	var waNames, waMessages []string
	for _, it := range hsCorpus {
		if it.name != "long" { // the list shortens very long names
			waNames = append(waNames, hsShown(strings.TrimSpace(hsWhatsApp(it.s))))
		}
		waMessages = append(waMessages, hsShown(hsWhatsApp(it.s)))
	}
	var prechat []string
	for _, v := range text(500) {
		if len(v) < 60 {
			prechat = append(prechat, v)
		}
	}
	img, _ := hsText(`"><img src=x onerror=alert(1)>`, 100)
	pages := []struct {
		name, path string
		ready      string
		expected   []string
	}{
		{"WhatsApp list", "/conversations?type=whatsapp", `document.querySelectorAll("tr.conv").length === 18`, waNames},
		{"widget list", "/conversations?type=widget", `document.querySelectorAll("tr.conv").length > 10`, prechat},
		{"WhatsApp detail", "/conversations/" + webtest.Itoa(f.whatsapp), `document.querySelectorAll("#timeline .content").length >= 18`, waMessages},
		{"widget detail", "/conversations/" + webtest.Itoa(f.widget), `document.querySelectorAll("#timeline .content").length > 10`, append(text(4000), "<b>bold</b>")},
		{"Test Chat", "/test-chat/" + webtest.Itoa(f.test), `document.querySelectorAll(".content").length > 10`, text(4000)},
		{"widget frame", "/widget/" + f.bot.PublicKey + "?visitor=" + f.visitor + "&token=" + url.QueryEscape(f.wToken), `document.querySelectorAll(".bubble").length > 10`, text(4000)},
		{"assistants", "/assistants", `document.querySelectorAll("main a").length > 10`, text(100)},
		{"assistant", "/assistants/" + webtest.Itoa(f.hostileA["img"]), `!!document.querySelector("#a-name")`, []string{img}},
	}
	for _, p := range pages {
		if err := chromedp.Do(ctx, chromedp.Navigate(f.e.URL+p.path)); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		webtest.WaitJS(t, ctx, `document.readyState === "complete" && !!window.htmx && !!window.__hx && (`+p.ready+`)`)
		exp, _ := json.Marshal(p.expected)
		if bad := webtest.EvalJS[string](t, ctx, hsCheckScript+"("+string(exp)+")"); bad != "" {
			t.Errorf("%s (%s):\n%s", p.name, p.path, bad)
		}
		if p.name == "assistant" {
			got := webtest.EvalJS[string](t, ctx, `document.querySelector("#a-name").value + "|" + document.querySelector("input[name=pf_label]").value`)
			if got != img+"|"+img {
				t.Errorf("assistant form: %q, want the name and label %q", got, img)
			}
		}
	}
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d JavaScript dialogs opened", n)
	}
	// The session is still valid, and the server never saw a request to /logout or a bulk
	// deletion.
	if err := chromedp.Do(ctx, chromedp.Navigate(f.e.URL+"/conversations")); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `document.readyState === "complete"`)
	if loc := webtest.EvalJS[string](t, ctx, `location.pathname`); loc != "/conversations" {
		t.Errorf("after the corpus the session is gone: at %s", loc)
	}
	if p := f.requests.seen("/logout"); len(p) > 0 {
		t.Errorf("requests to /logout: %v", p)
	}
	if p := f.requests.seen("bulk-delete"); len(p) > 0 {
		t.Errorf("requests to bulk-delete: %v", p)
	}
}
