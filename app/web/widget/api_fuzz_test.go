package widget_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// The widget API's JSON bodies, fuzzed on one in-process server: never a 5xx, and every
// refusal a 4xx with a JSON error naming the problem. "$KEY" in a body stands for the
// assistant's public key, so that the fuzzer gets past the assistant lookup.

func widgetFuzzServer(f *testing.F) (*webtest.FuzzServer, *store.Assistant) {
	cfg := testkit.Config(f)
	cfg.WidgetRateSessions, cfg.WidgetRateMessages = 1000000, 1000000
	srv := webtest.NewFuzzServer(f, cfg)
	ws := srv.User("ana@example.com", "correct-horse")
	a := srv.WAssistant(ws, webtest.WOrigin)
	return srv, a
}

// widgetFuzzPost posts body as JSON (with the given extra headers).
func widgetFuzzPost(srv *webtest.FuzzServer, path string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return srv.Serve(req)
}

// checkWidgetRefusal checks a 4xx answer of the widget API: a JSON error whose code fits the
// status, and for a field error a message that starts with the field it is about.
func checkWidgetRefusal(t *testing.T, rec *httptest.ResponseRecorder, allowed map[int]bool) {
	t.Helper()
	if rec.Code >= 500 || !allowed[rec.Code] {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	code, msg := webtest.APIError(t, rec)
	if rec.Code == http.StatusBadRequest && code == "invalid_field" {
		field, rest, ok := strings.Cut(msg, ": ")
		if !ok || field == "" || field == "variables." || strings.TrimSpace(rest) == "" {
			t.Fatalf("field error does not name its field: %q", msg)
		}
	}
}

func FuzzWidgetSessionCreate(f *testing.F) {
	for _, s := range []string{
		`{"assistant":"$KEY","visitor_id":"visitor-0001","variables":{"email":"buyer@shop.test"}}`,
		`{"assistant":"$KEY","variables":{"email":" buyer@shop.test ","name":"Ann"}}`,
		`{"assistant":"$KEY","visitor_id":null,"variables":null}`,
		`{"assistant":"$KEY","visitor_id":42}`, `{"assistant":"$KEY","visitor_id":"a b"}`,
		`{"assistant":"$KEY","variables":["x"]}`, `{"assistant":"$KEY","variables":{"email":5}}`,
		`{"assistant":"$KEY","variables":{"email":"not-an-email"}}`,
		`{"assistant":"$KEY","variables":{"email":"a@b.co","company":"ACME"}}`,
		`{"assistant":"$KEY","variables":{"email":"a@b.co\u0000"}}`,
		`{"assistant":"$KEY","variables":{"email":"x","zip":"1"}}`, `{"assistant":"$KEY","variables":{"email":"a@b.co","":"x"}}`,
		`{"assistant":"$KEY","colour":"red"}`, `{"assistant":12}`, `{"assistant":"pa_unknown"}`,
		`{"assistant":" $KEY "}`, `{}`, `[1]`, `null`, `"x"`, `{"assistant":"x"}{}`, `{"assistant":"$KEY"} ]`,
		`assistant=x`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	srv, a := widgetFuzzServer(f)
	allowed := map[int]bool{400: true, 404: true, 413: true, 415: true}

	f.Fuzz(func(t *testing.T, body []byte) {
		body = []byte(strings.ReplaceAll(string(body), "$KEY", a.PublicKey))
		rec := widgetFuzzPost(srv, "/api/widget/v1/sessions", body)
		if rec.Code == http.StatusCreated {
			var out struct {
				ConversationID string `json:"conversation_id"`
				Token          string `json:"token"`
				VisitorID      string `json:"visitor_id"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.ConversationID == "" || out.Token == "" || out.VisitorID == "" {
				t.Fatalf("201 without a session: %v %s", err, rec.Body.String())
			}
			return
		}
		checkWidgetRefusal(t, rec, allowed)
	})
}

func FuzzWidgetMessage(f *testing.F) {
	for _, s := range []string{
		`{"text":"Hello, do you ship to Lisbon?"}`, `{"text":"  "}`, `{"text":""}`, `{"text":null}`, `{"text":5}`,
		`{"text":"a\u0000b"}`, `{"text":"` + strings.Repeat("é", 4001) + `"}`, `{"text":"hi","extra":1}`,
		`{}`, `[]`, `null`, `{"text":"hi"} {}`, `{"text":"<script>alert(1)</script>"}`, `{"text":"=HYPERLINK(\"http://evil\")"}`,
		"{\"text\":\"\xff\xfe\"}", ``,
	} {
		f.Add([]byte(s))
	}
	srv, a := widgetFuzzServer(f)
	allowed := map[int]bool{400: true, 413: true, 415: true}
	var id, tok string
	sent := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		// A new session every 100 messages keeps each reply's history short.
		if sent%100 == 0 {
			id, tok = srv.With(t).WSession(a, "visitor-fuzz")
		}
		sent++
		rec := widgetFuzzPost(srv, "/api/widget/v1/sessions/"+id+"/messages", body, "Authorization", "Bearer "+tok)
		if rec.Code == http.StatusOK {
			var out struct {
				Message struct{ Role, Content string }
				Reply   *struct{ Role, Content string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Message.Role != "user" || out.Message.Content == "" || out.Reply == nil {
				t.Fatalf("200 without the message and its reply: %v %s", err, rec.Body.String())
			}
			return
		}
		checkWidgetRefusal(t, rec, allowed)
	})
}
