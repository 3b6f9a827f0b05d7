package testkit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/whatsapp"
)

func TestFakeGraphSpeaksMeta(t *testing.T) {
	g := testkit.NewFakeGraph(t)
	g.Token = "tok"
	g.Numbers = map[string]testkit.FakeNumber{"106540352242922": {DisplayPhoneNumber: "+1 555-0100", VerifiedName: "Shop"}}
	g.Templates = map[string][]testkit.FakeTemplate{"777": {
		{Name: "a", Language: "en", Category: "UTILITY", Status: "APPROVED", Body: "Hi {{1}}"},
		{Name: "b", Language: "en", Category: "UTILITY", Status: "PENDING", Body: "Hello"},
		{Name: "c", Language: "en_US", Category: "MARKETING", Status: "APPROVED", Body: "Sale"},
	}}
	g.PageSize = 2
	c := whatsapp.NewClient(g.URL + "/v21.0")
	ctx := context.Background()

	id, err := c.SendText(ctx, "106540352242922", "tok", "16505551234", "hello", "parley:reply:1:2")
	if err != nil || !strings.HasPrefix(id, "wamid.") {
		t.Fatalf("send: %q %v", id, err)
	}
	s := g.Sends()
	if len(s) != 1 || s[0].Path != "/v21.0/106540352242922/messages" || s[0].Auth != "Bearer tok" || !s[0].Accepted || s[0].WAMID != id ||
		s[0].Body["to"] != "16505551234" || s[0].Body["biz_opaque_callback_data"] != "parley:reply:1:2" {
		t.Fatalf("recorded: %+v", s)
	}

	// Meta's error object on demand, parsed by the product's one parser.
	g.Fail(1, testkit.GraphWindowClosed)
	_, err = c.SendText(ctx, "106540352242922", "tok", "16505551234", "late", "")
	var ae *whatsapp.APIError
	if !errors.As(err, &ae) || !ae.Meta() || !ae.WindowClosed() || ae.HTTPStatus != 400 || ae.FBTraceID == "" || !strings.Contains(ae.Details, "24 hours") {
		t.Fatalf("window closed: %#v", err)
	}
	if _, err := c.SendText(ctx, "106540352242922", "bad", "1", "x", ""); !errors.As(err, &ae) || ae.Code != 190 {
		t.Fatalf("bad token: %v", err)
	}
	g.Then(testkit.GraphAnswer{Status: 502, Body: "<html>bad gateway</html>"})
	if _, err := c.SendText(ctx, "106540352242922", "tok", "1", "x", ""); !errors.As(err, &ae) || ae.Meta() || ae.HTTPStatus != 502 || !strings.Contains(ae.Body, "bad gateway") {
		t.Fatalf("raw answer: %v", err)
	}
	g.Then(testkit.GraphAnswer{Hangup: true, Accept: true})
	if _, err := c.SendText(ctx, "106540352242922", "tok", "1", "x", ""); err == nil || whatsapp.NotSent(err) {
		t.Fatalf("accepted then hung up: %v", err)
	}
	if n := len(g.Accepted()); n != 2 {
		t.Fatalf("accepted sends: %d", n)
	}
	// A success between failures (the zero answer), then success again.
	g.Then(testkit.GraphAnswer{Error: &testkit.GraphRateLimited}, testkit.GraphAnswer{}, testkit.GraphAnswer{Error: &testkit.GraphUnknown})
	for i, want := range []int{429, 200, 500, 200} {
		_, err := c.SendText(ctx, "106540352242922", "tok", "1", "x", "")
		if got := 200; errors.As(err, &ae) {
			if got = ae.HTTPStatus; got != want {
				t.Fatalf("send %d of the plan: %d, want %d", i, got, want)
			}
		} else if err != nil || want != 200 {
			t.Fatalf("send %d of the plan: %v, want %d", i, err, want)
		}
	}
	if n := len(g.Accepted()); n != 4 {
		t.Fatalf("accepted sends: %d", n)
	}
	// Only known senders, when asked: another number gets Meta's "no such object".
	strict := testkit.NewFakeGraph(t)
	strict.Numbers, strict.SendersKnown, strict.WAMIDPrefix = g.Numbers, true, "wamid.STRICT"
	sc := whatsapp.NewClient(strict.URL + "/v21.0")
	if _, err := sc.SendText(ctx, "999", "tok", "1", "x", ""); !errors.As(err, &ae) || ae.Code != 100 || ae.Subcode != 33 {
		t.Fatalf("unknown sender: %v", err)
	}
	if id, err := sc.SendText(ctx, "106540352242922", "tok", "1", "x", ""); err != nil || id != "wamid.STRICT00000001" {
		t.Fatalf("known sender: %q %v", id, err)
	}
	if n := len(strict.Accepted()); n != 1 || len(strict.Sends()) != 2 {
		t.Fatalf("accepted sends: %d of %d", n, len(strict.Sends()))
	}

	n, err := c.PhoneNumber(ctx, "106540352242922", "tok")
	if err != nil || n.DisplayPhoneNumber != "+1 555-0100" || n.VerifiedName != "Shop" {
		t.Fatalf("phone number: %+v %v", n, err)
	}
	last := g.Requests()[len(g.Requests())-1]
	if last.Method != "GET" || last.RawQuery != "fields=display_phone_number,verified_name" {
		t.Fatalf("lookup: %+v", last)
	}
	if _, err := c.PhoneNumber(ctx, "999", "tok"); !errors.As(err, &ae) || ae.Code != 100 || ae.Subcode != 33 {
		t.Fatalf("unknown number: %v", err)
	}

	ts, err := c.MessageTemplates(ctx, "777", "tok")
	if err != nil || len(ts) != 3 || ts[0].Body != "Hi {{1}}" || ts[1].Status != "PENDING" || ts[2].Language != "en_US" {
		t.Fatalf("templates over two pages: %+v %v", ts, err)
	}
}

func TestFakeGraphRecordsConcurrently(t *testing.T) {
	g := testkit.NewFakeGraph(t)
	var mu sync.Mutex
	seen := map[string]bool{}
	done := make(chan struct{}, 20)
	g.OnSend = func(to, wamid, cb string) {
		mu.Lock()
		seen[wamid] = true
		mu.Unlock()
		done <- struct{}{}
	}
	c := whatsapp.NewClient(g.URL)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.SendText(context.Background(), "P", "tok", "1", "x", ""); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for range 20 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("OnSend not called for every send")
		}
	}
	if len(g.Accepted()) != 20 || len(seen) != 20 {
		t.Fatalf("recorded %d, distinct ids %d", len(g.Accepted()), len(seen))
	}
}

func fakeProvider(t *testing.T, l *testkit.FakeLLM) *llm.OpenAI {
	t.Helper()
	p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: l.URL + "/v1", APIKey: "sk-fake", DefaultModel: "gpt-4o-mini", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFakeLLMAnswersLikeOpenAI(t *testing.T) {
	l := testkit.NewFakeLLM(t)
	l.Usage = testkit.LLMUsage{Prompt: 1234, Completion: 567, Cached: 34}
	p := fakeProvider(t, l)
	ctx := context.Background()
	msgs := []llm.Message{{Role: "user", Content: "hi"}}

	res, err := p.Complete(ctx, llm.Request{Messages: msgs, RequestID: "req-1"})
	if err != nil || res.Content != "Hello! How can I help?" || res.Usage.PromptTokens != 1234 || res.Usage.CompletionTokens != 567 {
		t.Fatalf("complete: %+v %v", res, err)
	}
	var got strings.Builder
	res, err = p.Stream(ctx, llm.Request{Messages: msgs}, func(d string) error { got.WriteString(d); return nil })
	if err != nil || got.String() != "Hello! How can I help?" || res.Usage.PromptTokens != 1234 {
		t.Fatalf("stream: %q %+v %v", got.String(), res, err)
	}
	reqs := l.Requests()
	if len(reqs) != 2 || reqs[0].Stream || !reqs[1].Stream || reqs[0].Header.Get("X-Client-Request-Id") != "req-1" || reqs[0].Model != "gpt-4o-mini" {
		t.Fatalf("recorded: %+v", reqs)
	}

	// Structured output: every property gets Value.
	l.Value = "Ada"
	res, err = p.Complete(ctx, llm.Request{Messages: msgs, JSONSchema: &llm.JSONSchema{Name: "vars", Schema: map[string]any{
		"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}, "required": []string{"name"}, "additionalProperties": false}}})
	if err != nil || res.Content != `{"name":"Ada"}` || l.Requests()[2].Schema == nil {
		t.Fatalf("structured: %+v %v", res, err)
	}
}

// The default answers' content and latency are set once; the counters tell replies from
// extractions, in flight and answered.
func TestFakeLLMDefaultsAndCounters(t *testing.T) {
	l := testkit.NewFakeLLM(t)
	l.Reply, l.Value, l.Delay = "Thanks!", "Tester", 300*time.Millisecond
	p := fakeProvider(t, l)
	msgs := []llm.Message{{Role: "user", Content: "hi"}}
	schema := &llm.JSONSchema{Name: "vars", Schema: map[string]any{
		"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}, "required": []string{"name"}, "additionalProperties": false}}
	done := make(chan error, 2)
	go func() {
		res, err := p.Complete(context.Background(), llm.Request{Messages: msgs})
		if err == nil && res.Content != "Thanks!" {
			err = errors.New("reply: " + res.Content)
		}
		done <- err
	}()
	go func() {
		res, err := p.Complete(context.Background(), llm.Request{Messages: msgs, JSONSchema: schema})
		if err == nil && res.Content != `{"name":"Tester"}` {
			err = errors.New("extraction: " + res.Content)
		}
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for l.Chat.InFlight.Load() != 1 || l.Structured.InFlight.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("in flight: %d replies, %d extractions", l.Chat.InFlight.Load(), l.Structured.InFlight.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l.InFlight.Load() != 2 || l.Chat.Answered.Load() != 0 {
		t.Fatalf("in flight %d, answered %d", l.InFlight.Load(), l.Chat.Answered.Load())
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if l.Chat.Answered.Load() != 1 || l.Structured.Answered.Load() != 1 || l.InFlight.Load() != 0 {
		t.Fatalf("answered %d replies, %d extractions; %d in flight", l.Chat.Answered.Load(), l.Structured.Answered.Load(), l.InFlight.Load())
	}
	// A call cut short by its caller is not answered.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Complete(ctx, llm.Request{Messages: msgs}); err == nil {
		t.Fatal("the delay should outlast the deadline")
	}
	time.Sleep(50 * time.Millisecond)
	if l.Chat.Answered.Load() != 1 {
		t.Fatalf("answered %d", l.Chat.Answered.Load())
	}
}

func TestFakeLLMErrorsAndLatency(t *testing.T) {
	l := testkit.NewFakeLLM(t)
	l.Answer = func(n int, r testkit.LLMRequest) testkit.LLMAnswer {
		if n == 1 {
			return testkit.LLMAnswer{Status: 500, Message: "boom"}
		}
		return testkit.LLMAnswer{Content: "late", Delay: 2 * time.Second}
	}
	p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: l.URL + "/v1", APIKey: "k", DefaultModel: "gpt-4o-mini", Timeout: 5 * time.Second, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []llm.Message{{Role: "user", Content: "hi"}}
	if _, err := p.Complete(context.Background(), llm.Request{Messages: msgs}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("error: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Complete(ctx, llm.Request{Messages: msgs}); err == nil {
		t.Fatal("the delay should outlast the deadline")
	}
	if l.Calls() != 2 {
		t.Fatalf("calls: %d", l.Calls())
	}
}
