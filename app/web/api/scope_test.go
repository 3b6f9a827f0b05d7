package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/routenames"
)

// Helpers of this file carry a "scope" prefix.

// scopeKey creates a key of the scope in the workspace and returns it.
func scopeKey(t *testing.T, e *env, workspaceID int64, scope string) string {
	t.Helper()
	key, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	k := &store.APIKey{WorkspaceID: workspaceID, Name: scope + " key", Prefix: prefix, KeyHash: hash, Scope: scope}
	if err := e.App.Store.InsertAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return key
}

// scopePath fills a route's parameters: the id of the fixture's assistant or conversation
// after those collections, 1 anywhere else (a read key is refused before any handler looks).
func scopePath(path string, ids map[string]int64) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, ":") {
			continue
		}
		id := int64(1)
		if i > 0 && ids[segs[i-1]] != 0 {
			id = ids[segs[i-1]]
		}
		segs[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(segs, "/")
}

// scopeRoutes are the /api/v1 routes of the route table whose method is (not) safe.
func scopeRoutes(safe bool) []routenames.Route {
	var rs []routenames.Route
	for _, r := range routenames.All() {
		if strings.HasPrefix(r.Path, "/api/v1/") && model.SafeMethod(r.Method) == safe {
			rs = append(rs, r)
		}
	}
	return rs
}

// A read key gets 403 read_only_key on every unsafe /api/v1 route of the route table (a new
// route is covered as soon as it is in the table), and nothing is changed; its safe routes
// work. A write key is refused nowhere.
func TestReadKeyIsRefusedOnEveryUnsafeAPIRoute(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.App.Store
	ws := e.User("ana@example.com", "correct-horse")
	readKey, writeKey := scopeKey(t, e, ws.ID, model.ScopeRead), scopeKey(t, e, ws.ID, model.ScopeWrite)
	asst := &store.Assistant{WorkspaceID: ws.ID, Name: "Sales bot", Model: "gpt-test"}
	if err := st.CreateAssistant(ctx, asst); err != nil {
		t.Fatal(err)
	}
	conv := &store.Conversation{WorkspaceID: ws.ID, AssistantID: &asst.ID, Type: model.TypeTest, Customer: "alice@example.com", StartedAt: time.Now()}
	if err := st.CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{"assistants": asst.ID, "conversations": conv.ID}
	// A body that a write key could act on: were the scope not enforced, these would change things.
	const body = `{"name": "Renamed by a read key", "model": "gpt-test"}`

	unsafe := scopeRoutes(false)
	names := map[string]bool{}
	for _, r := range unsafe {
		names[r.Name] = true
		path := scopePath(r.Path, ids)
		res := asstAPIDo(t, e, r.Method, path, readKey, body)
		if res.Status != http.StatusForbidden || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("read key %s %s: %d %s", r.Method, path, res.Status, res.Body)
			continue
		}
		code, msg := res.errMsg(t)
		if code != "read_only_key" || !strings.Contains(msg, "read-only") || !strings.Contains(msg, r.Method) {
			t.Errorf("read key %s %s: %s %q", r.Method, path, code, msg)
		}
	}
	for _, n := range []string{routenames.APIConversationDelete, routenames.APIAssistantsCreate, routenames.APIAssistantUpdate, routenames.APIAssistantDelete} {
		if !names[n] {
			t.Errorf("the unsafe API route %s is not in the table's /api/v1 routes: %v", n, names)
		}
	}

	// Every unsafe method on every /api/v1 path, whether the path serves that method or not
	// (no route serves PUT today): refused for the scope, never a 404 or 405 that hides it.
	paths := map[string]bool{}
	for _, r := range routenames.All() {
		if strings.HasPrefix(r.Path, "/api/v1/") {
			paths[scopePath(r.Path, ids)] = true
		}
	}
	for path := range paths {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			res := asstAPIDo(t, e, m, path, readKey, body)
			if res.Status != http.StatusForbidden {
				t.Errorf("read key %s %s: %d %s", m, path, res.Status, res.Body)
				continue
			}
			if code, _ := res.errMsg(t); code != "read_only_key" {
				t.Errorf("read key %s %s: %s", m, path, code)
			}
		}
	}

	// Nothing was written.
	if a, err := st.AssistantByID(ctx, ws.ID, asst.ID); err != nil || a.Name != "Sales bot" {
		t.Fatalf("the assistant after the read key: %+v %v", a, err)
	}
	if as, err := st.Assistants(ctx, ws.ID); err != nil || len(as) != 1 {
		t.Fatalf("assistants after the read key: %d %v", len(as), err)
	}
	if _, err := st.GetConversation(ctx, ws.ID, conv.ID); err != nil {
		t.Fatalf("the conversation after the read key: %v", err)
	}

	// The safe routes work for a read key.
	for _, r := range scopeRoutes(true) {
		path := scopePath(r.Path, ids)
		res := asstAPIDo(t, e, r.Method, path, readKey, "")
		if res.Status == http.StatusForbidden {
			if code, _ := res.errMsg(t); code == "read_only_key" {
				t.Errorf("read key refused on the safe %s %s", r.Method, path)
			}
		}
	}
	for _, path := range []string{"/api/v1/me", "/api/v1/assistants", "/api/v1/assistants/" + strconv.FormatInt(asst.ID, 10),
		"/api/v1/conversations", "/api/v1/conversations/" + strconv.FormatInt(conv.ID, 10)} {
		if res := asstAPIDo(t, e, http.MethodGet, path, readKey, ""); res.Status != http.StatusOK {
			t.Errorf("read key GET %s: %d %s", path, res.Status, res.Body)
		}
	}

	// A write key is not refused for its scope (the table's order: the deletions come last).
	for _, r := range unsafe {
		path := scopePath(r.Path, ids)
		res := asstAPIDo(t, e, r.Method, path, writeKey, body)
		if res.Status == http.StatusForbidden {
			if code, _ := res.errMsg(t); code == "read_only_key" {
				t.Errorf("write key refused on %s %s", r.Method, path)
			}
		}
	}
	if as, err := st.Assistants(ctx, ws.ID); err != nil || len(as) != 1 || as[0].Name != "Renamed by a read key" {
		t.Fatalf("a write key creates (and changes, then deletes the fixture's): %+v %v", as, err)
	}
}

// GET /api/v1/me answers the key's scope beside its other fields.
func TestAPIMeShowsTheScope(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	for _, scope := range model.Scopes {
		res := asstAPIDo(t, e, http.MethodGet, "/api/v1/me", scopeKey(t, e, ws.ID, scope), "")
		if res.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", scope, res.Status, res.Body)
		}
		k, _ := res.obj(t)["api_key"].(map[string]any)
		if k["scope"] != scope || k["name"] != scope+" key" || k["id"] == nil || !strings.HasPrefix(k["prefix"].(string), auth.APIKeyPrefix) {
			t.Fatalf("%s: api_key %v", scope, k)
		}
		if w, _ := res.obj(t)["workspace"].(map[string]any); w["id"] != float64(ws.ID) {
			t.Fatalf("%s: workspace %v", scope, w)
		}
	}
}
