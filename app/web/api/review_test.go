package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/store"
)

// Helpers of this file carry a "rev" prefix.

func revFields(t *testing.T, r asstAPIResp) []string {
	t.Helper()
	var b struct {
		Error struct {
			Code   string `json:"code"`
			Fields []struct {
				Field string `json:"field"`
			} `json:"fields"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(r.Body), &b)
	var out []string
	for _, f := range b.Error.Fields {
		out = append(out, f.Field)
	}
	if len(out) == 0 {
		// A decoder error names the field in its message: "field: ...".
		_, msg := r.errMsg(t)
		f, _, _ := strings.Cut(msg, ":")
		out = append(out, f)
	}
	return out
}

// The review routes of the API: their status codes, the 422 naming each wrong field, and
// the conversation JSON (list and detail) carrying review_status, assignee, tags, notes and
// each message's correction on every item.
func TestAPIReview(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.App.Store
	ws := e.User("ana@example.com", "correct-horse")
	other := e.User("eve@example.com", "correct-horse")
	key := scopeKey(t, e, ws.ID, model.ScopeWrite)
	readKey := scopeKey(t, e, ws.ID, model.ScopeRead)
	agent, err := st.CreateMemberUser(ctx, ws.ID, "bo@example.com", "Bo", "hash", "", model.MemberAgent)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).UTC()
	var convs []*store.Conversation
	for i := range 2 {
		c := &store.Conversation{WorkspaceID: ws.ID, Type: model.TypeWidget, Customer: "v" + strconv.Itoa(i), StartedAt: base, LastMessageAt: base.Add(time.Duration(i) * time.Minute)}
		if err := st.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c)
	}
	conv := convs[0]
	foreign := &store.Conversation{WorkspaceID: other.ID, Type: model.TypeWidget, Customer: "theirs", StartedAt: base}
	if err := st.CreateConversation(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	question := &store.Message{WorkspaceID: ws.ID, ConversationID: conv.ID, Role: model.RoleUser, Content: "Hi?", CreatedAt: store.Now()}
	answer := &store.Message{WorkspaceID: ws.ID, ConversationID: conv.ID, Role: model.RoleAssistant, Content: "Hello.", CreatedAt: store.Now()}
	elsewhere := &store.Message{WorkspaceID: ws.ID, ConversationID: convs[1].ID, Role: model.RoleUser, Content: "Other", CreatedAt: store.Now()}
	for _, m := range []*store.Message{question, answer, elsewhere} {
		if _, err := st.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	path := func(c *store.Conversation, tail string) string {
		return "/api/v1/conversations/" + strconv.FormatInt(c.ID, 10) + tail
	}

	// Wrong input: 422 naming the field (or 404 for a conversation not the key's), nothing written.
	for _, tc := range []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"PUT", path(conv, "/review"), `{"status":"done"}`, 422, "status"},
		{"PUT", path(conv, "/review"), `{"status":""}`, 422, "status"},
		{"PUT", path(conv, "/review"), `{"status":1}`, 422, "status"},
		{"PUT", path(conv, "/review"), `{}`, 422, "status"},
		{"PUT", path(conv, "/review"), `{"assignee":"eve@example.com"}`, 422, "assignee"},
		{"PUT", path(conv, "/review"), `{"assignee":42}`, 422, "assignee"},
		{"PUT", path(conv, "/review"), `{"status":"reviewed","assignee":"nobody@example.com"}`, 422, "assignee"},
		{"PUT", path(conv, "/review"), `{"status":"reviewed","colour":"red"}`, 422, "colour"},
		{"PUT", path(foreign, "/review"), `{"status":"reviewed"}`, 404, ""},
		{"POST", path(conv, "/tags"), `{}`, 422, "tag"},
		{"POST", path(conv, "/tags"), `{"tag":""}`, 422, "tag"},
		{"POST", path(conv, "/tags"), `{"tag":"` + strings.Repeat("t", 51) + `"}`, 422, "tag"},
		{"POST", path(conv, "/tags"), `{"tag":["a"]}`, 422, "tag"},
		{"POST", path(foreign, "/tags"), `{"tag":"x"}`, 404, ""},
		{"DELETE", path(conv, "/tags"), `{}`, 422, "tag"},
		{"POST", path(conv, "/notes"), `{"text":""}`, 422, "text"},
		{"POST", path(conv, "/notes"), `{"message_id":1}`, 422, "text"},
		{"POST", path(conv, "/notes"), `{"text":"` + strings.Repeat("n", 4001) + `"}`, 422, "text"},
		{"POST", path(conv, "/notes"), `{"text":"x","message_id":` + strconv.FormatInt(elsewhere.ID, 10) + `}`, 422, "message_id"},
		{"POST", path(conv, "/notes"), `{"text":"x","message_id":"1"}`, 422, "message_id"},
		{"POST", path(conv, "/notes"), `{"text":"x","message_id":1.5}`, 422, "message_id"},
		{"POST", path(foreign, "/notes"), `{"text":"x"}`, 404, ""},
	} {
		r := asstAPIDo(t, e, tc.method, tc.path, key, tc.body)
		if r.Status != tc.status || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s %s: %d %s", tc.method, tc.path, tc.body, r.Status, r.Body)
			continue
		}
		if tc.field != "" {
			if got := revFields(t, r); got[0] != tc.field {
				t.Errorf("%s %s: fields %v, want %s (%s)", tc.method, tc.body, got, tc.field, r.Body)
			}
		}
	}
	if tags, _ := st.Tags(ctx, ws.ID); len(tags) != 0 {
		t.Fatalf("refused requests created tags: %+v", tags)
	}
	if c, _ := st.GetConversation(ctx, ws.ID, conv.ID); c.ReviewStatus != model.ReviewUnreviewed || c.AssigneeID != nil {
		t.Fatalf("refused requests changed the review: %+v", c)
	}

	// A read-only key may read, not change: 403.
	if r := asstAPIDo(t, e, "PUT", path(conv, "/review"), readKey, `{"status":"reviewed"}`); r.Status != http.StatusForbidden {
		t.Fatalf("read key: %d %s", r.Status, r.Body)
	}

	// The changes.
	r := asstAPIDo(t, e, "PUT", path(conv, "/review"), key, `{"status":"flagged","assignee":"BO@example.com"}`)
	if r.Status != 200 {
		t.Fatalf("review: %d %s", r.Status, r.Body)
	}
	rv := r.obj(t)
	if rv["review_status"] != "flagged" || rv["reviewed_by"] != "write key" || rv["reviewed_at"] == nil {
		t.Fatalf("review answer: %s", r.Body)
	}
	if a, _ := rv["assignee"].(map[string]any); a == nil || a["email"] != "bo@example.com" || a["name"] != "Bo" || a["id"] != float64(agent.ID) {
		t.Fatalf("assignee: %s", r.Body)
	}
	for _, tag := range []string{"Urgent", "urgent", "Billing"} {
		if r = asstAPIDo(t, e, "POST", path(conv, "/tags"), key, `{"tag":"`+tag+`"}`); r.Status != 200 {
			t.Fatalf("tag %s: %d %s", tag, r.Status, r.Body)
		}
	}
	if r.Body != `{"tags":["Billing","Urgent"]}`+"\n" {
		t.Fatalf("tags answer: %q", r.Body)
	}
	if r = asstAPIDo(t, e, "DELETE", path(conv, "/tags"), key, `{"tag":"BILLING"}`); r.Status != 200 || r.Body != `{"tags":["Urgent"]}`+"\n" {
		t.Fatalf("untag: %d %q", r.Status, r.Body)
	}
	r = asstAPIDo(t, e, "POST", path(conv, "/notes"), key, `{"text":"Check the refund.","message_id":`+strconv.FormatInt(question.ID, 10)+`}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("note: %d %s", r.Status, r.Body)
	}
	note := r.obj(t)
	if keys := revKeys(note); !slices.Equal(keys, []string{"author", "created_at", "id", "message_id", "text"}) || note["text"] != "Check the refund." || note["message_id"] != float64(question.ID) {
		t.Fatalf("note answer: %s", r.Body)
	}
	if r = asstAPIDo(t, e, "POST", path(conv, "/notes"), key, `{"text":"On the whole.","message_id":null}`); r.Status != http.StatusCreated || r.obj(t)["message_id"] != nil {
		t.Fatalf("note without message: %d %s", r.Status, r.Body)
	}
	if err := e.App.Review.Update(ctx, ws.ID, conv.ID, review.Change{Status: model.ReviewFlagged}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Review.Correct(ctx, ws.ID, conv.ID, answer.ID, "Hello! How can I help?"); err != nil {
		t.Fatal(err)
	}

	// The list: every item has the fields; the untouched one has no tags and no assignee.
	r = asstAPIDo(t, e, "GET", "/api/v1/conversations", key, "")
	var list struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.Body), &list); err != nil || len(list.Data) != 2 {
		t.Fatalf("list: %v %s", err, r.Body)
	}
	for _, item := range list.Data {
		for _, f := range []string{"review_status", "assignee", "tags"} {
			if _, ok := item[f]; !ok {
				t.Fatalf("list item without %s: %v", f, item)
			}
		}
		switch string(item["id"]) {
		case strconv.FormatInt(conv.ID, 10):
			if string(item["review_status"]) != `"flagged"` || string(item["tags"]) != `["Urgent"]` || !strings.Contains(string(item["assignee"]), `"email":"bo@example.com"`) {
				t.Fatalf("reviewed item: %v", revString(item))
			}
		default:
			if string(item["review_status"]) != `"unreviewed"` || string(item["tags"]) != `[]` || string(item["assignee"]) != "null" {
				t.Fatalf("untouched item: %v", revString(item))
			}
		}
	}

	// The detail: notes, and each message's correction (null when none).
	r = asstAPIDo(t, e, "GET", path(conv, ""), key, "")
	var d struct {
		ReviewStatus string            `json:"review_status"`
		Tags         []string          `json:"tags"`
		Notes        []json.RawMessage `json:"notes"`
		Messages     []map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(r.Body), &d); err != nil {
		t.Fatalf("detail: %v %s", err, r.Body)
	}
	if d.ReviewStatus != "flagged" || !slices.Equal(d.Tags, []string{"Urgent"}) || len(d.Notes) != 2 || len(d.Messages) != 2 {
		t.Fatalf("detail: %s", r.Body)
	}
	if !strings.Contains(string(d.Notes[0]), `"text":"Check the refund."`) || !strings.Contains(string(d.Notes[0]), `"author":{"id":null,"name":"write key"}`) {
		t.Fatalf("note: %s", d.Notes[0])
	}
	for _, m := range d.Messages {
		c, ok := m["correction"]
		if !ok {
			t.Fatalf("message without correction: %v", revString(m))
		}
		if string(m["id"]) == strconv.FormatInt(answer.ID, 10) {
			if !strings.Contains(string(c), `"text":"Hello! How can I help?"`) || !strings.Contains(string(c), `"created_at"`) {
				t.Fatalf("correction: %s", c)
			}
		} else if string(c) != "null" {
			t.Fatalf("a message without one: %s", c)
		}
	}
	// A conversation without review has [] notes.
	r = asstAPIDo(t, e, "GET", path(convs[1], ""), key, "")
	if !strings.Contains(r.Body, `"notes":[]`) || !strings.Contains(r.Body, `"assignee":null`) || !strings.Contains(r.Body, `"tags":[]`) {
		t.Fatalf("empty detail: %s", r.Body)
	}

	// Unassign with null.
	if r = asstAPIDo(t, e, "PUT", path(conv, "/review"), key, `{"assignee":null}`); r.Status != 200 || r.obj(t)["assignee"] != nil || r.obj(t)["review_status"] != "flagged" {
		t.Fatalf("unassign: %d %s", r.Status, r.Body)
	}
}

func revKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func revString(m map[string]json.RawMessage) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}
