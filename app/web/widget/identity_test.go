package widget_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/app/widget"
)

// Issue 12 item 1: a widget visitor id is not a password. Run on SQLite by default, and on
// PostgreSQL and Redis with DATABASE_URL and REDIS_URL.

// wIdentitySession posts a session with a visitor id and (when not "") its hash.
func (e *env) wIdentitySession(a *store.Assistant, visitor, hash string) (*http.Response, map[string]any) {
	e.T.Helper()
	body := map[string]any{"assistant": a.PublicKey, "variables": map[string]string{"email": "buyer@shop.test"}}
	if visitor != "" {
		body["visitor_id"] = visitor
	}
	if hash != "" {
		body["visitor_hash"] = hash
	}
	return e.WJSON("POST", "/api/widget/v1/sessions", body)
}

func (e *env) wSend(id, token, text string) {
	e.T.Helper()
	res, out := e.WJSON("POST", "/api/widget/v1/sessions/"+id+"/messages", map[string]any{"text": text}, "Authorization", "Bearer "+token)
	if res.StatusCode != 200 {
		e.T.Fatalf("send: %d %v", res.StatusCode, out)
	}
}

func wContents(out map[string]any) string {
	var b strings.Builder
	msgs, _ := out["messages"].([]any)
	for _, m := range msgs {
		c, _ := m.(map[string]any)["content"].(string)
		b.WriteString(c + "\n")
	}
	return b.String()
}

// The iframe page with only ?visitor= (today: the whole conversation and a fresh token).
func TestWidgetFrameVisitorIDAloneShowsNothing(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	c := wFrameClient()
	page := wFramePath(a, "visitor-0001")
	d := webtest.Doc(t, e.Get(c, page))
	startTok := d.Find(`input[name="start_token"]`).AttrOr("value", "")
	res := e.PostForm(c, "/widget/"+a.PublicKey+"/session", url.Values{"start_token": {startTok}, "prechat.email": {"buyer@shop.test"}})
	res.Body.Close()
	chat := res.Header.Get("Location")
	d = webtest.Doc(t, e.Get(c, chat))
	tok := d.Find(`#composer input[name="token"]`).AttrOr("value", "")
	convID := d.Find("#widget-chat").AttrOr("data-conversation", "")
	if tok == "" || convID == "" {
		t.Fatalf("the chat after the start: %q", chat)
	}
	res = e.PostForm(c, "/widget/"+a.PublicKey+"/messages", url.Values{"token": {tok}, "text": {"my order number is SECRET-4711"}})
	res.Body.Close()
	id, _ := strconv.ParseInt(convID, 10, 64)
	conv, err := e.App.Store.GetConversation(context.Background(), ws.ID, id)
	if err != nil {
		t.Fatal(err)
	}

	// Whoever knows a visitor id (the one in the URL, or the one the conversation is stored
	// under) gets a new chat: no earlier message, no token of that conversation.
	for _, visitor := range []string{"visitor-0001", conv.Customer} {
		res := e.Get(c, wFramePath(a, visitor))
		body := webtest.Body(t, res)
		if res.StatusCode != 200 || strings.Contains(body, "SECRET-4711") || strings.Contains(body, `id="widget-chat"`) || !strings.Contains(body, `id="start-form"`) {
			t.Fatalf("?visitor=%s alone: %d, shows the earlier conversation", visitor, res.StatusCode)
		}
		d := webtest.Doc(t, e.Get(c, wFramePath(a, visitor)))
		st, err := widget.Verify(e.App.Keys.Signing, d.Find(`input[name="start_token"]`).AttrOr("value", ""), widget.KindStart, conv.LastMessageAt)
		if err != nil || st.Visitor == conv.Customer || st.Visitor == visitor {
			t.Fatalf("the start token names visitor %q (%v): a new visitor id is made", st.Visitor, err)
		}
		if strings.Contains(body, "pw1.") && strings.Count(body, "pw1.") != 1 {
			t.Fatal("no session token on the start page")
		}
	}
	// A token that is not valid shows nothing either.
	for _, bad := range []string{"pw1.forged.token", widget.SessionToken([]byte("another key of thirty-two bytes!"), conv, conv.LastMessageAt)} {
		body := webtest.Body(t, e.Get(c, page+"&token="+url.QueryEscape(bad)))
		if strings.Contains(body, "SECRET-4711") || !strings.Contains(body, `id="start-form"`) {
			t.Fatal("a bad token shows the start form")
		}
	}
	// The token resumes (and is renewed).
	d = webtest.Doc(t, e.Get(c, page+"&token="+url.QueryEscape(tok)))
	if !strings.Contains(d.Find("#timeline").Text(), "SECRET-4711") || d.Find(`#composer input[name="token"]`).AttrOr("value", "") == "" {
		t.Fatal("the session token resumes the chat")
	}
}

// The public API with a visitor id and no hash (today: the same visitor id is used, so a
// conversation stored under it could be joined by whoever sends it).
func TestWidgetAPIVisitorIDAloneIsAnonymous(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	const customer = "customer-4711"
	res, out := e.wIdentitySession(a, customer, widget.VisitorHash(a.IdentitySecret, customer))
	if res.StatusCode != 201 || out["verified"] != true || out["visitor_id"] != customer {
		t.Fatalf("verified session: %d %v", res.StatusCode, out)
	}
	first := out["conversation_id"].(string)
	e.wSend(first, out["token"].(string), "my card ends in 4242")

	for name, hash := range map[string]string{"no hash": "", "wrong hash": strings.Repeat("ab", 32), "not hex": "zz", "hash of another id": widget.VisitorHash(a.IdentitySecret, "customer-0001")} {
		res, out := e.wIdentitySession(a, customer, hash)
		if res.StatusCode != 201 || out["conversation_id"] == first || out["visitor_id"] == customer || out["verified"] != false || out["resumed"] != false {
			t.Fatalf("%s: %d %v", name, res.StatusCode, out)
		}
		if strings.Contains(wContents(out), "4242") || len(out["messages"].([]any)) != 1 {
			t.Fatalf("%s: earlier messages returned: %v", name, out["messages"])
		}
		id, _ := strconv.ParseInt(out["conversation_id"].(string), 10, 64)
		conv, err := e.App.Store.GetConversation(context.Background(), ws.ID, id)
		if err != nil || conv.Customer == customer || conv.Customer != out["visitor_id"] {
			t.Fatalf("%s: stored under %q", name, conv.Customer)
		}
	}
	// A hash without a visitor id is a 400 naming visitor_id.
	res, out = e.WJSON("POST", "/api/widget/v1/sessions", map[string]any{"assistant": a.PublicKey, "visitor_hash": "ab"})
	if code, msg := webtest.WErr(out); res.StatusCode != 400 || code != "invalid_field" || !strings.HasPrefix(msg, "visitor_id:") {
		t.Fatalf("hash alone: %d %v", res.StatusCode, out)
	}
}

// HMAC resume, the 401 of identity_required, and rotation.
func TestWidgetAPIVerifiedIdentity(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	if len(a.IdentitySecret) != 64 {
		t.Fatalf("a new assistant has a secret: %q", a.IdentitySecret)
	}
	ctx := context.Background()
	const customer = "customer-4711"
	hash := widget.VisitorHash(a.IdentitySecret, customer)
	res, out := e.wIdentitySession(a, customer, hash)
	if res.StatusCode != 201 || out["resumed"] != false {
		t.Fatalf("first session: %d %v", res.StatusCode, out)
	}
	id := out["conversation_id"].(string)
	e.wSend(id, out["token"].(string), "where is parcel P-99?")

	// The same customer, proven, resumes the open conversation: its token and messages.
	res, out = e.wIdentitySession(a, customer, strings.ToUpper(hash))
	if res.StatusCode != 200 || out["conversation_id"] != id || out["resumed"] != true || out["verified"] != true || !strings.Contains(wContents(out), "parcel P-99") {
		t.Fatalf("resume: %d %v", res.StatusCode, out)
	}
	res, hist := e.WJSON("GET", "/api/widget/v1/sessions/"+id+"/messages", nil, "Authorization", "Bearer "+out["token"].(string))
	if res.StatusCode != 200 || !strings.Contains(wContents(hist), "parcel P-99") {
		t.Fatalf("the resumed token reads the conversation: %d", res.StatusCode)
	}
	// Another assistant's secret proves nothing here.
	other := e.WAssistant(ws, webtest.WOrigin)
	if res, out := e.wIdentitySession(a, customer, widget.VisitorHash(other.IdentitySecret, customer)); res.StatusCode != 201 || out["conversation_id"] == id {
		t.Fatalf("another assistant's hash: %d %v", res.StatusCode, out)
	}

	// identity_required: no id, no hash, a wrong hash are 401 naming visitor_hash; nothing stored.
	if _, err := e.App.Store.ModifyAssistant(ctx, ws.ID, a.ID, func(r *store.Assistant) error { r.IdentityRequired = true; return nil }); err != nil {
		t.Fatal(err)
	}
	before := e.wCount("conversations", "workspace_id = ?", ws.ID)
	for name, c := range map[string][2]string{"no visitor": {"", ""}, "no hash": {customer, ""}, "wrong hash": {customer, strings.Repeat("0", 64)}} {
		res, out := e.wIdentitySession(a, c[0], c[1])
		errObj, _ := out["error"].(map[string]any)
		if res.StatusCode != 401 || errObj["field"] != "visitor_hash" || !strings.HasPrefix(errObj["message"].(string), "visitor_hash:") {
			t.Fatalf("%s with identity required: %d %v", name, res.StatusCode, out)
		}
	}
	if n := e.wCount("conversations", "workspace_id = ?", ws.ID); n != before {
		t.Fatalf("refused sessions stored conversations: %d -> %d", before, n)
	}
	if res, out := e.wIdentitySession(a, customer, hash); res.StatusCode != 200 || out["conversation_id"] != id {
		t.Fatalf("a verified visitor is still served: %d %v", res.StatusCode, out)
	}
	// The iframe cannot prove an identity: it starts nothing for such an assistant.
	if res := e.Get(wFrameClient(), wFramePath(a, "visitor-0001")); res.StatusCode != 403 || !strings.Contains(webtest.Body(t, res), `id="widget-identity-only"`) {
		t.Fatalf("iframe of an assistant that requires identity: %d", res.StatusCode)
	}
	// ... but a session token still resumes there (widget-frame.js sends the stored one).
	conv, _ := strconv.ParseInt(id, 10, 64)
	cv, err := e.App.Store.GetConversation(ctx, ws.ID, conv)
	if err != nil {
		t.Fatal(err)
	}
	res = e.Get(wFrameClient(), wFramePath(a, "visitor-0001")+"&token="+url.QueryEscape(widget.SessionToken(e.App.Keys.Signing, cv, cv.LastMessageAt)))
	if body := webtest.Body(t, res); res.StatusCode != 200 || !strings.Contains(body, "parcel P-99") {
		t.Fatalf("a token on an assistant that requires identity: %d", res.StatusCode)
	}

	// Rotation: the old hash stops verifying at once (401 here), the new one resumes.
	secret, err := e.App.Store.RotateIdentitySecret(ctx, ws.ID, a.ID)
	if err != nil || secret == a.IdentitySecret || len(secret) != 64 {
		t.Fatalf("rotate: %v", err)
	}
	if res, _ := e.wIdentitySession(a, customer, hash); res.StatusCode != 401 {
		t.Fatalf("the old hash after rotation: %d", res.StatusCode)
	}
	if res, out := e.wIdentitySession(a, customer, widget.VisitorHash(secret, customer)); res.StatusCode != 200 || out["conversation_id"] != id {
		t.Fatalf("the new hash: %d %v", res.StatusCode, out)
	}
	// Without identity_required the old hash is anonymous: a new conversation, nothing of the old.
	if _, err := e.App.Store.ModifyAssistant(ctx, ws.ID, a.ID, func(r *store.Assistant) error { r.IdentityRequired = false; return nil }); err != nil {
		t.Fatal(err)
	}
	res, out = e.wIdentitySession(a, customer, hash)
	if res.StatusCode != 201 || out["conversation_id"] == id || out["visitor_id"] == customer || strings.Contains(wContents(out), "P-99") {
		t.Fatalf("the old hash, identity not required: %d %v", res.StatusCode, out)
	}
	// Another workspace cannot rotate this assistant's secret.
	ws2 := e.User("bob@example.com", "correct-horse")
	if _, err := e.App.Store.RotateIdentitySecret(ctx, ws2.ID, a.ID); err != store.ErrNotFound {
		t.Fatalf("rotate from another workspace: %v", err)
	}
}

// syncBuffer is a log sink that the server's goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Visitor ids and tokens never reach the logs (today every request line names ?visitor=).
func TestWidgetLogsHoldNoVisitorIDOrToken(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	var logs syncBuffer
	a.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := &env{webtest.Serve(t, a)}
	ws := e.User("ana@example.com", "correct-horse")
	as := e.WAssistant(ws, webtest.WOrigin)
	c := wFrameClient()
	const visitor = "visitor-logged-0001"
	d := webtest.Doc(t, e.Get(c, wFramePath(as, visitor)))
	res := e.PostForm(c, "/widget/"+as.PublicKey+"/session", url.Values{"start_token": {d.Find(`input[name="start_token"]`).AttrOr("value", "")}, "prechat.email": {"buyer@shop.test"}})
	res.Body.Close()
	chat := res.Header.Get("Location")
	d = webtest.Doc(t, e.Get(c, chat))
	tok := d.Find(`#composer input[name="token"]`).AttrOr("value", "")
	if tok == "" {
		t.Fatal("no chat")
	}
	secrets := []string{visitor, tok}
	if q, err := url.ParseQuery(strings.SplitN(chat, "?", 2)[1]); err == nil {
		secrets = append(secrets, q.Get("visitor"))
	}
	res = e.PostForm(c, "/widget/"+as.PublicKey+"/messages", url.Values{"token": {tok}, "text": {"hello"}}, "HX-Request", "true")
	d = webtest.Doc(t, res)
	src := d.Find(".pending").AttrOr("sse-connect", "")
	replyTok, _ := url.QueryUnescape(strings.SplitN(src, "?token=", 2)[1])
	secrets = append(secrets, replyTok)
	wStream(t, c, e.URL+src)
	// The API: a verified visitor id, its hash and the token in the Authorization header.
	const customer = "customer-logged-4711"
	hash := widget.VisitorHash(as.IdentitySecret, customer)
	_, out := e.wIdentitySession(as, customer, hash)
	apiTok := out["token"].(string)
	e.WJSON("GET", "/api/widget/v1/sessions/"+out["conversation_id"].(string)+"/messages?token="+apiTok, nil, "Authorization", "Bearer "+apiTok)
	// An error line (a 404 of a reply stream) names its URI too.
	e.Get(c, "/widget/"+as.PublicKey+"/reply/999999?token="+url.QueryEscape(replyTok)+"&visitor="+visitor).Body.Close()
	secrets = append(secrets, customer, hash, apiTok)

	got := logs.String()
	if !strings.Contains(got, "/widget/"+as.PublicKey) || !strings.Contains(got, "REDACTED") {
		t.Fatalf("the request lines are logged, redacted: %s", got)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(got, s) {
			t.Fatalf("the logs hold %q:\n%s", s, got)
		}
		if esc := url.QueryEscape(s); s != "" && strings.Contains(got, esc) {
			t.Fatalf("the logs hold %q (escaped):\n%s", esc, got)
		}
	}
}
