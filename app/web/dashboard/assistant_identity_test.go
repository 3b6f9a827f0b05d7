package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// The identity part of an assistant's page: the switch in the form, the secret shown to
// admins only and rotated by them with a CSRF-protected POST.
func TestAssistantIdentitySecretAndSwitch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws, admin := asstLogin(e, "ana@example.com")
	csrf := e.CSRF(admin, "/assistants/new")
	form := asstForm(csrf)
	form.Set("identity_required", "1")
	id := asstCreate(t, e, admin, form)
	row := asstOnly(t, e, ws.ID)
	if !row.IdentityRequired || len(row.IdentitySecret) != 64 {
		t.Fatalf("created: required %v secret %q", row.IdentityRequired, row.IdentitySecret)
	}
	page := "/assistants/" + strconv.FormatInt(id, 10)
	d := webtest.Doc(t, e.Get(admin, page))
	if d.Find("#identity-secret").Text() != row.IdentitySecret || !d.Find("#a-identity-required").Is("[checked]") {
		t.Fatal("the admin sees the secret and the switch")
	}
	if d.Find(`#identity-rotate input[name="_csrf"]`).AttrOr("value", "") == "" {
		t.Fatal("the rotate form carries a CSRF token")
	}
	// Saving the form without the box turns the switch off and keeps the secret.
	form = asstForm(csrf)
	form.Set("whatsapp_access_token", "")
	res := e.PostForm(admin, page, form)
	res.Body.Close()
	if after := asstOnly(t, e, ws.ID); res.StatusCode != http.StatusSeeOther || after.IdentityRequired || after.IdentitySecret != row.IdentitySecret {
		t.Fatalf("save without the box: %d %v", res.StatusCode, after.IdentityRequired)
	}

	rotate := page + "/identity-secret"
	// Without the CSRF token: 403, nothing changes.
	res = e.PostForm(admin, rotate, url.Values{})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || asstOnly(t, e, ws.ID).IdentitySecret != row.IdentitySecret {
		t.Fatalf("rotate without CSRF: %d", res.StatusCode)
	}
	// A member of the workspace sees neither the secret nor the button, and cannot rotate.
	h, _ := auth.HashPassword(asstPassword)
	if err := e.App.Store.CreateUser(ctx, &store.User{WorkspaceID: ws.ID, Email: "mo@example.com", PasswordHash: h, Role: model.UserRoleMember, CreatedAt: store.Now()}, model.MemberAgent); err != nil {
		t.Fatal(err)
	}
	member := e.Client()
	e.Login(member, "mo@example.com", asstPassword)
	body := webtest.Body(t, e.Get(member, page))
	if strings.Contains(body, row.IdentitySecret) || !strings.Contains(body, `id="identity-secret-hidden"`) || strings.Contains(body, `id="identity-rotate"`) {
		t.Fatal("a member sees the identity secret")
	}
	res = e.PostForm(member, rotate, url.Values{"_csrf": {e.CSRF(member, page)}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || asstOnly(t, e, ws.ID).IdentitySecret != row.IdentitySecret {
		t.Fatalf("a member rotates: %d", res.StatusCode)
	}
	// Another workspace's admin: 404.
	_, other := asstLogin(e, "bob@example.com")
	res = e.PostForm(other, rotate, url.Values{"_csrf": {e.CSRF(other, "/assistants/new")}})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || asstOnly(t, e, ws.ID).IdentitySecret != row.IdentitySecret {
		t.Fatalf("another workspace rotates: %d", res.StatusCode)
	}
	// The admin rotates: a new secret, shown with a notice.
	res = e.PostForm(admin, rotate, url.Values{"_csrf": {csrf}})
	res.Body.Close()
	first := asstOnly(t, e, ws.ID).IdentitySecret
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != page+"?rotated=1" || first == row.IdentitySecret || len(first) != 64 {
		t.Fatalf("rotate: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	d = webtest.Doc(t, e.Get(admin, page+"?rotated=1"))
	if d.Find("#identity-secret").Text() != first || d.Find("#identity-rotated").Length() != 1 || e.Get(admin, page).Header.Get("Cache-Control") != "no-store" {
		t.Fatal("the page shows the new secret")
	}
	// Through htmx: the page's fragment with the new secret.
	res = e.PostForm(admin, rotate, url.Values{"_csrf": {csrf}}, "HX-Request", "true")
	d = webtest.Doc(t, res)
	second := asstOnly(t, e, ws.ID).IdentitySecret
	if res.StatusCode != 200 || second == first || d.Find("#identity-secret").Text() != second || d.Find("#assistant").Length() != 1 {
		t.Fatalf("htmx rotate: %d", res.StatusCode)
	}
}
