package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// Sign-up is closed by default: /signup is 404 and the login page offers no link.
func TestSignupClosedByDefault(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	c := e.Client()
	if res := e.Get(c, "/signup"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /signup: %d", res.StatusCode)
	}
	tok := e.CSRF(c, "/login")
	res := e.PostForm(c, "/signup", url.Values{"_csrf": {tok}, "workspace": {"Mine"}, "email": {"new@example.com"}, "password": {"password-123"}, "password_confirm": {"password-123"}})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /signup: %d", res.StatusCode)
	}
	if _, err := e.App.Store.UserByEmail(context.Background(), "new@example.com"); err == nil {
		t.Fatal("a closed sign-up created an account")
	}
	if b := webtest.Body(t, e.Get(c, "/login")); strings.Contains(b, "signup-link") {
		t.Fatal("the login page offers a closed sign-up")
	}
}

// With PARLEY_OPEN_SIGNUP=true anyone creates an account and the workspace it owns (no
// installation admin), signed in at once; a taken email is 409, a wrong field 422.
func TestOpenSignup(t *testing.T) {
	cfg := testkit.Config(t)
	cfg.OpenSignup = true
	e := &env{webtest.NewWith(t, cfg)}
	e.User("ana@example.com", "correct-horse")
	c := e.Client()
	if b := webtest.Body(t, e.Get(c, "/login")); !strings.Contains(b, "signup-link") {
		t.Fatal("the login page offers no sign-up")
	}
	tok := e.CSRF(c, "/signup")
	post := func(v url.Values) (int, string) {
		v.Set("_csrf", tok)
		res := e.PostForm(c, "/signup", v)
		return res.StatusCode, webtest.Body(t, res)
	}
	if code, b := post(url.Values{"workspace": {""}, "email": {"nope"}, "password": {"short"}, "password_confirm": {"x"}}); code != http.StatusUnprocessableEntity || !strings.Contains(b, `data-field="workspace"`) {
		t.Fatalf("wrong fields: %d", code)
	}
	if code, b := post(url.Values{"workspace": {"Mine"}, "email": {"ANA@example.com"}, "password": {"password-123"}, "password_confirm": {"password-123"}}); code != http.StatusConflict || !strings.Contains(b, "has an account already") {
		t.Fatalf("a taken email: %d", code)
	}
	code, _ := post(url.Values{"workspace": {"Bo's shop"}, "email": {"bo@example.com"}, "password": {"password-123"}, "password_confirm": {"password-123"}})
	if code != http.StatusSeeOther {
		t.Fatalf("sign-up: %d", code)
	}
	ctx := context.Background()
	u, err := e.App.Store.UserByEmail(ctx, "bo@example.com")
	if err != nil || model.IsAdmin(u.Role) {
		t.Fatalf("the new account (no installation admin): %+v %v", u, err)
	}
	m, err := e.App.Store.MembershipOf(ctx, u.WorkspaceID, u.ID)
	if err != nil || m.Role != model.MemberOwner {
		t.Fatalf("the new account owns its workspace: %+v %v", m, err)
	}
	if b := webtest.Body(t, e.Get(c, "/settings")); !strings.Contains(b, "Bo&#39;s shop") {
		t.Fatal("signed in, working in the new workspace")
	}
}
