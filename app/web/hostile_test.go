package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/app/widget"
)

// The hostile-string corpus: strings an attacker (or an unlucky customer) sends through every
// channel. They must be stored as sent (or refused with a precise 4xx, nothing half-written),
// shown as text everywhere, and neutralised in every CSV cell.
//
// Helpers of these tests carry an "hs" prefix.

type hsItem struct{ name, s string }

var hsCorpus = []hsItem{
	{"script", `<script>alert(1)</script>`},
	{"img", `"><img src=x onerror=alert(1)>`},
	{"hxdiv", `<div hx-get="/logout" hx-trigger="load">x</div>`},
	{"hxattr", `hx-post="/conversations/bulk-delete"`},
	{"jsurl", `javascript:alert(1)`},
	{"hyperlink", `=HYPERLINK("http://evil.example","click")`},
	{"plus", `+1-2`},
	{"minus", `-2+3`},
	{"at", `@SUM(A1)`},
	{"tab", "\t=1"},
	{"cr", "\r=1"},
	{"rlo", "invoice\u202Efdp.exe"},
	{"zwj", "family \U0001F468\u200D\U0001F469\u200D\U0001F467 zero\u200Bwidth"},
	{"emoji", "4-byte \U0001F600 emoji"},
	{"invalid", "bad \xff\xfe bytes"},
	{"overlong", "overlong \xc0\xaf slash"},
	{"nul", "nul \x00 byte"},
	{"long", "L" + strings.Repeat("0123456789", 1000)},
}

// hsValid is what Go's JSON decoder, and Parley's form handling, make of invalid UTF-8: each
// invalid byte becomes U+FFFD.
func hsValid(s string) string { return strings.Map(func(r rune) rune { return r }, s) }

// hsText is what a text channel (widget, Test Chat, pre-chat form, assistant settings) stores
// of s: valid UTF-8, trimmed; ok is false when the channel must refuse it (a NUL byte, or
// longer than max characters).
func hsText(s string, max int) (string, bool) {
	v := strings.TrimSpace(hsValid(s))
	if strings.ContainsRune(v, 0) || utf8.RuneCountInString(v) > max {
		return "", false
	}
	return v, true
}

// hsWhatsApp is what a WhatsApp message (already sent by the customer: it cannot be refused)
// stores of s: invalid bytes and NUL become U+FFFD.
func hsWhatsApp(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0 {
			return utf8.RuneError
		}
		return r
	}, s)
}

// hsJSONString quotes s as a JSON string, keeping invalid UTF-8 bytes raw (as a client that
// does not check would send them).
func hsJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// hsFix is a workspace whose every channel received the corpus.
type hsFix struct {
	e        *env
	ws       *store.Workspace
	c        *http.Client // logged in
	key      string       // API key
	bot      *store.Assistant
	visitor  string           // the widget conversation's visitor
	wToken   string           // its session token (only a token shows a widget conversation)
	widget   int64            // the widget conversation with the corpus as messages
	test     int64            // the Test Chat conversation with the corpus as messages
	whatsapp int64            // a WhatsApp conversation with the corpus as messages
	hostileA map[string]int64 // assistants named after corpus items
	requests *hsRecorder
}

// hsRecorder remembers every path the server was asked for.
type hsRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (r *hsRecorder) seen(sub string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.paths {
		if strings.Contains(p, sub) {
			out = append(out, p)
		}
	}
	return out
}

func hsEnv(t *testing.T) (*env, *hsRecorder) {
	t.Helper()
	cfg := testkit.Config(t)
	cfg.WhatsAppAppSecret, cfg.WhatsAppVerifyToken = webtest.WhSecret, webtest.WhVerify
	cfg.WidgetRateSessions, cfg.WidgetRateMessages = 1000, 1000
	a := testkit.App(t, cfg)
	ws := web.New(a)
	rec := &hsRecorder{}
	h := ws.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.paths = append(rec.paths, r.Method+" "+r.URL.Path)
		rec.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(ws.Close)
	return &env{&webtest.Env{T: t, App: a, Srv: srv, URL: srv.URL}}, rec
}

// hsJSON sends a raw JSON body.
func (e *env) hsJSON(method, path, body string, hdr ...string) (int, map[string]any, string) {
	e.T.Helper()
	r := e.azDo(nil, method, path, strings.NewReader(body), append([]string{"Content-Type", "application/json"}, hdr...)...)
	var out map[string]any
	_ = json.Unmarshal([]byte(r.body), &out)
	return r.status, out, r.body
}

func (e *env) hsCount(table string, ws int64) int {
	e.T.Helper()
	n, err := e.App.Store.DB.NewSelect().Table(table).Where("workspace_id = ?", ws).Count(context.Background())
	if err != nil {
		e.T.Fatal(err)
	}
	return int(n)
}

// hsSetup pushes the corpus through every channel and checks what was stored.
func hsSetup(t *testing.T) *hsFix {
	e, rec := hsEnv(t)
	ctx := context.Background()
	f := &hsFix{e: e, requests: rec, hostileA: map[string]int64{}}
	f.ws = e.User("ana@example.com", "correct-horse")
	f.c = e.Client()
	e.Login(f.c, "ana@example.com", "correct-horse")
	key, prefix, hash, _ := auth.NewAPIKey()
	if _, err := e.App.Store.CreateAPIKey(ctx, f.ws.ID, "corpus", prefix, hash, nil); err != nil {
		t.Fatal(err)
	}
	f.key = key
	bearer := []string{"Authorization", "Bearer " + key}

	// ---- assistant settings, through the API ----
	st, out, raw := e.hsJSON("POST", "/api/v1/assistants", `{"name":"Shop bot","model":"gpt-4o-mini","first_message":"Hi!",
		"variables":[{"name":"email","type":"email","description":"email","required":true},{"name":"note","type":"text","description":"a note"}],
		"prechat_fields":[{"name":"email","label":"Your email","type":"email","required":true},{"name":"note","label":"Note","type":"text"}],
		"allowed_origins":["https://shop.example.com"]}`, bearer...)
	if st != 201 {
		t.Fatalf("create the bot: %d %s", st, raw)
	}
	botID := int64(out["id"].(float64))
	bot, err := e.App.Store.AssistantByID(ctx, f.ws.ID, botID)
	if err != nil {
		t.Fatal(err)
	}
	f.bot = bot
	for _, it := range hsCorpus {
		before := e.hsCount("assistants", f.ws.ID)
		// A variable name is an identifier: every hostile string is refused, naming the field.
		st, out, raw := e.hsJSON("POST", "/api/v1/assistants", `{"name":"x","model":"m","variables":[{"name":`+hsJSONString(it.s)+`,"type":"text"}]}`, bearer...)
		if code, msg := webtest.WErr(out); st != 400 || code != "invalid_field" || !strings.Contains(msg, "variables[0].name") {
			t.Errorf("%s as a variable name: %d %s", it.name, st, raw)
		}
		// Names and pre-chat labels are free text: stored as sent (trimmed, valid UTF-8), or
		// refused with the field named.
		body := `{"name":` + hsJSONString(it.s) + `,"model":"gpt-4o-mini","variables":[{"name":"note","type":"text","description":"d"}],
			"prechat_fields":[{"name":"note","label":` + hsJSONString(it.s) + `,"type":"text"}]}`
		st, out, raw = e.hsJSON("POST", "/api/v1/assistants", body, bearer...)
		name, okName := hsText(it.s, 100)
		if !okName {
			if code, msg := webtest.WErr(out); st != 400 || code != "invalid_field" || !strings.HasPrefix(msg, "name: ") {
				t.Errorf("%s as a name: %d %s, want 400 naming the name", it.name, st, raw)
			}
			if n := e.hsCount("assistants", f.ws.ID); n != before {
				t.Errorf("%s: a refused assistant was stored", it.name)
			}
			continue
		}
		if st != 201 {
			t.Errorf("%s as a name: %d %s", it.name, st, raw)
			continue
		}
		id := int64(out["id"].(float64))
		row, err := e.App.Store.AssistantByID(ctx, f.ws.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		var fields []struct{ Label string }
		_ = json.Unmarshal([]byte(webtest.ColJSON(t, row.PrechatFields)), &fields)
		if row.Name != name || len(fields) != 1 || fields[0].Label != name {
			t.Errorf("%s: stored name %q label %+v, want %q", it.name, row.Name, fields, name)
		}
		f.hostileA[it.name] = id
		// A conversation with a cost, so that the analytics' top list names the assistant.
		// (The list shows 10: the names the CSV test looks for cost most.)
		aid, cost := id, int64(1000000)
		if it.name == "hyperlink" || it.name == "minus" || it.name == "at" {
			cost = 5000000
		}
		cv := &store.Conversation{WorkspaceID: f.ws.ID, AssistantID: &aid, Type: model.TypeWidget, Customer: "visitor-" + it.name, CostNanos: cost, MessageCount: 1}
		if err := e.App.Store.CreateConversation(ctx, cv); err != nil {
			t.Fatal(err)
		}
	}

	// ---- the widget's JSON API: pre-chat variables, then messages ----
	convsBefore := e.hsCount("conversations", f.ws.ID)
	for _, it := range hsCorpus {
		body := `{"assistant":"` + bot.PublicKey + `","variables":{"email":"v@shop.test","note":` + hsJSONString(it.s) + `}}`
		st, out, raw := e.hsJSON("POST", "/api/widget/v1/sessions", body)
		want, ok := hsText(it.s, 500)
		if !ok {
			if code, msg := webtest.WErr(out); st != 400 || code != "invalid_field" || !strings.Contains(msg, "variables.note") {
				t.Errorf("widget pre-chat %s: %d %s, want 400 naming variables.note", it.name, st, raw)
			}
			if it.name == "nul" && !strings.Contains(raw, "NUL") {
				t.Errorf("widget pre-chat with a NUL: the message says why: %s", raw)
			}
			if n := e.hsCount("conversations", f.ws.ID); n != convsBefore {
				t.Errorf("widget pre-chat %s: refused, yet %d conversations were stored", it.name, n-convsBefore)
			}
			continue
		}
		if st != 201 {
			t.Errorf("widget pre-chat %s: %d %s", it.name, st, raw)
			continue
		}
		convsBefore++
		id, _ := strconv.ParseInt(out["conversation_id"].(string), 10, 64)
		vars, err := e.App.Store.Variables(ctx, f.ws.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, v := range vars {
			got[v.Name] = v.Value
		}
		if got["note"] != want {
			t.Errorf("widget pre-chat %s: stored %q, want %q", it.name, got["note"], want)
		}
	}
	st, out, raw = e.hsJSON("POST", "/api/widget/v1/sessions", `{"assistant":"`+bot.PublicKey+`","visitor_id":"visitor-corpus-01","variables":{"email":"v@shop.test","note":"<b>bold</b>"}}`)
	if st != 201 {
		t.Fatalf("widget session: %d %s", st, raw)
	}
	f.visitor = "visitor-corpus-01"
	f.widget, _ = strconv.ParseInt(out["conversation_id"].(string), 10, 64)
	tok := out["token"].(string)
	f.wToken = tok
	for _, it := range hsCorpus {
		before := e.hsCount("messages", f.ws.ID)
		st, out, raw := e.hsJSON("POST", "/api/widget/v1/sessions/"+webtest.Itoa(f.widget)+"/messages", `{"text":`+hsJSONString(it.s)+`}`, "Authorization", "Bearer "+tok)
		want, ok := hsText(it.s, 4000)
		if !ok {
			if code, msg := webtest.WErr(out); st != 400 || code != "invalid_field" || !strings.HasPrefix(msg, "text") {
				t.Errorf("widget message %s: %d %.300s, want 400 naming text", it.name, st, raw)
			}
			if n := e.hsCount("messages", f.ws.ID); n != before {
				t.Errorf("widget message %s: refused, yet stored", it.name)
			}
			continue
		}
		msg, _ := out["message"].(map[string]any)
		if st != 200 || msg == nil || msg["content"] != want {
			t.Errorf("widget message %s: %d %.300s, want content %q", it.name, st, raw, want)
		}
	}
	f.hsMessages(t, f.widget, "user", func(s string) (string, bool) { return hsText(s, 4000) })

	// ---- the widget's iframe: the same messages as form posts, answered with HTML ----
	st, out, raw = e.hsJSON("POST", "/api/widget/v1/sessions", `{"assistant":"`+bot.PublicKey+`","visitor_id":"visitor-corpus-02","variables":{"email":"v@shop.test"}}`)
	if st != 201 {
		t.Fatalf("widget session: %d %s", st, raw)
	}
	frameConv, _ := strconv.ParseInt(out["conversation_id"].(string), 10, 64)
	cv, err := e.App.Store.GetConversation(ctx, f.ws.ID, frameConv)
	if err != nil {
		t.Fatal(err)
	}
	frameTok := widget.SessionToken(e.App.Keys.Signing, cv, time.Now())
	for _, it := range hsCorpus {
		before := e.hsCount("messages", f.ws.ID)
		res := e.PostForm(e.Client(), "/widget/"+bot.PublicKey+"/messages", url.Values{"token": {frameTok}, "text": {it.s}}, "HX-Request", "true")
		b := webtest.Body(t, res)
		if _, ok := hsText(it.s, 4000); !ok {
			if res.StatusCode != 400 || !strings.HasPrefix(b, "text: ") || e.hsCount("messages", f.ws.ID) != before {
				t.Errorf("widget frame message %s: %d %.200q, want 400 and nothing stored", it.name, res.StatusCode, b)
			}
			continue
		}
		// The fragment shows the message escaped: none of the corpus's markup survives.
		for _, markup := range []string{"<script>alert", "<img src=x", `<div hx-get="/logout"`, ` hx-post="/conversations/bulk-delete"`} {
			if strings.Contains(b, markup) {
				t.Errorf("widget frame message %s: the fragment holds %q unescaped", it.name, markup)
			}
		}
		if res.StatusCode != 200 {
			t.Errorf("widget frame message %s: %d %.300s", it.name, res.StatusCode, b)
		}
	}
	f.hsMessages(t, frameConv, "user", func(s string) (string, bool) { return hsText(s, 4000) })

	// ---- Test Chat: pre-chat form and messages, as forms ----
	tc := e.CSRF(f.c, "/test-chat?assistant="+webtest.Itoa(bot.ID))
	for _, it := range hsCorpus {
		before := e.hsCount("conversations", f.ws.ID)
		res := e.PostForm(f.c, "/test-chat/sessions", url.Values{"_csrf": {tc}, "assistant_id": {webtest.Itoa(bot.ID)}, "prechat.email": {"t@shop.test"}, "prechat.note": {it.s}})
		res.Body.Close()
		want, ok := hsText(it.s, 500)
		if !ok {
			if res.StatusCode != 400 || e.hsCount("conversations", f.ws.ID) != before {
				t.Errorf("test chat pre-chat %s: %d, want 400 and nothing stored", it.name, res.StatusCode)
			}
			continue
		}
		loc := res.Header.Get("Location")
		id, _ := strconv.ParseInt(strings.TrimPrefix(loc, "/test-chat/"), 10, 64)
		if res.StatusCode != 303 || id == 0 {
			t.Errorf("test chat pre-chat %s: %d %q", it.name, res.StatusCode, loc)
			continue
		}
		vars, _ := e.App.Store.Variables(ctx, f.ws.ID, id)
		got := ""
		for _, v := range vars {
			if v.Name == "note" {
				got = v.Value
			}
		}
		if got != want {
			t.Errorf("test chat pre-chat %s: stored %q, want %q", it.name, got, want)
		}
		f.test = id
	}
	tc = e.CSRF(f.c, "/test-chat/"+webtest.Itoa(f.test))
	for _, it := range hsCorpus {
		before := e.hsCount("messages", f.ws.ID)
		res := e.PostForm(f.c, "/test-chat/"+webtest.Itoa(f.test)+"/messages", url.Values{"_csrf": {tc}, "text": {it.s}}, "HX-Request", "true")
		b := webtest.Body(t, res)
		if _, ok := hsText(it.s, 4000); !ok {
			if res.StatusCode != 400 || !strings.HasPrefix(b, "Cannot send: ") || e.hsCount("messages", f.ws.ID) != before {
				t.Errorf("test chat message %s: %d %.200q, want 400 and nothing stored", it.name, res.StatusCode, b)
			}
			continue
		}
		if res.StatusCode != 200 {
			t.Errorf("test chat message %s: %d %.300s", it.name, res.StatusCode, b)
		}
	}
	f.hsMessages(t, f.test, "user", func(s string) (string, bool) { return hsText(s, 4000) })

	// ---- WhatsApp: signed webhooks, the text as the body and as the profile name ----
	mux := webtest.WhWorker(t, e.App, f.ws.ID)
	for i, it := range hsCorpus {
		wa := strconv.Itoa(4915100000 + i)
		body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{
			"messaging_product":"whatsapp","metadata":{"phone_number_id":"` + webtest.WhPhoneID + `"},
			"contacts":[{"profile":{"name":` + hsJSONString(it.s) + `},"wa_id":"` + wa + `"}],
			"messages":[{"from":"` + wa + `","id":"wamid.hs-` + it.name + `","timestamp":"1749416383","type":"text","text":{"body":` + hsJSONString(it.s) + `}}]}}]}]}`)
		if c := webtest.WhSigned(t, e.Env, body); c != http.StatusOK {
			t.Errorf("webhook %s: %d", it.name, c)
		}
	}
	webtest.WhDrain(t, e.App, mux)
	var waConvs []store.Conversation
	if err := e.App.Store.DB.NewSelect().Model(&waConvs).Where("workspace_id = ? AND type = ?", f.ws.ID, model.TypeWhatsApp).Order("id").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(waConvs) != len(hsCorpus) {
		t.Fatalf("%d WhatsApp conversations, want %d", len(waConvs), len(hsCorpus))
	}
	for i, it := range hsCorpus {
		cv := waConvs[i]
		if want := strings.TrimSpace(hsWhatsApp(it.s)); cv.CustomerName != want {
			t.Errorf("WhatsApp profile name %s: stored %q, want %q", it.name, cv.CustomerName, want)
		}
		m, err := e.App.Store.MessageByProviderID(ctx, f.ws.ID, "wamid.hs-"+it.name)
		if err != nil {
			t.Errorf("WhatsApp message %s: %v", it.name, err)
			continue
		}
		if want := hsWhatsApp(it.s); m.Content != want {
			t.Errorf("WhatsApp message %s: stored %q, want %q", it.name, m.Content, want)
		}
		// One conversation holds the whole corpus, for the detail page.
		if i > 0 {
			cp := &store.Message{WorkspaceID: f.ws.ID, ConversationID: waConvs[0].ID, Role: "user", Content: m.Content}
			if _, err := e.App.Conversations.AddMessage(ctx, cp); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.whatsapp = waConvs[0].ID
	return f
}

// hsMessages checks that conversation id holds, in order, the role's messages the corpus
// should have left.
func (f *hsFix) hsMessages(t *testing.T, id int64, role string, want func(string) (string, bool)) {
	t.Helper()
	var got []string
	if err := f.e.App.Store.AllMessages(context.Background(), f.ws.ID, id, func(m *store.Message) error {
		if m.Role == role {
			got = append(got, m.Content)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var exp []string
	for _, it := range hsCorpus {
		if w, ok := want(it.s); ok {
			exp = append(exp, w)
		}
	}
	if len(got) != len(exp) {
		t.Fatalf("conversation %d: %d %s messages, want %d", id, len(got), role, len(exp))
	}
	for i := range exp {
		if got[i] != exp[i] {
			t.Errorf("conversation %d message %d: %q, want %q", id, i, got[i], exp[i])
		}
	}
}

func TestHostileCorpusStoredAndExportsNeutralised(t *testing.T) {
	f := hsSetup(t)
	e := f.e

	// The conversations CSV: every cell, and every part of one after a ';' or ',', that starts
	// like a formula is neutralised with a quote (model.CSVCell), and each value is there.
	csvCells := func(path string) [][]string {
		t.Helper()
		res := e.Get(f.c, path)
		b := webtest.Body(t, res)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
		r := csv.NewReader(strings.NewReader(b))
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatalf("%s is not CSV: %v", path, err)
		}
		return rows
	}
	rows := csvCells("/conversations/export.csv")
	all := map[string]bool{}
	for i, row := range rows {
		for j, cell := range row {
			all[cell] = true
			if webtest.FormulaCell(cell) {
				t.Errorf("conversations CSV row %d column %q: %q is not neutralised", i, rows[0][j], cell)
			}
		}
	}
	for _, it := range hsCorpus {
		v := model.CSVCell(strings.TrimSpace(hsWhatsApp(it.s))) // the WhatsApp profile names are in customer_name
		if !all[v] {
			t.Errorf("conversations CSV: no cell %.80q", v)
		}
	}

	// The analytics CSV: the same rule (model.CSVCell).
	rows = csvCells("/analytics/export.csv?chart=top&range=30d")
	named := 0
	for i, row := range rows {
		for _, cell := range row {
			if webtest.FormulaCell(cell) {
				t.Errorf("analytics CSV row %d: %q is not neutralised", i, cell)
			}
			if cell == `'=HYPERLINK("http://evil.example","click")` || cell == "'-2+3" || cell == "'@SUM(A1)" {
				named++
			}
		}
	}
	if named != 3 {
		t.Errorf("analytics CSV: %d of the hostile assistant names found neutralised, want 3:\n%v", named, rows)
	}

	// The JSONL export: one valid JSON object a line, the strings intact.
	res := e.Get(f.c, "/conversations/export.jsonl?messages=1")
	b := webtest.Body(t, res)
	if res.StatusCode != 200 {
		t.Fatalf("jsonl: %d", res.StatusCode)
	}
	contents := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(b, "\n"), "\n") {
		var obj struct {
			CustomerName string `json:"customer_name"`
			Messages     []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		if !json.Valid([]byte(line)) || json.Unmarshal([]byte(line), &obj) != nil {
			t.Fatalf("jsonl line %d is not JSON: %.200q", i, line)
		}
		contents[obj.CustomerName] = true
		for _, m := range obj.Messages {
			contents[m.Content] = true
		}
	}
	for _, it := range hsCorpus {
		if !contents[hsWhatsApp(it.s)] || !contents[strings.TrimSpace(hsWhatsApp(it.s))] {
			t.Errorf("jsonl: %s is missing", it.name)
		}
	}
	// The API answers the same strings as JSON.
	st, _, raw := e.hsJSON("GET", "/api/v1/conversations/"+webtest.Itoa(f.whatsapp), "", "Authorization", "Bearer "+f.key)
	if st != 200 || !json.Valid([]byte(raw)) || !strings.Contains(raw, `\u003cscript\u003ealert(1)\u003c/script\u003e`) {
		t.Errorf("API conversation: %d %.300s", st, raw)
	}
	// Nothing the corpus did reached /logout or bulk-delete.
	if p := f.requests.seen("/logout"); len(p) > 0 {
		t.Errorf("requests to /logout: %v", p)
	}
	if p := f.requests.seen("bulk-delete"); len(p) > 0 {
		t.Errorf("requests to bulk-delete: %v", p)
	}
}
