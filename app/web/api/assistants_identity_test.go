package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// identityKey makes an API key of the workspace created by a user with the given role (none:
// a key made on the command line).
func identityKey(t *testing.T, e *env, ws *store.Workspace, email, role string) string {
	t.Helper()
	ctx := context.Background()
	var by *int64
	if role != "" {
		u := &store.User{WorkspaceID: ws.ID, Email: email, PasswordHash: "x", Role: model.UserRoleMember, CreatedAt: store.Now()}
		if err := e.App.Store.CreateUser(ctx, u, model.MemberRole(role)); err != nil {
			t.Fatal(err)
		}
		by = &u.ID
	}
	key, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Store.CreateAPIKey(ctx, ws.ID, "k", prefix, hash, by); err != nil {
		t.Fatal(err)
	}
	return key
}

// identity_secret is in the assistant's JSON for an admin's key only; identity_required is
// shown to every key and set through the API; the secret cannot be written.
func TestAPIAssistantIdentityFields(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	admin := identityKey(t, e, ws, "admin2@example.com", "admin")
	member := identityKey(t, e, ws, "member@example.com", "agent")
	cli := identityKey(t, e, ws, "", "")

	r := asstAPIDo(t, e, "POST", "/api/v1/assistants", member, `{"name":"Bot","identity_required":true}`)
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	created := r.obj(t)
	if created["identity_required"] != true {
		t.Fatalf("identity_required set on create: %v", created)
	}
	if _, shown := created["identity_secret"]; shown {
		t.Fatal("a member's key sees the identity secret")
	}
	id := strconv.FormatInt(int64(created["id"].(float64)), 10)
	row, err := e.App.Store.AssistantByID(context.Background(), ws.ID, int64(created["id"].(float64)))
	if err != nil || len(row.IdentitySecret) != 64 || !row.IdentityRequired {
		t.Fatalf("stored: %+v %v", row, err)
	}
	for name, key := range map[string]string{"member": member, "command-line key": cli} {
		for _, path := range []string{"/api/v1/assistants/" + id, "/api/v1/assistants"} {
			r := asstAPIDo(t, e, "GET", path, key, "")
			if r.Status != 200 || strings.Contains(r.Body, row.IdentitySecret) || strings.Contains(r.Body, "identity_secret") || !strings.Contains(r.Body, `"identity_required":true`) {
				t.Fatalf("%s GET %s: %d %s", name, path, r.Status, r.Body)
			}
		}
	}
	for _, path := range []string{"/api/v1/assistants/" + id, "/api/v1/assistants"} {
		r := asstAPIDo(t, e, "GET", path, admin, "")
		if r.Status != 200 || !strings.Contains(r.Body, `"identity_secret":"`+row.IdentitySecret+`"`) {
			t.Fatalf("admin GET %s: %d %s", path, r.Status, r.Body)
		}
	}
	// The switch is set through PATCH; a wrong type is a 400 naming it, nothing written.
	r = asstAPIDo(t, e, "PATCH", "/api/v1/assistants/"+id, admin, `{"identity_required":false}`)
	if r.Status != 200 || r.obj(t)["identity_required"] != false || r.obj(t)["identity_secret"] != row.IdentitySecret {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	for _, body := range []string{`{"identity_required":"yes"}`, `{"identity_required":null}`} {
		r = asstAPIDo(t, e, "PATCH", "/api/v1/assistants/"+id, admin, body)
		if code, msg := r.errMsg(t); r.Status != 400 || code != "invalid_field" || !strings.HasPrefix(msg, "identity_required:") {
			t.Fatalf("%s: %d %s", body, r.Status, r.Body)
		}
	}
	// The secret is not writable.
	r = asstAPIDo(t, e, "PATCH", "/api/v1/assistants/"+id, admin, `{"identity_secret":"mine"}`)
	if code, _ := r.errMsg(t); r.Status != 400 || code != "invalid_field" {
		t.Fatalf("writing the secret: %d %s", r.Status, r.Body)
	}
	after, _ := e.App.Store.AssistantByID(context.Background(), ws.ID, row.ID)
	if after.IdentitySecret != row.IdentitySecret || after.IdentityRequired {
		t.Fatalf("after: %+v", after)
	}
	// A demoted admin's key loses the secret.
	a2, err := e.App.Store.UserByEmail(context.Background(), "admin2@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.App.Store.SetMemberRole(context.Background(), ws.ID, a2.ID, model.MemberAgent); err != nil {
		t.Fatal(err)
	}
	if r := asstAPIDo(t, e, "GET", "/api/v1/assistants/"+id, admin, ""); strings.Contains(r.Body, row.IdentitySecret) {
		t.Fatal("a demoted admin's key still reads the secret")
	}
}
