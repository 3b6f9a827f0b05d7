package widget_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// wVerdict is a widget session with one exchange (the visitor's message and the reply).
type wVerdict struct {
	e            *env
	id, tok      string
	conv         int64
	user, answer string // message ids
}

func (e *env) wVerdictSession(a *store.Assistant, visitor string) *wVerdict {
	e.T.Helper()
	id, tok := e.WSession(a, visitor)
	res, out := e.WJSON("POST", "/api/widget/v1/sessions/"+id+"/messages", map[string]string{"text": "Do you ship to Lisbon?"}, "Authorization", "Bearer "+tok)
	if res.StatusCode != 200 {
		e.T.Fatalf("send: %d %v", res.StatusCode, out)
	}
	conv, _ := strconv.ParseInt(id, 10, 64)
	return &wVerdict{e: e, id: id, tok: tok, conv: conv,
		user: out["message"].(map[string]any)["id"].(string), answer: out["reply"].(map[string]any)["id"].(string)}
}

func (v *wVerdict) post(path string, body any, hdr ...string) (*http.Response, map[string]any) {
	return v.e.WJSON("POST", "/api/widget/v1/sessions/"+v.id+path, body, append([]string{"Authorization", "Bearer " + v.tok}, hdr...)...)
}

func (e *env) wConv(id int64) *store.Conversation {
	e.T.Helper()
	c := new(store.Conversation)
	if err := e.App.Store.DB.NewSelect().Model(c).Where("id = ?", id).Scan(context.Background()); err != nil {
		e.T.Fatal(err)
	}
	return c
}

func TestWidgetAPIEnd(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	v := e.wVerdictSession(a, "visitor-end1")
	other := e.wVerdictSession(a, "visitor-end2")

	// A wrong token ends nothing.
	res, out := e.WJSON("POST", "/api/widget/v1/sessions/"+v.id+"/end", nil, "Authorization", "Bearer "+other.tok)
	wWantErr(t, res, out, 404, "not_found", "")
	res, out = e.WJSON("POST", "/api/widget/v1/sessions/"+v.id+"/end", nil, "Authorization", "Bearer pw1.nope.nope")
	wWantErr(t, res, out, 401, "invalid_token", "")
	res, out = e.WJSON("POST", "/api/widget/v1/sessions/"+v.id+"/end", nil)
	wWantErr(t, res, out, 401, "missing_token", "")
	if c := e.wConv(v.conv); c.EndedAt != nil {
		t.Fatal("ended by a wrong token")
	}

	res, out = v.post("/end", nil, "Origin", webtest.WOrigin)
	if res.StatusCode != 200 || out["ended"] != true || res.Header.Get("Access-Control-Allow-Origin") != webtest.WOrigin {
		t.Fatalf("end: %d %v", res.StatusCode, out)
	}
	at, err := time.Parse(time.RFC3339Nano, out["ended_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	c := e.wConv(v.conv)
	if c.EndedAt == nil || !c.EndedAt.Equal(at) || c.EndReason != model.EndVisitor || c.EndCount != 1 {
		t.Fatalf("conversation after the end: %v %q %d (answered %v)", c.EndedAt, c.EndReason, c.EndCount, at)
	}
	// Again: 200, the same ended_at, no second end.
	res, out = v.post("/end", nil)
	if res.StatusCode != 200 || out["ended"] != true || out["ended_at"] != convTime(at) {
		t.Fatalf("second end: %d %v", res.StatusCode, out)
	}
	if n := e.wCount("conversation_ends", "conversation_id = ?", v.conv); n != 1 {
		t.Fatalf("%d ends, want 1", n)
	}
	if c := e.wConv(other.conv); c.EndedAt != nil {
		t.Fatal("the other conversation ended too")
	}
	// The preflight of the route is answered like the others'.
	res, _ = e.WJSON("OPTIONS", "/api/widget/v1/sessions/"+v.id+"/end", nil, "Origin", webtest.WOrigin, "Access-Control-Request-Method", "POST")
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != webtest.WOrigin {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
}

func convTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func TestWidgetAPIFeedback(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	v := e.wVerdictSession(a, "visitor-fb01")
	other := e.wVerdictSession(a, "visitor-fb02")
	path := func(msg string) string { return "/messages/" + msg + "/feedback" }

	res, out := v.post(path(v.answer), map[string]string{"rating": "down", "comment": "Wrong country."}, "Origin", webtest.WOrigin)
	if res.StatusCode != 200 || out["rating"] != "down" || out["comment"] != "Wrong country." || out["message_id"] != v.answer ||
		res.Header.Get("Access-Control-Allow-Origin") != webtest.WOrigin {
		t.Fatalf("feedback: %d %v", res.StatusCode, out)
	}
	// A second call replaces the first: one row, the new rating, no comment.
	res, out = v.post(path(v.answer), map[string]any{"rating": "up"})
	if res.StatusCode != 200 || out["rating"] != "up" || out["comment"] != "" {
		t.Fatalf("replace: %d %v", res.StatusCode, out)
	}
	fb, err := e.App.Store.Feedback(context.Background(), ws.ID, v.conv)
	mid, _ := strconv.ParseInt(v.answer, 10, 64)
	if err != nil || len(fb) != 1 || fb[mid].Rating != model.FeedbackUp || fb[mid].Comment != "" {
		t.Fatalf("stored feedback %v %v", fb, err)
	}

	cases := []struct {
		name, msg string
		body      any
		auth      string
		status    int
		code      string
		mentions  string
	}{
		{"the visitor's own message", v.user, map[string]string{"rating": "up"}, "", 422, "invalid_field", "message_id"},
		{"another conversation's message", other.answer, map[string]string{"rating": "up"}, "", 404, "not_found", ""},
		{"an unknown message", "99999999", map[string]string{"rating": "up"}, "", 404, "not_found", ""},
		{"not an id", "abc", map[string]string{"rating": "up"}, "", 404, "not_found", ""},
		{"a wrong rating", v.answer, map[string]string{"rating": "meh"}, "", 422, "invalid_field", "rating"},
		{"no rating", v.answer, map[string]string{"comment": "x"}, "", 422, "invalid_field", "rating: is required"},
		{"rating not a string", v.answer, map[string]any{"rating": 1}, "", 422, "invalid_field", "rating"},
		{"a long comment", v.answer, map[string]string{"rating": "down", "comment": strings.Repeat("é", 501)}, "", 422, "invalid_field", "comment"},
		{"comment not a string", v.answer, map[string]any{"rating": "down", "comment": 5}, "", 422, "invalid_field", "comment"},
		{"an unknown field", v.answer, map[string]any{"rating": "down", "score": 5}, "", 422, "invalid_field", "score"},
		{"another session's token", v.answer, map[string]string{"rating": "down"}, other.tok, 404, "not_found", ""},
		{"a broken token", v.answer, map[string]string{"rating": "down"}, "pw1.x.y", 401, "invalid_token", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{}
			if tc.auth != "" {
				hdr = []string{"Authorization", "Bearer " + tc.auth}
			}
			res, out := v.post(path(tc.msg), tc.body, hdr...)
			wWantErr(t, res, out, tc.status, tc.code, tc.mentions)
		})
	}
	fb, _ = e.App.Store.Feedback(context.Background(), ws.ID, v.conv)
	if len(fb) != 1 || fb[mid].Rating != model.FeedbackUp {
		t.Fatalf("refused calls changed the feedback: %v", fb)
	}
	if n := e.wCount("message_feedback", "conversation_id = ?", other.conv); n != 0 {
		t.Fatalf("%d feedback rows on the other conversation", n)
	}
	// A 500-character comment is fine.
	if res, out := v.post(path(v.answer), map[string]string{"rating": "down", "comment": strings.Repeat("é", 500)}); res.StatusCode != 200 {
		t.Fatalf("500 characters: %d %v", res.StatusCode, out)
	}
}

func TestWidgetAPICSAT(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	v := e.wVerdictSession(a, "visitor-cs01")
	other := e.wVerdictSession(a, "visitor-cs02")

	// Not before the end.
	res, out := v.post("/csat", map[string]any{"score": 4})
	wWantErr(t, res, out, 409, "not_ended", "")
	if res, out := v.post("/end", nil); res.StatusCode != 200 {
		t.Fatalf("end: %d %v", res.StatusCode, out)
	}
	bad := []struct {
		name     string
		body     any
		auth     string
		status   int
		code     string
		mentions string
	}{
		{"score 0", map[string]any{"score": 0}, "", 422, "invalid_field", "score"},
		{"score 6", map[string]any{"score": 6}, "", 422, "invalid_field", "score"},
		{"score 2.5", map[string]any{"score": 2.5}, "", 422, "invalid_field", "score"},
		{"score a string", map[string]any{"score": "4"}, "", 422, "invalid_field", "score"},
		{"score null", map[string]any{"score": nil}, "", 422, "invalid_field", "score"},
		{"no score", map[string]any{"comment": "x"}, "", 422, "invalid_field", "score: is required"},
		{"a long comment", map[string]any{"score": 3, "comment": strings.Repeat("x", 501)}, "", 422, "invalid_field", "comment"},
		{"an unknown field", map[string]any{"score": 3, "rating": "up"}, "", 422, "invalid_field", "rating"},
		{"another session's token", map[string]any{"score": 3}, other.tok, 404, "not_found", ""},
		{"a broken token", map[string]any{"score": 3}, "pw1.x.y", 401, "invalid_token", ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{}
			if tc.auth != "" {
				hdr = []string{"Authorization", "Bearer " + tc.auth}
			}
			res, out := v.post("/csat", tc.body, hdr...)
			wWantErr(t, res, out, tc.status, tc.code, tc.mentions)
		})
	}
	if c := e.wConv(v.conv); c.CSATScore != nil || c.CSATEnd != 0 {
		t.Fatalf("refused calls stored a score: %v", *c.CSATScore)
	}

	res, out = v.post("/csat", map[string]any{"score": 2, "comment": " Slow. "}, "Origin", webtest.WOrigin)
	if res.StatusCode != 200 || out["score"] != float64(2) || out["comment"] != "Slow." {
		t.Fatalf("csat: %d %v", res.StatusCode, out)
	}
	c := e.wConv(v.conv)
	if c.CSATScore == nil || *c.CSATScore != 2 || c.CSATComment != "Slow." || c.CSATAt == nil || c.CSATEnd != 1 {
		t.Fatalf("stored csat %v %q %v %d", c.CSATScore, c.CSATComment, c.CSATAt, c.CSATEnd)
	}
	// Once per end.
	res, out = v.post("/csat", map[string]any{"score": 5})
	wWantErr(t, res, out, 409, "csat_given", "")
	if c := e.wConv(v.conv); *c.CSATScore != 2 {
		t.Fatalf("second score stored: %d", *c.CSATScore)
	}
	// A later end of the same conversation (reopened by a message, ended again) asks again.
	ctx := context.Background()
	m := &store.Message{WorkspaceID: ws.ID, ConversationID: v.conv, Role: model.RoleUser, Content: "One more thing"}
	if _, err := e.App.Conversations.AddMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	res, out = v.post("/csat", map[string]any{"score": 5})
	wWantErr(t, res, out, 409, "not_ended", "")
	if res, out := v.post("/end", nil); res.StatusCode != 200 {
		t.Fatalf("second end: %d %v", res.StatusCode, out)
	}
	if res, out := v.post("/csat", map[string]any{"score": 5}); res.StatusCode != 200 {
		t.Fatalf("csat of the second end: %d %v", res.StatusCode, out)
	}
	if c := e.wConv(v.conv); *c.CSATScore != 5 || c.CSATEnd != 2 || c.EndCount != 2 || c.CSATComment != "" {
		t.Fatalf("second end's csat: %d end %d of %d %q", *c.CSATScore, c.CSATEnd, c.EndCount, c.CSATComment)
	}
	if c := e.wConv(other.conv); c.CSATScore != nil {
		t.Fatal("the other conversation got a score")
	}
}
