package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/store"
)

// Helpers of this file carry a "ts" prefix.

func tsAssistant(t *testing.T, e *env, ws int64, name string) *store.Assistant {
	t.Helper()
	a := &store.Assistant{WorkspaceID: ws, Name: name, Model: "gpt-4o-mini"}
	if err := e.App.Store.CreateAssistant(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

// tsConv makes a conversation of a with messages "role", "text", ...; it returns it and the
// messages' ids.
func tsConv(t *testing.T, e *env, a *store.Assistant, pairs ...string) (*store.Conversation, []int64) {
	t.Helper()
	ctx := context.Background()
	aid := a.ID
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	c := &store.Conversation{WorkspaceID: a.WorkspaceID, AssistantID: &aid, Type: model.TypeWidget, Customer: "v", StartedAt: at, LastMessageAt: at}
	if err := e.App.Store.CreateConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := 0; i+1 < len(pairs); i += 2 {
		m := &store.Message{WorkspaceID: a.WorkspaceID, ConversationID: c.ID, Role: pairs[i], Content: pairs[i+1], CreatedAt: at.Add(time.Duration(i) * time.Millisecond)}
		if _, err := e.App.Store.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	return c, ids
}

func tsWant(t *testing.T, what string, r asstAPIResp, status int, code string, fields ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: %d %s, want %d", what, r.Status, r.Body, status)
	}
	if code == "" {
		return
	}
	if got, _ := r.errMsg(t); got != code {
		t.Fatalf("%s: code %q, want %q (%s)", what, got, code, r.Body)
	}
	if len(fields) > 0 && !slices.Equal(revFields(t, r), fields) {
		t.Fatalf("%s: fields %v, want %v (%s)", what, revFields(t, r), fields, r.Body)
	}
}

// The test set routes of the API: their status codes and shapes, the 422 naming each wrong
// field, 409 for a name taken, 404 across workspaces, a case with its expected answer (201,
// then 200 when added again), removal.
func TestAPITestSets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws := e.User("ana@example.com", "correct-horse")
	other := e.User("eve@example.com", "correct-horse")
	key := scopeKey(t, e, ws.ID, model.ScopeWrite)
	readKey := scopeKey(t, e, ws.ID, model.ScopeRead)
	otherKey := scopeKey(t, e, other.ID, model.ScopeWrite)
	a := tsAssistant(t, e, ws.ID, "Support")
	b := tsAssistant(t, e, ws.ID, "Sales")
	theirs := tsAssistant(t, e, other.ID, "Theirs")

	// Create.
	r := asstAPIDo(t, e, "POST", "/api/v1/test-sets", key, fmt.Sprintf(`{"name": " Refunds ", "assistant_id": %d}`, a.ID))
	tsWant(t, "create", r, http.StatusCreated, "")
	set := r.obj(t)
	setID := int64(set["id"].(float64))
	if set["name"] != "Refunds" || set["assistant_id"] != float64(a.ID) || set["cases_count"] != float64(0) || set["latest_run"] != nil || set["created_by"] != "API key write key" {
		t.Fatalf("created: %s", r.Body)
	}
	if _, ok := set["cases"]; ok {
		t.Fatalf("a list item has no cases: %s", r.Body)
	}
	for _, c := range []struct {
		body   string
		status int
		code   string
		field  string
	}{
		{fmt.Sprintf(`{"name": "REFUNDS", "assistant_id": %d}`, a.ID), 409, "conflict", "name"},
		{fmt.Sprintf(`{"assistant_id": %d}`, a.ID), 422, "invalid_field", "name"},
		{fmt.Sprintf(`{"name": "", "assistant_id": %d}`, a.ID), 422, "invalid_field", "name"},
		{fmt.Sprintf(`{"name": 7, "assistant_id": %d}`, a.ID), 422, "invalid_field", "name"},
		{`{"name": "X"}`, 422, "invalid_field", "assistant_id"},
		{`{"name": "X", "assistant_id": "1"}`, 422, "invalid_field", "assistant_id"},
		{fmt.Sprintf(`{"name": "X", "assistant_id": %d}`, theirs.ID), 422, "invalid_field", "assistant_id"},
		{fmt.Sprintf(`{"name": "X", "assistant_id": %d, "extra": 1}`, a.ID), 422, "invalid_field", "extra"},
	} {
		r := asstAPIDo(t, e, "POST", "/api/v1/test-sets", key, c.body)
		tsWant(t, c.body, r, c.status, c.code, c.field)
	}
	tsWant(t, "a read key", asstAPIDo(t, e, "POST", "/api/v1/test-sets", readKey, fmt.Sprintf(`{"name": "X", "assistant_id": %d}`, a.ID)), 403, "read_only_key")
	if r := asstAPIDo(t, e, "POST", "/api/v1/test-sets", key, fmt.Sprintf(`{"name": "Refunds", "assistant_id": %d}`, b.ID)); r.Status != 201 {
		t.Fatalf("the same name for another assistant: %d %s", r.Status, r.Body)
	}

	// A case: the correction is the expected answer.
	conv, ids := tsConv(t, e, a, "user", "Can I return it?", "assistant", "No.", "user", "Why?", "assistant", "Policy.")
	rev := &review.Service{Store: e.App.Store}
	if _, err := rev.Correct(ctx, ws.ID, conv.ID, ids[1], "Yes, within 30 days."); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/test-sets/%d/cases", setID)
	r = asstAPIDo(t, e, "POST", path, key, fmt.Sprintf(`{"conversation_id": %d}`, conv.ID))
	tsWant(t, "add a case", r, http.StatusCreated, "")
	cs := r.obj(t)
	turns := cs["turns"].([]any)
	if cs["conversation_id"] != float64(conv.ID) || cs["test_set_id"] != float64(setID) || len(turns) != 2 ||
		turns[0].(map[string]any)["customer"] != "Can I return it?" || turns[0].(map[string]any)["expected"] != "Yes, within 30 days." ||
		turns[1].(map[string]any)["expected"] != nil {
		t.Fatalf("case: %s", r.Body)
	}
	r2 := asstAPIDo(t, e, "POST", path, key, fmt.Sprintf(`{"conversation_id": %d}`, conv.ID))
	tsWant(t, "add again", r2, http.StatusOK, "")
	if r2.obj(t)["id"] != cs["id"] {
		t.Fatalf("added again: %s", r2.Body)
	}
	salesConv, _ := tsConv(t, e, b, "user", "hi")
	silent, _ := tsConv(t, e, a, "assistant", "hello?")
	theirConv, _ := tsConv(t, e, theirs, "user", "hi")
	for _, c := range []struct {
		body  string
		field string
	}{
		{`{}`, "conversation_id"},
		{`{"conversation_id": "x"}`, "conversation_id"},
		{`{"conversation_id": -3}`, "conversation_id"},
		{fmt.Sprintf(`{"conversation_id": %d}`, salesConv.ID), "conversation_id"},
		{fmt.Sprintf(`{"conversation_id": %d}`, silent.ID), "conversation_id"},
		{fmt.Sprintf(`{"conversation_id": %d}`, theirConv.ID), "conversation_id"},
	} {
		tsWant(t, c.body, asstAPIDo(t, e, "POST", path, key, c.body), 422, "invalid_field", c.field)
	}

	// Read: the list (all, or of one assistant) and the detail.
	r = asstAPIDo(t, e, "GET", "/api/v1/test-sets", readKey, "")
	tsWant(t, "list", r, 200, "")
	if list := r.obj(t)["data"].([]any); len(list) != 2 {
		t.Fatalf("list: %s", r.Body)
	}
	r = asstAPIDo(t, e, "GET", fmt.Sprintf("/api/v1/test-sets?assistant_id=%d", a.ID), readKey, "")
	list := r.obj(t)["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["cases_count"] != float64(1) {
		t.Fatalf("list of a: %s", r.Body)
	}
	tsWant(t, "bad assistant_id", asstAPIDo(t, e, "GET", "/api/v1/test-sets?assistant_id=x", readKey, ""), 400, "invalid_parameter")
	r = asstAPIDo(t, e, "GET", fmt.Sprintf("/api/v1/test-sets/%d", setID), readKey, "")
	tsWant(t, "detail", r, 200, "")
	if cases := r.obj(t)["cases"].([]any); len(cases) != 1 || cases[0].(map[string]any)["id"] != cs["id"] {
		t.Fatalf("detail: %s", r.Body)
	}

	// Another workspace sees nothing of it.
	tsWant(t, "their detail", asstAPIDo(t, e, "GET", fmt.Sprintf("/api/v1/test-sets/%d", setID), otherKey, ""), 404, "not_found")
	tsWant(t, "their add", asstAPIDo(t, e, "POST", path, otherKey, fmt.Sprintf(`{"conversation_id": %d}`, theirConv.ID)), 404, "not_found")
	tsWant(t, "their delete", asstAPIDo(t, e, "DELETE", fmt.Sprintf("/api/v1/test-sets/%d", setID), otherKey, ""), 404, "not_found")
	tsWant(t, "their case delete", asstAPIDo(t, e, "DELETE", fmt.Sprintf("%s/%v", path, cs["id"]), otherKey, ""), 404, "not_found")
	if r := asstAPIDo(t, e, "GET", "/api/v1/test-sets", otherKey, ""); len(r.obj(t)["data"].([]any)) != 0 {
		t.Fatalf("their list: %s", r.Body)
	}
	tsWant(t, "no such set", asstAPIDo(t, e, "GET", "/api/v1/test-sets/abc", key, ""), 404, "not_found")

	// Rename.
	r = asstAPIDo(t, e, "PATCH", fmt.Sprintf("/api/v1/test-sets/%d", setID), key, `{"name": "Returns"}`)
	tsWant(t, "rename", r, 200, "")
	if r.obj(t)["name"] != "Returns" {
		t.Fatalf("renamed: %s", r.Body)
	}
	tsWant(t, "rename empty", asstAPIDo(t, e, "PATCH", fmt.Sprintf("/api/v1/test-sets/%d", setID), key, `{"name": " "}`), 422, "invalid_field", "name")

	// Remove the case, then the set.
	tsWant(t, "case delete", asstAPIDo(t, e, "DELETE", fmt.Sprintf("%s/%v", path, cs["id"]), key, ""), 204, "")
	tsWant(t, "case delete again", asstAPIDo(t, e, "DELETE", fmt.Sprintf("%s/%v", path, cs["id"]), key, ""), 404, "not_found")
	tsWant(t, "set delete", asstAPIDo(t, e, "DELETE", fmt.Sprintf("/api/v1/test-sets/%d", setID), key, ""), 204, "")
	tsWant(t, "set gone", asstAPIDo(t, e, "GET", fmt.Sprintf("/api/v1/test-sets/%d", setID), key, ""), 404, "not_found")

	// Every change was recorded as the key's doing.
	var actions []string
	if err := e.App.Store.DB.NewSelect().TableExpr("audit_log").Column("action").
		Where("workspace_id = ? AND action LIKE 'test_set.%' AND actor_type = 'api_key'", ws.ID).OrderExpr("id").Scan(ctx, &actions); err != nil {
		t.Fatal(err)
	}
	want := []string{"test_set.create", "test_set.create", "test_set.case.add", "test_set.rename", "test_set.case.remove", "test_set.delete"}
	if !slices.Equal(actions, want) {
		t.Fatalf("audit: %v, want %v", actions, want)
	}
}
