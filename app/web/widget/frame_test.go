package widget_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/app/widget"
)

// wFrameClient is a client without cookies, as a cross-site iframe may be.
func wFrameClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func wFramePath(a *store.Assistant, visitor string) string {
	return "/widget/" + a.PublicKey + "?visitor=" + visitor
}

// wStream reads a reply stream: the concatenated deltas and the done event's data.
func wStream(t *testing.T, c *http.Client, u string) (deltas, done string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("stream %s: %d", u, res.StatusCode)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var d strings.Builder
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "delta":
			d.WriteString(strings.TrimPrefix(line, "data: "))
		case strings.HasPrefix(line, "data: ") && event == "done":
			done += strings.TrimPrefix(line, "data: ") + "\n"
		}
	}
	return d.String(), done
}

func TestWidgetFrameHeaders(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin, "http://localhost:3000")
	none := e.WAssistant(ws)
	c := wFrameClient()

	res := e.Get(c, wFramePath(a, "visitor-0001"))
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	if res.StatusCode != 200 || !strings.Contains(csp, "frame-ancestors https://shop.example.com http://localhost:3000") || res.Header.Get("X-Frame-Options") != "" {
		t.Fatalf("iframe page: %d CSP %q XFO %q", res.StatusCode, csp, res.Header.Get("X-Frame-Options"))
	}
	if strings.Contains(csp, "unsafe-inline") || res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("iframe page headers %v", res.Header)
	}
	// Without allowed origins no site may frame it.
	res = e.Get(c, wFramePath(none, "visitor-0001"))
	res.Body.Close()
	if !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || res.Header.Get("X-Frame-Options") != "" {
		t.Fatalf("no origins: %v", res.Header)
	}
	// Everything else keeps DENY and frame-ancestors 'none', the JSON API included.
	for _, p := range []string{"/login", "/api/widget/v1/assistants/" + a.PublicKey} {
		res = e.Get(c, p)
		res.Body.Close()
		if res.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("%s: %v", p, res.Header)
		}
	}
	// Unknown assistant, missing visitor id.
	res = e.Get(c, "/widget/pa_unknown?visitor=visitor-0001")
	res.Body.Close()
	if res.StatusCode != 404 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("unknown assistant: %d", res.StatusCode)
	}
	res = e.Get(c, "/widget/"+a.PublicKey)
	if res.StatusCode != 400 || !strings.Contains(webtest.Doc(t, res).Find("#widget-unavailable").Text(), "chat button") {
		t.Fatalf("no visitor id: %d", res.StatusCode)
	}
}

func TestWidgetFrameChatOverHTTP(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	c := wFrameClient()
	ctx := context.Background()
	page := wFramePath(a, "visitor-0001")

	d := webtest.Doc(t, e.Get(c, page))
	if d.Find("#widget-title").Text() != "Shop help" || d.Find("body").AttrOr("data-accent", "") != "#0a7d5a" {
		t.Fatal("title and colour")
	}
	email := d.Find(`#start-form input[name="prechat.email"]`)
	if email.AttrOr("type", "") != "email" || !email.Is("[required]") || !strings.Contains(d.Find(`label[for="pc-email"]`).Text(), "Your email") {
		t.Fatal("pre-chat form")
	}
	startTok := d.Find(`input[name="start_token"]`).AttrOr("value", "")
	if startTok == "" {
		t.Fatal("start token")
	}
	// A forged cross-site POST knows no token: refused, nothing stored.
	for _, tok := range []string{"", "pw1.forged.token", widget.StartToken(e.App.Keys.Signing, &store.Assistant{ID: a.ID + 1, WorkspaceID: ws.ID}, "visitor-0001", time.Now())} {
		res := e.PostForm(c, "/widget/"+a.PublicKey+"/session", url.Values{"start_token": {tok}, "prechat.email": {"x@y.co"}})
		res.Body.Close()
		if res.StatusCode != 403 {
			t.Fatalf("forged start: %d", res.StatusCode)
		}
	}
	// Errors beside the fields, answers kept, nothing stored.
	res := e.PostForm(c, "/widget/"+a.PublicKey+"/session", url.Values{"start_token": {startTok}, "prechat.email": {"not-an-email"}, "prechat.name": {"Ann"}})
	if res.StatusCode != 400 {
		t.Fatalf("bad email: %d", res.StatusCode)
	}
	d = webtest.Doc(t, res)
	if !strings.Contains(d.Find(`[data-field="email"] .field-error`).Text(), "must be an email address") || d.Find(`#pc-name`).AttrOr("value", "") != "Ann" {
		t.Fatal("the error is beside its field and the answers are kept")
	}
	res = e.PostForm(c, "/widget/"+a.PublicKey+"/session", url.Values{"start_token": {startTok}, "prechat.name": {"Ann"}})
	if res.StatusCode != 400 || !strings.Contains(webtest.Doc(t, res).Find(`[data-field="email"] .field-error`).Text(), "required") {
		t.Fatal("a missing required field")
	}
	if n := e.wCount("conversations", "workspace_id = ?", ws.ID); n != 0 {
		t.Fatalf("nothing stored: %d", n)
	}
	res = e.PostForm(c, "/widget/"+a.PublicKey+"/session", url.Values{"start_token": {startTok}, "prechat.email": {"buyer@shop.test"}, "prechat.name": {"Ann"}})
	res.Body.Close()
	// The chat's address carries the new conversation's session token (widget-frame.js keeps
	// it in the iframe's storage); the visitor id is one the server made for the form.
	chat := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(chat, "/widget/"+a.PublicKey+"?visitor=") || !strings.Contains(chat, "&token=pw1.") {
		t.Fatalf("start: %d %q", res.StatusCode, chat)
	}
	// The chat: the first message, a composer with the session token.
	d = webtest.Doc(t, e.Get(c, chat))
	if got := d.Find("#timeline li.msg.assistant .bubble").First().Text(); got != "Hi! How can I help?" {
		t.Fatalf("first message %q", got)
	}
	conv := d.Find("#widget-chat").AttrOr("data-conversation", "")
	tok := d.Find(`#composer input[name="token"]`).AttrOr("value", "")
	if conv == "" || tok == "" || d.Find("time[datetime]").Length() != 1 {
		t.Fatal("conversation, token and timestamps")
	}
	// A send without the token is refused (CSRF), nothing stored.
	res = e.PostForm(c, "/widget/"+a.PublicKey+"/messages", url.Values{"text": {"hello"}}, "HX-Request", "true")
	if res.StatusCode != 401 || !strings.Contains(webtest.Body(t, res), "Reload the page") {
		t.Fatalf("send without token: %d", res.StatusCode)
	}
	res = e.PostForm(c, "/widget/"+a.PublicKey+"/messages", url.Values{"token": {tok}, "text": {"  "}}, "HX-Request", "true")
	if res.StatusCode != 400 || !strings.Contains(webtest.Body(t, res), "empty") {
		t.Fatalf("empty message: %d", res.StatusCode)
	}
	// The message and a pending reply that streams.
	res = e.PostForm(c, "/widget/"+a.PublicKey+"/messages", url.Values{"token": {tok}, "text": {"<b>Hello</b> there"}}, "HX-Request", "true")
	if res.StatusCode != 200 {
		t.Fatalf("send: %d", res.StatusCode)
	}
	d = webtest.Doc(t, res)
	if d.Find("template li.msg.user .bubble").Text() != "<b>Hello</b> there" && !strings.Contains(d.Text(), "<b>Hello</b> there") {
		t.Fatal("the message is echoed as text")
	}
	src := d.Find(".pending").AttrOr("sse-connect", "")
	if !strings.Contains(src, "/reply/") || !strings.Contains(src, "token=") || d.Find(".pending .typing").Length() != 1 {
		t.Fatalf("pending reply %q", src)
	}
	deltas, done := wStream(t, c, e.URL+src)
	if !strings.Contains(deltas, "company") || !strings.Contains(done, `class="msg assistant"`) || !strings.Contains(done, "hx-swap-oob") {
		t.Fatalf("stream: %q %q", deltas, done)
	}
	if strings.Contains(done, "tokens") || strings.Contains(done, "$") {
		t.Fatal("visitors never see tokens or costs")
	}
	// The stream needs its own reply token: not none, not a broken one, not the session
	// token; and a reply token reads only its own message's reply.
	base := strings.Split(src, "?")[0]
	for _, bad := range []string{base, base + "?token=pw1.x.y", base + "?token=" + url.QueryEscape(tok)} {
		res = e.Get(c, bad, "Accept", "text/event-stream")
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Fatalf("stream without a valid token: %d", res.StatusCode)
		}
	}
	replyTok := strings.SplitN(src, "?token=", 2)[1]
	firstMsg := d.Find("template li.msg.user").AttrOr("id", "")
	if firstMsg == "" {
		t.Fatal("the sent message has an id")
	}
	other := strings.Replace(base, "/reply/"+strings.TrimPrefix(firstMsg, "msg-"), "/reply/1", 1)
	res = e.Get(c, other+"?token="+replyTok, "Accept", "text/event-stream")
	res.Body.Close()
	if other == base || res.StatusCode != 404 {
		t.Fatalf("a reply token on another message: %d", res.StatusCode)
	}
	// A reload with the token resumes the same conversation with every message.
	d = webtest.Doc(t, e.Get(c, chat))
	if d.Find("#widget-chat").AttrOr("data-conversation", "") != conv || d.Find("#timeline li.msg").Length() != 3 || d.Find(".pending").Length() != 0 {
		t.Fatalf("resumed: %d messages", d.Find("#timeline li.msg").Length())
	}
	// A token of this conversation does not work on another assistant's page.
	otherA := e.WAssistant(ws, webtest.WOrigin)
	res = e.PostForm(c, "/widget/"+otherA.PublicKey+"/messages", url.Values{"token": {tok}, "text": {"hi"}}, "HX-Request", "true")
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("token on another assistant: %d", res.StatusCode)
	}
	// Rate limited: a 429 with a message the page shows, and Retry-After.
	// (The sliding window may still hold room for one message when the earlier ones, counted
	// at 60 a minute, are more than a second old: the second send within the second is over.)
	e.App.Config.WidgetRateMessages = 1
	for i := 0; ; i++ {
		res = e.PostForm(c, "/widget/"+a.PublicKey+"/messages", url.Values{"token": {tok}, "text": {"again"}}, "HX-Request", "true")
		txt := webtest.Body(t, res)
		if res.StatusCode == 200 && i == 0 {
			continue
		}
		if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" || !strings.Contains(txt, "Too many messages") {
			t.Fatalf("rate limited: %d %q", res.StatusCode, txt)
		}
		break
	}
	// The same visitor on another assistant has its own conversation.
	d = webtest.Doc(t, e.Get(c, wFramePath(otherA, "visitor-0001")))
	if d.Find("#start-form").Length() != 1 {
		t.Fatal("another assistant starts afresh")
	}
	// After PARLEY_WIDGET_IDLE without a message, the conversation is ended and a new one
	// starts.
	if _, err := e.App.Store.DB.NewUpdate().Table("conversations").Set("last_message_at = ?", time.Now().Add(-time.Hour).UTC()).Where("id = ?", conv).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	e.App.Config.WidgetRateMessages = 60
	res = e.PostForm(c, "/widget/"+a.PublicKey+"/messages", url.Values{"token": {tok}, "text": {"still there?"}}, "HX-Request", "true")
	if txt := webtest.Body(t, res); res.StatusCode != 410 || !strings.Contains(txt, "ended") {
		t.Fatalf("idle send: %d %q", res.StatusCode, txt)
	}
	d = webtest.Doc(t, e.Get(c, chat))
	if d.Find("#start-form").Length() != 1 {
		t.Fatal("after the idle time the pre-chat form comes again")
	}
}

func TestWidgetFrameWithoutPrechatForm(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "Simple", FirstMessage: "Hello there!", Model: "gpt-4o-mini", AllowedOrigins: []string{"https://shop.example.com"}}
	if err := e.App.Store.CreateAssistant(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	c := wFrameClient()
	page := wFramePath(a, "visitor-0002")
	d := webtest.Doc(t, e.Get(c, page))
	if d.Find("#start-form li.msg.assistant").Text() != "Hello there!" || d.Find("#start-form textarea[name=text]").Length() != 1 {
		t.Fatal("the first message and a composer")
	}
	tok := d.Find(`input[name="start_token"]`).AttrOr("value", "")
	res := e.PostForm(c, "/widget/"+a.PublicKey+"/session", url.Values{"start_token": {tok}, "text": {strings.Repeat("x", 4001)}})
	if res.StatusCode != 400 || !strings.Contains(webtest.Doc(t, res).Find(".field-error").Text(), "longer than 4000") {
		t.Fatal("a too long first message")
	}
	if n := e.wCount("conversations", "workspace_id = ?", ws.ID); n != 0 {
		t.Fatalf("nothing stored: %d", n)
	}
	res = e.PostForm(c, "/widget/"+a.PublicKey+"/session", url.Values{"start_token": {tok}, "text": {"Do you open on Sundays?"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("start with a message: %d", res.StatusCode)
	}
	d = webtest.Doc(t, e.Get(c, res.Header.Get("Location")))
	if d.Find("#timeline li.msg").Length() != 2 || d.Find("#timeline li.msg.user .bubble").Text() != "Do you open on Sundays?" || d.Find(".pending").Length() != 1 {
		t.Fatalf("chat after the first message: %d messages", d.Find("#timeline li.msg").Length())
	}
}
