package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// Helpers of this file carry an "asstAPI" prefix.

func asstAPIKey(t *testing.T, e *env, workspaceID int64) string {
	t.Helper()
	key, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Store.CreateAPIKey(context.Background(), workspaceID, "assistants", prefix, hash, nil); err != nil {
		t.Fatal(err)
	}
	return key
}

type asstAPIResp struct {
	Status int
	Body   string
	Header http.Header
}

func (r asstAPIResp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("%v in %s", err, r.Body)
	}
	return m
}

// errMsg returns the error code and message of a JSON error answer.
func (r asstAPIResp) errMsg(t *testing.T) (string, string) {
	t.Helper()
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil || b.Error.Code == "" {
		t.Fatalf("not a JSON error: %s", r.Body)
	}
	return b.Error.Code, b.Error.Message
}

func asstAPIDo(t *testing.T, e *env, method, path, key, body string) asstAPIResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return asstAPIResp{res.StatusCode, string(b), res.Header}
}

const asstAPIFull = `{
	"name": "Support",
	"system_prompt": "Help with orders.",
	"first_message": "Hi!",
	"model": "llama3.1:8b",
	"temperature": 0.2,
	"variables": [
		{"name": "order_number", "description": "like PO-123", "type": "text", "required": true},
		{"name": "email", "type": "email"},
		{"name": "size", "type": "enum", "options": ["s", "m", "l"], "required": false}
	],
	"prechat_fields": [
		{"name": "email", "label": "Your email", "type": "email", "required": true},
		{"name": "order", "label": "Order", "type": "text", "variable": "order_number"}
	],
	"allowed_origins": ["https://Shop.example.com", "http://localhost:3000/"],
	"title": "Support",
	"color": "#059669",
	"whatsapp_phone_number_id": "1098765",
	"whatsapp_access_token": "EAAG-api-secret"
}`

func TestAPIAssistantsCRUD(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	key := asstAPIKey(t, e, ws.ID)
	ctx := context.Background()

	r := asstAPIDo(t, e, "GET", "/api/v1/assistants", key, "")
	if r.Status != http.StatusOK || strings.TrimSpace(r.Body) != `{"data":[]}` {
		t.Fatalf("empty list: %d %s", r.Status, r.Body)
	}

	r = asstAPIDo(t, e, "POST", "/api/v1/assistants", key, asstAPIFull)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if strings.Contains(r.Body, "EAAG") || strings.Contains(r.Body, "whatsapp_access_token") {
		t.Fatalf("the token is in the answer: %s", r.Body)
	}
	a := r.obj(t)
	id := int64(a["id"].(float64))
	if r.Header.Get("Location") != "/api/v1/assistants/"+strconv.FormatInt(id, 10) {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	if a["name"] != "Support" || a["model"] != "llama3.1:8b" || a["temperature"] != 0.2 || a["title"] != "Support" || a["color"] != "#059669" ||
		a["whatsapp_phone_number_id"] != "1098765" || a["whatsapp_connected"] != true || !strings.HasPrefix(a["public_key"].(string), "pa_") ||
		a["created_at"] == nil || a["updated_at"] == nil {
		t.Fatalf("created %v", a)
	}
	if got, _ := json.Marshal(a["allowed_origins"]); string(got) != `["https://shop.example.com","http://localhost:3000"]` {
		t.Fatalf("origins %s", got)
	}
	if got, _ := json.Marshal(a["variables"]); string(got) != `[{"description":"like PO-123","name":"order_number","options":[],"required":true,"type":"text"},{"description":"","name":"email","options":[],"required":false,"type":"email"},{"description":"","name":"size","options":["s","m","l"],"required":false,"type":"enum"}]` {
		t.Fatalf("variables %s", got)
	}
	if got, _ := json.Marshal(a["prechat_fields"]); string(got) != `[{"label":"Your email","name":"email","required":true,"type":"email","variable":"email"},{"label":"Order","name":"order","required":false,"type":"text","variable":"order_number"}]` {
		t.Fatalf("prechat fields %s", got)
	}

	// Stored encrypted; decrypts back.
	row, err := e.App.Store.AssistantByID(ctx, ws.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row.WhatsAppAccessTokenEnc, "EAAG") {
		t.Fatal("plain token stored")
	}
	if pt, err := e.App.Keys.Decrypt(row.WhatsAppAccessTokenEnc); err != nil || pt != "EAAG-api-secret" {
		t.Fatalf("decrypt: %q %v", pt, err)
	}

	// GET and list give the same document.
	path := "/api/v1/assistants/" + strconv.FormatInt(id, 10)
	g := asstAPIDo(t, e, "GET", path, key, "")
	if g.Status != http.StatusOK || g.Body != r.Body {
		t.Fatalf("get: %d\n%s\nwant\n%s", g.Status, g.Body, r.Body)
	}
	l := asstAPIDo(t, e, "GET", "/api/v1/assistants", key, "")
	if l.Status != http.StatusOK || strings.TrimSpace(l.Body) != `{"data":[`+strings.TrimSpace(r.Body)+`]}` {
		t.Fatalf("list: %s", l.Body)
	}

	// PATCH changes only the fields given (published at once: the behaviour shown is the
	// published version's; issue 15).
	p := asstAPIDo(t, e, "PATCH", path, key, `{"name":"Support 2","temperature":1,"publish":true}`)
	if p.Status != http.StatusOK {
		t.Fatalf("patch: %d %s", p.Status, p.Body)
	}
	pa := p.obj(t)
	if pa["name"] != "Support 2" || pa["temperature"] != 1.0 || pa["model"] != "llama3.1:8b" || pa["whatsapp_connected"] != true {
		t.Fatalf("patched %v", pa)
	}
	if got, _ := json.Marshal(pa["variables"]); !strings.Contains(string(got), `"size"`) {
		t.Fatalf("patch lost variables: %s", got)
	}
	after, _ := e.App.Store.AssistantByID(ctx, ws.ID, id)
	if after.WhatsAppAccessTokenEnc != row.WhatsAppAccessTokenEnc || webtest.ColJSON(t, after.Variables) != webtest.ColJSON(t, row.Variables) || webtest.ColJSON(t, after.PrechatFields) != webtest.ColJSON(t, row.PrechatFields) {
		t.Fatal("patch changed fields it was not given")
	}

	// Replacing lists; a new token.
	p = asstAPIDo(t, e, "PATCH", path, key, `{"variables":[{"name":"email","type":"email"}],"prechat_fields":[],"whatsapp_access_token":"EAAG-new"}`)
	if p.Status != http.StatusOK {
		t.Fatalf("patch lists: %d %s", p.Status, p.Body)
	}
	after, _ = e.App.Store.AssistantByID(ctx, ws.ID, id)
	if pt, _ := e.App.Keys.Decrypt(after.WhatsAppAccessTokenEnc); pt != "EAAG-new" {
		t.Fatalf("new token %q", pt)
	}
	if strings.Contains(p.Body, "EAAG") {
		t.Fatal("token in the patch answer")
	}

	// null clears the WhatsApp connection.
	p = asstAPIDo(t, e, "PATCH", path, key, `{"whatsapp_phone_number_id":null}`)
	if p.Status != http.StatusOK {
		t.Fatalf("patch null: %d %s", p.Status, p.Body)
	}
	pa = p.obj(t)
	if pa["whatsapp_phone_number_id"] != nil || pa["whatsapp_connected"] != false {
		t.Fatalf("after null: %v", pa)
	}
	after, _ = e.App.Store.AssistantByID(ctx, ws.ID, id)
	if after.WhatsAppPhoneNumberID != nil || after.WhatsAppAccessTokenEnc != "" {
		t.Fatal("connection not cleared in the row")
	}

	// An empty PATCH is a no-op that answers the assistant.
	if p = asstAPIDo(t, e, "PATCH", path, key, `{}`); p.Status != http.StatusOK {
		t.Fatalf("empty patch: %d %s", p.Status, p.Body)
	}

	// Defaults of a minimal create.
	m := asstAPIDo(t, e, "POST", "/api/v1/assistants", key, `{"name":"Minimal"}`)
	if m.Status != http.StatusCreated {
		t.Fatalf("minimal create: %d %s", m.Status, m.Body)
	}
	mo := m.obj(t)
	if mo["model"] != "gpt-4o-mini" || mo["temperature"] != 0.7 || mo["whatsapp_connected"] != false || mo["whatsapp_phone_number_id"] != nil {
		t.Fatalf("defaults %v", mo)
	}
	for _, k := range []string{"variables", "prechat_fields", "allowed_origins"} {
		if got, _ := json.Marshal(mo[k]); string(got) != "[]" {
			t.Fatalf("%s = %s", k, got)
		}
	}

	// DELETE: 204, then 404; conversations stay.
	conv := &store.Conversation{WorkspaceID: ws.ID, AssistantID: &id, Type: model.TypeWidget, Customer: "v"}
	if err := e.App.Store.CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	d := asstAPIDo(t, e, "DELETE", path, key, "")
	if d.Status != http.StatusNoContent || d.Body != "" {
		t.Fatalf("delete: %d %q", d.Status, d.Body)
	}
	for _, method := range []string{"GET", "PATCH", "DELETE"} {
		body := ""
		if method == "PATCH" {
			body = `{"name":"x"}`
		}
		r := asstAPIDo(t, e, method, path, key, body)
		if code, _ := r.errMsg(t); r.Status != http.StatusNotFound || code != "not_found" {
			t.Fatalf("%s after delete: %d %s", method, r.Status, r.Body)
		}
	}
	if c, err := e.App.Store.GetConversation(ctx, ws.ID, conv.ID); err != nil || c.AssistantID != nil {
		t.Fatalf("conversation after delete: %+v %v", c, err)
	}
}

func TestAPIAssistantsStrictDecodingAndValidation(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	key := asstAPIKey(t, e, ws.ID)
	cr := asstAPIDo(t, e, "POST", "/api/v1/assistants", key, `{"name":"Keep","variables":[{"name":"email","type":"email"}]}`)
	if cr.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", cr.Status, cr.Body)
	}
	path := "/api/v1/assistants/" + strconv.FormatInt(int64(cr.obj(t)["id"].(float64)), 10)

	cases := []struct {
		name, body, code, message string
	}{
		{"unknown field", `{"name":"x","colour":"#000000"}`, "invalid_field", "colour: unknown field"},
		{"unknown nested field", `{"name":"x","variables":[{"name":"a","type":"text","kind":"x"}]}`, "invalid_field", "variables[0].kind: unknown field"},
		{"token is not readable", `{"name":"x","whatsapp_connected":true}`, "invalid_field", "whatsapp_connected: unknown field"},
		{"name type", `{"name":42}`, "invalid_field", "name: must be a string"},
		{"name null", `{"name":null}`, "invalid_field", "name: must be a string"},
		{"temperature type", `{"name":"x","temperature":"hot"}`, "invalid_field", "temperature: must be a number from 0 to 2"},
		{"variables type", `{"name":"x","variables":{"name":"a"}}`, "invalid_field", "variables: must be a list of objects"},
		{"variable not object", `{"name":"x","variables":["email"]}`, "invalid_field", "variables[0]: must be an object"},
		{"variable field type", `{"name":"x","variables":[{"name":"a"},{"name":"b","required":"yes"}]}`, "invalid_field", "variables[1].required: must be true or false"},
		{"options type", `{"name":"x","variables":[{"name":"a","type":"enum","options":[1]}]}`, "invalid_field", "variables[0].options: must be a list of strings"},
		{"origins type", `{"name":"x","allowed_origins":"https://a.example"}`, "invalid_field", "allowed_origins: must be a list of strings"},
		{"origin type", `{"name":"x","allowed_origins":["https://a.example", 3]}`, "invalid_field", "allowed_origins[1]: must be a string"},
		{"prechat field type", `{"name":"x","prechat_fields":[{"name":"a","label":"A","type":"text","required":1}]}`, "invalid_field", "prechat_fields[0].required: must be true or false"},
		{"phone id type", `{"name":"x","whatsapp_phone_number_id":123}`, "invalid_field", "whatsapp_phone_number_id: must be a string"},
		{"not an object", `[1,2]`, "invalid_json", ""},
		{"broken", `{"name":`, "invalid_json", ""},
		{"trailing", `{"name":"x"} {"name":"y"}`, "invalid_json", ""},
		{"empty body", ``, "invalid_json", ""},
		{"variable type", `{"name":"x","variables":[{"name":"a","type":"text"},{"name":"b","type":"text"},{"name":"c","type":"url"}]}`, "invalid_field",
			"variables[2].type: must be one of text, email, phone, number, date, boolean, enum"},
		{"enum options", `{"name":"x","variables":[{"name":"a","type":"enum"}]}`, "invalid_field", "variables[0].options: an enum needs at least one option"},
		{"variable name", `{"name":"x","variables":[{"name":"Bad-Name","type":"text"}]}`, "invalid_field", "variables[0].name: must start with a lower-case letter"},
		{"temperature range", `{"name":"x","temperature":2.5}`, "invalid_field", "temperature: must be a number from 0 to 2"},
		{"origin path", `{"name":"x","allowed_origins":["https://a.example/shop"]}`, "invalid_field", `allowed_origins[0]: "https://a.example/shop" must be an origin`},
		{"colour", `{"name":"x","color":"red"}`, "invalid_field", "color: must be a colour like #1a2b3c"},
		{"prechat variable", `{"name":"x","prechat_fields":[{"name":"phone","label":"Phone","type":"phone"}]}`, "invalid_field", `prechat_fields[0].variable: no variable named "phone"`},
		{"phone id digits", `{"name":"x","whatsapp_phone_number_id":"+1555","whatsapp_access_token":"t"}`, "invalid_field", "whatsapp_phone_number_id: must be digits only"},
		{"token required", `{"name":"x","whatsapp_phone_number_id":"1555"}`, "invalid_field", "whatsapp_access_token: is required to connect a phone number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []struct{ method, path string }{{"POST", "/api/v1/assistants"}, {"PATCH", path}} {
				if m.method == "PATCH" && tc.body == `{"name":"x"}` {
					continue
				}
				r := asstAPIDo(t, e, m.method, m.path, key, tc.body)
				code, msg := r.errMsg(t)
				if r.Status != http.StatusBadRequest || code != tc.code || !strings.HasPrefix(msg, tc.message) {
					t.Errorf("%s: %d %s %q, want 400 %s %q", m.method, r.Status, code, msg, tc.code, tc.message)
				}
			}
		})
	}
	// Every invalid field is listed.
	r := asstAPIDo(t, e, "POST", "/api/v1/assistants", key, `{"name":"","color":"x","temperature":9}`)
	var b struct {
		Error struct {
			Fields []struct{ Field, Message string } `json:"fields"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(r.Body), &b)
	if len(b.Error.Fields) != 3 || b.Error.Fields[0].Field != "name" {
		t.Fatalf("fields %s", r.Body)
	}
	// A form body is refused.
	req, _ := http.NewRequest("POST", e.URL+"/api/v1/assistants", strings.NewReader("name=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form body: %d", res.StatusCode)
	}

	// Nothing was stored or changed.
	as, err := e.App.Store.Assistants(context.Background(), ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || as[0].Name != "Keep" || webtest.ColJSON(t, as[0].Variables) != `[{"name":"email","description":"","type":"email","required":false,"options":[]}]` {
		t.Fatalf("stored after invalid requests: %+v", as)
	}
}

func TestAPIAssistantsPhoneNumberConflict(t *testing.T) {
	e := newEnv(t)
	wsA := e.User("ana@example.com", "correct-horse")
	wsB := e.User("bob@example.com", "correct-horse")
	keyA, keyB := asstAPIKey(t, e, wsA.ID), asstAPIKey(t, e, wsB.ID)
	if r := asstAPIDo(t, e, "POST", "/api/v1/assistants", keyB, `{"name":"B","whatsapp_phone_number_id":"777","whatsapp_access_token":"t"}`); r.Status != http.StatusCreated {
		t.Fatalf("B: %d %s", r.Status, r.Body)
	}
	r := asstAPIDo(t, e, "POST", "/api/v1/assistants", keyA, `{"name":"A","whatsapp_phone_number_id":"777","whatsapp_access_token":"t"}`)
	if code, msg := r.errMsg(t); r.Status != http.StatusConflict || code != "conflict" || !strings.HasPrefix(msg, "whatsapp_phone_number_id:") {
		t.Fatalf("duplicate create: %d %s", r.Status, r.Body)
	}
	r = asstAPIDo(t, e, "POST", "/api/v1/assistants", keyA, `{"name":"A"}`)
	if r.Status != http.StatusCreated {
		t.Fatal(r.Body)
	}
	path := "/api/v1/assistants/" + strconv.FormatInt(int64(r.obj(t)["id"].(float64)), 10)
	r = asstAPIDo(t, e, "PATCH", path, keyA, `{"name":"A2","whatsapp_phone_number_id":"777","whatsapp_access_token":"t"}`)
	if code, _ := r.errMsg(t); r.Status != http.StatusConflict || code != "conflict" {
		t.Fatalf("duplicate patch: %d %s", r.Status, r.Body)
	}
	if g := asstAPIDo(t, e, "GET", path, keyA, "").obj(t); g["name"] != "A" || g["whatsapp_connected"] != false {
		t.Fatalf("duplicate patch half saved: %v", g)
	}
	// The same number again on the same assistant is not a conflict.
	if r := asstAPIDo(t, e, "PATCH", path, keyA, `{"whatsapp_phone_number_id":"778","whatsapp_access_token":"t"}`); r.Status != http.StatusOK {
		t.Fatal(r.Body)
	}
	if r := asstAPIDo(t, e, "PATCH", path, keyA, `{"whatsapp_phone_number_id":"778"}`); r.Status != http.StatusOK {
		t.Fatal(r.Body)
	}
}

func TestAPIAssistantsAreScopedToTheKeysWorkspace(t *testing.T) {
	e := newEnv(t)
	wsA := e.User("ana@example.com", "correct-horse")
	wsB := e.User("bob@example.com", "correct-horse")
	keyA, keyB := asstAPIKey(t, e, wsA.ID), asstAPIKey(t, e, wsB.ID)
	r := asstAPIDo(t, e, "POST", "/api/v1/assistants", keyB, `{"name":"B's"}`)
	if r.Status != http.StatusCreated {
		t.Fatal(r.Body)
	}
	idB := int64(r.obj(t)["id"].(float64))
	path := "/api/v1/assistants/" + strconv.FormatInt(idB, 10)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", path, ""}, {"PATCH", path, `{"name":"stolen"}`}, {"DELETE", path, ""},
		{"GET", "/api/v1/assistants/0", ""}, {"GET", "/api/v1/assistants/nope", ""}, {"GET", "/api/v1/assistants/99999", ""},
	} {
		r := asstAPIDo(t, e, tc.method, tc.path, keyA, tc.body)
		if code, _ := r.errMsg(t); r.Status != http.StatusNotFound || code != "not_found" {
			t.Errorf("%s %s with A's key: %d %s", tc.method, tc.path, r.Status, r.Body)
		}
	}
	if l := asstAPIDo(t, e, "GET", "/api/v1/assistants", keyA, ""); strings.TrimSpace(l.Body) != `{"data":[]}` {
		t.Fatalf("A's list: %s", l.Body)
	}
	if g := asstAPIDo(t, e, "GET", path, keyB, "").obj(t); g["name"] != "B's" {
		t.Fatalf("B's assistant changed: %v", g)
	}
	if _, err := e.App.Store.AssistantByID(context.Background(), wsB.ID, idB); errors.Is(err, store.ErrNotFound) {
		t.Fatal("deleted across workspaces")
	}
	// Without a key: 401.
	if r := asstAPIDo(t, e, "GET", "/api/v1/assistants", "", ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("no key: %d", r.Status)
	}
}

func TestAPIAssistantDefaultModelIsConfigured(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	key := asstAPIKey(t, e, ws.ID)
	e.App.Config.LLMModel = "llama3.1:8b" // PARLEY_LLM_MODEL
	r := asstAPIDo(t, e, "POST", "/api/v1/assistants", key, `{"name":"Local"}`)
	if r.Status != http.StatusCreated || r.obj(t)["model"] != "llama3.1:8b" {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	if v, _ := webtest.Doc(t, e.Get(c, "/assistants/new")).Find(`input[name="model"]`).Attr("value"); v != "llama3.1:8b" {
		t.Fatalf("new form model %q", v)
	}
}
