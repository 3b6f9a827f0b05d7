package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

func auditKey(t *testing.T, e *env, ws int64, name string) (string, *store.APIKey) {
	t.Helper()
	key, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.App.Store.CreateAPIKey(context.Background(), ws, name, prefix, hash, nil)
	if err != nil {
		t.Fatal(err)
	}
	return key, k
}

func auditDo(t *testing.T, e *env, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
	}
	return res.StatusCode, out
}

// GET /api/v1/audit-log: exactly {"data": [{"id", "at", "actor": {"type", "id", "name"},
// "action", "target": {"type", "id"}, "details"}], "next_cursor"}, newest first, the key's
// workspace only, keyset pages; changes made with a key are recorded as the key's.
func TestAPIAuditLog(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	wsA := e.User("ana@example.com", "correct-horse")
	wsB := e.User("bob@example.com", "correct-horse")
	keyA, kA := auditKey(t, e, wsA.ID, "CRM")
	keyB, _ := auditKey(t, e, wsB.ID, "B")

	// Changes through the API: the key is the actor.
	st, created := auditDo(t, e, http.MethodPost, "/api/v1/assistants", keyA, `{"name":"API bot","model":"gpt-4o-mini"}`)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, created)
	}
	aid := strconv.FormatInt(int64(created["id"].(float64)), 10)
	if st, _ := auditDo(t, e, http.MethodDelete, "/api/v1/assistants/"+aid, keyA, ""); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	// The system's doing, and B's.
	if err := e.App.Audit.Record(ctx, audit.NewBy(audit.System, wsA.ID, audit.APIKeyCreate, audit.Target{}, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Store.CreateAPIKey(ctx, wsB.ID, "B2", "pk_b", "hash-b2", nil, audit.NewBy(audit.System, wsB.ID, audit.APIKeyCreate, audit.On(audit.TargetAPIKey, 0), nil)); err != nil {
		t.Fatal(err)
	}

	st, page := auditDo(t, e, http.MethodGet, "/api/v1/audit-log", keyA, "")
	if st != http.StatusOK {
		t.Fatalf("list: %d %v", st, page)
	}
	if got := keysOf(page); !reflect.DeepEqual(got, []string{"data", "next_cursor"}) || page["next_cursor"] != nil {
		t.Fatalf("top-level: %v next %v", got, page["next_cursor"])
	}
	data := page["data"].([]any)
	if len(data) != 3 {
		t.Fatalf("A's entries: %d", len(data))
	}
	sys, del, crt := data[0].(map[string]any), data[1].(map[string]any), data[2].(map[string]any)
	if got := keysOf(crt); !reflect.DeepEqual(got, []string{"action", "actor", "at", "details", "id", "target"}) {
		t.Fatalf("entry keys: %v", got)
	}
	if got := keysOf(crt["actor"].(map[string]any)); !reflect.DeepEqual(got, []string{"id", "name", "type"}) {
		t.Fatalf("actor keys: %v", got)
	}
	if got := keysOf(crt["target"].(map[string]any)); !reflect.DeepEqual(got, []string{"id", "type"}) {
		t.Fatalf("target keys: %v", got)
	}
	wantActor := map[string]any{"type": "api_key", "id": strconv.FormatInt(kA.ID, 10), "name": "CRM"}
	if !reflect.DeepEqual(crt["actor"], wantActor) || crt["action"] != "assistant.create" ||
		!reflect.DeepEqual(crt["target"], map[string]any{"type": "assistant", "id": aid}) ||
		!reflect.DeepEqual(crt["details"], map[string]any{"name": "API bot"}) {
		t.Fatalf("creation: %v", crt)
	}
	if !reflect.DeepEqual(del["actor"], wantActor) || del["action"] != "assistant.delete" || del["target"].(map[string]any)["id"] != aid {
		t.Fatalf("deletion: %v", del)
	}
	if !reflect.DeepEqual(sys["actor"], map[string]any{"type": "system", "id": nil, "name": "system"}) ||
		!reflect.DeepEqual(sys["target"], map[string]any{"type": nil, "id": nil}) || !reflect.DeepEqual(sys["details"], map[string]any{}) {
		t.Fatalf("system entry: %v", sys)
	}
	if at, _ := crt["at"].(string); !strings.HasSuffix(at, "Z") || crt["id"].(float64) >= del["id"].(float64) {
		t.Fatalf("at %q, ids %v %v", at, crt["id"], del["id"])
	}

	// Pages of two: the cursor carries on exactly; the last page's next_cursor is null.
	var ids []float64
	path := "/api/v1/audit-log?limit=2"
	for range 3 {
		st, p := auditDo(t, e, http.MethodGet, path, keyA, "")
		if st != http.StatusOK {
			t.Fatalf("%s: %d %v", path, st, p)
		}
		for _, it := range p["data"].([]any) {
			ids = append(ids, it.(map[string]any)["id"].(float64))
		}
		if p["next_cursor"] == nil {
			break
		}
		path = "/api/v1/audit-log?limit=2&cursor=" + p["next_cursor"].(string)
	}
	if len(ids) != 3 || ids[0] != sys["id"] || ids[2] != crt["id"] {
		t.Fatalf("paged ids: %v", ids)
	}
	// B sees its own entry only.
	if st, p := auditDo(t, e, http.MethodGet, "/api/v1/audit-log", keyB, ""); st != http.StatusOK || len(p["data"].([]any)) != 1 {
		t.Fatalf("B: %d %v", st, p)
	}

	// Bad parameters: 422 naming the field.
	for q, field := range map[string]string{"limit=0": "limit", "limit=201": "limit", "limit=ten": "limit", "cursor=bogus": "cursor",
		"cursor=" + store.Cursor{Sort: "last", ID: 3}.Encode(): "cursor"} {
		st, out := auditDo(t, e, http.MethodGet, "/api/v1/audit-log?"+q, keyA, "")
		errObj, _ := out["error"].(map[string]any)
		fields, _ := errObj["fields"].([]any)
		if st != http.StatusUnprocessableEntity || len(fields) != 1 || fields[0].(map[string]any)["field"] != field || !strings.HasPrefix(errObj["message"].(string), field+":") {
			t.Fatalf("?%s: %d %v", q, st, out)
		}
	}
	// Without a key: 401, as every API route.
	if st, _ := auditDo(t, e, http.MethodGet, "/api/v1/audit-log", "", ""); st != http.StatusUnauthorized {
		t.Fatalf("no key: %d", st)
	}
}

// The audit log is for admins' keys (read ones included): a key of an agent is refused 403,
// an admin's read key reads it.
func TestAPIAuditLogIsForAdminsKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws := e.User("ana@example.com", "correct-horse")
	mk := func(email string, role model.MemberRole, scope string) string {
		u := &store.User{WorkspaceID: ws.ID, Email: email, PasswordHash: "x", Role: model.UserRoleMember, CreatedAt: store.Now()}
		if err := e.App.Store.CreateUser(ctx, u, role); err != nil {
			t.Fatal(err)
		}
		key, prefix, hash, err := auth.NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.App.Store.InsertAPIKey(ctx, &store.APIKey{WorkspaceID: ws.ID, Name: email, Prefix: prefix, KeyHash: hash, Scope: scope, CreatedBy: &u.ID}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	agentKey := mk("agent@example.com", model.MemberAgent, model.ScopeWrite)
	adminRead := mk("admin@example.com", model.MemberAdmin, model.ScopeRead)
	if st, body := auditDo(t, e, http.MethodGet, "/api/v1/audit-log", agentKey, ""); st != http.StatusForbidden || body["error"] == nil {
		t.Fatalf("an agent's key: %d %v", st, body)
	}
	if st, body := auditDo(t, e, http.MethodGet, "/api/v1/audit-log", adminRead, ""); st != http.StatusOK || body["data"] == nil {
		t.Fatalf("an admin's read key: %d %v", st, body)
	}
}
