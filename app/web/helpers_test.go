package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
)

// env is one test's running server on a fresh database and Redis.
type env struct {
	t   testing.TB
	App *app.App
	Srv *httptest.Server
	URL string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	a := testkit.App(t, testkit.Config(t))
	ws := web.New(a)
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(ws.Close) // runs first: ends open event streams
	return &env{t: t, App: a, Srv: srv, URL: srv.URL}
}

// user creates a workspace with one admin and returns the workspace.
func (e *env) user(email, password string) *store.Workspace {
	e.t.Helper()
	h, err := auth.HashPassword(password)
	if err != nil {
		e.t.Fatal(err)
	}
	ws, _, err := e.App.Store.CreateWorkspaceWithUser(context.Background(), "WS "+email, email, h)
	if err != nil {
		e.t.Fatal(err)
	}
	return ws
}

// client is a browser-like client: a cookie jar, no automatic redirects.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) get(c *http.Client, path string, hdr ...string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *env) postForm(c *http.Client, path string, form url.Values, hdr ...string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func doc(t testing.TB, res *http.Response) *goquery.Document {
	t.Helper()
	defer res.Body.Close()
	d, err := goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func body(t testing.TB, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// csrf loads a page and returns the CSRF token from its form.
func (e *env) csrf(c *http.Client, path string) string {
	e.t.Helper()
	res := e.get(c, path)
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	tok, ok := doc(e.t, res).Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		e.t.Fatalf("no CSRF token on %s", path)
	}
	return tok
}

// login logs c in through the real login form.
func (e *env) login(c *http.Client, email, password string) {
	e.t.Helper()
	tok := e.csrf(c, "/login")
	res := e.postForm(c, "/login", url.Values{"_csrf": {tok}, "email": {email}, "password": {password}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/conversations" {
		e.t.Fatalf("login: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
}
