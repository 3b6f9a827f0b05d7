package widget_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/app/widget"
)

// Helpers of the widget tests carry a "w" prefix.

// wWantErr checks an error answer: status, code, and a message naming the problem.
func wWantErr(t *testing.T, res *http.Response, out map[string]any, status int, code, mentions string) {
	t.Helper()
	c, m := webtest.WErr(out)
	if res.StatusCode != status || c != code || !strings.Contains(m, mentions) {
		t.Fatalf("got %d %s %q, want %d %s mentioning %q", res.StatusCode, c, m, status, code, mentions)
	}
}

func (e *env) wCount(table, where string, args ...any) int {
	e.T.Helper()
	n, err := e.App.Store.DB.NewSelect().Table(table).Where(where, args...).Count(context.Background())
	if err != nil {
		e.T.Fatal(err)
	}
	return int(n)
}

func TestWidgetAPIAssistantAndCORS(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	path := "/api/widget/v1/assistants/" + a.PublicKey

	res, out := e.WJSON("GET", path, nil)
	if res.StatusCode != 200 || out["title"] != "Shop help" || out["color"] != "#0a7d5a" || out["text_color"] != "#ffffff" || out["first_message"] != "Hi! How can I help?" {
		t.Fatalf("assistant: %d %v", res.StatusCode, out)
	}
	fields := out["prechat_fields"].([]any)
	if len(fields) != 2 || fields[0].(map[string]any)["name"] != "email" || fields[0].(map[string]any)["required"] != true {
		t.Fatalf("prechat fields %v", fields)
	}
	if _, leaked := out["system_prompt"]; leaked {
		t.Fatal("the public API shows only what the widget needs")
	}

	// An allowed origin gets its own origin back (never *), with Vary: Origin.
	res, _ = e.WJSON("GET", path, nil, "Origin", webtest.WOrigin)
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != webtest.WOrigin || !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Origin") {
		t.Fatalf("allowed origin: %d %v", res.StatusCode, res.Header)
	}
	// Any other origin is refused, and gets no CORS header.
	for _, o := range []string{"https://evil.example.com", "https://shop.example.com.evil.test", "null", "http://shop.example.com"} {
		res, out = e.WJSON("GET", path, nil, "Origin", o)
		wWantErr(t, res, out, 403, "origin_not_allowed", "allowed origins")
		if res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s got a CORS header", o)
		}
	}
	// Preflights: per assistant for its route; for the session routes, an origin some enabled
	// assistant allows.
	for _, p := range []string{path, "/api/widget/v1/sessions", "/api/widget/v1/sessions/1/messages"} {
		res, _ = e.WJSON("OPTIONS", p, nil, "Origin", webtest.WOrigin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != webtest.WOrigin ||
			!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") || res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("preflight %s: %d %v", p, res.StatusCode, res.Header)
		}
		res, _ = e.WJSON("OPTIONS", p, nil, "Origin", "https://evil.example.com", "Access-Control-Request-Method", "POST")
		if res.StatusCode != 403 || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight from a foreign origin %s: %d", p, res.StatusCode)
		}
	}

	// Unknown and disabled assistants are 404 with a JSON error.
	res, out = e.WJSON("GET", "/api/widget/v1/assistants/pa_nope", nil)
	wWantErr(t, res, out, 404, "assistant_not_found", "no enabled assistant")
	if _, err := e.App.Store.DB.NewUpdate().Table("assistants").Set("disabled = ?", true).Where("id = ?", a.ID).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, out = e.WJSON("GET", path, nil)
	wWantErr(t, res, out, 404, "assistant_not_found", "no enabled assistant")
	res, out = e.WJSON("POST", "/api/widget/v1/sessions", map[string]any{"assistant": a.PublicKey, "variables": map[string]string{"email": "a@b.co"}})
	wWantErr(t, res, out, 404, "assistant_not_found", "no enabled assistant")
	res, _ = e.WJSON("OPTIONS", "/api/widget/v1/sessions", nil, "Origin", webtest.WOrigin, "Access-Control-Request-Method", "POST")
	if res.StatusCode != 403 {
		t.Fatalf("a disabled assistant's origin is not allowed any more: %d", res.StatusCode)
	}
	if n := e.wCount("conversations", "workspace_id = ?", ws.ID); n != 0 {
		t.Fatalf("nothing stored: %d conversations", n)
	}
}

func TestWidgetAPISessionErrors(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	ok := map[string]any{"assistant": a.PublicKey, "visitor_id": "visitor-0001", "variables": map[string]string{"email": "buyer@shop.test"}}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range ok {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name     string
		body     any
		hdr      []string
		status   int
		code     string
		mentions string
	}{
		{"not json", "assistant=x", nil, 400, "invalid_json", "not valid JSON"},
		{"no content type", nil, []string{"Content-Type", ""}, 415, "unsupported_media_type", "application/json"},
		{"an array", `[1]`, nil, 400, "invalid_json", "JSON object"},
		{"two objects", `{"assistant":"x"}{}`, nil, 400, "invalid_json", "single JSON object"},
		{"no assistant", with("assistant", nil), nil, 400, "invalid_field", "assistant: is required"},
		{"assistant not a string", with("assistant", 12), nil, 400, "invalid_field", "assistant: must be a string"},
		{"unknown assistant", with("assistant", "pa_unknown"), nil, 404, "assistant_not_found", "no enabled assistant"},
		{"unknown field", with("colour", "red"), nil, 400, "invalid_field", "colour: unknown field"},
		{"visitor not a string", with("visitor_id", 42), nil, 400, "invalid_field", "visitor_id: must be a string"},
		{"bad visitor", with("visitor_id", "a b"), nil, 400, "invalid_field", "visitor_id"},
		{"variables not an object", with("variables", []string{"x"}), nil, 400, "invalid_field", "variables: must be an object"},
		{"variable not a string", with("variables", map[string]any{"email": 5}), nil, 400, "invalid_field", "variables.email: must be a string"},
		{"missing required field", with("variables", map[string]any{"name": "Ann"}), nil, 400, "invalid_field", "variables.email: Your email is required"},
		{"no variables at all", with("variables", nil), nil, 400, "invalid_field", "variables.email: Your email is required"},
		{"bad email", with("variables", map[string]any{"email": "not-an-email"}), nil, 400, "invalid_field", "variables.email: Your email must be an email address"},
		{"variable outside the form", with("variables", map[string]any{"email": "a@b.co", "company": "ACME"}), nil, 400, "invalid_field", "variables.company"},
		{"foreign origin", ok, []string{"Origin", "https://evil.example.com"}, 403, "origin_not_allowed", "https://evil.example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if tc.name == "no content type" {
				body = "{}"
			}
			res, out := e.WJSON("POST", "/api/widget/v1/sessions", body, tc.hdr...)
			wWantErr(t, res, out, tc.status, tc.code, tc.mentions)
		})
	}
	if n := e.wCount("conversations", "workspace_id = ?", ws.ID); n != 0 {
		t.Fatalf("nothing stored: %d conversations", n)
	}
	// Field errors list every invalid field.
	_, out := e.WJSON("POST", "/api/widget/v1/sessions", with("variables", map[string]any{"email": "x", "zip": "1"}))
	fs, _ := out["error"].(map[string]any)["fields"].([]any)
	if len(fs) != 2 {
		t.Fatalf("fields %v", out)
	}

	// A good request: 201, the first message, the variables stored with their source, a
	// widget conversation. The visitor id came without a hash: it is not used (anonymous).
	res, out := e.WJSON("POST", "/api/widget/v1/sessions", with("variables", map[string]any{"email": " buyer@shop.test ", "name": "Ann"}), "Origin", webtest.WOrigin)
	if res.StatusCode != 201 || res.Header.Get("Access-Control-Allow-Origin") != webtest.WOrigin {
		t.Fatalf("create: %d %v", res.StatusCode, out)
	}
	idStr, isString := out["conversation_id"].(string)
	if !isString || out["token"] == "" || out["visitor_id"] == "visitor-0001" || !widget.ValidVisitorID(out["visitor_id"].(string)) || out["verified"] != false {
		t.Fatalf("create body %v", out)
	}
	msgs := out["messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["content"] != "Hi! How can I help?" || msgs[0].(map[string]any)["role"] != "assistant" {
		t.Fatalf("first message %v", msgs)
	}
	if _, isStr := msgs[0].(map[string]any)["id"].(string); !isStr {
		t.Fatal("message ids are strings")
	}
	id, _ := strconv.ParseInt(idStr, 10, 64)
	conv, err := e.App.Store.GetConversation(context.Background(), ws.ID, id)
	if err != nil || conv.Type != model.TypeWidget || conv.Customer != out["visitor_id"] || !conv.Charged {
		t.Fatalf("conversation %+v %v", conv, err)
	}
	vars, _ := e.App.Store.Variables(context.Background(), ws.ID, id)
	if len(vars) != 2 || vars[0].Name != "email" || vars[0].Value != "buyer@shop.test" || vars[0].Source != "prechat" {
		t.Fatalf("variables %+v", vars)
	}
	// Without a visitor id, one is made.
	res, out = e.WJSON("POST", "/api/widget/v1/sessions", with("visitor_id", nil))
	if res.StatusCode != 201 || !widget.ValidVisitorID(out["visitor_id"].(string)) {
		t.Fatalf("generated visitor id: %v", out)
	}
}

func TestWidgetAPIMessagesAndTokens(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	idA, tokA := e.WSession(a, "visitor-000A")
	idB, tokB := e.WSession(a, "visitor-000B")
	send := func(id, tok string, body any, hdr ...string) (*http.Response, map[string]any) {
		return e.WJSON("POST", "/api/widget/v1/sessions/"+id+"/messages", body, append([]string{"Authorization", "Bearer " + tok}, hdr...)...)
	}

	res, out := send(idA, tokA, map[string]string{"text": "Hello, do you ship to Lisbon?"}, "Origin", webtest.WOrigin)
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != webtest.WOrigin {
		t.Fatalf("send: %d %v", res.StatusCode, out)
	}
	m, r := out["message"].(map[string]any), out["reply"].(map[string]any)
	if m["role"] != "user" || m["content"] != "Hello, do you ship to Lisbon?" || r["role"] != "assistant" || !strings.Contains(r["content"].(string), "company") {
		t.Fatalf("message %v reply %v", m, r)
	}
	if _, err := time.Parse(time.RFC3339Nano, r["created_at"].(string)); err != nil || r["id"] == "" {
		t.Fatalf("reply fields %v", r)
	}
	// The history has the first message, the visitor's and the reply.
	res, out = e.WJSON("GET", "/api/widget/v1/sessions/"+idA+"/messages", nil, "Authorization", "Bearer "+tokA)
	if res.StatusCode != 200 || len(out["messages"].([]any)) != 3 || out["conversation_id"] != idA || out["ended"] != false {
		t.Fatalf("history: %d %v", res.StatusCode, out)
	}

	convB, _ := strconv.ParseInt(idB, 10, 64)
	before := e.wCount("messages", "conversation_id = ?", convB)
	expired := widget.Sign(e.App.Keys.Signing, widget.Claims{Kind: widget.KindSession, WorkspaceID: ws.ID, AssistantID: a.ID, ConversationID: convB, Expires: time.Now().Add(-time.Minute).Unix()})
	testConv := &store.Conversation{WorkspaceID: ws.ID, AssistantID: &a.ID, Type: model.TypeTest, Customer: "test:ana"}
	if err := e.App.Store.CreateConversation(context.Background(), testConv); err != nil {
		t.Fatal(err)
	}
	testTok := widget.SessionToken(e.App.Keys.Signing, testConv, time.Now())
	startTok := widget.StartToken(e.App.Keys.Signing, a, "visitor-000B", time.Now())
	// Token misuse: no token, a broken one, an expired one, a token of another conversation
	// (404: a token sees only its own conversation, whether the other exists or not), a token
	// for a conversation that is not a widget one, a start token.
	misuse := []struct {
		name, id, auth string
		status         int
		code           string
	}{
		{"no token", idB, "", 401, "missing_token"},
		{"not bearer", idB, "Basic " + tokB, 401, "invalid_token"},
		{"garbage", idB, "Bearer pw1.nope.nope", 401, "invalid_token"},
		{"tampered", idB, "Bearer " + tokB[:len(tokB)-2] + "xx", 401, "invalid_token"},
		{"expired", idB, "Bearer " + expired, 401, "token_expired"},
		{"A's token on B", idB, "Bearer " + tokA, 404, "not_found"},
		{"A's token on a missing id", "999999", "Bearer " + tokA, 404, "not_found"},
		{"A's token on a bad id", "abc", "Bearer " + tokA, 404, "not_found"},
		{"token of a test conversation", strconv.FormatInt(testConv.ID, 10), "Bearer " + testTok, 404, "not_found"},
		{"start token", idB, "Bearer " + startTok, 401, "invalid_token"},
	}
	for _, tc := range misuse {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"Authorization", tc.auth}
			res, out := e.WJSON("POST", "/api/widget/v1/sessions/"+tc.id+"/messages", map[string]string{"text": "let me in"}, hdr...)
			wWantErr(t, res, out, tc.status, tc.code, "")
			res, out = e.WJSON("GET", "/api/widget/v1/sessions/"+tc.id+"/messages", nil, hdr...)
			wWantErr(t, res, out, tc.status, tc.code, "")
			if strings.Contains(fmtAny(out), "Hi! How can I help?") {
				t.Fatal("no history leaks")
			}
		})
	}
	if n := e.wCount("messages", "conversation_id = ?", convB); n != before {
		t.Fatalf("B changed: %d messages, was %d", n, before)
	}

	// Bad messages: 400 naming the problem, nothing stored.
	convA, _ := strconv.ParseInt(idA, 10, 64)
	beforeA := e.wCount("messages", "conversation_id = ?", convA)
	bad := []struct {
		name     string
		body     any
		mentions string
	}{
		{"empty", map[string]string{"text": "   "}, "text: the message is empty"},
		{"too long", map[string]string{"text": strings.Repeat("é", 4001)}, "longer than 4000 characters"},
		{"missing", map[string]string{}, "text: is required"},
		{"wrong type", map[string]any{"text": 42}, "text: must be a string"},
		{"unknown field", map[string]any{"text": "hi", "role": "assistant"}, "role: unknown field"},
		{"not json", "text=hi", "not valid JSON"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			res, out := send(idA, tokA, tc.body)
			c, msg := webtest.WErr(out)
			if res.StatusCode != 400 || !strings.Contains(msg, tc.mentions) || (c != "invalid_field" && c != "invalid_json") {
				t.Fatalf("%d %s %q", res.StatusCode, c, msg)
			}
		})
	}
	res, out = send(idA, tokA, map[string]string{"text": "hi"}, "Origin", "https://evil.example.com")
	wWantErr(t, res, out, 403, "origin_not_allowed", "evil")
	if n := e.wCount("messages", "conversation_id = ?", convA); n != beforeA {
		t.Fatalf("bad messages stored: %d, was %d", n, beforeA)
	}
	// A 4,000-character message is fine.
	if res, out := send(idA, tokA, map[string]string{"text": strings.Repeat("é", 4000)}); res.StatusCode != 200 {
		t.Fatalf("4000 characters: %d %v", res.StatusCode, out)
	}
}

func fmtAny(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestWidgetAPIStreamsTheReply(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	id, tok := e.WSession(a, "visitor-0001")
	req, _ := http.NewRequest("POST", e.URL+"/api/widget/v1/sessions/"+id+"/messages", strings.NewReader(`{"text":"Hello"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Origin", webtest.WOrigin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" || res.Header.Get("Access-Control-Allow-Origin") != webtest.WOrigin {
		t.Fatalf("stream: %d %v", res.StatusCode, res.Header)
	}
	sc := bufio.NewScanner(res.Body)
	var events []string
	var deltas strings.Builder
	var done map[string]any
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
			events = append(events, event)
		case strings.HasPrefix(line, "data: ") && event == "delta":
			var d string
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("delta is a JSON string: %v", err)
			}
			deltas.WriteString(d)
		case strings.HasPrefix(line, "data: ") && event == "done":
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &done); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(events) < 3 || events[0] != "message" || events[1] != "delta" || events[len(events)-1] != "done" {
		t.Fatalf("events %v", events)
	}
	reply := done["reply"].(map[string]any)
	if reply["content"] != deltas.String() || reply["role"] != "assistant" || done["message"].(map[string]any)["content"] != "Hello" {
		t.Fatalf("done %v, deltas %q", done, deltas.String())
	}
}

func TestWidgetRateLimits(t *testing.T) {
	// The test client stands behind a trusted proxy on loopback, whose X-Forwarded-For names
	// the visitors (see TestWidgetRateLimitClientAddress for the untrusted case).
	cfg := testkit.Config(t)
	_, lo, _ := net.ParseCIDR("127.0.0.0/8")
	_, v6, _ := net.ParseCIDR("::1/128")
	cfg.TrustedProxies = []*net.IPNet{lo, v6}
	e := &env{webtest.WhEnv(t, cfg)}
	e.App.Config.WidgetRateSessions = 2
	e.App.Config.WidgetRateMessages = 3
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	b := e.WAssistant(ws, webtest.WOrigin)
	body := func(as *store.Assistant) map[string]any {
		return map[string]any{"assistant": as.PublicKey, "variables": map[string]string{"email": "a@b.co"}}
	}
	for i := range 2 {
		if res, out := e.WJSON("POST", "/api/widget/v1/sessions", body(a)); res.StatusCode != 201 {
			t.Fatalf("session %d: %d %v", i, res.StatusCode, out)
		}
	}
	res, out := e.WJSON("POST", "/api/widget/v1/sessions", body(a), "Origin", webtest.WOrigin)
	wWantErr(t, res, out, 429, "rate_limited", "at most 2 a minute")
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	if res.Header.Get("Access-Control-Allow-Origin") != webtest.WOrigin || !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Fatal("a page can read the 429 and its Retry-After")
	}
	if n := e.wCount("conversations", "assistant_id = ?", a.ID); n != 2 {
		t.Fatalf("the refused session is not stored: %d", n)
	}
	// The limit is per (client IP, assistant).
	if res, _ := e.WJSON("POST", "/api/widget/v1/sessions", body(b)); res.StatusCode != 201 {
		t.Fatalf("another assistant: %d", res.StatusCode)
	}
	if res, _ := e.WJSON("POST", "/api/widget/v1/sessions", body(a), "X-Forwarded-For", "203.0.113.9"); res.StatusCode != 201 {
		t.Fatalf("another client IP: %d", res.StatusCode)
	}

	id, tok := e.WSession(b, "visitor-0001", "X-Forwarded-For", "203.0.113.10")
	conv, _ := strconv.ParseInt(id, 10, 64)
	for i := range 3 {
		res, out := e.WJSON("POST", "/api/widget/v1/sessions/"+id+"/messages", map[string]string{"text": "hi " + strconv.Itoa(i)}, "Authorization", "Bearer "+tok)
		if res.StatusCode != 200 {
			t.Fatalf("message %d: %d %v", i, res.StatusCode, out)
		}
	}
	before := e.wCount("messages", "conversation_id = ?", conv)
	res, out = e.WJSON("POST", "/api/widget/v1/sessions/"+id+"/messages", map[string]string{"text": "one more"}, "Authorization", "Bearer "+tok)
	wWantErr(t, res, out, 429, "rate_limited", "at most 3 a minute")
	if res.Header.Get("Retry-After") == "" || e.wCount("messages", "conversation_id = ?", conv) != before {
		t.Fatal("429 with Retry-After, nothing stored")
	}
}

func TestWidgetAPIIdleSessionEnds(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	id, tok := e.WSession(a, "visitor-0001")
	conv, _ := strconv.ParseInt(id, 10, 64)
	// The last message was 31 minutes ago (PARLEY_WIDGET_IDLE is 30m).
	if _, err := e.App.Store.DB.NewUpdate().Table("conversations").Set("last_message_at = ?", time.Now().Add(-31*time.Minute).UTC()).Where("id = ?", conv).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := e.wCount("messages", "conversation_id = ?", conv)
	res, out := e.WJSON("POST", "/api/widget/v1/sessions/"+id+"/messages", map[string]string{"text": "still there?"}, "Authorization", "Bearer "+tok)
	wWantErr(t, res, out, 410, "session_ended", "30 minutes")
	got, _ := e.App.Store.GetConversation(context.Background(), ws.ID, conv)
	if got.EndedAt == nil || e.wCount("messages", "conversation_id = ?", conv) != before {
		t.Fatal("the idle conversation is ended and nothing is stored")
	}
	// The history stays readable, marked ended.
	res, out = e.WJSON("GET", "/api/widget/v1/sessions/"+id+"/messages", nil, "Authorization", "Bearer "+tok)
	if res.StatusCode != 200 || out["ended"] != true {
		t.Fatalf("history of an ended session: %d %v", res.StatusCode, out)
	}
	// A session of the same visitor is a new conversation.
	id2, _ := e.WSession(a, "visitor-0001")
	if id2 == id {
		t.Fatal("a new conversation starts")
	}
}

// Redis down: a visitor's message still gets its reply, JSON and streamed. The reply lock is
// an economy, not a condition: without Redis the reply is produced and stored once.
func TestWidgetAPIRepliesWhileRedisIsDown(t *testing.T) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := &env{webtest.WhEnv(t, testkit.ConfigFor(t, testkit.NewDB(t), "redis://"+m.Addr()+"/0"))}
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	id, tok := e.WSession(a, "visitor-redis-down")
	m.Close()
	res, out := e.WJSON("POST", "/api/widget/v1/sessions/"+id+"/messages", map[string]string{"text": "Are you open on Sunday?"},
		"Authorization", "Bearer "+tok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("send with Redis down: %d %v", res.StatusCode, out)
	}
	r, _ := out["reply"].(map[string]any)
	if r == nil || r["role"] != "assistant" || r["content"] == "" {
		t.Fatalf("reply %v", out)
	}
	// Streamed: the reply arrives as events and ends with the stored message.
	req, _ := http.NewRequest("POST", e.URL+"/api/widget/v1/sessions/"+id+"/messages", strings.NewReader(`{"text":"And on Monday?"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tok)
	sres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(sres.Body)
	sres.Body.Close()
	if sres.StatusCode != http.StatusOK || strings.Contains(string(raw), "event: error") || !strings.Contains(string(raw), "assistant") {
		t.Fatalf("stream with Redis down: %d %s", sres.StatusCode, raw)
	}
	conv, _ := strconv.ParseInt(id, 10, 64)
	if n := e.wCount("messages", "conversation_id = ? AND role = 'assistant'", conv); n != 3 {
		t.Fatalf("%d assistant messages (first message and two replies expected)", n)
	}
	if n := e.wCount("usage_ledger", "conversation_id = ?", conv); n != 2 {
		t.Fatalf("%d ledger rows, want 2", n)
	}
}

// The widget's rate limits count the client: without trusted proxies that is the connection's
// address, whatever X-Forwarded-For says (a visitor could otherwise pick a new address per
// request); behind a trusted proxy it is the address the proxy forwards.
func TestWidgetRateLimitClientAddress(t *testing.T) {
	start := func(e *env, a *store.Assistant, xff string) int {
		res, _ := e.WJSON("POST", "/api/widget/v1/sessions", map[string]any{"assistant": a.PublicKey, "visitor_id": fmt.Sprintf("visitor-%x", xff),
			"variables": map[string]string{"email": "buyer@shop.test"}}, "X-Forwarded-For", xff, "X-Real-IP", xff)
		return res.StatusCode
	}
	cfg := testkit.Config(t)
	cfg.WidgetRateSessions = 1
	e := &env{webtest.WhEnv(t, cfg)}
	a := e.WAssistant(e.User("ana@example.com", "correct-horse"), webtest.WOrigin)
	if c := start(e, a, "203.0.113.1"); c != http.StatusCreated {
		t.Fatalf("first session: %d", c)
	}
	if c := start(e, a, "203.0.113.2"); c != http.StatusTooManyRequests {
		t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", c)
	}

	cfg = testkit.Config(t)
	cfg.WidgetRateSessions = 1
	_, lo, _ := net.ParseCIDR("127.0.0.0/8")
	_, v6, _ := net.ParseCIDR("::1/128")
	cfg.TrustedProxies = []*net.IPNet{lo, v6}
	e = &env{webtest.WhEnv(t, cfg)}
	a = e.WAssistant(e.User("ana@example.com", "correct-horse"), webtest.WOrigin)
	if c := start(e, a, "203.0.113.1"); c != http.StatusCreated {
		t.Fatalf("behind a trusted proxy, first client: %d", c)
	}
	if c := start(e, a, "203.0.113.2"); c != http.StatusCreated {
		t.Fatalf("behind a trusted proxy, another client shares the first one's limit: %d", c)
	}
	if c := start(e, a, "203.0.113.1"); c != http.StatusTooManyRequests {
		t.Fatalf("behind a trusted proxy, the first client again: %d", c)
	}
}
