package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// teamConv stores one test conversation of ws whose customer is customer.
func teamConv(t *testing.T, e *env, ws int64, customer string) *store.Conversation {
	t.Helper()
	c := &store.Conversation{WorkspaceID: ws, Type: model.TypeTest, Customer: customer, StartedAt: time.Now().UTC(), AIEnabled: true}
	if err := e.App.Conversations.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// A person in two workspaces sees only the one they work in, switches from the navigation,
// and cannot reach the other's rows by URL; a switch to a workspace that is not theirs is 404.
func TestSwitchingWorkspacesNeverLeaks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	w := e.User("owner@w.test", "password-123")
	x := e.User("owner@x.test", "password-123")
	y := e.User("owner@y.test", "password-123")
	h, _ := auth.HashPassword("password-456")
	bo, err := e.App.Store.CreateMemberUser(ctx, w.ID, "bo@w.test", "Bo", h, model.UserRoleMember, model.MemberAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.App.Store.AddMember(ctx, x.ID, bo.ID, model.MemberViewer); err != nil {
		t.Fatal(err)
	}
	cw := teamConv(t, e, w.ID, "customer-of-W")
	cx := teamConv(t, e, x.ID, "customer-of-X")
	cy := teamConv(t, e, y.ID, "customer-of-Y")

	c := e.Client()
	e.Login(c, "bo@w.test", "password-456")
	body := webtest.Body(t, e.Get(c, "/conversations"))
	if !strings.Contains(body, "customer-of-W") || strings.Contains(body, "customer-of-X") || strings.Contains(body, "customer-of-Y") {
		t.Fatalf("in W: %s", body)
	}
	if !strings.Contains(body, `name="workspace_id"`) || !strings.Contains(body, ">X</option>") && !strings.Contains(body, "WS owner@x.test") {
		t.Fatalf("the switcher lists both workspaces: %s", body)
	}
	csrf := e.CSRF(c, "/settings")
	// Y is not bo's: 404, and bo stays in W.
	res := e.PostForm(c, "/workspaces/switch", url.Values{"_csrf": {csrf}, "workspace_id": {strconv.FormatInt(y.ID, 10)}})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("switch to a foreign workspace: %d", res.StatusCode)
	}
	res = e.PostForm(c, "/workspaces/switch", url.Values{"_csrf": {csrf}, "workspace_id": {"abc"}})
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("switch with a wrong id: %d", res.StatusCode)
	}
	res = e.PostForm(c, "/workspaces/switch", url.Values{"_csrf": {csrf}, "workspace_id": {strconv.FormatInt(x.ID, 10)}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/conversations" {
		t.Fatalf("switch to X: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	body = webtest.Body(t, e.Get(c, "/conversations"))
	if !strings.Contains(body, "customer-of-X") || strings.Contains(body, "customer-of-W") {
		t.Fatalf("in X: %s", body)
	}
	for _, other := range []*store.Conversation{cw, cy} {
		res := e.Get(c, "/conversations/"+strconv.FormatInt(other.ID, 10))
		b := webtest.Body(t, res)
		if res.StatusCode != http.StatusNotFound || strings.Contains(b, "customer-of-") {
			t.Fatalf("in X, another workspace's conversation %d: %d", other.ID, res.StatusCode)
		}
	}
	if res := e.Get(c, "/conversations/"+strconv.FormatInt(cx.ID, 10)); res.StatusCode != http.StatusOK {
		t.Fatalf("X's own conversation: %d", res.StatusCode)
	}
	// In X bo is a viewer: the navigation shows no Test Chat, and an export is refused.
	if strings.Contains(body, `href="/test-chat"`) {
		t.Fatal("a viewer's navigation offers Test Chat")
	}
	if res := e.Get(c, "/conversations/export.csv"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a viewer exports: %d", res.StatusCode)
	}
	// The next login starts where bo last worked.
	c2 := e.Client()
	e.Login(c2, "bo@w.test", "password-456")
	if b := webtest.Body(t, e.Get(c2, "/conversations")); !strings.Contains(b, "customer-of-X") {
		t.Fatal("a new login starts in the last workspace")
	}
}

// Settings → Members: an admin changes a role and removes a member, whose open browser is
// logged out at once; the last owner cannot leave; an admin cannot touch the owner.
func TestMembersPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	w := e.User("owner@w.test", "password-123")
	h, _ := auth.HashPassword("password-456")
	mk := func(email string, r model.MemberRole) *store.User {
		u, err := e.App.Store.CreateMemberUser(ctx, w.ID, email, "", h, model.UserRoleMember, r)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	admin, agent := mk("admin@w.test", model.MemberAdmin), mk("agent@w.test", model.MemberAgent)
	owner, _ := e.App.Store.UserByEmail(ctx, "owner@w.test")

	ac := e.Client()
	e.Login(ac, "admin@w.test", "password-456")
	gc := e.Client()
	e.Login(gc, "agent@w.test", "password-456")
	if res := e.Get(gc, "/settings/members"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("an agent opens Members: %d", res.StatusCode)
	}
	body := webtest.Body(t, e.Get(ac, "/settings/members"))
	if !strings.Contains(body, "agent@w.test") || !strings.Contains(body, "owner@w.test") {
		t.Fatalf("members: %s", body)
	}
	csrf := e.CSRF(ac, "/settings/members")
	post := func(path string, v url.Values) (int, string) {
		v.Set("_csrf", csrf)
		res := e.PostForm(ac, path, v)
		return res.StatusCode, webtest.Body(t, res)
	}
	id := func(u *store.User) string { return strconv.FormatInt(u.ID, 10) }
	if code, b := post("/settings/members/"+id(agent)+"/role", url.Values{"role": {"viewer"}}); code != 200 || !strings.Contains(b, "agent@w.test is now Viewer") {
		t.Fatalf("role change: %d %s", code, b)
	}
	if code, _ := post("/settings/members/"+id(agent)+"/role", url.Values{"role": {"boss"}}); code != http.StatusUnprocessableEntity {
		t.Fatalf("a wrong role: %d", code)
	}
	if code, _ := post("/settings/members/"+id(owner)+"/role", url.Values{"role": {"viewer"}}); code != http.StatusForbidden {
		t.Fatalf("an admin demotes the owner: %d", code)
	}
	if m, _ := e.App.Store.MembershipOf(ctx, w.ID, owner.ID); m.Role != model.MemberOwner {
		t.Fatalf("the owner is %q", m.Role)
	}
	// The agent, now a viewer, is removed: their open browser is logged out.
	if res := e.Get(gc, "/conversations"); res.StatusCode != http.StatusOK {
		t.Fatalf("before removal: %d", res.StatusCode)
	}
	if code, b := post("/settings/members/"+id(agent)+"/remove", url.Values{}); code != 200 || strings.Contains(b, "agent@w.test</div>") {
		t.Fatalf("removal: %d %s", code, b)
	}
	res := e.Get(gc, "/conversations")
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("the removed member's browser: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// The last owner cannot leave.
	oc := e.Client()
	e.Login(oc, "owner@w.test", "password-123")
	ocsrf := e.CSRF(oc, "/settings")
	res = e.PostForm(oc, "/settings/members/leave", url.Values{"_csrf": {ocsrf}})
	res.Body.Close()
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("the last owner leaves: %d", res.StatusCode)
	}
	// The admin leaves: out of the workspace, logged out.
	res = e.PostForm(ac, "/settings/members/leave", url.Values{"_csrf": {csrf}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the admin leaves: %d", res.StatusCode)
	}
	if _, err := e.App.Store.MembershipOf(ctx, w.ID, admin.ID); err == nil {
		t.Fatal("the admin is still a member")
	}
}

// An owner deletes a workspace from Settings by typing its name, and lands in another one of
// theirs; an admin sees no such form and is refused.
func TestDeleteWorkspaceFromSettings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.User("first@install.test", "password-123") // the installation admin's workspace
	w := e.User("owner@w.test", "password-123")
	x := e.User("owner@x.test", "password-123")
	owner, _ := e.App.Store.UserByEmail(ctx, "owner@w.test")
	if err := e.App.Store.AddMember(ctx, x.ID, owner.ID, model.MemberAdmin); err != nil {
		t.Fatal(err)
	}
	h, _ := auth.HashPassword("password-456")
	if _, err := e.App.Store.CreateMemberUser(ctx, w.ID, "adm@w.test", "", h, model.UserRoleMember, model.MemberAdmin); err != nil {
		t.Fatal(err)
	}
	teamConv(t, e, w.ID, "customer-of-W")

	ac := e.Client()
	e.Login(ac, "adm@w.test", "password-456")
	if d := webtest.Doc(t, e.Get(ac, "/settings")); d.Find("#delete-workspace").Length() != 0 {
		t.Fatal("an admin is offered the deletion")
	}
	res := e.PostForm(ac, "/settings/workspace/delete", url.Values{"_csrf": {e.CSRF(ac, "/settings")}, "confirm": {w.Name}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("an admin deletes: %d", res.StatusCode)
	}

	oc := e.Client()
	e.Login(oc, "owner@w.test", "password-123")
	d := webtest.Doc(t, e.Get(oc, "/settings"))
	if d.Find("#delete-workspace").Length() != 1 || !strings.Contains(d.Find("#delete-workspace").Text(), "adm@w.test") {
		t.Fatalf("the owner's deletion form names the accounts that go: %q", d.Find("#delete-workspace").Text())
	}
	csrf := e.CSRF(oc, "/settings")
	res = e.PostForm(oc, "/settings/workspace/delete", url.Values{"_csrf": {csrf}, "confirm": {"nope"}})
	b := webtest.Body(t, res)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, "type the workspace") {
		t.Fatalf("a wrong name: %d", res.StatusCode)
	}
	res = e.PostForm(oc, "/settings/workspace/delete", url.Values{"_csrf": {csrf}, "confirm": {w.Name}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	if _, err := e.App.Store.WorkspaceByID(ctx, w.ID); err == nil {
		t.Fatal("the workspace is still there")
	}
	// Signed in again, the owner works in X.
	e.Login(oc, "owner@w.test", "password-123")
	if b := webtest.Body(t, e.Get(oc, "/settings")); !strings.Contains(b, x.Name) || strings.Contains(b, "customer-of-W") {
		t.Fatal("the owner does not work in X")
	}
}
