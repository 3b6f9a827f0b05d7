package dashboard_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

func (e *env) testAssistant(ws *store.Workspace) *store.Assistant {
	e.T.Helper()
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "Sales bot", FirstMessage: "Hi! I'm the sales bot.", Model: "gpt-4o-mini",
		Variables:     webtest.FromJSON[store.Variables](e.T, `[{"name":"email","description":"the customer's email","type":"email","required":true},{"name":"company","description":"company name","type":"text","required":true}]`),
		PrechatFields: webtest.FromJSON[store.PrechatFields](e.T, `[{"name":"email","label":"Your email","type":"email","required":true}]`)}
	if err := e.App.Store.CreateAssistant(context.Background(), a); err != nil {
		e.T.Fatal(err)
	}
	return a
}

func TestTestChatSessionOverHTTP(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.testAssistant(ws)
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")

	d := webtest.Doc(t, e.Get(c, "/test-chat"))
	if !strings.Contains(d.Find("#llm-provider").Text(), "offline") {
		t.Fatalf("the offline provider is named: %q", d.Find("#llm-provider").Text())
	}
	tok := d.Find(`#start-session input[name=_csrf]`).AttrOr("value", "")
	// The pre-chat form is validated.
	res := e.PostForm(c, "/test-chat/sessions", url.Values{"_csrf": {tok}, "assistant_id": {webtest.Itoa(a.ID)}, "prechat.email": {"not-an-email"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(webtest.Doc(t, res).Find(".field-error").Text(), "email address") {
		t.Fatalf("bad pre-chat email: %d", res.StatusCode)
	}
	res = e.PostForm(c, "/test-chat/sessions", url.Values{"_csrf": {tok}, "assistant_id": {webtest.Itoa(a.ID)}, "prechat.email": {"buyer@shop.test"}})
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/test-chat/") {
		t.Fatalf("start: %d %q", res.StatusCode, loc)
	}
	d = webtest.Doc(t, e.Get(c, loc))
	if got := d.Find("#timeline li.msg.assistant .content").First().Text(); got != "Hi! I'm the sales bot." {
		t.Fatalf("first message: %q", got)
	}
	if !strings.Contains(d.Find("#conv-vars").Text(), "buyer@shop.test") || !strings.Contains(d.Find("#conv-vars").Text(), "Pre-chat form") {
		t.Fatal("pre-chat variable with its source")
	}
	tok = d.Find(`#composer input[name=_csrf]`).AttrOr("value", "")
	convPath := loc
	// Empty and oversized messages are refused, nothing stored.
	for _, bad := range []string{"   ", strings.Repeat("x", 4001)} {
		res = e.PostForm(c, convPath+"/messages", url.Values{"_csrf": {tok}, "text": {bad}}, "HX-Request", "true")
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("bad message: %d", res.StatusCode)
		}
	}
	res = e.PostForm(c, convPath+"/messages", url.Values{"_csrf": {tok}, "text": {"Hello, what does it cost?"}}, "HX-Request", "true")
	d = webtest.Doc(t, res)
	src := d.Find(".pending").AttrOr("sse-connect", "")
	if !strings.Contains(src, "/reply/") {
		t.Fatalf("pending reply: %q", src)
	}
	// Stream the reply: deltas, then done with the stored message.
	req, _ := http.NewRequest("GET", e.URL+src, nil)
	req.Header.Set("Accept", "text/event-stream")
	sres, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(sres.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var deltas strings.Builder
	var done string
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "delta":
			deltas.WriteString(strings.TrimPrefix(line, "data: "))
		case strings.HasPrefix(line, "data: ") && event == "done":
			done += strings.TrimPrefix(line, "data: ") + "\n"
		}
	}
	sres.Body.Close()
	if !strings.Contains(deltas.String(), "company") { // email came from the pre-chat form
		t.Fatalf("streamed reply should ask for what is missing: %q", deltas.String())
	}
	if !strings.Contains(done, "tokens · $") || !strings.Contains(done, "hx-swap-oob") {
		t.Fatalf("done event: %s", done)
	}
	// Stored with usage, test conversations not charged, and the ledger has one row.
	id := strings.TrimPrefix(convPath, "/test-chat/")
	d = webtest.Doc(t, e.Get(c, "/conversations/"+id))
	if d.Find("li.msg").Length() != 3 || !strings.Contains(d.Find("#conv-info").Text(), "not charged") {
		t.Fatalf("conversation after reply: %d messages", d.Find("li.msg").Length())
	}
	rows, _, _ := e.App.Store.ListConversations(context.Background(), ws.ID, store.Filter{Type: model.TypeTest}, "", 10)
	if len(rows) != 1 || rows[0].CompletionTokens == 0 || rows[0].Charged {
		t.Fatalf("test conversation totals: %+v", rows)
	}
	var n int
	if err := e.App.Store.DB.NewSelect().Table("usage_ledger").ColumnExpr("count(*)").Where("conversation_id = ? AND charged = ?", rows[0].ID, false).Scan(context.Background(), &n); err != nil || n != 1 {
		t.Fatalf("ledger rows: %d %v", n, err)
	}
	// A second stream for the same message replays, asks nothing again.
	req, _ = http.NewRequest("GET", e.URL+src, nil)
	sres, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b := webtest.Body(t, sres)
	if strings.Contains(b, "event: delta") || !strings.Contains(b, "event: done") {
		t.Fatalf("replay: %s", b)
	}
	if err := e.App.Store.DB.NewSelect().Table("usage_ledger").ColumnExpr("count(*)").Where("conversation_id = ?", rows[0].ID).Scan(context.Background(), &n); err != nil || n != 1 {
		t.Fatalf("ledger rows after replay: %d", n)
	}
}

// A person sends a Test Chat message, sees the reply stream in with its tokens and cost, and
// finds the session in the Conversations list with the Test badge.
func TestBrowserTestChat(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	e.testAssistant(ws)
	ctx := testkit.Browser(t)
	webtest.BrowserLogin(t, ctx, e.Env, "ana@example.com")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/test-chat"),
		chromedp.WaitVisible(chromedp.CSS(`#start`)),
		chromedp.SendKeys(chromedp.CSS(`#pc-email`), "buyer@shop.test"),
		chromedp.Click(chromedp.CSS(`#start`)),
		chromedp.WaitVisible(chromedp.CSS(`#composer`)),
		chromedp.SendKeys(chromedp.CSS(`#message`), "Hello there"),
		chromedp.Click(chromedp.CSS(`#send`)),
	); err != nil {
		t.Fatal(err)
	}
	// The reply streams in (the typing indicator is visible while it does) and ends as a stored
	// message with its usage.
	webtest.WaitJS(t, ctx, `document.querySelectorAll("#timeline li.msg").length === 3 && !document.querySelector(".pending")`)
	last := webtest.EvalJS[string](t, ctx, `document.querySelector("#timeline li.msg:last-child .content").textContent`)
	usage := webtest.EvalJS[string](t, ctx, `document.querySelector("#timeline li.msg:last-child .usage").textContent`)
	if !strings.Contains(last, "company") || !strings.Contains(usage, "tokens · $") {
		t.Fatalf("reply %q usage %q", last, usage)
	}
	if v := webtest.EvalJS[string](t, ctx, `document.querySelector("#message").value`); v != "" {
		t.Fatalf("the composer is emptied after sending: %q", v)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.URL+"/conversations"), chromedp.WaitVisible(chromedp.CSS(`tr.conv`))); err != nil {
		t.Fatal(err)
	}
	badge := webtest.EvalJS[string](t, ctx, `document.querySelector("tr.conv .badge").textContent`)
	if badge != "Test" {
		t.Fatalf("badge %q", badge)
	}
}
