package api_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/web/webtest"
)

// The customer's verdict in the conversation JSON: "csat" on list items and the detail
// ({"score", "comment"} or null), "feedback" on each detail message ({"rating", "comment"}
// or null).
func TestAPIConversationVerdictJSON(t *testing.T) {
	f := newAPIConvFixture(t)
	ctx := context.Background()
	svc := f.e.App.Conversations
	if _, err := svc.Feedback(ctx, f.c1, f.m2.ID, model.FeedbackDown, "Not what I asked"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.End(ctx, f.wsA.ID, f.c1.ID, model.EndVisitor, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c1, err := f.e.App.Store.GetConversation(ctx, f.wsA.ID, f.c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RateEnded(ctx, c1, 2, "Slow"); err != nil {
		t.Fatal(err)
	}

	wantCSAT := map[string]any{"score": float64(2), "comment": "Slow"}
	p := apiConvList(t, f.e, "", f.keyA)
	for _, it := range p.Data {
		v, ok := it["csat"]
		switch id := int64(it["id"].(float64)); {
		case !ok:
			t.Fatalf("item %d has no csat field", id)
		case id == f.c1.ID && !reflect.DeepEqual(v, wantCSAT):
			t.Fatalf("c1 csat %#v, want %#v", v, wantCSAT)
		case id != f.c1.ID && v != nil:
			t.Fatalf("item %d csat %#v, want null", id, v)
		}
	}
	d := apiConvJSON(t, f.e, "/api/v1/conversations/"+webtest.Itoa(f.c1.ID), f.keyA)
	if !reflect.DeepEqual(d["csat"], wantCSAT) {
		t.Fatalf("detail csat %#v", d["csat"])
	}
	msgs := d["messages"].([]any)
	byID := map[int64]map[string]any{}
	for _, m := range msgs {
		mm := m.(map[string]any)
		byID[int64(mm["id"].(float64))] = mm
	}
	if v, ok := byID[f.m1.ID]["feedback"]; !ok || v != nil {
		t.Fatalf("m1 feedback %#v (present %v), want null", v, ok)
	}
	if want := map[string]any{"rating": "down", "comment": "Not what I asked"}; !reflect.DeepEqual(byID[f.m2.ID]["feedback"], want) {
		t.Fatalf("m2 feedback %#v, want %#v", byID[f.m2.ID]["feedback"], want)
	}
	// B's key sees none of it.
	apiConvErr(t, f.e, "GET", "/api/v1/conversations/"+webtest.Itoa(f.c1.ID), f.keyB, 404)
}

// csat_whatsapp: false by default, set on create and by PATCH, shown to every key; a wrong
// type is refused naming it and writes nothing.
func TestAPIAssistantCSATWhatsApp(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	admin := identityKey(t, e, ws, "admin2@example.com", "admin")
	r := asstAPIDo(t, e, "POST", "/api/v1/assistants", admin, `{"name":"Bot"}`)
	if r.Status != 201 || r.obj(t)["csat_whatsapp"] != false {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := int64(r.obj(t)["id"].(float64))
	path := "/api/v1/assistants/" + webtest.Itoa(id)
	r = asstAPIDo(t, e, "PATCH", path, admin, `{"csat_whatsapp":true}`)
	if r.Status != 200 || r.obj(t)["csat_whatsapp"] != true {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if row, err := e.App.Store.AssistantByID(context.Background(), ws.ID, id); err != nil || !row.CSATWhatsApp {
		t.Fatalf("stored: %v %v", row.CSATWhatsApp, err)
	}
	for _, body := range []string{`{"csat_whatsapp":"yes"}`, `{"csat_whatsapp":null}`, `{"csat_whatsapp":1}`} {
		r = asstAPIDo(t, e, "PATCH", path, admin, body)
		if code, msg := r.errMsg(t); r.Status != 400 || code != "invalid_field" || !strings.HasPrefix(msg, "csat_whatsapp:") {
			t.Fatalf("%s: %d %s", body, r.Status, r.Body)
		}
	}
	if r := asstAPIDo(t, e, "GET", path, admin, ""); r.obj(t)["csat_whatsapp"] != true {
		t.Fatalf("after refused patches: %s", r.Body)
	}
	r = asstAPIDo(t, e, "POST", "/api/v1/assistants", admin, `{"name":"Bot 2","csat_whatsapp":true}`)
	if r.Status != 201 || r.obj(t)["csat_whatsapp"] != true {
		t.Fatalf("create with csat_whatsapp: %d %s", r.Status, r.Body)
	}
}
