package dashboard_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// The dashboard form connects a number only when Meta confirms it with the token: otherwise
// 422 (htmx: 200, which htmx swaps) with Meta's reason beside the access token, the form kept
// and nothing saved; 502 when the Graph API cannot be asked.
func TestAssistantFormRefusesANumberMetaDoesNotConfirm(t *testing.T) {
	e := newEnv(t)
	ws, c := asstLogin(e, "ana@example.com")
	tok := e.CSRF(c, "/assistants/new")

	form := asstForm(tok)
	form.Set("whatsapp_phone_number_id", "5550001") // Meta knows no such number for this token
	res := e.PostForm(c, "/assistants", form)
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unconfirmed create: %d", res.StatusCode)
	}
	d := webtest.Doc(t, res)
	if msg := asstFieldErr(d, "whatsapp_access_token"); !strings.Contains(msg, "Meta did not confirm") || !strings.Contains(msg, "5550001") {
		t.Fatalf("error beside the access token: %q", msg)
	}
	if v, _ := d.Find(`input[name="whatsapp_phone_number_id"]`).Attr("value"); v != "5550001" {
		t.Fatalf("form not kept: phone number id %q", v)
	}
	if strings.Contains(d.Text(), "EAAG-very-secret-token") {
		t.Fatal("the token is echoed back")
	}
	res = e.PostForm(c, "/assistants", form, "HX-Request", "true", "X-CSRF-Token", tok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("htmx: %d", res.StatusCode)
	}
	if msg := asstFieldErr(webtest.Doc(t, res), "whatsapp_access_token"); !strings.Contains(msg, "Meta did not confirm") {
		t.Fatalf("htmx: error beside the access token: %q", msg)
	}
	graphURL := e.App.Config.WhatsAppGraphURL
	e.App.Config.WhatsAppGraphURL = "http://127.0.0.1:1/v21.0" // nobody listens
	res = e.PostForm(c, "/assistants", asstForm(tok))
	e.App.Config.WhatsAppGraphURL = graphURL
	if res.StatusCode != http.StatusBadGateway {
		t.Fatalf("graph unreachable: %d", res.StatusCode)
	}
	if msg := asstFieldErr(webtest.Doc(t, res), "whatsapp_access_token"); !strings.Contains(msg, "could not be reached") {
		t.Fatalf("graph unreachable: error beside the access token: %q", msg)
	}
	if n := asstCount(t, e, ws.ID); n != 0 {
		t.Fatalf("%d assistants saved", n)
	}

	// Editing: a token Meta refuses changes nothing.
	e.Graph.Token = "EAAG-very-secret-token"
	id := asstCreate(t, e, c, asstForm(tok))
	before := asstOnly(t, e, ws.ID)
	form = asstForm(tok)
	form.Set("name", "Renamed")
	form.Set("whatsapp_access_token", "EAAG-someone-elses")
	res = e.PostForm(c, "/assistants/"+strconv.FormatInt(id, 10), form)
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("edit with a refused token: %d", res.StatusCode)
	}
	if msg := asstFieldErr(webtest.Doc(t, res), "whatsapp_access_token"); !strings.Contains(msg, "invalid or has expired") {
		t.Fatalf("edit: error beside the access token: %q", msg)
	}
	after := asstOnly(t, e, ws.ID)
	if after.Name != before.Name || after.WhatsAppAccessTokenEnc != before.WhatsAppAccessTokenEnc || after.WhatsAppVerifiedAt == nil {
		t.Fatalf("a refused edit changed the assistant: %+v", after)
	}
}

// The assistant page and the list show what Meta confirmed: the display number and the
// verified business name; saving again with the token left blank does not ask Meta again.
func TestAssistantPageShowsTheConfirmedNumber(t *testing.T) {
	e := newEnv(t)
	ws, c := asstLogin(e, "ana@example.com")
	tok := e.CSRF(c, "/assistants/new")
	id := asstCreate(t, e, c, asstForm(tok))
	row := asstOnly(t, e, ws.ID)
	if row.WhatsAppDisplayPhoneNumber != knownDisplay || row.WhatsAppVerifiedName != knownName || row.WhatsAppVerifiedAt == nil {
		t.Fatalf("stored: %+v", row)
	}
	page := "/assistants/" + strconv.FormatInt(id, 10)
	d := webtest.Doc(t, e.Get(c, page))
	if got := d.Find("#whatsapp-number .display-number").Text(); got != knownDisplay {
		t.Fatalf("display number %q", got)
	}
	if got := d.Find("#whatsapp-number .verified-name").Text(); got != knownName {
		t.Fatalf("verified name %q", got)
	}
	form := asstForm(tok)
	form.Set("whatsapp_access_token", "")
	form.Set("name", "Renamed")
	if res := e.PostForm(c, page, form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", res.StatusCode)
	}
	if n := len(e.Graph.Lookups()); n != 1 {
		t.Fatalf("Meta asked %d times", n)
	}

	// A connection made before numbers were confirmed says so.
	pid := "42"
	legacy := &store.Assistant{WorkspaceID: ws.ID, Name: "Legacy", WhatsAppPhoneNumberID: &pid, WhatsAppAccessTokenEnc: "sealed"}
	if err := e.App.Store.CreateAssistant(context.Background(), legacy); err != nil {
		t.Fatal(err)
	}
	d = webtest.Doc(t, e.Get(c, "/assistants/"+strconv.FormatInt(legacy.ID, 10)))
	if got := d.Find("#whatsapp-number.unconfirmed").Text(); !strings.Contains(got, "not confirmed by Meta") {
		t.Fatalf("legacy: %q", got)
	}
}
