package webtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/config"
)

// FuzzServer is one server for a whole fuzz run: a fresh database and Redis, and the app's
// handler called in process (no sockets), so that each iteration costs only the request.
type FuzzServer struct {
	*Env
	h http.Handler
}

// NewFuzzServer starts the server of a fuzz run on cfg.
func NewFuzzServer(f *testing.F, cfg *config.Config) *FuzzServer {
	f.Helper()
	a := testkit.App(f, cfg)
	ws := web.New(a)
	h := ws.Handler()
	srv := httptest.NewServer(h) // for the setup helpers that log in through the real forms
	f.Cleanup(srv.Close)
	f.Cleanup(ws.Close)
	return &FuzzServer{Env: &Env{T: f, App: a, Srv: srv, URL: srv.URL}, h: h}
}

// With is the env for one fuzz iteration: helpers fail t, never the *testing.F.
func (s *FuzzServer) With(t *testing.T) *Env {
	e := *s.Env
	e.T = t
	return &e
}

// Serve runs one request through the handler.
func (s *FuzzServer) Serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

// CookieHeader is the Cookie header of a logged-in client, for in-process requests.
func (s *FuzzServer) CookieHeader(c *http.Client) string {
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/", nil)
	var parts []string
	for _, ck := range c.Jar.Cookies(req.URL) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

// APIError reads the JSON error of an API answer: {"error": {"code", "message"}}.
func APIError(t *testing.T, rec *httptest.ResponseRecorder) (code, msg string) {
	t.Helper()
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("%d answer is not JSON: %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	var out struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(rec.Body)
	if err := json.Unmarshal(b, &out); err != nil || out.Error.Code == "" || out.Error.Message == "" {
		t.Fatalf("%d answer without a JSON error naming the problem: %v %q", rec.Code, err, b)
	}
	return out.Error.Code, out.Error.Message
}
