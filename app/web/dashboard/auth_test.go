package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/web/webtest"
)

func TestLoginAndLogout(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	c := e.Client()

	// Wrong password: 401, the form again with an error, and no session.
	tok := e.CSRF(c, "/login")
	res := e.PostForm(c, "/login", url.Values{"_csrf": {tok}, "email": {"ana@example.com"}, "password": {"wrong-password"}})
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	if d := webtest.Doc(t, res); !strings.Contains(d.Find(`[role=alert]`).Text(), "Wrong email or password") {
		t.Fatal("the login page must say the credentials are wrong")
	}
	res = e.Get(c, "/conversations")
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("still logged out: %d", res.StatusCode)
	}
	// Unknown user: the same answer.
	res = e.PostForm(c, "/login", url.Values{"_csrf": {tok}, "email": {"nobody@example.com"}, "password": {"whatever1"}})
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", res.StatusCode)
	}

	e.Login(c, "ANA@example.com", "correct-horse")
	res = e.Get(c, "/conversations")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("conversations after login: %d", res.StatusCode)
	}
	d := webtest.Doc(t, res)
	if d.Find("h1").First().Text() != "Conversations" {
		t.Fatal("the Conversations page has its heading")
	}
	if !strings.Contains(d.Find(".who").Text(), "ana@example.com") {
		t.Fatal("the layout shows who is logged in")
	}
	for _, label := range []string{"Conversations", "Test Chat", "Assistants", "Analytics", "Settings"} {
		if !strings.Contains(d.Find("nav.side").Text(), label) {
			t.Errorf("navigation lacks %q", label)
		}
	}
	if d.Find("#nav-count").Text() != "0" {
		t.Fatalf("nav badge: %q", d.Find("#nav-count").Text())
	}
	logoutTok, _ := d.Find(`form[action="/logout"] input[name=_csrf]`).Attr("value")

	res = e.PostForm(c, "/logout", url.Values{"_csrf": {logoutTok}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res = e.Get(c, "/conversations")
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout the dashboard needs a login again: %d", res.StatusCode)
	}
}

func TestLoginNextStaysLocal(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	for next, want := range map[string]string{"/settings": "/settings", "//evil.example.com": "/conversations", "https://evil.example.com": "/conversations", `/\evil.example.com`: "/conversations"} {
		c := e.Client()
		tok := e.CSRF(c, "/login")
		res := e.PostForm(c, "/login", url.Values{"_csrf": {tok}, "email": {"ana@example.com"}, "password": {"correct-horse"}, "next": {next}})
		res.Body.Close()
		if got := res.Header.Get("Location"); got != want {
			t.Errorf("next=%q redirected to %q, want %q", next, got, want)
		}
	}
}

func TestAuthRedirects(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	c := e.Client()
	for _, p := range []string{"/conversations", "/settings", "/conversations?type=whatsapp"} {
		res := e.Get(c, p)
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next="+url.QueryEscape(p) {
			t.Errorf("GET %s: %d to %q", p, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// htmx requests get HX-Redirect, not a redirect htmx would swap into the page.
	res := e.Get(c, "/conversations", "HX-Request", "true")
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("HX-Redirect") != "/login" {
		t.Fatalf("htmx: %d HX-Redirect=%q", res.StatusCode, res.Header.Get("HX-Redirect"))
	}
	// Unsafe requests without a session are refused too (CSRF first, then the login).
	tok := e.CSRF(c, "/login")
	res = e.PostForm(c, "/settings/api-keys", url.Values{"_csrf": {tok}, "name": {"x"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST without session: %d", res.StatusCode)
	}
	keys, _ := e.App.Store.APIKeys(context.Background(), 1)
	if len(keys) != 0 {
		t.Fatal("nothing may be created without a session")
	}
	// A tampered session cookie is no session.
	u, _ := url.Parse(e.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "parley_session", Value: "forged", Path: "/"}})
	res = e.Get(c, "/settings")
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("forged cookie: %d", res.StatusCode)
	}
}

func TestCSRFRejection(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")

	cases := []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"no token", url.Values{"name": {"k"}}, nil},
		{"wrong form token", url.Values{"name": {"k"}, "_csrf": {"not-the-token"}}, nil},
		{"wrong header token", url.Values{"name": {"k"}}, []string{"X-CSRF-Token", "nope", "HX-Request", "true"}},
	}
	for _, tc := range cases {
		res := e.PostForm(c, "/settings/api-keys", tc.form, tc.hdr...)
		b := webtest.Body(t, res)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, res.StatusCode)
		}
		if !strings.Contains(b, "CSRF") {
			t.Errorf("%s: the error must say why: %q", tc.name, b)
		}
	}
	// Login itself is protected.
	res := e.PostForm(e.Client(), "/login", url.Values{"email": {"ana@example.com"}, "password": {"correct-horse"}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("login without token: %d", res.StatusCode)
	}
	keys, _ := e.App.Store.APIKeys(context.Background(), ws.ID)
	if len(keys) != 0 {
		t.Fatalf("rejected requests created %d keys", len(keys))
	}
	// With the token in the htmx header it works.
	tok := e.CSRF(c, "/settings")
	res = e.PostForm(c, "/settings/api-keys", url.Values{"name": {"via header"}}, "X-CSRF-Token", tok, "HX-Request", "true")
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("with header token: %d", res.StatusCode)
	}
	keys, _ = e.App.Store.APIKeys(context.Background(), ws.ID)
	if len(keys) != 1 {
		t.Fatalf("keys after a valid request: %d", len(keys))
	}
}

func TestFirstRunSetup(t *testing.T) {
	e := newEnv(t)
	c := e.Client()
	res := e.Get(c, "/login")
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/setup" {
		t.Fatalf("with no user, /login leads to setup: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	tok := e.CSRF(c, "/setup")
	// Bad input: every field's error beside it, nothing stored.
	res = e.PostForm(c, "/setup", url.Values{"_csrf": {tok}, "workspace": {""}, "email": {"nope"}, "password": {"short"}, "password_confirm": {"other"}})
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad setup: %d", res.StatusCode)
	}
	if n := webtest.Doc(t, res).Find(".field-error").Length(); n != 4 {
		t.Fatalf("want 4 field errors, got %d", n)
	}
	if n, _ := e.App.Store.CountUsers(context.Background()); n != 0 {
		t.Fatal("a rejected setup stores nothing")
	}
	res = e.PostForm(c, "/setup", url.Values{"_csrf": {tok}, "workspace": {"Acme"}, "email": {"boss@acme.test"}, "password": {"long-enough"}, "password_confirm": {"long-enough"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/conversations" {
		t.Fatalf("setup: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res = e.Get(c, "/conversations")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("setup logs the admin in: %d", res.StatusCode)
	}
	if !strings.Contains(webtest.Doc(t, res).Find(".who").Text(), "Acme") {
		t.Fatal("the workspace is named as entered")
	}
	// One time only.
	c2 := e.Client()
	res = e.Get(c2, "/setup")
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("setup after the first admin: %d", res.StatusCode)
	}
	tok2 := e.CSRF(c2, "/login")
	res = e.PostForm(c2, "/setup", url.Values{"_csrf": {tok2}, "workspace": {"Evil"}, "email": {"evil@x.test"}, "password": {"long-enough"}, "password_confirm": {"long-enough"}})
	res.Body.Close()
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("second setup: %d", res.StatusCode)
	}
	if n, _ := e.App.Store.CountUsers(context.Background()); n != 1 {
		t.Fatalf("users: %d", n)
	}
}
