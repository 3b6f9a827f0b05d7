package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/web/webtest"
)

// Helpers of this file carry an "invAPI" prefix.

// invAPIKey is a key of the workspace made by createdBy (0: the command line's).
func invAPIKey(t *testing.T, e *env, workspaceID, createdBy int64) string {
	t.Helper()
	key, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	var by *int64
	if createdBy > 0 {
		by = &createdBy
	}
	if _, err := e.App.Store.CreateAPIKey(context.Background(), workspaceID, "invites", prefix, hash, by); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestAPIInvites(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws := e.User("owner@a.test", "correct-horse")
	owner, _ := e.App.Store.UserByEmail(ctx, "owner@a.test")
	key := invAPIKey(t, e, ws.ID, 0)

	before := time.Now()
	r := asstAPIDo(t, e, "POST", "/api/v1/invites", key, `{"email":"new@x.test","role":"agent"}`)
	if r.Status != http.StatusCreated || !strings.Contains(r.Header.Get("Content-Type"), "json") {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.Body), &out); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"expires_at", "id", "url"}) {
		t.Fatalf("keys %v", keys)
	}
	var got struct {
		ID        int64     `json:"id"`
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	_ = json.Unmarshal([]byte(r.Body), &got)
	if got.ID <= 0 || !strings.HasPrefix(got.URL, e.App.Config.BaseURL+"/invite/") ||
		got.ExpiresAt.Before(before.Add(7*24*time.Hour-time.Minute)) || got.ExpiresAt.After(time.Now().Add(7*24*time.Hour+time.Minute)) {
		t.Fatalf("invite %+v", got)
	}
	// The link works: its page shows the workspace and the role.
	token := strings.TrimPrefix(got.URL, e.App.Config.BaseURL)
	res := e.Get(e.Client(), token)
	if body := webtest.Body(t, res); res.StatusCode != 200 || !strings.Contains(body, ws.Name) || !strings.Contains(body, "Agent") {
		t.Errorf("the link's page: %d", res.StatusCode)
	}

	for _, tc := range []struct {
		body   string
		status int
		code   string
		field  string
	}{
		{`{"role":"agent"}`, 422, "invalid_field", "email"},
		{`{"email":"x@y.test"}`, 422, "invalid_field", "role"},
		{`{"email":"nope","role":"agent"}`, 422, "invalid_field", "email"},
		{`{"email":"x@y.test","role":"chief"}`, 422, "invalid_field", "role"},
		{`{"email":42,"role":"agent"}`, 422, "invalid_field", "email"},
		{`{"email":"x@y.test","role":"agent","name":"X"}`, 422, "invalid_field", "name"},
		{`{"email":"x@y.test","role":"owner"}`, 403, "forbidden", "role"},
		{`{"email":"OWNER@a.test","role":"viewer"}`, 409, "already_member", "email"},
		{`[]`, 400, "invalid_json", ""},
	} {
		r := asstAPIDo(t, e, "POST", "/api/v1/invites", key, tc.body)
		code, msg := r.errMsg(t)
		if r.Status != tc.status || code != tc.code || !strings.HasPrefix(msg, tc.field) {
			t.Errorf("%s: %d %s %q", tc.body, r.Status, code, msg)
		}
	}
	var n int
	if err := e.App.Store.DB.NewRaw("SELECT count(*) FROM invites").Scan(ctx, &n); err != nil || n != 1 {
		t.Errorf("%d invites stored (%v)", n, err)
	}

	// An owner's key invites owners, and records who.
	okey := invAPIKey(t, e, ws.ID, owner.ID)
	r = asstAPIDo(t, e, "POST", "/api/v1/invites", okey, `{"email":"boss@x.test","role":"owner"}`)
	if r.Status != 201 {
		t.Fatalf("owner's key: %d %s", r.Status, r.Body)
	}
	// A key acts with its creator's current role: an agent's key invites nobody.
	h, _ := auth.HashPassword("correct-horse")
	agent, err := e.App.Store.CreateMemberUser(ctx, ws.ID, "agent@a.test", "", h, model.UserRoleMember, model.MemberAgent)
	if err != nil {
		t.Fatal(err)
	}
	r = asstAPIDo(t, e, "POST", "/api/v1/invites", invAPIKey(t, e, ws.ID, agent.ID), `{"email":"x@y.test","role":"viewer"}`)
	if code, msg := r.errMsg(t); r.Status != 403 || code != "forbidden" || !strings.HasPrefix(msg, "role") {
		t.Errorf("an agent's key: %d %s", r.Status, r.Body)
	}
	p, err := e.App.Team.Pending(ctx, ws.ID)
	if err != nil || len(p) != 2 || p[0].Role != model.MemberOwner || p[0].InvitedByEmail == nil || *p[0].InvitedByEmail != "owner@a.test" {
		t.Errorf("pending: %+v %v", p, err)
	}
}
