package testkit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// LLMRequest is one request the fake OpenAI-compatible server saw.
type LLMRequest struct {
	Method, Path string
	Header       http.Header
	Body         map[string]any // the decoded JSON body
	Model        string
	Stream       bool
	// Schema is the properties of a structured-output request (response_format json_schema),
	// or of the first tool's parameters of a tool-calling request; nil for a plain chat
	// completion.
	Schema map[string]any
	// Tools are the request's tools as sent (nil when none); Tool is the name of the first
	// one's function (a request with tools is answered with a call of it).
	Tools []any
	Tool  string
}

// LLMUsage is the token usage an answer reports.
type LLMUsage struct {
	Prompt, Completion, Cached int
}

// LLMAnswer is how the fake answers one chat completion.
type LLMAnswer struct {
	Content string // the assistant's message (structured requests: the JSON object)
	Model   string // the model that answered (default: the one asked for, or gpt-4o-mini)
	Usage   *LLMUsage
	// Status other than 200 answers OpenAI's error object with Message and Type (Body, when
	// set, is answered as it is instead).
	Status        int
	Message, Type string
	Body          string
	Delay         time.Duration // before answering (the request's cancellation cuts it short)
}

// FakeLLM is an OpenAI-compatible server on httptest: POST .../chat/completions (plain JSON,
// or SSE when "stream":true, ending with a chunk that carries the usage, then [DONE]) and
// GET .../models. It records every request (safe for concurrent use). Set the exported
// fields before the first request.
type FakeLLM struct {
	*httptest.Server
	// Answer answers the n-th chat completion (from 1). Nil: Content Reply, and for a
	// structured request a JSON object giving every property the value Value (a property that
	// is an object gets a value of its schema: see fakeValue), after Delay.
	Answer func(n int, r LLMRequest) LLMAnswer
	// Reply is the default answer of a plain chat completion ("Hello! How can I help?").
	Reply string
	// Value fills structured answers by default ("Fake Value").
	Value string
	// Delay is the default answer's latency (so that a kill can land while calls are in
	// flight).
	Delay time.Duration
	// Usage is reported when the answer has none (default 120 prompt, 24 completion tokens).
	Usage LLMUsage
	// Key, when set, is the only API key accepted: any other gets OpenAI's 401.
	Key string
	// Models are listed by GET /models (default gpt-4o-mini).
	Models []string
	// NoResponseFormat makes the server refuse structured output the way servers without it
	// do: a request with response_format gets a 400 invalid_request_error naming the
	// parameter (param "response_format"); tool calling works.
	NoResponseFormat bool

	mu       sync.Mutex
	reqs     []LLMRequest
	InFlight atomic.Int64 // chat completions being answered
	// Chat counts the plain chat completions (replies), Structured those with a JSON schema
	// (variable extraction).
	Chat, Structured LLMCounter
}

// LLMCounter counts one kind of chat completion.
type LLMCounter struct {
	InFlight atomic.Int64 // being answered now
	Answered atomic.Int64 // answered in full (not cut short by the caller)
}

// NewFakeLLM starts a fake OpenAI-compatible server, closed when the test ends. Its base URL
// for a client is URL + "/v1".
func NewFakeLLM(t testing.TB) *FakeLLM {
	l := &FakeLLM{}
	l.Server = httptest.NewServer(http.HandlerFunc(l.handle))
	t.Cleanup(l.Close)
	return l
}

// Requests returns every chat completion request seen so far, in order.
func (l *FakeLLM) Requests() []LLMRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LLMRequest(nil), l.reqs...)
}

// Calls is how many chat completions were asked for.
func (l *FakeLLM) Calls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// OpenAIError is OpenAI's error body.
func OpenAIError(message, typ, code string) string {
	c := "null"
	if code != "" {
		c = fmt.Sprintf("%q", code)
	}
	return fmt.Sprintf(`{"error":{"message":%q,"type":%q,"param":null,"code":%s}}`, message, typ, c)
}

func (l *FakeLLM) handle(w http.ResponseWriter, r *http.Request) {
	if l.Key != "" && r.Header.Get("Authorization") != "Bearer "+l.Key {
		writeJSON(w, http.StatusUnauthorized, OpenAIError("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
		return
	}
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models"):
		models := l.Models
		if len(models) == 0 {
			models = []string{"gpt-4o-mini"}
		}
		var data []string
		for _, m := range models {
			data = append(data, fmt.Sprintf(`{"id":%q,"object":"model","created":1715367049,"owned_by":"system"}`, m))
		}
		writeJSON(w, http.StatusOK, `{"object":"list","data":[`+strings.Join(data, ",")+`]}`)
		return
	case r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions"):
		writeJSON(w, http.StatusNotFound, OpenAIError(fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), "invalid_request_error", ""))
		return
	}
	raw, _ := io.ReadAll(r.Body)
	req := LLMRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()}
	if err := json.Unmarshal(raw, &req.Body); err != nil {
		writeJSON(w, http.StatusBadRequest, OpenAIError("We could not parse the JSON body of your request.", "invalid_request_error", ""))
		return
	}
	req.Model, _ = req.Body["model"].(string)
	req.Stream, _ = req.Body["stream"].(bool)
	if _, ok := req.Body["response_format"]; ok && l.NoResponseFormat {
		l.mu.Lock()
		l.reqs = append(l.reqs, req)
		l.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, `{"error":{"message":"Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.","type":"invalid_request_error","param":"response_format","code":null}}`)
		return
	}
	if tools, ok := req.Body["tools"].([]any); ok && len(tools) > 0 {
		req.Tools = tools
		if t0, ok := tools[0].(map[string]any); ok {
			if fn, ok := t0["function"].(map[string]any); ok {
				req.Tool, _ = fn["name"].(string)
				if ps, ok := fn["parameters"].(map[string]any); ok {
					req.Schema, _ = ps["properties"].(map[string]any)
					if req.Schema == nil {
						req.Schema = map[string]any{}
					}
				}
			}
		}
	}
	if rf, ok := req.Body["response_format"].(map[string]any); ok {
		if js, ok := rf["json_schema"].(map[string]any); ok {
			if sc, ok := js["schema"].(map[string]any); ok {
				req.Schema, _ = sc["properties"].(map[string]any)
				if req.Schema == nil {
					req.Schema = map[string]any{}
				}
			}
		}
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, req)
	n := len(l.reqs)
	l.mu.Unlock()
	kind := &l.Chat
	if req.Schema != nil {
		kind = &l.Structured
	}
	l.InFlight.Add(1)
	defer l.InFlight.Add(-1)
	kind.InFlight.Add(1)
	defer kind.InFlight.Add(-1)

	var a LLMAnswer
	if l.Answer != nil {
		a = l.Answer(n, req)
	} else {
		a = l.defaultAnswer(req)
	}
	if a.Delay > 0 {
		select {
		case <-time.After(a.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.Status != 0 && a.Status != http.StatusOK {
		body := a.Body
		if body == "" {
			typ := a.Type
			if typ == "" {
				typ = "server_error"
			}
			body = OpenAIError(a.Message, typ, "")
		}
		writeJSON(w, a.Status, body)
		return
	}
	model := a.Model
	if model == "" {
		model = req.Model
	}
	if model == "" {
		model = "gpt-4o-mini"
	}
	u := l.Usage
	if a.Usage != nil {
		u = *a.Usage
	}
	if u == (LLMUsage{}) {
		u = LLMUsage{Prompt: 120, Completion: 24}
	}
	usage := fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":%d}}`,
		u.Prompt, u.Completion, u.Prompt+u.Completion, u.Cached)
	id := fmt.Sprintf("chatcmpl-fake%d", n)
	content, _ := json.Marshal(a.Content)
	if !req.Stream && req.Tool != "" {
		// A tool call in the wire format: content null, the JSON arguments as a string.
		call := fmt.Sprintf(`[{"id":"call_fake%d","type":"function","function":{"name":%q,"arguments":%s}}]`, n, req.Tool, content)
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"id":%q,"object":"chat.completion","created":%d,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,"tool_calls":%s},"logprobs":null,"finish_reason":"tool_calls"}],"usage":%s}`,
			id, time.Now().Unix(), model, call, usage))
		kind.Answered.Add(1)
		return
	}
	if !req.Stream {
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"id":%q,"object":"chat.completion","created":%d,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":%s,"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":%s}`,
			id, time.Now().Unix(), model, content, usage))
		kind.Answered.Add(1)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	chunk := func(choices, usage string) {
		fmt.Fprintf(w, "data: {\"id\":%q,\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":%q,\"choices\":%s,\"usage\":%s}\n\n", id, time.Now().Unix(), model, choices, usage)
		if fl != nil {
			fl.Flush()
		}
	}
	delta := func(d, finish string) string {
		return fmt.Sprintf(`[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]`, d, finish)
	}
	chunk(delta(`{"role":"assistant","content":""}`, "null"), "null")
	for _, word := range strings.SplitAfter(a.Content, " ") {
		b, _ := json.Marshal(word)
		chunk(delta(`{"content":`+string(b)+`}`, "null"), "null")
	}
	chunk(delta(`{}`, `"stop"`), "null")
	chunk("[]", usage) // stream_options.include_usage: the last chunk has the usage and no choices
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
	kind.Answered.Add(1)
}

func (l *FakeLLM) defaultAnswer(r LLMRequest) LLMAnswer {
	if r.Schema == nil {
		c := l.Reply
		if c == "" {
			c = "Hello! How can I help?"
		}
		return LLMAnswer{Content: c, Delay: l.Delay}
	}
	v := l.Value
	if v == "" {
		v = "Fake Value"
	}
	vals := map[string]any{}
	for k, p := range r.Schema {
		vals[k] = v
		if ps, _ := p.(map[string]any); ps["type"] == "object" {
			vals[k] = fakeValue(p, v) // an evaluation's {"value", "reason"}
		}
	}
	b, _ := json.Marshal(vals)
	return LLMAnswer{Content: string(b), Delay: l.Delay}
}

// fakeValue is a value that follows a property's schema: an object gets each of its
// properties, an enum its first value, a boolean true, an integer or number 1, and anything
// else (a string, or string-or-null) the text v.
func fakeValue(schema any, v string) any {
	p, _ := schema.(map[string]any)
	if enum, ok := p["enum"].([]any); ok && len(enum) > 0 {
		return enum[0]
	}
	switch p["type"] {
	case "object":
		obj := map[string]any{}
		props, _ := p["properties"].(map[string]any)
		for k, sub := range props {
			obj[k] = fakeValue(sub, v)
		}
		return obj
	case "boolean":
		return true
	case "integer", "number":
		return 1
	}
	return v
}
