//go:build fault

package fault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/whatsapp"
)

// ---- Meta's Graph API ----

// graphSend is one message Parley sent through the fake Graph API.
type graphSend struct {
	To, Key, Text, WAMID string
	At                   time.Time
}

// fakeGraph answers POST /{version}/{phone_number_id}/messages like Meta, records every send,
// and, like Meta, reports each accepted message back with a signed "sent" status webhook that
// carries the biz_opaque_callback_data (retried until Parley answers 200).
type fakeGraph struct {
	t          *testing.T
	srv        *httptest.Server
	webhookURL string
	n          atomic.Int64

	mu    sync.Mutex
	sends []graphSend
	stop  chan struct{}
}

func newFakeGraph(t *testing.T) *fakeGraph {
	g := &fakeGraph{t: t, stop: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(g.handle))
	t.Cleanup(func() { close(g.stop); g.srv.Close() })
	return g
}

func (g *fakeGraph) handle(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodPost || len(parts) != 3 || parts[2] != "messages" {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"message":"Unknown path components","type":"OAuthException","code":2500,"fbtrace_id":"Afault"}}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+accessToken || parts[1] != phoneNumberID {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"fbtrace_id":"Afault"}}`)
		return
	}
	var body struct {
		To       string `json:"to"`
		Type     string `json:"type"`
		Callback string `json:"biz_opaque_callback_data"`
		Text     struct {
			Body string `json:"body"`
		} `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.To == "" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"fbtrace_id":"Afault"}}`)
		return
	}
	wamid := fmt.Sprintf("wamid.FAULT%08d", g.n.Add(1))
	g.mu.Lock()
	g.sends = append(g.sends, graphSend{To: body.To, Key: body.Callback, Text: body.Text.Body, WAMID: wamid, At: time.Now()})
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":%q}]}`, body.To, body.To, wamid)
	go g.deliverStatus(body.To, wamid, body.Callback)
}

// deliverStatus posts Meta's "sent" status for wamid, retrying like Meta until a 200.
func (g *fakeGraph) deliverStatus(to, wamid, callback string) {
	if g.webhookURL == "" {
		return
	}
	st := map[string]any{"id": wamid, "status": "sent", "timestamp": strconv.FormatInt(time.Now().Unix(), 10), "recipient_id": to}
	if callback != "" {
		st["biz_opaque_callback_data"] = callback
	}
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": "102290129340398", "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": phoneNumberID},
			"statuses":          []any{st},
		}}}}},
	})
	sig := whatsapp.Sign(appSecret, b)
	hc := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 120; i++ {
		req, _ := http.NewRequest(http.MethodPost, g.webhookURL, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(whatsapp.SignatureHeader, sig)
		if res, err := hc.Do(req); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-g.stop:
			return
		case <-time.After(time.Second):
		}
	}
}

func (g *fakeGraph) all() []graphSend {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]graphSend(nil), g.sends...)
}

// byKey counts sends per callback key (one key per reply Parley sends).
func (g *fakeGraph) byKey() map[string]int {
	m := map[string]int{}
	for _, s := range g.all() {
		m[s.Key]++
	}
	return m
}

// byRecipient counts sends per customer.
func (g *fakeGraph) byRecipient() map[string]int {
	m := map[string]int{}
	for _, s := range g.all() {
		m[s.To]++
	}
	return m
}

// ---- an OpenAI-compatible LLM ----

// fakeLLM answers POST .../chat/completions, streamed or not, with a usage object, after an
// optional delay (so that a kill lands while calls are in flight). A request with a JSON
// schema (variable extraction) gets a JSON object with a value for every property.
type fakeLLM struct {
	srv   *httptest.Server
	delay atomic.Int64 // nanoseconds

	replies, extractions   atomic.Int64 // calls answered
	inReplies, inExtracted atomic.Int64 // calls in flight
}

func newFakeLLM(t *testing.T, delay time.Duration) *fakeLLM {
	l := &fakeLLM{}
	l.delay.Store(int64(delay))
	l.srv = httptest.NewServer(http.HandlerFunc(l.handle))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *fakeLLM) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	var req struct {
		Model          string `json:"model"`
		Stream         bool   `json:"stream"`
		ResponseFormat *struct {
			JSONSchema struct {
				Schema struct {
					Properties map[string]any `json:"properties"`
				} `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"bad json","type":"invalid_request_error"}}`)
		return
	}
	extraction := req.ResponseFormat != nil && len(req.ResponseFormat.JSONSchema.Schema.Properties) > 0
	inflight, done := &l.inReplies, &l.replies
	content := "Thanks for your message! How else can I help?"
	if extraction {
		inflight, done = &l.inExtracted, &l.extractions
		vals := map[string]string{}
		for k := range req.ResponseFormat.JSONSchema.Schema.Properties {
			vals[k] = "Fault Tester"
		}
		b, _ := json.Marshal(vals)
		content = string(b)
	}
	inflight.Add(1)
	defer inflight.Add(-1)
	if d := time.Duration(l.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	model := req.Model
	if model == "" {
		model = "gpt-4o-mini"
	}
	usage := `{"prompt_tokens":120,"completion_tokens":24,"total_tokens":144,"prompt_tokens_details":{"cached_tokens":0}}`
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		cb, _ := json.Marshal(content)
		fmt.Fprintf(w, `{"id":"chatcmpl-fault","object":"chat.completion","created":%d,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":%s,"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":%s}`,
			time.Now().Unix(), model, cb, usage)
		done.Add(1)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	chunk := func(delta string, finish string, withUsage bool) {
		choices := "[]"
		if !withUsage {
			fin := "null"
			if finish != "" {
				fin = strconv.Quote(finish)
			}
			choices = fmt.Sprintf(`[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]`, delta, fin)
		}
		u := "null"
		if withUsage {
			u = usage
		}
		fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-fault\",\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":%q,\"choices\":%s,\"usage\":%s}\n\n", time.Now().Unix(), model, choices, u)
		if fl != nil {
			fl.Flush()
		}
	}
	chunk(`{"role":"assistant","content":""}`, "", false)
	for _, word := range strings.SplitAfter(content, " ") {
		b, _ := json.Marshal(word)
		chunk(`{"content":`+string(b)+`}`, "", false)
	}
	chunk(`{}`, "stop", false)
	chunk("", "", true)
	io.WriteString(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
	done.Add(1)
}
