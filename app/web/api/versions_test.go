package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/store"
)

// Helpers of this file carry a "verAPI" prefix.

func verAPICreate(t *testing.T, e *env, key string) string {
	t.Helper()
	r := asstAPIDo(t, e, "POST", "/api/v1/assistants", key, `{"name":"Support","system_prompt":"Be brief.","model":"m1"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	return strconv.FormatInt(int64(r.obj(t)["id"].(float64)), 10)
}

func TestAPIVersionsContract(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	key := asstAPIKey(t, e, ws.ID)
	id := verAPICreate(t, e, key)
	path := "/api/v1/assistants/" + id

	// A new assistant: version 1, published, no draft.
	a := asstAPIDo(t, e, "GET", path, key, "").obj(t)
	if a["published_version"] != 1.0 || a["draft_version"] != nil || a["publish_gate"] != false {
		t.Fatalf("new assistant: published %v draft %v gate %v", a["published_version"], a["draft_version"], a["publish_gate"])
	}

	// PATCH of the behaviour writes the draft: the assistant still shows (and answers with)
	// version 1.
	p := asstAPIDo(t, e, "PATCH", path, key, `{"system_prompt":"Be very brief.","name":"Support 2"}`)
	if p.Status != http.StatusOK {
		t.Fatalf("patch: %d %s", p.Status, p.Body)
	}
	a = p.obj(t)
	if a["system_prompt"] != "Be brief." || a["name"] != "Support 2" || a["published_version"] != 1.0 || a["draft_version"] != 2.0 {
		t.Fatalf("after a draft: %v", a)
	}
	// The same behaviour again (and a non-behaviour field) makes no version.
	p = asstAPIDo(t, e, "PATCH", path, key, `{"system_prompt":"Be very brief.","title":"Hi"}`)
	if a = p.obj(t); a["draft_version"] != 2.0 {
		t.Fatalf("an unchanged draft made a version: %v", a["draft_version"])
	}
	// A second change edits on from the draft, as a new version (versions are immutable).
	p = asstAPIDo(t, e, "PATCH", path, key, `{"model":"m2"}`)
	if a = p.obj(t); a["draft_version"] != 3.0 || a["model"] != "m1" {
		t.Fatalf("second draft: %v", a)
	}

	// GET versions: newest first, with who and when, published and draft.
	l := asstAPIDo(t, e, "GET", path+"/versions", key, "")
	if l.Status != http.StatusOK {
		t.Fatalf("versions: %d %s", l.Status, l.Body)
	}
	var list struct {
		PublishedVersion int              `json:"published_version"`
		DraftVersion     *int             `json:"draft_version"`
		Data             []map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(l.Body), &list); err != nil {
		t.Fatal(err)
	}
	if list.PublishedVersion != 1 || list.DraftVersion == nil || *list.DraftVersion != 3 || len(list.Data) != 3 {
		t.Fatalf("versions list: %s", l.Body)
	}
	wantKeys := []string{"created_at", "created_by", "draft", "evaluators", "first_message", "model", "number", "published", "published_at", "published_by", "system_prompt", "temperature", "variables"}
	for i, v := range list.Data {
		if got := keysOf(v); strings.Join(got, ",") != strings.Join(wantKeys, ",") {
			t.Fatalf("version keys %v, want %v", got, wantKeys)
		}
		if v["number"] != float64(3-i) {
			t.Fatalf("order: %v", list.Data)
		}
	}
	v3, v2, v1 := list.Data[0], list.Data[1], list.Data[2]
	if v3["draft"] != true || v3["published"] != false || v3["published_at"] != nil || v3["model"] != "m2" || v3["system_prompt"] != "Be very brief." {
		t.Fatalf("v3: %v", v3)
	}
	if v2["created_by"] != "API key assistants" || v2["draft"] != false {
		t.Fatalf("v2: %v", v2)
	}
	if v1["published"] != true || v1["published_at"] == nil || v1["system_prompt"] != "Be brief." {
		t.Fatalf("v1: %v", v1)
	}

	// GET one version; "draft" names the draft.
	one := asstAPIDo(t, e, "GET", path+"/versions/2", key, "")
	if one.Status != http.StatusOK || one.obj(t)["number"] != 2.0 || one.obj(t)["model"] != "m1" {
		t.Fatalf("version 2: %d %s", one.Status, one.Body)
	}
	if d := asstAPIDo(t, e, "GET", path+"/versions/draft", key, ""); d.obj(t)["number"] != 3.0 {
		t.Fatalf("draft: %s", d.Body)
	}

	// Errors: 404 for a missing version or assistant, 422 for a bad value, naming the field.
	errs := []struct {
		method, path, body string
		status             int
		code, field        string
	}{
		{"GET", path + "/versions/9", "", 404, "not_found", ""},
		{"GET", "/api/v1/assistants/999999/versions", "", 404, "not_found", ""},
		{"GET", path + "/versions/0", "", 422, "invalid_field", "n"},
		{"GET", path + "/versions/abc", "", 422, "invalid_field", "n"},
		{"POST", path + "/publish", `{"version":9}`, 404, "not_found", ""},
		{"POST", path + "/publish", `{"version":0}`, 422, "invalid_field", "version"},
		{"POST", path + "/publish", `{"version":1.5}`, 422, "invalid_field", "version"},
		{"POST", path + "/publish", `{"version":"latest"}`, 422, "invalid_field", "version"},
		{"POST", path + "/publish", `{"version":true}`, 422, "invalid_field", "version"},
		{"POST", path + "/publish", `{}`, 422, "invalid_field", "version"},
		{"POST", path + "/publish", `{"version":1,"extra":1}`, 400, "invalid_field", ""},
		{"POST", "/api/v1/assistants/999999/publish", `{"version":1}`, 404, "not_found", ""},
	}
	for _, c := range errs {
		r := asstAPIDo(t, e, c.method, c.path, key, c.body)
		if r.Status != c.status {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, r.Status, r.Body, c.status)
			continue
		}
		code, msg := r.errMsg(t)
		if code != c.code || (c.field != "" && !strings.HasPrefix(msg, c.field+":")) {
			t.Errorf("%s %s %s: %s %q, want %s naming %q", c.method, c.path, c.body, code, msg, c.code, c.field)
		}
	}

	// Publish the draft: it answers from now on, and there is no draft any more.
	pub := asstAPIDo(t, e, "POST", path+"/publish", key, `{"version":"draft"}`)
	if pub.Status != http.StatusOK {
		t.Fatalf("publish: %d %s", pub.Status, pub.Body)
	}
	if a = pub.obj(t); a["published_version"] != 3.0 || a["draft_version"] != nil || a["model"] != "m2" || a["system_prompt"] != "Be very brief." {
		t.Fatalf("after publish: %v", a)
	}
	if r := asstAPIDo(t, e, "POST", path+"/publish", key, `{"version":"draft"}`); r.Status != 404 {
		t.Fatalf("publish without a draft: %d %s", r.Status, r.Body)
	}
	// Roll back to version 1.
	if a = asstAPIDo(t, e, "POST", path+"/publish", key, `{"version":1}`).obj(t); a["published_version"] != 1.0 || a["model"] != "m1" {
		t.Fatalf("rollback: %v", a)
	}
	if v := asstAPIDo(t, e, "GET", path+"/versions/1", key, "").obj(t); v["published"] != true {
		t.Fatalf("v1 after rollback: %v", v)
	}

	// PATCH with "publish": true publishes the new version at once.
	p = asstAPIDo(t, e, "PATCH", path, key, `{"temperature":1.5,"publish":true}`)
	if a = p.obj(t); a["published_version"] != 4.0 || a["temperature"] != 1.5 || a["draft_version"] != nil {
		t.Fatalf("patch and publish: %v", a)
	}
	if r := asstAPIDo(t, e, "PATCH", path, key, `{"publish":"yes"}`); r.Status != 400 {
		t.Fatalf("publish not a bool: %d", r.Status)
	}

	// The audit log has the saves and publishes.
	var n int
	if err := e.App.Store.DB.NewSelect().Table("audit_log").ColumnExpr("count(*)").
		Where("action IN ('assistant.version.save', 'assistant.version.publish')").Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	// saves: v2, v3, v4; publishes: v3, v1, v4.
	if n != 6 {
		t.Fatalf("version audit entries: %d, want 6", n)
	}
}

// A publish gate refusal is a 409 with the gate's reason; nothing is published. Turning the
// gate on is a setting of the assistant (publish_gate).
func TestAPIPublishGate(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	key := asstAPIKey(t, e, ws.ID)
	id := verAPICreate(t, e, key)
	path := "/api/v1/assistants/" + id

	// A small real gate: it allows versions whose system prompt mentions "refund".
	var asked []int
	e.App.Versions.Gate = func(ctx context.Context, a *store.Assistant, v *store.AssistantVersion) error {
		asked = append(asked, v.Number)
		if !strings.Contains(v.SystemPrompt, "refund") {
			return assistants.Refuse("v%d has no passing test set run", v.Number)
		}
		return nil
	}
	if a := asstAPIDo(t, e, "PATCH", path, key, `{"publish_gate":true,"system_prompt":"No."}`).obj(t); a["publish_gate"] != true || a["draft_version"] != 2.0 {
		t.Fatalf("gate on: %v", a)
	}
	r := asstAPIDo(t, e, "POST", path+"/publish", key, `{"version":"draft"}`)
	if r.Status != http.StatusConflict {
		t.Fatalf("gated publish: %d %s", r.Status, r.Body)
	}
	if code, msg := r.errMsg(t); code != "publish_refused" || msg != "v2 has no passing test set run" {
		t.Fatalf("refusal: %s %q", code, msg)
	}
	if a := asstAPIDo(t, e, "GET", path, key, "").obj(t); a["published_version"] != 1.0 || a["draft_version"] != 2.0 {
		t.Fatalf("a refused publish changed the assistant: %v", a)
	}
	// "publish": true through PATCH cannot pass a gate (a new version has no run): 409, and
	// nothing is written, not even the other fields.
	r = asstAPIDo(t, e, "PATCH", path, key, `{"name":"Renamed","system_prompt":"About refund.","publish":true}`)
	if r.Status != http.StatusConflict {
		t.Fatalf("patch publish through the gate: %d %s", r.Status, r.Body)
	}
	if a := asstAPIDo(t, e, "GET", path, key, "").obj(t); a["name"] != "Support" || a["draft_version"] != 2.0 {
		t.Fatalf("a refused patch wrote: %v", a)
	}
	// A version the gate passes is published.
	asstAPIDo(t, e, "PATCH", path, key, `{"system_prompt":"About refund."}`)
	r = asstAPIDo(t, e, "POST", path+"/publish", key, `{"version":3}`)
	if r.Status != http.StatusOK || r.obj(t)["published_version"] != 3.0 {
		t.Fatalf("gate passed: %d %s", r.Status, r.Body)
	}
	if jsonOf(asked) != "[2,3]" {
		t.Fatalf("the gate was asked about %v, want [2 3]", asked)
	}
	// Gate off: no gate is asked.
	asked = nil
	asstAPIDo(t, e, "PATCH", path, key, `{"publish_gate":false}`)
	if r := asstAPIDo(t, e, "POST", path+"/publish", key, `{"version":2}`); r.Status != http.StatusOK || len(asked) != 0 {
		t.Fatalf("gate off: %d, asked %v", r.Status, asked)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
