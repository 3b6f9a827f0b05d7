package dashboard_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// auditOf is the workspace's audit log, newest first.
func auditOf(t *testing.T, e *webtest.Env, ws int64) []store.AuditEntry {
	t.Helper()
	var all []store.AuditEntry
	err := e.App.Audit.Each(context.Background(), ws, audit.Filter{}, func(en *store.AuditEntry) error {
		all = append(all, *en)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// findAudit is the newest entry of action, or fails.
func findAudit(t *testing.T, entries []store.AuditEntry, action audit.Action) store.AuditEntry {
	t.Helper()
	for _, en := range entries {
		if en.Action == string(action) {
			return en
		}
	}
	t.Fatalf("no %s entry in %d entries", action, len(entries))
	return store.AuditEntry{}
}

func detailsOf(t *testing.T, en store.AuditEntry) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(en.Details), &d); err != nil {
		t.Fatalf("details of %s: %q: %v", en.Action, en.Details, err)
	}
	return d
}

func mustStatus(t *testing.T, what string, res *http.Response, want int) {
	t.Helper()
	res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("%s: %d, want %d", what, res.StatusCode, want)
	}
}

// Every family of recorded action, done through the dashboard, leaves its entry, by the
// signed-in user, with its target and details.
func TestAuditRecordsDashboardActions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws := e.User("ann@example.com", "correct horse battery")
	c := e.Client()
	e.Login(c, "ann@example.com", "correct horse battery")
	u, err := e.App.Store.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	uid := strconv.FormatInt(u.ID, 10)
	tok := e.CSRF(c, "/settings")
	post := func(path string, v url.Values) *http.Response {
		if v == nil {
			v = url.Values{}
		}
		v.Set("_csrf", tok)
		return e.PostForm(c, path, v)
	}

	// Sign-in: by the user, from its address.
	en := findAudit(t, auditOf(t, e.Env, ws.ID), audit.SignIn)
	if en.ActorType != "user" || en.ActorID != uid || en.ActorName != "ann@example.com" || en.TargetID != uid || detailsOf(t, en)["ip"] == "" {
		t.Fatalf("sign-in entry: %+v", en)
	}
	// A failed sign-in records nothing (and signs nobody in).
	n := len(auditOf(t, e.Env, ws.ID))
	other := e.Client()
	mustStatus(t, "wrong password", e.PostForm(other, "/login", url.Values{"_csrf": {e.CSRF(other, "/login")}, "email": {"ann@example.com"}, "password": {"wrong"}}), http.StatusUnauthorized)
	if len(auditOf(t, e.Env, ws.ID)) != n {
		t.Fatal("a failed sign-in wrote an entry")
	}

	// API keys.
	mustStatus(t, "create key", post("/settings/api-keys", url.Values{"name": {"CRM"}}), http.StatusOK)
	keys, _ := e.App.Store.APIKeys(ctx, ws.ID)
	en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.APIKeyCreate)
	if len(keys) != 1 || en.TargetType != "api_key" || en.TargetID != strconv.FormatInt(keys[0].ID, 10) || en.ActorID != uid || detailsOf(t, en)["name"] != "CRM" {
		t.Fatalf("key creation entry: %+v", en)
	}
	mustStatus(t, "revoke key", post("/settings/api-keys/"+webtest.Itoa(keys[0].ID)+"/revoke", nil), http.StatusSeeOther)
	if en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.APIKeyRevoke); en.TargetID != strconv.FormatInt(keys[0].ID, 10) {
		t.Fatalf("revocation entry: %+v", en)
	}

	// Retention and prices, with what they were and became.
	mustStatus(t, "retention", post("/settings/retention", url.Values{"test": {"30"}}), http.StatusSeeOther)
	en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.RetentionUpdate)
	if d := detailsOf(t, en); en.TargetType != "settings" || en.TargetID != "retention" || !strings.Contains(en.Details, `"after":{"test":30}`) || d["before"] != nil {
		t.Fatalf("retention entry: %+v", en)
	}
	prices := `[{"match":"my-model","input_per_1m":"1","output_per_1m":"2"}]`
	mustStatus(t, "prices", post("/settings/prices", url.Values{"prices": {prices}}), http.StatusSeeOther)
	if en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.PricesUpdate); !strings.Contains(en.Details, `"match":"my-model"`) {
		t.Fatalf("prices entry: %+v", en)
	}

	// Assistants: create, update (the settings changed, by name), rotate, delete.
	mustStatus(t, "create assistant", post("/assistants", url.Values{"name": {"Helper"}, "model": {"gpt-4o-mini"}}), http.StatusSeeOther)
	as, _ := e.App.Store.Assistants(ctx, ws.ID)
	if len(as) != 1 {
		t.Fatalf("assistants: %d", len(as))
	}
	aid := strconv.FormatInt(as[0].ID, 10)
	if en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.AssistantCreate); en.TargetID != aid || detailsOf(t, en)["name"] != "Helper" {
		t.Fatalf("assistant creation entry: %+v", en)
	}
	mustStatus(t, "update assistant", post("/assistants/"+aid, url.Values{"name": {"Helper 2"}, "model": {"gpt-4o-mini"}, "system_prompt": {"Be kind"}}), http.StatusSeeOther)
	en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.AssistantUpdate)
	if ch, _ := detailsOf(t, en)["changed"].([]any); en.TargetID != aid || len(ch) != 1 || ch[0] != "name" || strings.Contains(en.Details, "Be kind") {
		t.Fatalf("assistant update entry: %+v", en)
	}
	// The prompt went to a new version, the draft (issue 15): its own entry, without the prompt.
	en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.AssistantVersionSave)
	if d := detailsOf(t, en); en.TargetID != aid || d["version"] != 2.0 || d["published"] != false || strings.Contains(en.Details, "Be kind") {
		t.Fatalf("version save entry: %+v", en)
	}
	mustStatus(t, "rotate", post("/assistants/"+aid+"/identity-secret", nil), http.StatusSeeOther)
	if en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.AssistantIdentityRotate); en.TargetID != aid {
		t.Fatalf("rotation entry: %+v", en)
	}
	// Connecting WhatsApp (Meta confirms the number) is its own entry.
	tokenForm := url.Values{"name": {"Helper 2"}, "model": {"gpt-4o-mini"}, "whatsapp_phone_number_id": {knownNumber}, "whatsapp_access_token": {"EAAB-token"}}
	mustStatus(t, "connect WhatsApp", post("/assistants/"+aid, tokenForm), http.StatusSeeOther)
	en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.AssistantWhatsAppConnect)
	if d := detailsOf(t, en); en.TargetID != aid || d["phone_number_id"] != knownNumber || d["verified_name"] != knownName || strings.Contains(en.Details, "EAAB") {
		t.Fatalf("WhatsApp connection entry: %+v", en)
	}
	mustStatus(t, "delete assistant", post("/assistants/"+aid+"/delete", nil), http.StatusSeeOther)
	if en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.AssistantDelete); en.TargetID != aid {
		t.Fatalf("assistant deletion entry: %+v", en)
	}

	// Exports: who, with the filter.
	conv := &store.Conversation{WorkspaceID: ws.ID, Type: "test", Customer: "c1"}
	if err := e.App.Store.CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	cid := strconv.FormatInt(conv.ID, 10)
	mustStatus(t, "export csv", e.Get(c, "/conversations/export.csv?type=test&q=refund"), http.StatusOK)
	en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.ConversationsExport)
	if d := detailsOf(t, en); d["format"] != "csv" || !strings.Contains(d["filter"].(string), "type=test") || !strings.Contains(d["filter"].(string), "q=refund") || en.ActorID != uid {
		t.Fatalf("CSV export entry: %+v", en)
	}
	mustStatus(t, "export jsonl", e.Get(c, "/conversations/export.jsonl?messages=1"), http.StatusOK)
	if d := detailsOf(t, findAudit(t, auditOf(t, e.Env, ws.ID), audit.ConversationsExport)); d["format"] != "jsonl" || d["messages"] != true {
		t.Fatalf("JSONL export entry: %v", d)
	}
	// A bad filter is refused and recorded as nothing.
	n = len(auditOf(t, e.Env, ws.ID))
	mustStatus(t, "export with a bad filter", e.Get(c, "/conversations/export.csv?range=nope"), http.StatusBadRequest)
	if len(auditOf(t, e.Env, ws.ID)) != n {
		t.Fatal("a refused export wrote an entry")
	}
	mustStatus(t, "export one", e.Get(c, "/conversations/"+cid+"/export.json"), http.StatusOK)
	if en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.ConversationExport); en.TargetType != "conversation" || en.TargetID != cid {
		t.Fatalf("conversation export entry: %+v", en)
	}
	mustStatus(t, "analytics csv", e.Get(c, "/analytics/export.csv?chart=top&range=30"), http.StatusOK)
	if d := detailsOf(t, findAudit(t, auditOf(t, e.Env, ws.ID), audit.AnalyticsExport)); d["chart"] != "top" || d["days"] != float64(30) {
		t.Fatalf("analytics export entry: %v", d)
	}

	// Deletions: one, and in bulk with the filter.
	mustStatus(t, "delete one", post("/conversations/"+cid+"/delete", nil), http.StatusSeeOther)
	if en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.ConversationDelete); en.TargetID != cid {
		t.Fatalf("deletion entry: %+v", en)
	}
	res := e.PostForm(c, "/conversations/bulk-delete?type=widget", url.Values{"_csrf": {tok}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("bulk delete: %d", res.StatusCode)
	}
	en = findAudit(t, auditOf(t, e.Env, ws.ID), audit.ConversationsDelete)
	if d := detailsOf(t, en); en.TargetType != "bulk_delete" || en.TargetID == "" || d["filter"] != "type=widget" || d["matching"] != float64(0) {
		t.Fatalf("bulk deletion entry: %+v", en)
	}
	// Everything above was the signed-in user's doing.
	for _, en := range auditOf(t, e.Env, ws.ID) {
		if en.ActorType != "user" || en.ActorID != uid || en.WorkspaceID != ws.ID {
			t.Fatalf("entry not by the user: %+v", en)
		}
	}
}

// A human's WhatsApp message and the AI switch (take over, hand back) are recorded with the
// conversation as target; a refused send records nothing.
func TestAuditRecordsWhatsAppTakeoverAndSends(t *testing.T) {
	u := newWAUI(t)
	conv := u.conversation("+16505550009", time.Now().Add(30*time.Minute))
	cid := strconv.FormatInt(conv.ID, 10)
	d := webtest.Doc(t, u.Get(u.c, convPath(conv)))
	tok, _ := d.Find(`#wa-compose input[name="_csrf"]`).Attr("value")

	mustStatus(t, "take over", u.PostForm(u.c, convPath(conv)+"/ai", url.Values{"_csrf": {tok}, "enabled": {"0"}}), http.StatusSeeOther)
	mustStatus(t, "send", u.PostForm(u.c, convPath(conv)+"/whatsapp/send", url.Values{"_csrf": {tok}, "mode": {"text"}, "content": {"Hi, Ann here."}}), http.StatusSeeOther)
	mustStatus(t, "hand back", u.PostForm(u.c, convPath(conv)+"/ai", url.Values{"_csrf": {tok}, "enabled": {"1"}}), http.StatusSeeOther)
	entries := auditOf(t, u.Env, u.ws.ID)
	for _, a := range []audit.Action{audit.WhatsAppTakeover, audit.WhatsAppSend, audit.WhatsAppHandBack} {
		en := findAudit(t, entries, a)
		if en.TargetType != "conversation" || en.TargetID != cid || en.ActorType != "user" || en.ActorName != "wa@example.com" {
			t.Fatalf("%s: %+v", a, en)
		}
	}
	if en := findAudit(t, entries, audit.WhatsAppSend); strings.Contains(en.Details, "Ann here") || detailsOf(t, en)["content_type"] != "text" {
		t.Fatalf("send entry details: %s", en.Details)
	}
	if entries[0].Action != string(audit.WhatsAppHandBack) || entries[1].Action != string(audit.WhatsAppSend) || entries[2].Action != string(audit.WhatsAppTakeover) {
		t.Fatalf("order: %s %s %s", entries[0].Action, entries[1].Action, entries[2].Action)
	}
	// Text after the window closed: refused (409), nothing stored, nothing recorded.
	closed := u.conversation("+16505550010", time.Now().Add(-time.Minute))
	n := len(auditOf(t, u.Env, u.ws.ID))
	mustStatus(t, "send after the window", u.PostForm(u.c, convPath(closed)+"/whatsapp/send", url.Values{"_csrf": {tok}, "mode": {"text"}, "content": {"late"}}, "HX-Request", "true"), http.StatusConflict)
	if len(auditOf(t, u.Env, u.ws.ID)) != n {
		t.Fatal("a refused send wrote an entry")
	}
}

// Settings → Audit log: admins only; a table newest first, filtered by action and actor,
// "Load more" by keyset, exported as CSV with formula cells made harmless.
func TestAuditLogPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws := e.User("ann@example.com", "correct horse battery")
	c := e.Client()
	e.Login(c, "ann@example.com", "correct horse battery") // entry 1: the sign-in
	for i := range 59 {
		en := audit.NewBy(audit.Actor{Type: audit.ActorAPIKey, ID: 9, Name: "=HYPERLINK(\"http://evil\")"}, ws.ID, audit.ConversationDelete,
			audit.On(audit.TargetConversation, int64(1000+i)), map[string]any{"n": i})
		if err := e.App.Audit.Record(ctx, en); err != nil {
			t.Fatal(err)
		}
	}
	// Another workspace's entry never shows.
	other := e.User("bob@example.com", "correct horse battery")
	if err := e.App.Audit.Record(ctx, audit.NewBy(audit.System, other.ID, audit.APIKeyCreate, audit.On(audit.TargetAPIKey, 1), map[string]any{"name": "BOBSKEY"})); err != nil {
		t.Fatal(err)
	}

	// Settings links it for admins.
	if webtest.Doc(t, e.Get(c, "/settings")).Find(`#audit-log-link a[href="/settings/audit-log"]`).Length() != 1 {
		t.Fatal("Settings does not link the audit log")
	}
	res := e.Get(c, "/settings/audit-log")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("page: %d", res.StatusCode)
	}
	d := webtest.Doc(t, res)
	rows := d.Find("#audit-table tr.audit-row")
	if rows.Length() != 50 || strings.Contains(d.Text(), "BOBSKEY") {
		t.Fatalf("first page: %d rows", rows.Length())
	}
	if first := rows.First().Find("td code").Text(); first != `{"n":58}` {
		t.Fatalf("newest first: %q", first)
	}
	if d.Find(`#audit-action option[value="user.sign_in"]`).Length() != 1 || d.Find(`#audit-actor option[value="api_key:9"]`).Length() != 1 {
		t.Fatal("the filters do not offer the actions and actors")
	}
	more, ok := d.Find("#load-more a").Attr("hx-get")
	if !ok {
		t.Fatal("no Load more")
	}
	// The rows alone (parsed inside a table, where the page puts them).
	frag := webtest.Body(t, e.Get(c, more, "HX-Request", "true"))
	fd, err := goquery.NewDocumentFromReader(strings.NewReader("<table><tbody>" + frag + "</tbody></table>"))
	if err != nil {
		t.Fatal(err)
	}
	if fd.Find("tr.audit-row").Length() != 10 || fd.Find("#load-more").Length() != 0 || fd.Find("nav").Length() != 0 {
		t.Fatalf("Load more: %d rows", fd.Find("tr.audit-row").Length())
	}
	if last := fd.Find("tr.audit-row").Last().Find("td").Eq(2).Text(); !strings.Contains(last, "Signed in") {
		t.Fatalf("the oldest entry is the sign-in: %q", last)
	}
	// Filtered by action and by actor.
	d = webtest.Doc(t, e.Get(c, "/settings/audit-log?action=user.sign_in"))
	if d.Find("tr.audit-row").Length() != 1 {
		t.Fatalf("by action: %d", d.Find("tr.audit-row").Length())
	}
	res = e.Get(c, "/settings/audit-log?actor=api_key:9", "HX-Request", "true")
	fd = webtest.Doc(t, res)
	if fd.Find("#audit-results tr.audit-row").Length() != 50 || res.Header.Get("HX-Push-Url") != "/settings/audit-log?actor=api_key%3A9" {
		t.Fatalf("by actor (htmx): %d %q", fd.Find("tr.audit-row").Length(), res.Header.Get("HX-Push-Url"))
	}
	// A stale cursor: the newest page, said so.
	d = webtest.Doc(t, e.Get(c, "/settings/audit-log?cursor=bogus"))
	if d.Find("tr.audit-row").Length() != 50 || !strings.Contains(d.Find("#audit-results .error").Text(), "out of date") {
		t.Fatal("a bad cursor")
	}

	// CSV: every matching entry, cells guarded; the export is itself recorded.
	res = e.Get(c, "/settings/audit-log/export.csv?actor=api_key:9")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(webtest.Body(t, res))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 60 || strings.Join(recs[0], ",") != "id,at,actor_type,actor_id,actor_name,action,target_type,target_id,details" {
		t.Fatalf("csv: %d records, header %v", len(recs), recs[0])
	}
	for _, r := range recs[1:] {
		for _, cell := range r {
			if webtest.FormulaCell(cell) {
				t.Fatalf("a formula cell: %q", cell)
			}
		}
		if r[2] != "api_key" || r[3] != "9" || !strings.Contains(r[4], "HYPERLINK") || r[5] != "conversation.delete" {
			t.Fatalf("row: %v", r)
		}
	}
	en := findAudit(t, auditOf(t, e.Env, ws.ID), audit.AuditLogExport)
	if detailsOf(t, en)["filter"] != "actor=api_key%3A9" {
		t.Fatalf("audit export entry: %s", en.Details)
	}

	// A user who is not an admin: 403 on both, and no link.
	h, _ := auth.HashPassword("correct horse battery")
	if err := e.App.Store.CreateUser(ctx, &store.User{WorkspaceID: ws.ID, Email: "mo@example.com", PasswordHash: h, Role: "member", CreatedAt: store.Now()}, model.MemberAgent); err != nil {
		t.Fatal(err)
	}
	member := e.Client()
	e.Login(member, "mo@example.com", "correct horse battery")
	for _, p := range []string{"/settings/audit-log", "/settings/audit-log/export.csv"} {
		if res := e.Get(member, p); res.StatusCode != http.StatusForbidden {
			t.Fatalf("a member on %s: %d", p, res.StatusCode)
		}
	}
	if webtest.Doc(t, e.Get(member, "/settings")).Find("#audit-log-link").Length() != 0 {
		t.Fatal("a member sees the audit log link")
	}
}
