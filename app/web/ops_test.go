package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/static"
)

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	c := e.Client()
	res := e.Get(c, "/healthz")
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", res.StatusCode)
	}
	res = e.Get(c, "/readyz")
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || body.Checks["database"] != "ok" || body.Checks["redis"] != "ok" {
		t.Fatalf("readyz: %d %+v", res.StatusCode, body)
	}
}

// A Redis that stops makes /readyz answer 503 naming Redis, while /healthz stays 200.
func TestReadyzFailsWhenRedisStops(t *testing.T) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	a := testkit.App(t, testkit.ConfigFor(t, testkit.NewDB(t), "redis://"+m.Addr()+"/0"))
	srv := httptest.NewServer(web.New(a).Handler())
	defer srv.Close()
	check := func(want int) map[string]string {
		res, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b struct{ Checks map[string]string }
		json.NewDecoder(res.Body).Decode(&b)
		if res.StatusCode != want {
			t.Fatalf("readyz %d, want %d (%v)", res.StatusCode, want, b.Checks)
		}
		return b.Checks
	}
	check(http.StatusOK)
	m.Close()
	checks := check(http.StatusServiceUnavailable)
	if !strings.HasPrefix(checks["redis"], "failed") || checks["database"] != "ok" {
		t.Fatalf("checks: %v", checks)
	}
	res, _ := http.Get(srv.URL + "/healthz")
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("healthz with Redis down: %d", res.StatusCode)
	}
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t)
	c := e.Client()
	res := e.Get(c, static.Path(static.HTMX))
	b := webtest.Body(t, res)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") || !strings.Contains(b, "htmx") {
		t.Fatalf("hashed asset: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("content type %q", res.Header.Get("Content-Type"))
	}
	// An old hash still serves, but not as immutable.
	res = e.Get(c, "/static/h/000000000000/app.css")
	res.Body.Close()
	if res.StatusCode != http.StatusOK || strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("stale hash: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	res = e.Get(c, "/static/app.css")
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("plain path: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	for _, p := range []string{"/static/nope.js", "/static/../config/config.go", "/static/h/abc/../../static.go"} {
		res = e.Get(c, p)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	// Gzip for compressible responses.
	req, _ := http.NewRequest("GET", e.URL+static.Path(static.HTMX), nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("htmx is not gzipped: %v", res.Header)
	}
}

func TestPagesVaryOnHXRequestAndSecureHeaders(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	full := e.Get(c, "/conversations")
	fullBody := webtest.Body(t, full)
	frag := e.Get(c, "/conversations", "HX-Request", "true")
	fragBody := webtest.Body(t, frag)
	for _, res := range []*http.Response{full, frag} {
		if !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "HX-Request") {
			t.Fatalf("Vary: %v", res.Header.Values("Vary"))
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("secure headers missing: %v", res.Header)
		}
	}
	if !strings.Contains(fullBody, "<html") || strings.Contains(fragBody, "<html") {
		t.Fatal("full page for plain requests, fragment for htmx requests")
	}
	// Boosted and history-restore requests get the full page.
	for _, h := range [][]string{{"HX-Request", "true", "HX-Boosted", "true"}, {"HX-Request", "true", "HX-History-Restore-Request", "true"}} {
		if b := webtest.Body(t, e.Get(c, "/conversations", h...)); !strings.Contains(b, "<html") {
			t.Fatalf("%v must get the full page", h)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("a", 2<<20)
	res := e.PostForm(e.Client(), "/login", url.Values{"email": {big}})
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MB body: %d", res.StatusCode)
	}
}

func TestAPIKeysFromSettingsAndTheAPI(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	e.User("bob@example.com", "correct-horse")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")

	tok := e.CSRF(c, "/settings")
	// Empty name: the error beside the field, nothing created.
	res := e.PostForm(c, "/settings/api-keys", url.Values{"_csrf": {tok}, "name": {"  "}}, "HX-Request", "true")
	d := webtest.Doc(t, res)
	if d.Find(".field-error").Length() != 1 || d.Find("#new-api-key").Length() != 0 {
		t.Fatal("an empty name is refused beside the field")
	}
	res = e.PostForm(c, "/settings/api-keys", url.Values{"_csrf": {tok}, "name": {"CRM <script>"}}, "HX-Request", "true")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("create key: %d", res.StatusCode)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Fatal("a response holding a secret must not be cached")
	}
	d = webtest.Doc(t, res)
	key := strings.TrimSpace(d.Find("#new-api-key").Text())
	if !strings.HasPrefix(key, "pk_live_") {
		t.Fatalf("new key not shown: %q", key)
	}
	if !strings.Contains(d.Find("#api-keys td").First().Text(), "CRM <script>") {
		t.Fatal("the key's name is shown as text")
	}
	// Shown once: the settings page does not contain it again.
	if b := webtest.Body(t, e.Get(c, "/settings")); strings.Contains(b, key) {
		t.Fatal("the key must not be shown twice")
	}
	stored, _ := e.App.Store.APIKeys(context.Background(), ws.ID)
	if len(stored) != 1 || stored[0].KeyHash == key || strings.Contains(stored[0].KeyHash, key) {
		t.Fatal("only the hash is stored")
	}

	api := func(auth string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", e.URL+"/api/v1/me", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("API content type %q", ct)
		}
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	for _, bad := range []string{"", "Basic abc", "Bearer ", "Bearer pk_live_wrong"} {
		st, m := api(bad)
		errObj, _ := m["error"].(map[string]any)
		if st != http.StatusUnauthorized || errObj["code"] == nil || errObj["message"] == nil {
			t.Errorf("auth %q: %d %v", bad, st, m)
		}
	}
	st, m := api("Bearer " + key)
	wsObj, _ := m["workspace"].(map[string]any)
	if st != http.StatusOK || wsObj["name"] != ws.Name || int64(wsObj["id"].(float64)) != ws.ID {
		t.Fatalf("me: %d %v", st, m)
	}
	// Unknown API route: JSON 404.
	req, _ := http.NewRequest("GET", e.URL+"/api/v1/nope", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown route: %d", res.StatusCode)
	}

	// Revoke from Settings: the key stops working.
	res = e.PostForm(c, "/settings/api-keys/"+webtest.Itoa(stored[0].ID)+"/revoke", url.Values{"_csrf": {tok}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if st, _ := api("Bearer " + key); st != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", st)
	}
	// Bob cannot revoke Ana's keys.
	cb := e.Client()
	e.Login(cb, "bob@example.com", "correct-horse")
	tokB := e.CSRF(cb, "/settings")
	res = e.PostForm(cb, "/settings/api-keys/"+webtest.Itoa(stored[0].ID)+"/revoke", url.Values{"_csrf": {tokB}})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("another workspace's key: %d", res.StatusCode)
	}
}

// An error answered to an htmx request is plain text swapped nowhere (HX-Reswap none): the
// page's script shows it as text (the dashboard's alert #flash, the widget's error line); the
// dashboard's htmx swaps error answers, so a handler's own error fragment lands in its target.
func TestHTMXErrorsArePlainTextForThePageAlert(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	page := webtest.Body(t, e.Get(c, "/conversations"))
	if !strings.Contains(page, `id="flash"`) || !strings.Contains(page, `{"code":"[45]..","swap":true`) {
		t.Fatal("the dashboard has no #flash alert, or its htmx does not swap error answers")
	}
	res := e.Get(c, "/conversations/987654321", "HX-Request", "true")
	body := webtest.Body(t, res)
	if res.StatusCode != http.StatusNotFound || res.Header.Get("HX-Reswap") != "none" || strings.Contains(body, "<") || body == "" {
		t.Fatalf("htmx error: %d %v %q", res.StatusCode, res.Header, body)
	}
	res = e.Get(c, "/conversations/987654321")
	if b := webtest.Body(t, res); res.StatusCode != http.StatusNotFound || !strings.Contains(b, "<html") || res.Header.Get("HX-Reswap") != "" {
		t.Fatalf("plain error: %d %v", res.StatusCode, res.Header)
	}
	js := webtest.Body(t, e.Get(c, static.Path("app.js")))
	if !strings.Contains(js, `getElementById("flash")`) || !strings.Contains(js, "htmx:responseError") {
		t.Fatal("app.js does not show htmx errors in #flash")
	}
}
