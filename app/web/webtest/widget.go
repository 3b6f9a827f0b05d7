package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/parleyhq/parley/app/store"
)

// WOrigin is the host site allowed by the widget assistants of the tests.
const WOrigin = "https://shop.example.com"

// WAssistant creates a widget assistant with a pre-chat form (email required, name optional)
// and the given allowed origins.
func (e *Env) WAssistant(ws *store.Workspace, origins ...string) *store.Assistant {
	e.T.Helper()
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "Shop bot", FirstMessage: "Hi! How can I help?", Model: "gpt-4o-mini",
		Variables:      FromJSON[store.Variables](e.T, `[{"name":"email","description":"email","type":"email","required":true},{"name":"name","description":"name","type":"text"},{"name":"company","description":"company","type":"text","required":true}]`),
		PrechatFields:  FromJSON[store.PrechatFields](e.T, `[{"name":"email","label":"Your email","type":"email","required":true},{"name":"name","label":"Your name","type":"text"}]`),
		AllowedOrigins: origins, WidgetSettings: FromJSON[store.WidgetSettings](e.T, `{"title":"Shop help","color":"#0a7d5a"}`)}
	if err := e.App.Store.CreateAssistant(context.Background(), a); err != nil {
		e.T.Fatal(err)
	}
	return a
}

// WJSON sends a request with a JSON (or raw string) body and decodes a JSON answer. A header
// pair with an empty value removes the header.
func (e *Env) WJSON(method, path string, body any, hdr ...string) (*http.Response, map[string]any) {
	e.T.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.URL+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if len(raw) > 0 && strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.T.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return res, out
}

// WErr is the code and message of a JSON error answer.
func WErr(out map[string]any) (code, msg string) {
	m, _ := out["error"].(map[string]any)
	code, _ = m["code"].(string)
	msg, _ = m["message"].(string)
	return
}

// WSession starts a session through the API.
func (e *Env) WSession(a *store.Assistant, visitor string, hdr ...string) (id, token string) {
	e.T.Helper()
	res, out := e.WJSON("POST", "/api/widget/v1/sessions", map[string]any{"assistant": a.PublicKey, "visitor_id": visitor,
		"variables": map[string]string{"email": "buyer@shop.test"}}, hdr...)
	if res.StatusCode != http.StatusCreated {
		e.T.Fatalf("session: %d %v", res.StatusCode, out)
	}
	return out["conversation_id"].(string), out["token"].(string)
}
