package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/cli"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/workers"
)

// waUI is a logged-in dashboard with an assistant on webtest.WhPhoneID whose Graph API is
// testkit's fake.
type waUI struct {
	*env
	g  *testkit.FakeGraph
	c  *http.Client
	ws *store.Workspace
	as *store.Assistant
}

func newWAUI(t *testing.T) *waUI {
	t.Helper()
	g := testkit.NewFakeGraph(t)
	cfg := testkit.Config(t)
	cfg.WhatsAppGraphURL = g.URL + "/v21.0"
	cfg.WhatsAppWindow = time.Hour
	e := &env{webtest.WhEnv(t, cfg)}
	ws := e.User("wa@example.com", "correct horse battery")
	tok, err := e.App.Keys.Encrypt("tok-123")
	if err != nil {
		t.Fatal(err)
	}
	pid := webtest.WhPhoneID
	as := testkit.Verified(&store.Assistant{WorkspaceID: ws.ID, Name: "Shop", WhatsAppPhoneNumberID: &pid, WhatsAppAccessTokenEnc: tok})
	if err := e.App.Store.CreateAssistant(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	c := e.Client()
	e.Login(c, "wa@example.com", "correct horse battery")
	return &waUI{env: e, g: g, c: c, ws: ws, as: as}
}

// conversation stores a WhatsApp conversation whose window is open until expires (closed
// when it is in the past).
func (u *waUI) conversation(customer string, expires time.Time) *store.Conversation {
	u.T.Helper()
	ctx := context.Background()
	at := expires.Add(-time.Hour).UTC().Truncate(time.Microsecond)
	c := &store.Conversation{WorkspaceID: u.ws.ID, AssistantID: &u.as.ID, Customer: customer, StartedAt: at, AIEnabled: true, Charged: true}
	if _, err := u.App.Store.FindOrCreateWhatsAppConversation(ctx, c); err != nil {
		u.T.Fatal(err)
	}
	if _, err := u.App.Store.OpenWhatsAppWindow(ctx, c.WorkspaceID, c.ID, at, expires.UTC().Truncate(time.Microsecond), at); err != nil {
		u.T.Fatal(err)
	}
	if expires.Before(time.Now()) {
		if _, err := u.App.Store.CloseExpiredWindow(ctx, c.WorkspaceID, c.ID, store.Now()); err != nil {
			u.T.Fatal(err)
		}
	}
	return c
}

func (u *waUI) messages(conv *store.Conversation) []store.Message {
	u.T.Helper()
	var ms []store.Message
	if err := u.App.Store.DB.NewSelect().Model(&ms).Where("conversation_id = ?", conv.ID).Order("id ASC").Scan(context.Background()); err != nil {
		u.T.Fatal(err)
	}
	return ms
}

func convPath(c *store.Conversation) string { return "/conversations/" + strconv.FormatInt(c.ID, 10) }

func TestWhatsAppComposerOpenWindow(t *testing.T) {
	u := newWAUI(t)
	conv := u.conversation("+16505550001", time.Now().Add(30*time.Minute))
	d := webtest.Doc(t, u.Get(u.c, convPath(conv)))
	ta := d.Find("#wa-panel textarea#wa-text")
	if ta.Length() != 1 {
		t.Fatal("no composer on a WhatsApp conversation")
	}
	if _, disabled := ta.Attr("disabled"); disabled {
		t.Fatal("the textarea is disabled while the window is open")
	}
	if d.Find("#wa-templates .wa-template").Length() != 0 || d.Find("#wa-closed").Length() != 0 {
		t.Fatal("no template picker nor closed notice while the window is open")
	}
	tok, _ := d.Find(`#wa-compose input[name="_csrf"]`).Attr("value")
	key, _ := d.Find(`#wa-compose input[name="key"]`).Attr("value")

	// Without a CSRF token: refused, nothing sent.
	res := u.PostForm(u.c, convPath(conv)+"/whatsapp/send", url.Values{"mode": {"text"}, "content": {"hello"}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusBadRequest {
		t.Fatalf("send without CSRF: %d", res.StatusCode)
	}
	res = u.PostForm(u.c, convPath(conv)+"/whatsapp/send", url.Values{"_csrf": {tok}, "key": {key}, "mode": {"text"}, "content": {"Blue is in stock."}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("send: %d", res.StatusCode)
	}
	calls := u.g.Requests()
	if len(calls) != 1 || calls[0].Path != "/v21.0/"+webtest.WhPhoneID+"/messages" || calls[0].Auth != "Bearer tok-123" || calls[0].Body["to"] != "16505550001" {
		t.Fatalf("graph calls: %+v", calls)
	}
	if txt, _ := calls[0].Body["text"].(map[string]any); txt["body"] != "Blue is in stock." {
		t.Fatalf("sent body: %v", calls[0].Body)
	}
	ms := u.messages(conv)
	if len(ms) != 1 || ms[0].Role != "human" || ms[0].Status != model.StatusSent || ms[0].ProviderMessageID == nil || *ms[0].ProviderMessageID != "wamid.FAKE00000001" {
		t.Fatalf("stored: %+v", ms)
	}
	// The page shows it, as a human's message.
	d = webtest.Doc(t, u.Get(u.c, convPath(conv)))
	if got := d.Find(`#timeline li[data-role="human"] .content`).Text(); got != "Blue is in stock." {
		t.Fatalf("timeline: %q", got)
	}
	// htmx gets the panel back.
	tok, _ = d.Find(`#wa-compose input[name="_csrf"]`).Attr("value")
	res = u.PostForm(u.c, convPath(conv)+"/whatsapp/send", url.Values{"_csrf": {tok}, "mode": {"text"}, "content": {"Anything else?"}}, "HX-Request", "true")
	fd := webtest.Doc(t, res)
	if res.StatusCode != http.StatusOK || fd.Find("#wa-panel #wa-notice").Length() != 1 || fd.Find("html").Length() != 0 && fd.Find("nav").Length() != 0 {
		t.Fatalf("htmx send: %d", res.StatusCode)
	}
	if len(u.g.Requests()) != 2 {
		t.Fatalf("second send: %d calls", len(u.g.Requests()))
	}
}

func TestWhatsAppComposerClosedWindow(t *testing.T) {
	u := newWAUI(t)
	ctx := context.Background()
	conv := u.conversation("+16505550002", time.Now().Add(-10*time.Minute))
	if err := u.App.Store.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: u.ws.ID, ConversationID: conv.ID, Name: "name", Value: "Ada", Source: "api"}); err != nil {
		t.Fatal(err)
	}
	tpl := &store.WhatsAppTemplate{WorkspaceID: u.ws.ID, AssistantID: u.as.ID, Name: "order_update", Language: "en_US", Category: "UTILITY", Body: "Hi {{1}}, order {{2}} shipped.", Params: "name,order"}
	if err := u.App.Store.CreateWhatsAppTemplate(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	d := webtest.Doc(t, u.Get(u.c, convPath(conv)))
	ta := d.Find("#wa-panel textarea#wa-text")
	if _, disabled := ta.Attr("disabled"); !disabled {
		t.Fatal("the textarea is enabled while the window is closed")
	}
	if reason := d.Find("#wa-closed").Text(); !strings.Contains(reason, "The 24-hour window closed at") || !strings.Contains(reason, "only approved template messages can be sent until the customer writes again") {
		t.Fatalf("reason: %q", reason)
	}
	if d.Find("#wa-compose button[type=submit]").Length() != 0 {
		t.Fatal("no send button for free text when closed")
	}
	form := d.Find(`#wa-templates details[data-template="order_update"] form`)
	if form.Length() != 1 {
		t.Fatal("no template picker")
	}
	if v, _ := form.Find(`input[name="p1"]`).Attr("value"); v != "Ada" {
		t.Fatalf("{{1}} pre-filled with %q, want Ada", v)
	}
	if v, ok := form.Find(`input[name="p2"]`).Attr("value"); !ok || v != "" {
		t.Fatalf("{{2}} (no such variable) is an empty input: %q %v", v, ok)
	}
	tok, _ := form.Find(`input[name="_csrf"]`).Attr("value")

	// The form is not trusted: free text to a closed window is refused, Meta is not called.
	for _, hx := range []bool{false, true} {
		var hdr []string
		if hx {
			hdr = []string{"HX-Request", "true"}
		}
		res := u.PostForm(u.c, convPath(conv)+"/whatsapp/send", url.Values{"_csrf": {tok}, "mode": {"text"}, "content": {"hello?"}}, hdr...)
		b := webtest.Body(t, res)
		if res.StatusCode != http.StatusConflict || !strings.Contains(b, "window is closed") {
			t.Fatalf("free text when closed (htmx %v): %d %s", hx, res.StatusCode, b)
		}
	}
	if n := len(u.g.Requests()); n != 0 {
		t.Fatalf("Meta called %d times for a refused send", n)
	}
	if ms := u.messages(conv); len(ms) != 0 {
		t.Fatalf("a refused send stored %+v", ms)
	}
	// A missing parameter is refused too.
	res := u.PostForm(u.c, convPath(conv)+"/whatsapp/send", url.Values{"_csrf": {tok}, "mode": {"template"}, "template_id": {strconv.FormatInt(tpl.ID, 10)}, "p1": {"Ada"}})
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity || len(u.g.Requests()) != 0 {
		t.Fatalf("template without {{2}}: %d", res.StatusCode)
	}
	// The template is sent.
	res = u.PostForm(u.c, convPath(conv)+"/whatsapp/send", url.Values{"_csrf": {tok}, "mode": {"template"}, "template_id": {strconv.FormatInt(tpl.ID, 10)}, "p1": {"Ada"}, "p2": {"#42"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("template send: %d", res.StatusCode)
	}
	calls := u.g.Requests()
	if len(calls) != 1 || calls[0].Body["type"] != "template" {
		t.Fatalf("graph calls: %+v", calls)
	}
	b, _ := json.Marshal(calls[0].Body["template"])
	if want := `{"components":[{"parameters":[{"text":"Ada","type":"text"},{"text":"#42","type":"text"}],"type":"body"}],"language":{"code":"en_US"},"name":"order_update"}`; string(b) != want {
		t.Fatalf("template: %s", b)
	}
	ms := u.messages(conv)
	if len(ms) != 1 || ms[0].Role != "human" || ms[0].ContentType != "template" || ms[0].Content != "Hi Ada, order #42 shipped." || ms[0].Status != model.StatusSent {
		t.Fatalf("stored: %+v", ms)
	}
}

func TestWhatsAppComposerMetaErrorShownOnMessage(t *testing.T) {
	u := newWAUI(t)
	u.g.Fail(1, testkit.GraphUndeliverable)
	conv := u.conversation("+16505550003", time.Now().Add(30*time.Minute))
	tok := u.CSRF(u.c, convPath(conv))
	res := u.PostForm(u.c, convPath(conv)+"/whatsapp/send", url.Values{"_csrf": {tok}, "mode": {"text"}, "content": {"hi"}})
	res.Body.Close()
	d := webtest.Doc(t, u.Get(u.c, convPath(conv)))
	st := d.Find(`#timeline li[data-role="human"] .status`)
	if v, _ := st.Attr("data-status"); v != model.StatusFailed || !strings.Contains(st.Text(), "Message undeliverable") {
		t.Fatalf("failed status on the message: %q %q", v, st.Text())
	}
}

func TestWhatsAppAISwitch(t *testing.T) {
	u := newWAUI(t)
	ctx := context.Background()
	conv := u.conversation("+16505550004", time.Now().Add(30*time.Minute))
	d := webtest.Doc(t, u.Get(u.c, convPath(conv)))
	if d.Find(`#wa-ai [data-ai="on"]`).Length() != 1 {
		t.Fatal("AI replies are shown on")
	}
	tok, _ := d.Find(`#wa-ai input[name="_csrf"]`).Attr("value")
	res := u.PostForm(u.c, convPath(conv)+"/ai", url.Values{"_csrf": {tok}, "enabled": {"0"}}, "HX-Request", "true")
	fd := webtest.Doc(t, res)
	if res.StatusCode != http.StatusOK || fd.Find(`#wa-panel #wa-ai [data-ai="off"]`).Length() != 1 {
		t.Fatalf("switch off: %d", res.StatusCode)
	}
	got, err := u.App.Store.GetConversation(ctx, u.ws.ID, conv.ID)
	if err != nil || got.AIEnabled {
		t.Fatalf("ai_enabled after switching off: %v %v", got.AIEnabled, err)
	}
	// The reply worker respects it: a reply task does nothing, nothing goes to Meta.
	h := cli.Handlers(u.App)
	h.WhatsApp.Debounce = time.Millisecond
	m := &store.Message{WorkspaceID: u.ws.ID, ConversationID: conv.ID, Role: "user", Content: "hi", CreatedAt: store.Now()}
	if _, err := u.App.Store.AddMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	task, _ := workers.NewWhatsAppReplyTask(workers.WhatsAppReplyPayload{WorkspaceID: u.ws.ID, ConversationID: conv.ID, MessageID: m.ID}, 0)
	if err := h.WhatsApp.HandleReply(ctx, task); err != nil {
		t.Fatal(err)
	}
	if len(u.g.Requests()) != 0 || len(u.messages(conv)) != 1 {
		t.Fatalf("AI off, yet a reply: %d calls", len(u.g.Requests()))
	}
	res = u.PostForm(u.c, convPath(conv)+"/ai", url.Values{"_csrf": {tok}, "enabled": {"1"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("switch on: %d", res.StatusCode)
	}
	if got, _ := u.App.Store.GetConversation(ctx, u.ws.ID, conv.ID); !got.AIEnabled {
		t.Fatal("ai_enabled after switching on")
	}
	// Not a WhatsApp conversation: no panel, no switch.
	other := &store.Conversation{WorkspaceID: u.ws.ID, AssistantID: &u.as.ID, Type: model.TypeWidget, Customer: "v1", AIEnabled: true}
	if err := u.App.Store.CreateConversation(ctx, other); err != nil {
		t.Fatal(err)
	}
	if webtest.Doc(t, u.Get(u.c, convPath(other))).Find("#wa-panel").Length() != 0 {
		t.Fatal("a widget conversation has the WhatsApp panel")
	}
	res = u.PostForm(u.c, convPath(other)+"/ai", url.Values{"_csrf": {tok}, "enabled": {"0"}})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("AI switch on a widget conversation: %d", res.StatusCode)
	}
}

func TestWhatsAppTemplatesSettings(t *testing.T) {
	u := newWAUI(t)
	ctx := context.Background()
	d := webtest.Doc(t, u.Get(u.c, "/settings"))
	if d.Find(`#wa-templates .wa-number[data-assistant="`+strconv.FormatInt(u.as.ID, 10)+`"]`).Length() != 1 {
		t.Fatal("the WhatsApp number is not listed")
	}
	tok, _ := d.Find(`#wa-template-form input[name="_csrf"]`).Attr("value")
	aid := strconv.FormatInt(u.as.ID, 10)
	form := func(name, lang, cat, body string) url.Values {
		return url.Values{"_csrf": {tok}, "assistant_id": {aid}, "name": {name}, "language": {lang}, "category": {cat}, "body": {body}}
	}
	bad := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"uppercase name", form("Order", "en", "UTILITY", "Hi"), "name"},
		{"name with space", form("order update", "en", "UTILITY", "Hi"), "name"},
		{"long name", form(strings.Repeat("a", 513), "en", "UTILITY", "Hi"), "name"},
		{"bad language", form("a", "english", "UTILITY", "Hi"), "language"},
		{"bad category", form("a", "en", "PROMO", "Hi"), "category"},
		{"empty body", form("a", "en", "UTILITY", "  "), "body"},
		{"long body", form("a", "en", "UTILITY", strings.Repeat("x", 1025)), "body"},
		{"gap in params", form("a", "en", "UTILITY", "Hi {{1}} and {{3}}"), "body"},
		{"params from 2", form("a", "en", "UTILITY", "Hi {{2}}"), "body"},
		{"not a number", url.Values{"_csrf": {tok}, "assistant_id": {"999999"}, "name": {"a"}, "language": {"en"}, "category": {"UTILITY"}, "body": {"Hi"}}, "assistant_id"},
	}
	for _, tc := range bad {
		res := u.PostForm(u.c, "/settings/whatsapp-templates", tc.form)
		d := webtest.Doc(t, res)
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d", tc.name, res.StatusCode)
		}
		if d.Find(`#wa-template-form [name="`+tc.field+`"]`).Parent().Find(".field-error").Length() != 1 {
			t.Fatalf("%s: no error beside %s", tc.name, tc.field)
		}
	}
	if n, _ := u.App.Store.WhatsAppTemplates(ctx, u.ws.ID, 0); len(n) != 0 {
		t.Fatalf("invalid templates stored: %+v", n)
	}
	res := u.PostForm(u.c, "/settings/whatsapp-templates", form("order_update", "en_US", "UTILITY", "Hi {{1}}, order {{2}} shipped. {{1}}"), "HX-Request", "true")
	d = webtest.Doc(t, res)
	if res.StatusCode != http.StatusOK || d.Find(`#wa-templates tr[data-template="order_update"]`).Length() != 1 {
		t.Fatalf("create: %d %s", res.StatusCode, d.Find("#wa-templates").Text())
	}
	// The same name and language again: refused.
	res = u.PostForm(u.c, "/settings/whatsapp-templates", form("order_update", "en_US", "MARKETING", "Hello"))
	b := webtest.Body(t, res)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, "already has a template") {
		t.Fatalf("duplicate: %d", res.StatusCode)
	}
	ts, _ := u.App.Store.WhatsAppTemplates(ctx, u.ws.ID, u.as.ID)
	if len(ts) != 1 || ts[0].Category != "UTILITY" {
		t.Fatalf("stored: %+v", ts)
	}
	// Another workspace cannot delete it.
	other := u.env.Client()
	u.User("other@example.com", "correct horse battery")
	u.Login(other, "other@example.com", "correct horse battery")
	otok := u.CSRF(other, "/settings")
	res = u.PostForm(other, "/settings/whatsapp-templates/"+strconv.FormatInt(ts[0].ID, 10)+"/delete", url.Values{"_csrf": {otok}})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("delete from another workspace: %d", res.StatusCode)
	}
	res = u.PostForm(u.c, "/settings/whatsapp-templates/"+strconv.FormatInt(ts[0].ID, 10)+"/delete", url.Values{"_csrf": {tok}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	if ts, _ := u.App.Store.WhatsAppTemplates(ctx, u.ws.ID, 0); len(ts) != 0 {
		t.Fatalf("after delete: %+v", ts)
	}
}

func TestWhatsAppTemplatesFetchFromMeta(t *testing.T) {
	u := newWAUI(t)
	ctx := context.Background()
	list := `{"data":[
		{"name":"order_update","language":"en_US","category":"UTILITY","status":"APPROVED","id":"1","components":[{"type":"HEADER","format":"TEXT","text":"Order"},{"type":"BODY","text":"Hi {{1}}, order {{2}} shipped."}]},
		{"name":"promo","language":"en","category":"MARKETING","status":"PENDING","components":[{"type":"BODY","text":"Sale!"}]},
		{"name":"old","language":"en","category":"MARKETING","status":"REJECTED","components":[{"type":"BODY","text":"Old"}]},
		{"name":"otp","language":"fr","category":"AUTHENTICATION","status":"APPROVED","components":[{"type":"BODY","text":"Code {{1}}"}]}
	],"paging":{"cursors":{"before":"a","after":"b"}}}`
	d := webtest.Doc(t, u.Get(u.c, "/settings"))
	if d.Find(".wa-need-waba").Length() != 1 || d.Find(".wa-fetch-form").Length() != 0 {
		t.Fatal("without a WABA id the page explains it and offers no fetch")
	}
	tok, _ := d.Find(`.wa-waba-form input[name="_csrf"]`).Attr("value")
	aid := strconv.FormatInt(u.as.ID, 10)
	res := u.PostForm(u.c, "/settings/whatsapp-templates/waba", url.Values{"_csrf": {tok}, "assistant_id": {aid}, "waba_id": {"abc"}})
	if b := webtest.Body(t, res); !strings.Contains(b, "is a number") {
		t.Fatal("a bad WABA id is refused")
	}
	res = u.PostForm(u.c, "/settings/whatsapp-templates/waba", url.Values{"_csrf": {tok}, "assistant_id": {aid}, "waba_id": {"102290129340398"}})
	d = webtest.Doc(t, res)
	if d.Find(".wa-fetch-form button:not([disabled])").Length() != 1 {
		t.Fatal("with a WABA id and a token, Fetch from Meta is offered")
	}
	a, _ := u.App.Store.AssistantByID(ctx, u.ws.ID, u.as.ID)
	var wset map[string]any
	_ = json.Unmarshal([]byte(webtest.ColJSON(t, a.WidgetSettings)), &wset)
	if wset["whatsapp_business_account_id"] != "102290129340398" {
		t.Fatalf("widget_settings: %s", webtest.ColJSON(t, a.WidgetSettings))
	}
	if len(u.g.Requests()) != 0 {
		t.Fatal("saving the WABA id calls Meta")
	}
	u.g.Then(testkit.GraphAnswer{Status: http.StatusOK, Body: list}, testkit.GraphAnswer{Status: http.StatusOK, Body: list})
	for i := 0; i < 2; i++ { // twice: the import is idempotent
		res = u.PostForm(u.c, "/settings/whatsapp-templates/fetch", url.Values{"_csrf": {tok}, "assistant_id": {aid}}, "HX-Request", "true")
		d = webtest.Doc(t, res)
		if res.StatusCode != http.StatusOK || !strings.Contains(d.Text(), "Imported 2 approved template(s)") {
			t.Fatalf("fetch: %d %s", res.StatusCode, d.Find("#wa-templates").Text())
		}
	}
	calls := u.g.Requests()
	if len(calls) != 2 || calls[0].Method != http.MethodGet || calls[0].Path != "/v21.0/102290129340398/message_templates" || calls[0].Auth != "Bearer tok-123" {
		t.Fatalf("graph calls: %+v", calls)
	}
	ts, _ := u.App.Store.WhatsAppTemplates(ctx, u.ws.ID, u.as.ID)
	if len(ts) != 2 || ts[0].Name != "order_update" || ts[0].Body != "Hi {{1}}, order {{2}} shipped." || ts[0].Source != "meta" || ts[1].Name != "otp" || ts[1].Category != "AUTHENTICATION" {
		t.Fatalf("imported: %+v", ts)
	}
	// Meta refuses: the error is shown, nothing changes.
	u.g.Fail(1, testkit.GraphInvalidToken)
	res = u.PostForm(u.c, "/settings/whatsapp-templates/fetch", url.Values{"_csrf": {tok}, "assistant_id": {aid}})
	if b := webtest.Body(t, res); !strings.Contains(b, "Invalid OAuth access token.") {
		t.Fatal("Meta's refusal is shown")
	}
}

// waTextWebhook is a webhook of one text message sent now.
func waTextWebhook(msgID, from, text string) []byte {
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": "102290129340398", "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": webtest.WhPhoneID},
			"contacts":          []any{map[string]any{"profile": map[string]any{"name": "Sheena"}, "wa_id": from}},
			"messages":          []any{map[string]any{"from": from, "id": msgID, "timestamp": strconv.FormatInt(time.Now().Unix(), 10), "type": "text", "text": map[string]any{"body": text}}},
		}}}}},
	})
	return b
}

// The whole path with the real chat responder (offline provider): a signed webhook, the
// inbound task, the reply task, one text message to Meta whose body is the stored reply,
// which has tokens and a usage row.
func TestWhatsAppEndToEndRealResponder(t *testing.T) {
	u := newWAUI(t)
	ctx := context.Background()
	if !u.App.Config.OfflineLLM() {
		t.Fatal("the test configuration must use the offline provider")
	}
	h := cli.Handlers(u.App) // the app's config points at the fake Graph API
	h.WhatsApp.Debounce = time.Millisecond
	if code := webtest.WhSigned(t, u.Env, waTextWebhook("wamid.E2E1", "16505559999", "Hello, do you ship to Lisbon?")); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	insp := asynq.NewInspectorFromRedisClient(u.App.Redis)
	run := func(list func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error), typ string) int {
		tis, err := list(workers.QueueCritical)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ti := range tis {
			if ti.Type != typ {
				continue
			}
			var err error
			switch typ {
			case workers.TypeInboundProcess:
				err = h.Inbound.HandleProcess(ctx, asynq.NewTask(ti.Type, ti.Payload))
			case workers.TypeWhatsAppReply:
				err = h.WhatsApp.HandleReply(ctx, asynq.NewTask(ti.Type, ti.Payload))
			}
			if err != nil {
				t.Fatalf("%s: %v", ti.Type, err)
			}
			n++
		}
		return n
	}
	if n := run(insp.ListPendingTasks, workers.TypeInboundProcess); n != 1 {
		t.Fatalf("%d inbound tasks", n)
	}
	n := run(insp.ListScheduledTasks, workers.TypeWhatsAppReply) + run(insp.ListPendingTasks, workers.TypeWhatsAppReply)
	if n != 1 {
		t.Fatalf("%d reply tasks", n)
	}
	var conv store.Conversation
	if err := u.App.Store.DB.NewSelect().Model(&conv).Where("customer = ?", "+16505559999").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	ms := u.messages(&conv)
	if len(ms) != 2 || ms[0].Role != "user" || ms[1].Role != "assistant" {
		t.Fatalf("messages: %+v", ms)
	}
	reply := ms[1]
	calls := u.g.Requests()
	if len(calls) != 1 || calls[0].Body["type"] != "text" || calls[0].Body["to"] != "16505559999" {
		t.Fatalf("graph calls: %+v", calls)
	}
	if txt, _ := calls[0].Body["text"].(map[string]any); reply.Content == "" || txt["body"] != reply.Content {
		t.Fatalf("sent %v, stored reply %q", calls[0].Body["text"], reply.Content)
	}
	if reply.Status != model.StatusSent || reply.ProviderMessageID == nil || *reply.ProviderMessageID != "wamid.FAKE00000001" {
		t.Fatalf("reply: %+v", reply)
	}
	if reply.PromptTokens <= 0 || reply.CompletionTokens <= 0 {
		t.Fatalf("reply tokens: %d + %d", reply.PromptTokens, reply.CompletionTokens)
	}
	var usage []store.UsageEntry
	if err := u.App.Store.DB.NewSelect().Model(&usage).Where("message_id = ?", reply.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(usage) != 1 || usage[0].PromptTokens != reply.PromptTokens || usage[0].CompletionTokens != reply.CompletionTokens || usage[0].ConversationType != model.TypeWhatsApp {
		t.Fatalf("usage: %+v", usage)
	}
	// Running the reply again sends nothing more.
	task, _ := workers.NewWhatsAppReplyTask(workers.WhatsAppReplyPayload{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, MessageID: ms[0].ID}, 0)
	if err := h.WhatsApp.HandleReply(ctx, task); err != nil {
		t.Fatal(err)
	}
	if len(u.g.Requests()) != 1 {
		t.Fatalf("a second run sent again: %d calls", len(u.g.Requests()))
	}
}
