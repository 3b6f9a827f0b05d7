package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/config"
)

const testKey = "sk-test-SECRET-0123456789"

// chatServer is an httptest server speaking the chat-completions wire format. Each request is
// answered by the next handler of the script (the last one repeats).
type chatServer struct {
	t      *testing.T
	srv    *httptest.Server
	calls  atomic.Int32
	mu     sync.Mutex
	bodies []map[string]any
	heads  []http.Header
	script []http.HandlerFunc
}

func newChatServer(t *testing.T, script ...http.HandlerFunc) *chatServer {
	t.Helper()
	cs := &chatServer{t: t, script: script}
	cs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(cs.calls.Add(1))
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		cs.mu.Lock()
		cs.bodies = append(cs.bodies, body)
		cs.heads = append(cs.heads, r.Header.Clone())
		cs.mu.Unlock()
		h := cs.script[min(n, len(cs.script))-1]
		h(w, r)
	}))
	t.Cleanup(cs.srv.Close)
	return cs
}

func (cs *chatServer) provider(t *testing.T, mod func(*OpenAIOptions)) *OpenAI {
	t.Helper()
	o := OpenAIOptions{BaseURL: cs.srv.URL + "/v1", APIKey: testKey, DefaultModel: "gpt-4o-mini", Timeout: 5 * time.Second, MaxRetries: DefaultMaxRetries}
	if mod != nil {
		mod(&o)
	}
	p, err := NewOpenAI(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (cs *chatServer) body(i int) map[string]any {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.bodies[i]
}

func (cs *chatServer) header(i int) http.Header {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.heads[i]
}

func jsonReply(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const completionBody = `{
  "id": "chatcmpl-abc123",
  "object": "chat.completion",
  "created": 1741569952,
  "model": "gpt-4o-mini-2024-07-18",
  "choices": [{
    "index": 0,
    "message": {"role": "assistant", "content": "Hello! How can I help?", "refusal": null, "annotations": []},
    "logprobs": null,
    "finish_reason": "stop"
  }],
  "usage": {
    "prompt_tokens": 1234,
    "completion_tokens": 567,
    "total_tokens": 1801,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
  },
  "service_tier": "default",
  "system_fingerprint": "fp_1234"
}`

func sse(chunks ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		for _, c := range chunks {
			fmt.Fprintf(w, "data: %s\n\n", c)
			fl.Flush()
		}
	}
}

func chunk(content string) string {
	b, _ := json.Marshal(content)
	return `{"id":"chatcmpl-str1","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":` + string(b) + `},"logprobs":null,"finish_reason":null}],"usage":null}`
}

const (
	firstChunk = `{"id":"chatcmpl-str1","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`
	stopChunk  = `{"id":"chatcmpl-str1","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`
)

func usageChunk(choices string) string {
	return `{"id":"chatcmpl-str1","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":` + choices +
		`,"usage":{"prompt_tokens":20,"completion_tokens":4,"total_tokens":24,"prompt_tokens_details":{"cached_tokens":8}}}`
}

func temp(f float64) *float64 { return &f }

func TestOpenAICompleteWithUsage(t *testing.T) {
	cs := newChatServer(t, jsonReply(200, completionBody, "X-Request-Id", "req_1"))
	p := cs.provider(t, nil)
	resp, err := p.Complete(context.Background(), Request{
		Messages:    []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}, {Role: "human", Content: "An agent here"}},
		Temperature: temp(0.2),
		MaxTokens:   300,
		RequestID:   "reply:42:7",
		JSONSchema:  VariablesSchema([]VariableSpec{{Name: "email", Type: "email", Required: true}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Response{Content: "Hello! How can I help?", Model: "gpt-4o-mini-2024-07-18", ProviderRequestID: "chatcmpl-abc123",
		Usage: Usage{PromptTokens: 1234, CachedTokens: 1024, CompletionTokens: 567}}
	if resp != want {
		t.Fatalf("got %+v\nwant %+v", resp, want)
	}
	if n := cs.calls.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	b := cs.body(0)
	if b["model"] != "gpt-4o-mini" || b["temperature"] != 0.2 || b["max_tokens"] != 300.0 || b["stream"] != nil {
		t.Fatalf("request body: %v", b)
	}
	msgs := b["messages"].([]any)
	if len(msgs) != 3 || msgs[0].(map[string]any)["role"] != "system" || msgs[2].(map[string]any)["role"] != "assistant" {
		t.Fatalf("messages: %v", msgs)
	}
	rf := b["response_format"].(map[string]any)
	if rf["type"] != "json_schema" || rf["json_schema"].(map[string]any)["name"] != VariablesSchemaName || rf["json_schema"].(map[string]any)["strict"] != true {
		t.Fatalf("response_format: %v", rf)
	}
	h := cs.header(0)
	if h.Get("Authorization") != "Bearer "+testKey || h.Get("X-Client-Request-Id") != "reply:42:7" {
		t.Fatalf("headers: %v", h)
	}
}

func TestOpenAIMaxCompletionTokensOnOpenAI(t *testing.T) {
	cs := newChatServer(t, jsonReply(200, completionBody))
	p := cs.provider(t, func(o *OpenAIOptions) { o.MaxCompletionTokensField = true })
	if _, err := p.Complete(context.Background(), Request{Model: "o4-mini", Messages: []Message{{Role: "user", Content: "Hi"}}, MaxTokens: 50}); err != nil {
		t.Fatal(err)
	}
	b := cs.body(0)
	if b["max_completion_tokens"] != 50.0 || b["max_tokens"] != nil || b["model"] != "o4-mini" || b["temperature"] != nil {
		t.Fatalf("request body: %v", b)
	}
}

func TestOpenAIStream(t *testing.T) {
	for _, tc := range []struct{ name, choices string }{
		{"usage chunk with empty choices", `[]`},
		{"usage chunk with null choices", `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := newChatServer(t, sse(firstChunk, chunk("Hel"), chunk("lo"), chunk(" there!"), stopChunk, usageChunk(tc.choices), "[DONE]"))
			p := cs.provider(t, nil)
			var deltas []string
			resp, err := p.Stream(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}}, func(d string) error {
				deltas = append(deltas, d)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(deltas, "|") != "Hel|lo| there!" {
				t.Fatalf("deltas %q", deltas)
			}
			want := Response{Content: "Hello there!", Model: "gpt-4o-mini-2024-07-18", ProviderRequestID: "chatcmpl-str1",
				Usage: Usage{PromptTokens: 20, CachedTokens: 8, CompletionTokens: 4}}
			if resp != want {
				t.Fatalf("got %+v\nwant %+v", resp, want)
			}
			b := cs.body(0)
			so, _ := b["stream_options"].(map[string]any)
			if b["stream"] != true || so["include_usage"] != true {
				t.Fatalf("stream must ask for usage: %v", b)
			}
		})
	}
}

func TestOpenAIStreamUsageOnFinalChoiceChunk(t *testing.T) {
	// llama.cpp-style: the usage rides on the chunk that finishes the reply.
	last := `{"id":"c2","object":"chat.completion.chunk","created":1,"model":"llama3.1:8b","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}`
	cs := newChatServer(t, sse(chunk("Hi"), last, "[DONE]"))
	resp, err := cs.provider(t, nil).Stream(context.Background(), Request{Model: "llama3.1:8b", Messages: []Message{{Role: "user", Content: "Hi"}}}, func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "Hi!" || resp.Usage != (Usage{PromptTokens: 11, CompletionTokens: 2}) {
		t.Fatalf("got %+v", resp)
	}
}

func TestOpenAIStreamWithoutUsageEstimates(t *testing.T) {
	cs := newChatServer(t, sse(chunk("Hello"), chunk(" world"), stopChunk, "[DONE]"))
	req := Request{Messages: []Message{{Role: "user", Content: "Say hello"}}}
	resp, err := cs.provider(t, nil).Stream(context.Background(), req, func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := Usage{PromptTokens: CountMessages("gpt-4o-mini", req.Messages), CompletionTokens: CountText("gpt-4o-mini", "Hello world"), Estimated: true}
	if resp.Usage != want || want.PromptTokens == 0 || want.CompletionTokens == 0 {
		t.Fatalf("usage %+v, want %+v", resp.Usage, want)
	}
}

func TestOpenAIStreamCallbackErrorStops(t *testing.T) {
	cs := newChatServer(t, sse(chunk("a"), chunk("b"), chunk("c"), "[DONE]"))
	stop := errors.New("client went away")
	resp, err := cs.provider(t, nil).Stream(context.Background(), Request{Messages: []Message{{Role: "user", Content: "x"}}}, func(d string) error {
		if d == "b" {
			return stop
		}
		return nil
	})
	if err != stop || resp.Content != "ab" {
		t.Fatalf("got %q, %v", resp.Content, err)
	}
}

func TestOpenAIStreamErrorEvent(t *testing.T) {
	cs := newChatServer(t, sse(chunk("par"), `{"error":{"message":"model overloaded","type":"server_error"}}`))
	resp, err := cs.provider(t, nil).Stream(context.Background(), Request{Messages: []Message{{Role: "user", Content: "x"}}}, func(string) error { return nil })
	var e *Error
	if !errors.As(err, &e) || !e.Retryable || !strings.Contains(e.Message, "model overloaded") {
		t.Fatalf("got %#v", err)
	}
	if resp.Content != "par" {
		t.Fatalf("partial content %q", resp.Content)
	}
}

func TestOpenAIRetriesAfter429(t *testing.T) {
	cs := newChatServer(t,
		jsonReply(429, `{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests","code":"rate_limit_exceeded"}}`, "Retry-After-Ms", "200"),
		jsonReply(200, completionBody),
	)
	start := time.Now()
	resp, err := cs.provider(t, nil).Complete(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := cs.calls.Load(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("retried after %s: Retry-After-Ms was not honoured", el)
	}
	if resp.Content != "Hello! How can I help?" {
		t.Fatalf("got %+v", resp)
	}
	if h := cs.header(1).Get("X-Stainless-Retry-Count"); h != "1" {
		t.Fatalf("second request retry count %q", h)
	}
}

func TestOpenAIStreamRetriesAfter429(t *testing.T) {
	cs := newChatServer(t,
		jsonReply(429, `{"error":{"message":"slow down","type":"requests"}}`, "Retry-After-Ms", "10"),
		sse(chunk("ok"), usageChunk("[]"), "[DONE]"),
	)
	resp, err := cs.provider(t, nil).Stream(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}}, func(string) error { return nil })
	if err != nil || resp.Content != "ok" || cs.calls.Load() != 2 {
		t.Fatalf("got %+v, %v after %d requests", resp, err, cs.calls.Load())
	}
}

func TestOpenAI500IsRetriedThenFails(t *testing.T) {
	cs := newChatServer(t, jsonReply(500, `{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}`))
	_, err := cs.provider(t, nil).Complete(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *llm.Error, got %T %v", err, err)
	}
	if !e.Retryable || e.StatusCode != 500 || !IsRetryable(err) {
		t.Fatalf("got %+v", e)
	}
	if n := cs.calls.Load(); n != 1+DefaultMaxRetries {
		t.Fatalf("%d requests, want %d", n, 1+DefaultMaxRetries)
	}
	if !strings.Contains(err.Error(), "HTTP 500") || strings.Contains(err.Error(), "goroutine") {
		t.Fatalf("message: %v", err)
	}
}

func TestOpenAINonJSONErrorBody(t *testing.T) {
	cs := newChatServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
	})
	_, err := cs.provider(t, func(o *OpenAIOptions) { o.MaxRetries = 0 }).Complete(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}})
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 502 || !e.Retryable {
		t.Fatalf("got %#v", err)
	}
}

func TestOpenAIMalformedBody(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"truncated json", jsonReply(200, `{"id":"chatcmpl-1","choices":[{"index":0,"message":{"content":"Hel`)},
		{"not json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "I am a teapot, not an API")
		}},
		{"no choices", jsonReply(200, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[]}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := newChatServer(t, tc.handler)
			_, err := cs.provider(t, nil).Complete(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("want *llm.Error, got %T %v", err, err)
			}
			if e.Retryable || !strings.Contains(e.Message, "malformed response") {
				t.Fatalf("got %+v", e)
			}
			if n := cs.calls.Load(); n != 1 {
				t.Fatalf("a malformed body must not be retried: %d requests", n)
			}
		})
	}
}

func TestOpenAIMalformedStreamChunk(t *testing.T) {
	cs := newChatServer(t, sse(chunk("ok"), `{"id":"x","choices":[{"index":0,"delta":{"content":"br`, "[DONE]"))
	_, err := cs.provider(t, nil).Stream(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}}, func(string) error { return nil })
	var e *Error
	if !errors.As(err, &e) || e.Retryable || !strings.Contains(e.Message, "malformed") {
		t.Fatalf("got %#v", err)
	}
}

func hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func TestOpenAITimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	cs := newChatServer(t, hang)
	p := cs.provider(t, func(o *OpenAIOptions) { o.Timeout = timeout })
	start := time.Now()
	_, err := p.Complete(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}})
	el := time.Since(start)
	var e *Error
	if !errors.As(err, &e) || !e.Timeout || !e.Retryable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %T %v", err, err)
	}
	if el < timeout || el > timeout+700*time.Millisecond {
		t.Fatalf("returned after %s, want about %s", el, timeout)
	}
	if !strings.Contains(e.Message, "did not answer within 300ms") {
		t.Fatalf("message %q", e.Message)
	}
}

func TestOpenAIStreamTimeoutMidway(t *testing.T) {
	const timeout = 300 * time.Millisecond
	cs := newChatServer(t, func(w http.ResponseWriter, r *http.Request) {
		sse(chunk("partial"))(w, r)
		hang(w, r)
	})
	p := cs.provider(t, func(o *OpenAIOptions) { o.Timeout = timeout })
	start := time.Now()
	resp, err := p.Stream(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}}, func(string) error { return nil })
	var e *Error
	if !errors.As(err, &e) || !e.Timeout || !e.Retryable {
		t.Fatalf("got %T %v", err, err)
	}
	if el := time.Since(start); el > timeout+700*time.Millisecond {
		t.Fatalf("returned after %s", el)
	}
	if resp.Content != "partial" {
		t.Fatalf("partial content %q", resp.Content)
	}
}

func TestOpenAICanceledByCaller(t *testing.T) {
	cs := newChatServer(t, hang)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := cs.provider(t, nil).Complete(ctx, Request{Messages: []Message{{Role: "user", Content: "Hi"}}})
	var e *Error
	if !errors.As(err, &e) || e.Retryable || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %T %v", err, err)
	}
}

func TestOpenAIErrorsNeverHoldTheKey(t *testing.T) {
	for _, tc := range []struct {
		status    int
		retryable bool
	}{{401, false}, {400, false}, {404, false}, {503, true}} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			cs := newChatServer(t, jsonReply(tc.status, `{"error":{"message":"Incorrect API key provided: `+testKey+`. You can find your API key at https://platform.openai.com.","type":"invalid_request_error","code":"invalid_api_key"}}`, "Retry-After-Ms", "1"))
			_, err := cs.provider(t, nil).Complete(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}})
			var e *Error
			if !errors.As(err, &e) || e.StatusCode != tc.status || e.Retryable != tc.retryable {
				t.Fatalf("got %#v", err)
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", e)} {
				if strings.Contains(s, testKey) || strings.Contains(s, "SECRET") {
					t.Fatalf("the error holds the API key: %s", s)
				}
			}
		})
	}
}

func TestOpenAIUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	p, err := NewOpenAI(OpenAIOptions{BaseURL: url + "/v1", APIKey: testKey, MaxRetries: -1, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Complete(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}})
	var e *Error
	if !errors.As(err, &e) || !e.Retryable || e.StatusCode != 0 || !strings.Contains(e.Message, "could not reach") {
		t.Fatalf("got %#v", err)
	}
}

func TestOpenAIRejectsBadRequests(t *testing.T) {
	cs := newChatServer(t, jsonReply(200, completionBody))
	p := cs.provider(t, nil)
	for _, req := range []Request{{}, {Messages: []Message{{Role: "tool", Content: "x"}}}} {
		if _, err := p.Complete(context.Background(), req); err == nil || IsRetryable(err) {
			t.Fatalf("%+v: got %v", req, err)
		}
	}
	if cs.calls.Load() != 0 {
		t.Fatal("an invalid request must not reach the server")
	}
}

func TestNewPicksTheProvider(t *testing.T) {
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg)
	if err != nil || !p.Offline() || p.Name() != OfflineName {
		t.Fatalf("no key: %v %v", p, err)
	}
	cfg, err = config.Load(func(k string) string {
		return map[string]string{"PARLEY_LLM_API_KEY": "local", "PARLEY_LLM_BASE_URL": "http://localhost:11434/v1"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err = New(cfg)
	if err != nil || p.Offline() || p.Name() != "OpenAI-compatible (localhost:11434)" {
		t.Fatalf("with key: %v %v", p, err)
	}
	cfg, _ = config.Load(func(k string) string { return map[string]string{"PARLEY_LLM_API_KEY": "sk-x"}[k] })
	p, _ = New(cfg)
	if p.Name() != "OpenAI (api.openai.com)" || !p.(*OpenAI).opts.MaxCompletionTokensField {
		t.Fatalf("openai: %s", p.Name())
	}
}

func TestOpenAIStreamAnsweredWithoutEvents(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"json instead of a stream": jsonReply(200, completionBody),
		"empty event stream":       sse("[DONE]"),
	} {
		t.Run(name, func(t *testing.T) {
			cs := newChatServer(t, h)
			_, err := cs.provider(t, nil).Stream(context.Background(), Request{Messages: []Message{{Role: "user", Content: "Hi"}}}, func(string) error { return nil })
			var e *Error
			if !errors.As(err, &e) || e.Retryable || !strings.Contains(e.Message, "malformed") {
				t.Fatalf("got %#v", err)
			}
		})
	}
}
