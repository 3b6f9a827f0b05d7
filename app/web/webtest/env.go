// Package webtest is the test environment of the web surfaces: one running server
// (httptest.NewServer of web.New on a fresh database and Redis) with the client helpers the
// tests of app/web and of each surface (dashboard, widget, api, webhooks) share, the fuzz
// server, the browser helpers, and the WhatsApp webhook (Wh...) and widget API (W...) helpers
// that tests of more than one surface use.
//
// It owns test helpers only. It may import app/web (to build the whole server) and is imported
// only by _test files: app/web's non-test code and the surfaces' non-test code never import it
// (app/web/imports_test.go checks). Surface tests that import it are external test packages
// (package dashboard_test, ...), so that there is no import cycle. Being non-test code, it
// builds no SQL (app/store's layout test): the tests that count rows do it in their own files.
package webtest

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/config"
)

// Env is one test's running server on a fresh database and Redis.
type Env struct {
	T   testing.TB
	App *app.App
	Srv *httptest.Server
	URL string
	// Graph is Meta's Graph API that the app asks (a fake, made by NewWith unless the
	// configuration names another): it confirms the numbers it Knows.
	Graph *testkit.FakeGraph
}

// New is a server on the default test configuration.
func New(t *testing.T) *Env {
	t.Helper()
	return NewWith(t, testkit.Config(t))
}

// NewWith is a server on the given configuration.
func NewWith(t testing.TB, cfg *config.Config) *Env {
	t.Helper()
	var g *testkit.FakeGraph
	if cfg.WhatsAppGraphURL == "" || cfg.WhatsAppGraphURL == config.DefaultWhatsAppGraphURL {
		// Never Meta's real API from a test: a fake that knows no number until told.
		g = testkit.NewFakeGraph(t)
		cfg.WhatsAppGraphURL = g.URL + "/v21.0"
	}
	e := Serve(t, testkit.App(t, cfg))
	e.Graph = g
	return e
}

// Serve runs the whole server of a over real HTTP until the test ends.
func Serve(t testing.TB, a *app.App) *Env {
	t.Helper()
	ws := web.New(a)
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(ws.Close) // runs first: ends open event streams
	return &Env{T: t, App: a, Srv: srv, URL: srv.URL}
}

// User creates a workspace with one admin and returns the workspace.
func (e *Env) User(email, password string) *store.Workspace {
	e.T.Helper()
	h, err := auth.HashPassword(password)
	if err != nil {
		e.T.Fatal(err)
	}
	ws, _, err := e.App.Store.CreateWorkspaceWithUser(context.Background(), "WS "+email, email, h)
	if err != nil {
		e.T.Fatal(err)
	}
	return ws
}

// Client is a browser-like client: a cookie jar, no automatic redirects.
func (e *Env) Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Get sends a GET with the header pairs hdr (name, value, ...).
func (e *Env) Get(c *http.Client, path string, hdr ...string) *http.Response {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	return res
}

// PostForm posts an urlencoded form with the header pairs hdr.
func (e *Env) PostForm(c *http.Client, path string, form url.Values, hdr ...string) *http.Response {
	e.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	return res
}

// Doc parses an HTML answer and closes its body.
func Doc(t testing.TB, res *http.Response) *goquery.Document {
	t.Helper()
	defer res.Body.Close()
	d, err := goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Body reads an answer's body and closes it.
func Body(t testing.TB, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// CSRF loads a page and returns the CSRF token from its form.
func (e *Env) CSRF(c *http.Client, path string) string {
	e.T.Helper()
	res := e.Get(c, path)
	if res.StatusCode != http.StatusOK {
		e.T.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	tok, ok := Doc(e.T, res).Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		e.T.Fatalf("no CSRF token on %s", path)
	}
	return tok
}

// Login logs c in through the real login form.
func (e *Env) Login(c *http.Client, email, password string) {
	e.T.Helper()
	tok := e.CSRF(c, "/login")
	res := e.PostForm(c, "/login", url.Values{"_csrf": {tok}, "email": {email}, "password": {password}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/conversations" {
		e.T.Fatalf("login: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// Itoa is an id in a path.
func Itoa(n int64) string { return strconv.FormatInt(n, 10) }
