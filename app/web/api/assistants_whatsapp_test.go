package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// numberErr reads the API's error: its code and the fields it names.
func numberErr(t *testing.T, r asstAPIResp) (string, []string) {
	t.Helper()
	o := r.obj(t)
	e, _ := o["error"].(map[string]any)
	code, _ := e["code"].(string)
	var fields []string
	fs, _ := e["fields"].([]any)
	for _, f := range fs {
		m, _ := f.(map[string]any)
		name, _ := m["field"].(string)
		fields = append(fields, name)
	}
	return code, fields
}

// Meta must confirm the number with the supplied token before an assistant is connected to
// it: an id the token cannot see, a token Meta refuses, an answer for another number are a
// 422 naming whatsapp_access_token, an unreachable Graph API a 502; nothing is saved.
func TestAPIWhatsAppNumberMustBeConfirmedByMeta(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	key := asstAPIKey(t, e, ws.ID)
	e.Graph.Token = "EAAG-good"

	refused := []struct {
		name, body string
		answer     *testkit.GraphAnswer
	}{
		{"unknown number", `{"name":"A","whatsapp_phone_number_id":"5550001","whatsapp_access_token":"EAAG-good"}`, nil},
		{"token refused", `{"name":"A","whatsapp_phone_number_id":"1098765","whatsapp_access_token":"EAAG-stolen"}`, nil},
		{"403", `{"name":"A","whatsapp_phone_number_id":"1098765","whatsapp_access_token":"EAAG-good"}`,
			&testkit.GraphAnswer{Error: &testkit.GraphError{Status: 403, Message: "(#200) Permissions error", Type: "OAuthException", Code: 200}}},
		{"another number", `{"name":"A","whatsapp_phone_number_id":"1098765","whatsapp_access_token":"EAAG-good"}`,
			&testkit.GraphAnswer{Status: 200, Body: `{"display_phone_number":"+1 555-999-0000","verified_name":"Someone Else","id":"999999"}`}},
	}
	for _, c := range refused {
		if c.answer != nil {
			e.Graph.Then(*c.answer)
		}
		r := asstAPIDo(t, e, "POST", "/api/v1/assistants", key, c.body)
		code, fields := numberErr(t, r)
		if r.Status != http.StatusUnprocessableEntity || code != "whatsapp_not_confirmed" || len(fields) != 1 || fields[0] != "whatsapp_access_token" ||
			!strings.HasPrefix(r.obj(t)["error"].(map[string]any)["message"].(string), "whatsapp_access_token: ") {
			t.Fatalf("%s: %d %s", c.name, r.Status, r.Body)
		}
	}
	for _, c := range []testkit.GraphAnswer{{Error: &testkit.GraphRateLimited}, {Error: &testkit.GraphUnknown}, {Status: 502, Body: "<html>Bad gateway</html>"}, {}} {
		graphURL := e.App.Config.WhatsAppGraphURL
		if c == (testkit.GraphAnswer{}) {
			e.App.Config.WhatsAppGraphURL = "http://127.0.0.1:1/v21.0" // nobody listens
		} else {
			e.Graph.Then(c)
		}
		r := asstAPIDo(t, e, "POST", "/api/v1/assistants", key, `{"name":"A","whatsapp_phone_number_id":"1098765","whatsapp_access_token":"EAAG-good"}`)
		e.App.Config.WhatsAppGraphURL = graphURL
		if code, fields := numberErr(t, r); r.Status != http.StatusBadGateway || code != "graph_unreachable" || len(fields) != 1 || fields[0] != "whatsapp_access_token" {
			t.Fatalf("graph unreachable %+v: %d %s", c, r.Status, r.Body)
		}
	}
	if n := len(e.Graph.Lookups()); n != 7 {
		t.Fatalf("Meta was asked %d times, want once a request", n)
	}
	for _, l := range e.Graph.Lookups() {
		if l.RawQuery != "fields=display_phone_number,verified_name" {
			t.Fatalf("lookup %+v", l)
		}
	}
	if as, err := e.App.Store.Assistants(context.Background(), ws.ID); err != nil || len(as) != 0 {
		t.Fatalf("a refused connection was saved: %+v %v", as, err)
	}

	// An assistant without WhatsApp, then a PATCH that connects a number Meta does not confirm.
	r := asstAPIDo(t, e, "POST", "/api/v1/assistants", key, `{"name":"Plain"}`)
	if r.Status != http.StatusCreated {
		t.Fatal(r.Body)
	}
	path := "/api/v1/assistants/" + strconv.FormatInt(int64(r.obj(t)["id"].(float64)), 10)
	r = asstAPIDo(t, e, "PATCH", path, key, `{"name":"Renamed","whatsapp_phone_number_id":"1098765","whatsapp_access_token":"EAAG-stolen"}`)
	if code, fields := numberErr(t, r); r.Status != http.StatusUnprocessableEntity || code != "whatsapp_not_confirmed" || fields[0] != "whatsapp_access_token" {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if g := asstAPIDo(t, e, "GET", path, key, "").obj(t); g["name"] != "Plain" || g["whatsapp_connected"] != false || g["whatsapp_phone_number_id"] != nil {
		t.Fatalf("a refused patch was half saved: %v", g)
	}
}

// What Meta confirmed is stored and shown; the same number and token are not put to Meta again,
// a new token or a new number are.
func TestAPIWhatsAppNumberConfirmedIsStoredAndReverifiedOnChange(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	key := asstAPIKey(t, e, ws.ID)
	e.Graph.Token = "EAAG-good"

	r := asstAPIDo(t, e, "POST", "/api/v1/assistants", key, `{"name":"Shop","whatsapp_phone_number_id":"1098765","whatsapp_access_token":"EAAG-good"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	a := r.obj(t)
	if a["whatsapp_display_phone_number"] != "+1 555-010-9876" || a["whatsapp_verified_name"] != "Support Shop" || a["whatsapp_verified_at"] == nil || a["whatsapp_connected"] != true {
		t.Fatalf("created: %s", r.Body)
	}
	lookups := e.Graph.Lookups()
	if len(lookups) != 1 || lookups[0].Auth != "Bearer EAAG-good" || !strings.HasSuffix(lookups[0].Path, "/1098765") {
		t.Fatalf("lookups %+v", lookups)
	}
	id := int64(a["id"].(float64))
	path := "/api/v1/assistants/" + strconv.FormatInt(id, 10)
	if g := asstAPIDo(t, e, "GET", path, key, "").obj(t); g["whatsapp_display_phone_number"] != "+1 555-010-9876" || g["whatsapp_verified_name"] != "Support Shop" {
		t.Fatalf("get: %v", g)
	}
	row, err := e.App.Store.AssistantByID(context.Background(), ws.ID, id)
	if err != nil || row.WhatsAppDisplayPhoneNumber != "+1 555-010-9876" || row.WhatsAppVerifiedName != "Support Shop" || row.WhatsAppVerifiedAt == nil {
		t.Fatalf("stored: %+v %v", row, err)
	}

	// Unchanged: other fields, the same token typed again, the number sent again.
	for _, body := range []string{`{"name":"Shop 2"}`, `{"whatsapp_access_token":"EAAG-good"}`, `{"whatsapp_phone_number_id":"1098765"}`} {
		if r := asstAPIDo(t, e, "PATCH", path, key, body); r.Status != http.StatusOK || r.obj(t)["whatsapp_verified_name"] != "Support Shop" {
			t.Fatalf("%s: %d %s", body, r.Status, r.Body)
		}
	}
	if n := len(e.Graph.Lookups()); n != 1 {
		t.Fatalf("an unchanged connection was put to Meta again: %d lookups", n)
	}
	// A new token is confirmed (and refused: the old connection stays as it was).
	r = asstAPIDo(t, e, "PATCH", path, key, `{"whatsapp_access_token":"EAAG-other"}`)
	if code, _ := numberErr(t, r); r.Status != http.StatusUnprocessableEntity || code != "whatsapp_not_confirmed" {
		t.Fatalf("new token: %d %s", r.Status, r.Body)
	}
	if after, _ := e.App.Store.AssistantByID(context.Background(), ws.ID, id); after.WhatsAppAccessTokenEnc != row.WhatsAppAccessTokenEnc || after.WhatsAppVerifiedAt == nil {
		t.Fatalf("a refused token replaced the stored connection: %+v", after)
	}
	// A new number with the stored token is confirmed.
	r = asstAPIDo(t, e, "PATCH", path, key, `{"whatsapp_phone_number_id":"777"}`)
	if r.Status != http.StatusOK || r.obj(t)["whatsapp_display_phone_number"] != "+1 555-777" || r.obj(t)["whatsapp_verified_name"] != "Seven Shop" {
		t.Fatalf("new number: %d %s", r.Status, r.Body)
	}
	if l := e.Graph.Lookups(); len(l) != 3 || !strings.HasSuffix(l[2].Path, "/777") || l[2].Auth != "Bearer EAAG-good" {
		t.Fatalf("lookups %+v", l)
	}
	// Disconnected: nothing is asked, nothing is left.
	r = asstAPIDo(t, e, "PATCH", path, key, `{"whatsapp_phone_number_id":null}`)
	if o := r.obj(t); r.Status != http.StatusOK || o["whatsapp_display_phone_number"] != nil || o["whatsapp_verified_name"] != nil || o["whatsapp_verified_at"] != nil {
		t.Fatalf("disconnect: %d %s", r.Status, r.Body)
	}
	if n := len(e.Graph.Lookups()); n != 3 {
		t.Fatalf("%d lookups", n)
	}
}

// A number held without Meta's confirmation (connected before numbers were confirmed) goes to
// the workspace that proves it; once confirmed, another workspace is refused with 409, even
// with a token Meta accepts.
func TestAPIWhatsAppNumberBelongsToWhoeverProvesIt(t *testing.T) {
	e := newEnv(t)
	wsS := e.User("squat@example.com", "correct-horse")
	wsO := e.User("owner@example.com", "correct-horse")
	wsX := e.User("other@example.com", "correct-horse")
	keyO, keyX := asstAPIKey(t, e, wsO.ID), asstAPIKey(t, e, wsX.ID)
	ctx := context.Background()
	pid := "1098765"
	squat := &store.Assistant{WorkspaceID: wsS.ID, Name: "Squatter", WhatsAppPhoneNumberID: &pid, WhatsAppAccessTokenEnc: "sealed"}
	if err := e.App.Store.CreateAssistant(ctx, squat); err != nil {
		t.Fatal(err)
	}

	r := asstAPIDo(t, e, "POST", "/api/v1/assistants", keyO, `{"name":"Owner","whatsapp_phone_number_id":"1098765","whatsapp_access_token":"EAAG-owner"}`)
	if r.Status != http.StatusCreated || r.obj(t)["whatsapp_verified_name"] != "Support Shop" {
		t.Fatalf("the owner proving the number: %d %s", r.Status, r.Body)
	}
	ownerID := int64(r.obj(t)["id"].(float64))
	if got, _ := e.App.Store.AssistantByID(ctx, wsS.ID, squat.ID); got.WhatsAppPhoneNumberID != nil || got.WhatsAppAccessTokenEnc != "" {
		t.Fatalf("the unproven holder kept the number: %+v", got)
	}
	if a, err := e.App.Store.AssistantByPhoneNumberID(ctx, pid); err != nil || a.ID != ownerID {
		t.Fatalf("webhooks route to %+v %v", a, err)
	}

	r = asstAPIDo(t, e, "POST", "/api/v1/assistants", keyX, `{"name":"X","whatsapp_phone_number_id":"1098765","whatsapp_access_token":"EAAG-x"}`)
	if code, msg := r.errMsg(t); r.Status != http.StatusConflict || code != "conflict" || !strings.HasPrefix(msg, "whatsapp_phone_number_id:") {
		t.Fatalf("another workspace taking a confirmed number: %d %s", r.Status, r.Body)
	}
	r = asstAPIDo(t, e, "POST", "/api/v1/assistants", keyX, `{"name":"X"}`)
	path := "/api/v1/assistants/" + strconv.FormatInt(int64(r.obj(t)["id"].(float64)), 10)
	r = asstAPIDo(t, e, "PATCH", path, keyX, `{"whatsapp_phone_number_id":"1098765","whatsapp_access_token":"EAAG-x"}`)
	if code, _ := r.errMsg(t); r.Status != http.StatusConflict || code != "conflict" {
		t.Fatalf("patch onto a confirmed number: %d %s", r.Status, r.Body)
	}
	if a, err := e.App.Store.AssistantByPhoneNumberID(ctx, pid); err != nil || a.ID != ownerID || a.WorkspaceID != wsO.ID {
		t.Fatalf("after the refusals webhooks route to %+v %v", a, err)
	}
}
