package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// Helpers of this file carry an "asst" prefix.

const asstPassword = "correct-horse"

// asstLogin makes a workspace with a user and a logged-in client.
func asstLogin(e *env, email string) (*store.Workspace, *http.Client) {
	e.T.Helper()
	ws := e.User(email, asstPassword)
	c := e.Client()
	e.Login(c, email, asstPassword)
	return ws, c
}

// asstForm is a complete, valid form: two variables, one pre-chat field, an origin, widget
// settings and a WhatsApp connection.
func asstForm(csrf string) url.Values {
	return url.Values{
		"_csrf":         {csrf},
		"name":          {"Sales bot"},
		"system_prompt": {"You sell things."},
		"first_message": {"Hello!"},
		"model":         {"gpt-4o-mini"},
		"temperature":   {"0.4"},
		"var_key":       {"k1", "k2", "k3"},
		"var_name":      {"email", "plan", ""},
		"var_description": {
			"the visitor's email", "the plan they want", "",
		},
		"var_type":                 {"email", "enum", "text"},
		"var_options":              {"", "free, pro , team", ""},
		"var_required":             {"k1"},
		"pf_key":                   {"p1"},
		"pf_name":                  {"email"},
		"pf_label":                 {"Your email"},
		"pf_type":                  {"email"},
		"pf_variable":              {""},
		"pf_required":              {"p1"},
		"allowed_origins":          {"https://Shop.example.com/\n\nhttp://localhost:3000"},
		"title":                    {"Talk to sales"},
		"color":                    {"#4F46E5"},
		"whatsapp_phone_number_id": {"1234567890"},
		"whatsapp_access_token":    {"EAAG-very-secret-token"},
	}
}

func asstCount(t *testing.T, e *env, wsID int64) int {
	t.Helper()
	as, err := e.App.Store.Assistants(context.Background(), wsID)
	if err != nil {
		t.Fatal(err)
	}
	return len(as)
}

func asstOnly(t *testing.T, e *env, wsID int64) *store.Assistant {
	t.Helper()
	as, err := e.App.Store.Assistants(context.Background(), wsID)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 {
		t.Fatalf("%d assistants, want 1", len(as))
	}
	return &as[0]
}

// asstSame compares two rows by value (the phone number id is a pointer, the JSON columns are
// decoded).
func asstSame(a, b *store.Assistant) bool {
	x, y := *a, *b
	x.WhatsAppPhoneNumberID, y.WhatsAppPhoneNumberID = nil, nil
	pa, pb := "", ""
	if a.WhatsAppPhoneNumberID != nil {
		pa = "+" + *a.WhatsAppPhoneNumberID
	}
	if b.WhatsAppPhoneNumberID != nil {
		pb = "+" + *b.WhatsAppPhoneNumberID
	}
	return reflect.DeepEqual(x, y) && pa == pb
}

// asstRowDoc parses a table-row fragment (a bare <tr> is dropped by an HTML parser outside a
// table).
func asstRowDoc(t *testing.T, res *http.Response) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader("<table><tbody>" + webtest.Body(t, res) + "</tbody></table>"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var asstIDRe = regexp.MustCompile(`^/assistants/(\d+)\?saved=1$`)

// asstCreate creates an assistant through the page and returns its id.
func asstCreate(t *testing.T, e *env, c *http.Client, form url.Values) int64 {
	t.Helper()
	res := e.PostForm(c, "/assistants", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d %s", res.StatusCode, webtest.Body(t, res))
	}
	res.Body.Close()
	m := asstIDRe.FindStringSubmatch(res.Header.Get("Location"))
	if m == nil {
		t.Fatalf("create redirected to %q", res.Header.Get("Location"))
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

// asstFieldErr is the error shown beside a field ("" when none).
func asstFieldErr(d *goquery.Document, field string) string {
	return strings.TrimSpace(d.Find(`[data-field="` + field + `"] .field-error`).First().Text())
}

func TestAssistantPagesCreateEditDelete(t *testing.T) {
	e := newEnv(t)
	ws, c := asstLogin(e, "ana@example.com")
	ctx := context.Background()

	// The nav links to the page; the empty list offers to create one.
	d := webtest.Doc(t, e.Get(c, "/assistants"))
	if d.Find(`nav a.item[href="/assistants"][aria-current="page"]`).Length() != 1 {
		t.Fatal("nav entry for assistants missing or not current")
	}
	if d.Find("tr.assistant").Length() != 0 || d.Find(`a[href="/assistants/new"]`).Length() == 0 {
		t.Fatal("empty list")
	}

	// The new form starts with the default model and temperature.
	d = webtest.Doc(t, e.Get(c, "/assistants/new"))
	if v, _ := d.Find(`input[name="model"]`).Attr("value"); v != "gpt-4o-mini" {
		t.Fatalf("default model %q", v)
	}
	if v, _ := d.Find(`input[name="temperature"]`).Attr("value"); v != "0.7" {
		t.Fatalf("default temperature %q", v)
	}
	if d.Find(`#token-status`).Text() != "not set" {
		t.Fatalf("token status %q", d.Find(`#token-status`).Text())
	}
	tok, _ := d.Find(`#assistant-form input[name="_csrf"]`).Attr("value")

	id := asstCreate(t, e, c, asstForm(tok))
	row, err := e.App.Store.AssistantByID(ctx, ws.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if row.Name != "Sales bot" || row.Model != "gpt-4o-mini" || row.Temperature != 0.4 || row.SystemPrompt != "You sell things." || row.FirstMessage != "Hello!" {
		t.Fatalf("stored %+v", row)
	}
	var vars []map[string]any
	if err := json.Unmarshal([]byte(webtest.ColJSON(t, row.Variables)), &vars); err != nil {
		t.Fatal(err)
	}
	if len(vars) != 2 || vars[0]["name"] != "email" || vars[0]["required"] != true || vars[1]["required"] != false ||
		vars[1]["type"] != "enum" || len(vars[1]["options"].([]any)) != 3 || vars[1]["options"].([]any)[1] != "pro" {
		t.Fatalf("variables %s", webtest.ColJSON(t, row.Variables))
	}
	if webtest.ColJSON(t, row.PrechatFields) != `[{"name":"email","label":"Your email","type":"email","variable":"","required":true}]` {
		t.Fatalf("prechat %s", webtest.ColJSON(t, row.PrechatFields))
	}
	if webtest.ColJSON(t, row.AllowedOrigins) != `["https://shop.example.com","http://localhost:3000"]` {
		t.Fatalf("origins %s", webtest.ColJSON(t, row.AllowedOrigins))
	}
	if ws := webtest.ColJSON(t, row.WidgetSettings); !strings.Contains(ws, `"color":"#4f46e5"`) || !strings.Contains(ws, `"title":"Talk to sales"`) {
		t.Fatalf("widget %s", webtest.ColJSON(t, row.WidgetSettings))
	}
	if row.WhatsAppPhoneNumberID == nil || *row.WhatsAppPhoneNumberID != "1234567890" {
		t.Fatalf("phone number id %v", row.WhatsAppPhoneNumberID)
	}
	// The token is stored encrypted, and decrypts back.
	if row.WhatsAppAccessTokenEnc == "" || strings.Contains(row.WhatsAppAccessTokenEnc, "very-secret") {
		t.Fatalf("token stored as %q", row.WhatsAppAccessTokenEnc)
	}
	var rawEnc string
	if err := e.App.Store.DB.NewSelect().Table("assistants").Column("whatsapp_access_token_enc").Where("id = ?", id).Scan(ctx, &rawEnc); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rawEnc, "EAAG") {
		t.Fatalf("plain token in the row: %q", rawEnc)
	}
	if pt, err := e.App.Keys.Decrypt(rawEnc); err != nil || pt != "EAAG-very-secret-token" {
		t.Fatalf("decrypt: %q %v", pt, err)
	}

	// The page: the snippet with the public key, "set", and never the token.
	res := e.Get(c, "/assistants/"+strconv.FormatInt(id, 10))
	html := webtest.Body(t, res)
	if strings.Contains(html, "very-secret") {
		t.Fatal("the token is in the page")
	}
	d, _ = goquery.NewDocumentFromReader(strings.NewReader(html))
	snippet := `<script src="http://127.0.0.1:8080/static/widget.js" data-assistant="` + row.PublicKey + `" async></script>`
	if got := d.Find("#snippet").Text(); got != snippet {
		t.Fatalf("snippet %q, want %q", got, snippet)
	}
	if v, _ := d.Find("#copy-snippet").Attr("data-copy"); v != snippet {
		t.Fatalf("copy button %q", v)
	}
	if d.Find("#token-status").Text() != "set" {
		t.Fatalf("token status %q", d.Find("#token-status").Text())
	}
	if v, _ := d.Find(`input[name="whatsapp_access_token"]`).Attr("value"); v != "" {
		t.Fatalf("token input value %q", v)
	}
	if d.Find("tr.var-row").Length() != 2 || d.Find("tr.prechat-row").Length() != 1 {
		t.Fatalf("rows: %d variables, %d prechat", d.Find("tr.var-row").Length(), d.Find("tr.prechat-row").Length())
	}
	if v, _ := d.Find(`textarea[name="allowed_origins"]`).Html(); v != "https://shop.example.com\nhttp://localhost:3000" {
		t.Fatalf("origins textarea %q", v)
	}

	// The list.
	d = webtest.Doc(t, e.Get(c, "/assistants"))
	tr := d.Find("tr.assistant")
	if tr.Length() != 1 || tr.Find("td.name").Text() != "Sales bot" || tr.Find("td.model").Text() != "gpt-4o-mini" ||
		tr.Find("td.vars").Text() != "2" || tr.Find("td.key").Text() != row.PublicKey || !strings.Contains(tr.Find("td.whatsapp").Text(), knownDisplay) || !strings.Contains(tr.Find("td.whatsapp").Text(), knownName) {
		t.Fatalf("list row %q", tr.Text())
	}

	// Edit through htmx: the fragment comes back with "Saved."; a blank token keeps the
	// stored one.
	form := asstForm("")
	form.Del("_csrf")
	form.Set("name", "Sales bot 2")
	form.Set("whatsapp_access_token", "")
	form.Set("var_required", "k2")
	form.Set("publish", "1") // "Save and publish": the behaviour answers at once (issue 15)
	path := "/assistants/" + strconv.FormatInt(id, 10)
	res = e.PostForm(c, path, form, "HX-Request", "true", "X-CSRF-Token", tok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("htmx edit: %d %s", res.StatusCode, webtest.Body(t, res))
	}
	d = webtest.Doc(t, res)
	if d.Find("section#assistant").Length() != 1 || d.Find("nav.side").Length() != 0 || d.Find("#saved").Length() != 1 {
		t.Fatal("htmx edit did not answer the saved fragment")
	}
	after, err := e.App.Store.AssistantByID(ctx, ws.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Name != "Sales bot 2" || after.WhatsAppAccessTokenEnc != row.WhatsAppAccessTokenEnc || !strings.Contains(webtest.ColJSON(t, after.Variables), `"name":"plan","description":"the plan they want","type":"enum","required":true`) {
		t.Fatalf("after edit %+v", after)
	}

	// A new token replaces the old one.
	form.Set("whatsapp_access_token", "EAAG-second")
	res = e.PostForm(c, path, form, "HX-Request", "true", "X-CSRF-Token", tok)
	res.Body.Close()
	after, _ = e.App.Store.AssistantByID(ctx, ws.ID, id)
	if pt, _ := e.App.Keys.Decrypt(after.WhatsAppAccessTokenEnc); pt != "EAAG-second" {
		t.Fatalf("new token decrypts to %q", pt)
	}

	// Remove the WhatsApp connection (a plain form post: 303 back to the page).
	form.Set("_csrf", tok)
	form.Set("whatsapp_remove", "1")
	res = e.PostForm(c, path, form)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != path+"?saved=1" {
		t.Fatalf("plain edit: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	after, _ = e.App.Store.AssistantByID(ctx, ws.ID, id)
	if after.WhatsAppPhoneNumberID != nil || after.WhatsAppAccessTokenEnc != "" {
		t.Fatalf("connection not removed: %v %q", after.WhatsAppPhoneNumberID, after.WhatsAppAccessTokenEnc)
	}
	if webtest.Doc(t, e.Get(c, path+"?saved=1")).Find("#token-status").Text() != "not set" {
		t.Fatal("token still shown as set")
	}

	// Delete: its conversations stay, without an assistant.
	conv := &store.Conversation{WorkspaceID: ws.ID, AssistantID: &id, Type: model.TypeTest, Customer: "x"}
	if err := e.App.Store.CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	d = webtest.Doc(t, e.Get(c, path))
	delForm := d.Find(`form[action="` + path + `/delete"]`)
	if delForm.Length() != 1 {
		t.Fatal("no delete form")
	}
	if v, _ := delForm.Attr("hx-confirm"); v == "" {
		t.Fatal("delete without confirmation")
	}
	dtok, _ := delForm.Find(`input[name="_csrf"]`).Attr("value")
	res = e.PostForm(c, path+"/delete", url.Values{})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("delete without CSRF: %d", res.StatusCode)
	}
	res = e.PostForm(c, path+"/delete", url.Values{"_csrf": {dtok}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/assistants?deleted=1" {
		t.Fatalf("delete: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if _, err := e.App.Store.AssistantByID(ctx, ws.ID, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	got, err := e.App.Store.GetConversation(ctx, ws.ID, conv.ID)
	if err != nil || got.AssistantID != nil {
		t.Fatalf("conversation after delete: %+v %v", got, err)
	}
	d = webtest.Doc(t, e.Get(c, res.Header.Get("Location")))
	if d.Find("#deleted").Length() != 1 || d.Find("tr.assistant").Length() != 0 {
		t.Fatal("list after delete")
	}
	res = e.Get(c, path)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("deleted assistant page: %d", res.StatusCode)
	}

	// Through htmx the delete redirects with HX-Redirect.
	id2 := asstCreate(t, e, c, asstForm(tok))
	res = e.PostForm(c, "/assistants/"+strconv.FormatInt(id2, 10)+"/delete", nil, "HX-Request", "true", "X-CSRF-Token", tok)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("HX-Redirect") != "/assistants?deleted=1" {
		t.Fatalf("htmx delete: %d %q", res.StatusCode, res.Header.Get("HX-Redirect"))
	}
	if asstCount(t, e, ws.ID) != 0 {
		t.Fatal("htmx delete left the assistant")
	}
}

func TestAssistantCreateThroughHTMXPushesTheURL(t *testing.T) {
	e := newEnv(t)
	ws, c := asstLogin(e, "ana@example.com")
	tok := e.CSRF(c, "/assistants/new")
	form := asstForm("")
	form.Del("_csrf")
	res := e.PostForm(c, "/assistants", form, "HX-Request", "true", "X-CSRF-Token", tok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("htmx create: %d", res.StatusCode)
	}
	a := asstOnly(t, e, ws.ID)
	want := "/assistants/" + strconv.FormatInt(a.ID, 10)
	if res.Header.Get("HX-Push-Url") != want {
		t.Fatalf("HX-Push-Url %q, want %q", res.Header.Get("HX-Push-Url"), want)
	}
	d := webtest.Doc(t, res)
	if act, _ := d.Find("#assistant-form").Attr("hx-post"); act != want {
		t.Fatalf("the swapped form posts to %q", act)
	}
	if !strings.Contains(d.Find("#snippet").Text(), a.PublicKey) {
		t.Fatal("no snippet after create")
	}
}

func TestAssistantValidationErrorsBesideFieldsAndNothingSaved(t *testing.T) {
	e := newEnv(t)
	ws, c := asstLogin(e, "ana@example.com")
	tok := e.CSRF(c, "/assistants/new")

	bad := asstForm(tok)
	bad.Set("name", "")
	bad.Set("model", "")
	bad.Set("temperature", "2.5")
	bad.Set("color", "blue")
	bad.Set("title", strings.Repeat("t", 101))
	bad.Set("allowed_origins", "https://ok.example\nhttps://shop.example.com/path")
	bad["var_name"] = []string{"Email", "plan", "email"}
	bad["var_description"] = []string{"", "", "dup"}
	bad["var_type"] = []string{"email", "enum", "bogus"}
	bad["var_options"] = []string{"", "", ""}
	bad.Set("pf_variable", "nope")
	bad.Set("pf_label", "")
	bad.Set("pf_type", "date")
	bad.Set("whatsapp_phone_number_id", "+1 555")
	bad.Set("whatsapp_access_token", "has space")
	want := map[string]string{
		"name":                       "required",
		"model":                      "required",
		"temperature":                "from 0 to 2",
		"color":                      "#1a2b3c",
		"title":                      "at most 100",
		"allowed_origins":            "https://shop.example.com/path",
		"variables[0].name":          "lower-case",
		"variables[1].options":       "at least one option",
		"variables[2].type":          "must be one of text, email, phone, number, date, boolean, enum",
		"prechat_fields[0].label":    "required",
		"prechat_fields[0].type":     "text, email, phone",
		"prechat_fields[0].variable": `"nope"`,
		"whatsapp_phone_number_id":   "digits",
		"whatsapp_access_token":      "spaces",
	}
	check := func(d *goquery.Document) {
		t.Helper()
		for f, part := range want {
			if msg := asstFieldErr(d, f); !strings.Contains(msg, part) {
				t.Errorf("error beside %s = %q, want it to contain %q", f, msg, part)
			}
		}
		if n := d.Find(".field-error").Length(); n != len(want) {
			t.Errorf("%d field errors shown, want %d", n, len(want))
		}
		if d.Find("#form-errors").Length() != 1 {
			t.Error("no summary notice")
		}
		// What was typed is kept.
		if v, _ := d.Find(`input[name="temperature"]`).Attr("value"); v != "2.5" {
			t.Errorf("temperature kept as %q", v)
		}
		if v := d.Find(`textarea[name="allowed_origins"]`).Text(); v != "https://ok.example\nhttps://shop.example.com/path" {
			t.Errorf("origins kept as %q", v)
		}
		if v, _ := d.Find(`tr.var-row input[name="var_name"]`).First().Attr("value"); v != "Email" {
			t.Errorf("variable name kept as %q", v)
		}
		if d.Find(`tr.var-row input[name="var_required"][checked]`).Length() != 1 {
			t.Error("required checkbox not kept")
		}
		if strings.Contains(d.Text(), "has space") {
			t.Error("the token is echoed back")
		}
	}

	// Plain post: 400 with the full page.
	res := e.PostForm(c, "/assistants", bad)
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain invalid create: %d", res.StatusCode)
	}
	d := webtest.Doc(t, res)
	if d.Find("nav.side").Length() != 1 {
		t.Fatal("plain invalid create is not a full page")
	}
	check(d)
	// htmx: 200 (so that htmx swaps) with the fragment.
	res = e.PostForm(c, "/assistants", bad, "HX-Request", "true", "X-CSRF-Token", tok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("htmx invalid create: %d", res.StatusCode)
	}
	d = webtest.Doc(t, res)
	if d.Find("nav.side").Length() != 0 || d.Find("section#assistant").Length() != 1 {
		t.Fatal("htmx invalid create is not the fragment")
	}
	check(d)
	if n := asstCount(t, e, ws.ID); n != 0 {
		t.Fatalf("%d assistants stored from invalid forms", n)
	}

	// Edit: the same errors, and the stored assistant is untouched.
	id := asstCreate(t, e, c, asstForm(tok))
	before := asstOnly(t, e, ws.ID)
	path := "/assistants/" + strconv.FormatInt(id, 10)
	bad.Del("whatsapp_access_token")
	delete(want, "whatsapp_access_token")
	res = e.PostForm(c, path, bad, "HX-Request", "true", "X-CSRF-Token", tok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("htmx invalid edit: %d", res.StatusCode)
	}
	check(webtest.Doc(t, res))
	after := asstOnly(t, e, ws.ID)
	if !asstSame(after, before) {
		t.Fatalf("invalid edit changed the assistant:\n%+v\n%+v", before, after)
	}
	res = e.PostForm(c, path, bad)
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain invalid edit: %d", res.StatusCode)
	}
	res.Body.Close()

	// One wrong field is enough for nothing to be saved.
	one := asstForm(tok)
	one.Set("name", "Renamed")
	one.Set("color", "#12345")
	res = e.PostForm(c, path, one)
	d = webtest.Doc(t, res)
	if res.StatusCode != http.StatusBadRequest || asstFieldErr(d, "color") == "" {
		t.Fatalf("one bad field: %d", res.StatusCode)
	}
	if a := asstOnly(t, e, ws.ID); a.Name != before.Name || webtest.ColJSON(t, a.WidgetSettings) != webtest.ColJSON(t, before.WidgetSettings) {
		t.Fatal("half saved")
	}

	// Connecting a number needs a token.
	noTok := asstForm(tok)
	noTok.Del("whatsapp_access_token")
	res = e.PostForm(c, "/assistants", noTok)
	if d := webtest.Doc(t, res); !strings.Contains(asstFieldErr(d, "whatsapp_access_token"), "required") {
		t.Fatal("missing token not reported")
	}
}

func TestAssistantDuplicatePhoneNumberID(t *testing.T) {
	e := newEnv(t)
	wsA, cA := asstLogin(e, "ana@example.com")
	wsB, cB := asstLogin(e, "bob@example.com")
	tokA := e.CSRF(cA, "/assistants/new")
	tokB := e.CSRF(cB, "/assistants/new")
	asstCreate(t, e, cB, asstForm(tokB)) // B connects 1234567890

	// A cannot connect the same number, confirmed by Meta for B (409): the error is beside the
	// field, nothing is stored.
	res := e.PostForm(cA, "/assistants", asstForm(tokA))
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("duplicate create: %d", res.StatusCode)
	}
	d := webtest.Doc(t, res)
	if msg := asstFieldErr(d, "whatsapp_phone_number_id"); !strings.Contains(msg, "already connected") {
		t.Fatalf("error beside the phone number id: %q", msg)
	}
	if v, _ := d.Find(`input[name="name"]`).Attr("value"); v != "Sales bot" {
		t.Fatalf("form not kept: name %q", v)
	}
	if asstCount(t, e, wsA.ID) != 0 {
		t.Fatal("duplicate stored")
	}

	// Nor by editing.
	form := asstForm(tokA)
	form.Set("whatsapp_phone_number_id", "42")
	id := asstCreate(t, e, cA, form)
	before := asstOnly(t, e, wsA.ID)
	form.Set("whatsapp_phone_number_id", "1234567890")
	form.Set("name", "Renamed")
	res = e.PostForm(cA, "/assistants/"+strconv.FormatInt(id, 10), form, "HX-Request", "true", "X-CSRF-Token", tokA)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("duplicate edit: %d", res.StatusCode)
	}
	if msg := asstFieldErr(webtest.Doc(t, res), "whatsapp_phone_number_id"); !strings.Contains(msg, "already connected") {
		t.Fatalf("error beside the phone number id on edit: %q", msg)
	}
	if after := asstOnly(t, e, wsA.ID); !asstSame(after, before) {
		t.Fatal("duplicate edit changed the assistant")
	}
	if b := asstOnly(t, e, wsB.ID); b.WhatsAppPhoneNumberID == nil || *b.WhatsAppPhoneNumberID != "1234567890" {
		t.Fatal("B lost its number")
	}
}

func TestAssistantOtherWorkspaceIs404(t *testing.T) {
	e := newEnv(t)
	_, cA := asstLogin(e, "ana@example.com")
	wsB, cB := asstLogin(e, "bob@example.com")
	tokA := e.CSRF(cA, "/assistants/new")
	idB := asstCreate(t, e, cB, asstForm(e.CSRF(cB, "/assistants/new")))
	before := asstOnly(t, e, wsB.ID)
	path := "/assistants/" + strconv.FormatInt(idB, 10)

	for _, tc := range []struct {
		method, path string
	}{{"GET", path}, {"POST", path}, {"POST", path + "/delete"}, {"GET", "/assistants/999999"}, {"GET", "/assistants/abc"}} {
		var res *http.Response
		if tc.method == "GET" {
			res = e.Get(cA, tc.path)
		} else {
			form := asstForm(tokA)
			form.Set("whatsapp_phone_number_id", "")
			form.Set("whatsapp_access_token", "")
			res = e.PostForm(cA, tc.path, form)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s from another workspace: %d", tc.method, tc.path, res.StatusCode)
		}
	}
	if after := asstOnly(t, e, wsB.ID); !asstSame(after, before) {
		t.Fatal("another workspace changed the assistant")
	}
	if webtest.Doc(t, e.Get(cA, "/assistants")).Find("tr.assistant").Length() != 0 {
		t.Fatal("A's list shows B's assistant")
	}
}

func TestAssistantNamesAreEscaped(t *testing.T) {
	e := newEnv(t)
	_, c := asstLogin(e, "ana@example.com")
	tok := e.CSRF(c, "/assistants/new")
	form := asstForm(tok)
	form.Set("name", `<script>alert("x")</script>`)
	form.Set("first_message", `<img src=x onerror=alert(1)>`)
	id := asstCreate(t, e, c, form)
	for _, p := range []string{"/assistants", "/assistants/" + strconv.FormatInt(id, 10)} {
		html := webtest.Body(t, e.Get(c, p))
		if strings.Contains(html, `<script>alert`) || strings.Contains(html, `<img src=x`) {
			t.Fatalf("%s: unescaped name", p)
		}
		if !strings.Contains(html, `&lt;script&gt;`) {
			t.Fatalf("%s: escaped name missing", p)
		}
	}
}

func TestAssistantRowFragments(t *testing.T) {
	e := newEnv(t)
	_, c := asstLogin(e, "ana@example.com")

	res := e.Get(c, "/assistants/variable-row", "HX-Request", "true")
	d := asstRowDoc(t, res)
	row := d.Find("tr.var-row")
	if row.Length() != 1 || d.Find("nav.side").Length() != 0 {
		t.Fatal("variable row fragment")
	}
	key, _ := row.Find(`input[name="var_key"]`).Attr("value")
	if req, _ := row.Find(`input[name="var_required"]`).Attr("value"); key == "" || req != key {
		t.Fatalf("row key %q, required checkbox value %q", key, req)
	}
	if row.Find(`select[name="var_type"] option`).Length() != 7 {
		t.Fatal("variable types")
	}
	// Two rows never share a key.
	key2, _ := asstRowDoc(t, e.Get(c, "/assistants/variable-row", "HX-Request", "true")).Find(`input[name="var_key"]`).Attr("value")
	if key2 == key {
		t.Fatal("row keys repeat")
	}

	res = e.Get(c, "/assistants/prechat-row?var_name=email&var_name=Bad+Name&var_name=plan&var_name=email", "HX-Request", "true")
	d = asstRowDoc(t, res)
	var opts []string
	d.Find(`select[name="pf_variable"] option`).Each(func(_ int, s *goquery.Selection) {
		v, _ := s.Attr("value")
		opts = append(opts, v)
	})
	if strings.Join(opts, ",") != ",email,plan" {
		t.Fatalf("variable choices %q", opts)
	}

	res = e.Get(c, "/assistants/variable-row?remove=1", "HX-Request", "true")
	if b := webtest.Body(t, res); res.StatusCode != http.StatusOK || b != "" {
		t.Fatalf("remove: %d %q", res.StatusCode, b)
	}

	// The form's buttons point at these fragments.
	d = webtest.Doc(t, e.Get(c, "/assistants/new"))
	if v, _ := d.Find("#add-variable").Attr("hx-get"); v != "/assistants/variable-row" {
		t.Fatalf("add variable button: %q", v)
	}
	if v, _ := d.Find("#add-variable").Attr("hx-target"); v != "#variables" {
		t.Fatalf("add variable target: %q", v)
	}
	if v, _ := d.Find("#add-variable").Attr("hx-swap"); v != "beforeend" {
		t.Fatalf("add variable swap: %q", v)
	}
}

func TestAssistantPagesNeedLogin(t *testing.T) {
	e := newEnv(t)
	c := e.Client()
	res := e.Get(c, "/assistants")
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("anonymous: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// asstWait polls a boolean expression in the page until it holds.
func asstWait(t *testing.T, ctx context.Context, js string) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.querySelector("#assistant")||document.body).outerHTML`))
	t.Fatalf("timed out waiting for %s; the page:\n%s", js, page)
}

// asstIdle waits until htmx has no request, swap or settle under way, so that a click lands on
// the form that is on the page and not on the one being replaced.
func asstIdle(t *testing.T, ctx context.Context) {
	t.Helper()
	asstWait(t, ctx, `!document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")`)
}

func asstRun(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserAssistantForm drives the htmx form: rows are added and removed, an invalid post
// swaps the errors in beside the field, a valid one saves and pushes the assistant's URL.
func TestBrowserAssistantForm(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", asstPassword)
	ctx := testkit.Browser(t)
	asstRun(t, ctx,
		chromedp.Navigate(e.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "ana@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), asstPassword),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.side`)),
		chromedp.Navigate(e.URL+"/assistants/new"),
		chromedp.WaitVisible(chromedp.CSS(`#assistant-form`)),
		chromedp.SendKeys(chromedp.CSS(`#a-name`), "Browser bot"),
		chromedp.Click(chromedp.CSS(`#add-variable`)),
	)
	asstWait(t, ctx, `document.querySelectorAll("#variables tr.var-row").length === 1`)
	asstRun(t, ctx, chromedp.Click(chromedp.CSS(`#add-variable`)))
	asstWait(t, ctx, `document.querySelectorAll("#variables tr.var-row").length === 2`)
	asstRun(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`#variables tr.var-row:nth-child(1) input[name="var_name"]`), "email"),
		chromedp.SetValue(chromedp.CSS(`#variables tr.var-row:nth-child(1) select[name="var_type"]`), "email"),
		chromedp.Click(chromedp.CSS(`#variables tr.var-row:nth-child(1) input[name="var_required"]`)),
		chromedp.SendKeys(chromedp.CSS(`#variables tr.var-row:nth-child(2) input[name="var_name"]`), "gone"),
		chromedp.Click(chromedp.CSS(`#variables tr.var-row:nth-child(2) button`)),
	)
	asstWait(t, ctx, `document.querySelectorAll("#variables tr.var-row").length === 1`)
	// A new pre-chat row offers the variables typed so far.
	asstRun(t, ctx, chromedp.Click(chromedp.CSS(`#add-prechat-field`)))
	asstWait(t, ctx, `document.querySelectorAll("#prechat-fields select[name=pf_variable] option[value=email]").length === 1`)
	asstRun(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`#prechat-fields input[name="pf_name"]`), "mail"),
		chromedp.SendKeys(chromedp.CSS(`#prechat-fields input[name="pf_label"]`), "Your email"),
		chromedp.SetValue(chromedp.CSS(`#prechat-fields select[name="pf_variable"]`), "email"),
		chromedp.SendKeys(chromedp.CSS(`#a-color`), "blue"),
		chromedp.Click(chromedp.CSS(`#save-assistant`)),
	)
	asstWait(t, ctx, `(document.querySelector('[data-field="color"] .field-error')||{}).textContent === "must be a colour like #1a2b3c"`)
	if n := asstCount(t, e, ws.ID); n != 0 {
		t.Fatalf("%d assistants after an invalid post", n)
	}
	asstIdle(t, ctx)
	asstRun(t, ctx,
		chromedp.SetValue(chromedp.CSS(`#a-color`), "#123abc"),
		chromedp.Click(chromedp.CSS(`#save-assistant`)),
	)
	asstWait(t, ctx, `!!document.querySelector("#saved") && /\/assistants\/\d+$/.test(location.pathname)`)
	a := asstOnly(t, e, ws.ID)
	if a.Name != "Browser bot" || webtest.ColJSON(t, a.Variables) != `[{"name":"email","description":"","type":"email","required":true,"options":[]}]` ||
		webtest.ColJSON(t, a.PrechatFields) != `[{"name":"mail","label":"Your email","type":"text","variable":"email","required":false}]` {
		t.Fatalf("saved %+v", a)
	}
}
