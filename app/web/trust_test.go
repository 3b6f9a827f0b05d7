package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
)

// trustServer is a running server with one admin and one API key (self-contained: it uses no
// helper of the other test files).
type trustServer struct {
	url, key string
	client   *http.Client
}

func newTrustServer(t *testing.T) *trustServer {
	t.Helper()
	a := testkit.App(t, testkit.Config(t))
	ws := web.New(a)
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(ws.Close)
	ctx := context.Background()
	h, err := auth.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	w, u, err := a.Store.CreateWorkspaceWithUser(ctx, "Trust", "admin@example.com", h)
	if err != nil {
		t.Fatal(err)
	}
	key, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.CreateAPIKey(ctx, w.ID, "ci", prefix, hash, &u.ID); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	ts := &trustServer{url: srv.URL, key: key, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	// Log in through the form.
	res := ts.do(t, "GET", "/login", nil)
	d, err := goquery.NewDocumentFromReader(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	tok := d.Find(`input[name="_csrf"]`).AttrOr("value", "")
	form := url.Values{"_csrf": {tok}, "email": {"admin@example.com"}, "password": {"correct horse battery"}}
	res = ts.do(t, "POST", "/login", form)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	return ts
}

func (ts *trustServer) do(t *testing.T, method, path string, form url.Values, hdr ...string) *http.Response {
	t.Helper()
	var req *http.Request
	if form != nil {
		req, _ = http.NewRequest(method, ts.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, ts.url+path, nil)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Every authenticated page, fragment, export and JSON answer says Cache-Control: no-store;
// static files keep their own caching.
func TestAuthenticatedAnswersAreNotStored(t *testing.T) {
	ts := newTrustServer(t)
	bearer := "Bearer " + ts.key
	for _, tc := range []struct {
		path string
		hdr  []string
	}{
		{"/conversations", nil},
		{"/conversations", []string{"HX-Request", "true"}},
		{"/conversations/export.csv", nil},
		{"/conversations/export.jsonl", nil},
		{"/analytics", nil},
		{"/analytics/export.csv?chart=conversations", nil},
		{"/settings", nil},
		{"/assistants", nil},
		{"/api/v1/me", []string{"Authorization", bearer}},
		{"/api/v1/conversations", []string{"Authorization", bearer}},
		{"/api/v1/assistants", []string{"Authorization", bearer}},
	} {
		res := ts.do(t, "GET", tc.path, nil, tc.hdr...)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s %v: %d", tc.path, tc.hdr, res.StatusCode)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s %v: Cache-Control %q, want no-store", tc.path, tc.hdr, cc)
		}
	}
	res := ts.do(t, "GET", "/static/app.css", nil)
	res.Body.Close()
	if cc := res.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public") {
		t.Errorf("static: Cache-Control %q", cc)
	}
}

// A client's X-Request-Id is kept only when it is 1 to 64 characters of [A-Za-z0-9._-];
// anything else is replaced by a fresh id.
func TestClientRequestIDIsValidated(t *testing.T) {
	ts := newTrustServer(t)
	for _, tc := range []struct {
		sent string
		keep bool
	}{
		{"abc-123_X.y", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"line\\nbreak", false},
		{"<script>", false},
		{"ünïcode", false},
		{`"quoted"`, false},
	} {
		res := ts.do(t, "GET", "/healthz", nil, "X-Request-Id", tc.sent)
		res.Body.Close()
		got := res.Header.Get("X-Request-Id")
		if tc.keep && got != tc.sent {
			t.Errorf("%q: answered %q, want it kept", tc.sent, got)
		}
		if !tc.keep && (got == tc.sent || got == "" || len(got) > 64 || strings.ContainsAny(got, " <\"\\")) {
			t.Errorf("%q: answered %q, want a fresh id", tc.sent, got)
		}
	}
}

// /readyz names the failing part and never the raw error (addresses, driver text).
func TestReadyzNamesThePartWithoutItsError(t *testing.T) {
	cfg := testkit.Config(t)
	a := testkit.App(t, cfg)
	ws := web.New(a)
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(ws.Close)
	a.Redis.Close() // Redis gone for this app: its checks fail with a client error
	res, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(res.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusServiceUnavailable || b.Checks["redis"] != "failed" || b.Checks["database"] != "ok" {
		t.Fatalf("readyz: %d %+v", res.StatusCode, b)
	}
}

// The widget's iframe page and public API are limited per client: the first 240 requests of
// a minute pass, and a client that keeps going gets 429 with Retry-After, on the pages and the
// API alike (the bucket refills 4 a second, far slower than this loop).
func TestWidgetRequestsAreLimitedPerClient(t *testing.T) {
	ts := newTrustServer(t)
	for i := 0; i < 1000; i++ {
		path := "/widget/pk_unknown"
		if i%2 == 1 {
			path = "/api/widget/v1/assistants/pk_unknown"
		}
		res := ts.do(t, "GET", path, nil)
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusNotFound:
		case http.StatusTooManyRequests:
			if i < 240 {
				t.Fatalf("request %d limited: the first 240 of a minute pass", i)
			}
			if res.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			return
		default:
			t.Fatalf("request %d: %d", i, res.StatusCode)
		}
	}
	t.Fatal("1000 requests in a row were never limited")
}

// The pages without a login are limited per client before any session is made: a client
// without cookies looping on /login (each first visit stores a session for its CSRF token)
// passes 120 times a minute, then gets 429 with Retry-After and no session cookie.
func TestLoginPageIsLimitedPerClient(t *testing.T) {
	ts := newTrustServer(t)
	bare := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := 0; i < 1000; i++ {
		res, err := bare.Get(ts.url + "/login")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusOK:
			if len(res.Cookies()) == 0 {
				t.Fatalf("request %d: the login page set no session cookie", i)
			}
		case http.StatusTooManyRequests:
			if i < 110 { // newTrustServer signed in through the same pages
				t.Fatalf("request %d limited: 120 a minute pass", i)
			}
			if res.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			if len(res.Cookies()) != 0 {
				t.Fatal("a limited request made a session")
			}
			return
		default:
			t.Fatalf("request %d: %d", i, res.StatusCode)
		}
	}
	t.Fatal("1000 visits to /login were never limited")
}

// Sign-in is throttled: after 10 failures for an account, the next attempt, with the right
// password, answers 429 with Retry-After and says why on the login page.
func TestSignInIsThrottled(t *testing.T) {
	ts := newTrustServer(t)
	jar, _ := cookiejar.New(nil)
	ts.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res := ts.do(t, "GET", "/login", nil)
	d, err := goquery.NewDocumentFromReader(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	tok := d.Find(`input[name="_csrf"]`).AttrOr("value", "")
	try := func(pw string) *http.Response {
		return ts.do(t, "POST", "/login", url.Values{"_csrf": {tok}, "email": {"admin@example.com"}, "password": {pw}})
	}
	for i := 0; i < 10; i++ {
		res := try("wrong")
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, res.StatusCode)
		}
	}
	res = try("correct horse battery")
	d, err = goquery.NewDocumentFromReader(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || res.Header.Get("Location") != "" {
		t.Fatalf("right password while throttled: %d Retry-After %q Location %q", res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("Location"))
	}
	if msg := d.Find(`[role="alert"]`).Text(); !strings.Contains(msg, "Too many failed sign-ins") || !strings.Contains(msg, "Try again in") {
		t.Fatalf("the page does not say why: %q", msg)
	}
}

// One user's live streams are capped at 8 per web process: the ninth ends the oldest.
func TestLiveStreamsPerUserAreCapped(t *testing.T) {
	ts := newTrustServer(t)
	type stream struct {
		res  *http.Response
		done chan struct{}
	}
	open := func() stream {
		req, _ := http.NewRequest("GET", ts.url+"/conversations/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		res, err := ts.client.Do(req)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("open stream: %v", err)
		}
		s := stream{res: res, done: make(chan struct{})}
		go func() { // read until the server ends the stream
			buf := make([]byte, 512)
			for {
				if _, err := res.Body.Read(buf); err != nil {
					close(s.done)
					return
				}
			}
		}()
		return s
	}
	var streams []stream
	for i := 0; i < 8; i++ {
		streams = append(streams, open())
	}
	defer func() {
		for _, s := range streams {
			s.res.Body.Close()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	for i, s := range streams {
		select {
		case <-s.done:
			t.Fatalf("stream %d ended within the cap", i)
		default:
		}
	}
	streams = append(streams, open())
	select {
	case <-streams[0].done:
	case <-time.After(10 * time.Second):
		t.Fatal("the ninth stream did not end the oldest")
	}
	for i, s := range streams[1:] {
		select {
		case <-s.done:
			t.Fatalf("stream %d ended too", i+1)
		default:
		}
	}
}
