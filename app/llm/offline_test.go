package llm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

var testVars = []VariableSpec{
	{Name: "full_name", Description: "The customer's name", Required: true},
	{Name: "email", Type: TypeEmail, Required: true},
	{Name: "company", Required: false},
	{Name: "plan", Type: TypeEnum, Options: []string{"basic", "pro", "enterprise"}, Required: true},
}

func offlineReq(collected map[string]string, msgs ...Message) Request {
	return Request{
		Model:        "gpt-4o-mini",
		Messages:     append([]Message{{Role: RoleSystem, Content: "You are the booking assistant of Hotel Miramar."}}, msgs...),
		FirstMessage: "Welcome to Hotel Miramar! I can help you book a room.",
		Variables:    testVars,
		Collected:    collected,
		RequestID:    "reply:1:1",
	}
}

func TestOfflineReplies(t *testing.T) {
	cases := []struct {
		name      string
		collected map[string]string
		msgs      []Message
		want      string
	}{
		{"first turn greets with the first message and asks for the first missing variable", nil,
			[]Message{{Role: RoleUser, Content: "Hi, do you have a room for tonight?"}},
			"Welcome to Hotel Miramar! I can help you book a room. Could you please tell me your full name?"},
		{"later turn thanks and asks for the next one", map[string]string{"full_name": "Jane Doe"},
			[]Message{{Role: RoleAssistant, Content: "Welcome!"}, {Role: RoleUser, Content: "I'm Jane Doe"}},
			"Thank you. Could you please tell me your email?"},
		{"blank values count as missing; enum options are offered", map[string]string{"full_name": "Jane", "email": "j@x.io", "company": ""},
			[]Message{{Role: RoleAssistant, Content: "Welcome!"}, {Role: RoleUser, Content: "j@x.io"}},
			"Thank you. Could you please tell me your plan? The options are basic, pro or enterprise."},
		{"optional variables are not asked", map[string]string{"full_name": "Jane", "email": "j@x.io", "plan": "pro"},
			[]Message{{Role: RoleAssistant, Content: "Welcome!"}, {Role: RoleUser, Content: "pro"}},
			"Thank you. I have everything I need for now. I am running offline, so I cannot answer questions myself."},
	}
	p := NewOffline(OfflineOptions{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.Complete(context.Background(), offlineReq(tc.collected, tc.msgs...))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Content != tc.want {
				t.Fatalf("reply\n got %q\nwant %q", resp.Content, tc.want)
			}
			if resp.Model != OfflineModel || resp.ProviderRequestID != "offline-reply:1:1" {
				t.Fatalf("response %+v", resp)
			}
		})
	}
}

func TestOfflineWithoutFirstMessageOrVariables(t *testing.T) {
	p := NewOffline(OfflineOptions{})
	r, _ := p.Complete(context.Background(), Request{Messages: []Message{{Role: RoleUser, Content: "hello"}}})
	if r.Content != DefaultGreeting {
		t.Fatalf("got %q", r.Content)
	}
	r, _ = p.Complete(context.Background(), Request{Messages: []Message{{Role: RoleAssistant, Content: "Hi"}, {Role: RoleUser, Content: "what time is it?"}}})
	if r.Content != "Thank you. I am running offline, so I cannot answer questions myself." {
		t.Fatalf("got %q", r.Content)
	}
}

func TestOfflineIsDeterministic(t *testing.T) {
	p := NewOffline(OfflineOptions{})
	req := offlineReq(map[string]string{"full_name": "Jane"}, Message{Role: RoleUser, Content: "hello"})
	first, err := p.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := p.Complete(context.Background(), req)
			if err != nil || r != first {
				t.Errorf("got %+v, %v; want %+v", r, err, first)
			}
		}()
	}
	wg.Wait()
}

// referenceCount counts with tiktoken directly, independently of the package's cache.
func referenceCount(t *testing.T, encoding string, texts ...string) int {
	t.Helper()
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
	enc, err := tiktoken.GetEncoding(encoding)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range texts {
		n += len(enc.Encode(s, nil, nil))
	}
	return n
}

func TestOfflineTokenCountsAreTiktokens(t *testing.T) {
	for _, tc := range []struct{ model, encoding string }{
		{"gpt-4o-mini", EncodingO200K},
		{"gpt-4", EncodingCL100K},
		{"llama3.1:8b", EncodingCL100K},
	} {
		t.Run(tc.model, func(t *testing.T) {
			req := offlineReq(nil, Message{Role: RoleUser, Content: "Hi, do you have a room for tonight? 🙂 <|endoftext|>"})
			req.Model = tc.model
			resp, err := NewOffline(OfflineOptions{}).Complete(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			u := resp.Usage
			if u.PromptTokens <= 0 || u.CompletionTokens <= 0 || u.CachedTokens != 0 || u.Estimated {
				t.Fatalf("usage %+v", u)
			}
			if want := referenceCount(t, tc.encoding, resp.Content); u.CompletionTokens != want {
				t.Fatalf("completion tokens %d, tiktoken says %d", u.CompletionTokens, want)
			}
			want := 3 // reply priming
			for _, m := range req.Messages {
				want += 3 + referenceCount(t, tc.encoding, m.Role, m.Content)
			}
			if u.PromptTokens != want {
				t.Fatalf("prompt tokens %d, tiktoken says %d", u.PromptTokens, want)
			}
		})
	}
}

func TestOfflineStreamsWordByWord(t *testing.T) {
	p := NewOffline(OfflineOptions{WordDelay: time.Millisecond})
	req := offlineReq(nil, Message{Role: RoleUser, Content: "Hi"})
	var deltas []string
	resp, err := p.Stream(context.Background(), req, func(d string) error {
		deltas = append(deltas, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := p.Complete(context.Background(), req)
	if resp != whole {
		t.Fatalf("stream %+v != complete %+v", resp, whole)
	}
	if strings.Join(deltas, "") != resp.Content || len(deltas) != len(strings.Fields(resp.Content)) {
		t.Fatalf("deltas %q do not add up to %q", deltas, resp.Content)
	}
	for i, d := range deltas {
		if strings.TrimSpace(d) == "" || (i > 0 && !strings.HasPrefix(d, " ")) {
			t.Fatalf("delta %d is %q", i, d)
		}
	}
}

func TestOfflineStreamStops(t *testing.T) {
	p := NewOffline(OfflineOptions{WordDelay: 50 * time.Millisecond})
	req := offlineReq(nil, Message{Role: RoleUser, Content: "Hi"})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	resp, err := p.Stream(ctx, req, func(string) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) || resp.Content == "" || strings.Count(resp.Content, " ") > 2 {
		t.Fatalf("got %q, %v", resp.Content, err)
	}
	stop := errors.New("stop")
	n := 0
	_, err = NewOffline(OfflineOptions{}).Stream(context.Background(), req, func(string) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("callback error: %v after %d deltas", err, n)
	}
}

func TestOfflineExtraction(t *testing.T) {
	p := NewOffline(OfflineOptions{})
	schema := VariablesSchema(testVars)
	cases := []struct {
		name      string
		collected map[string]string
		msgs      []Message
		want      map[string]string
	}{
		{"answer to the question about the name", nil,
			[]Message{{Role: RoleAssistant, Content: "Welcome! " + AskFor(testVars[0])}, {Role: RoleUser, Content: "My name is Jane Doe."}},
			map[string]string{"full_name": "Jane Doe"}},
		{"an email anywhere, even unasked", nil,
			[]Message{{Role: RoleAssistant, Content: "Welcome! " + AskFor(testVars[0])}, {Role: RoleUser, Content: "Sure, it's Jane Doe, and my email is jane.doe@example.com."}},
			map[string]string{"full_name": "Jane Doe", "email": "jane.doe@example.com"}},
		{"enum option", map[string]string{"full_name": "Jane", "email": "j@x.io"},
			[]Message{{Role: RoleAssistant, Content: "Thank you. " + AskFor(testVars[3])}, {Role: RoleUser, Content: "The Pro one please"}},
			map[string]string{"plan": "pro"}},
		{"a text answer needs the question", nil,
			[]Message{{Role: RoleAssistant, Content: "How can I help?"}, {Role: RoleUser, Content: "Jane Doe"}},
			map[string]string{}},
		{"only the last user message counts", nil,
			[]Message{{Role: RoleUser, Content: "a@b.co"}, {Role: RoleAssistant, Content: "ok"}, {Role: RoleUser, Content: "nothing here"}},
			map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := offlineReq(tc.collected, tc.msgs...)
			req.JSONSchema = schema
			resp, err := p.Complete(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseVariables(resp.Content, testVars)
			if err != nil {
				t.Fatalf("%q: %v", resp.Content, err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v (%s)", got, tc.want, resp.Content)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("%s = %q, want %q (%s)", k, got[k], v, resp.Content)
				}
			}
			if !strings.Contains(resp.Content, `"company":null`) {
				t.Fatalf("every variable must be a key: %s", resp.Content)
			}
			if resp.Usage.CompletionTokens != CountText(req.Model, resp.Content) {
				t.Fatalf("usage %+v", resp.Usage)
			}
		})
	}
}

func TestExtractTypedValues(t *testing.T) {
	cases := []struct {
		v     VariableSpec
		text  string
		asked bool
		want  string
	}{
		{VariableSpec{Name: "phone", Type: TypePhone}, "call me on +44 (20) 7946-0958 please", false, "+442079460958"},
		{VariableSpec{Name: "phone", Type: TypePhone}, "arriving 2026-03-01", false, ""},
		{VariableSpec{Name: "arrival", Type: TypeDate}, "arriving 2026-03-01, leaving later", false, "2026-03-01"},
		{VariableSpec{Name: "arrival", Type: TypeDate}, "arriving 2026-13-45", false, ""},
		{VariableSpec{Name: "guests", Type: TypeNumber}, "we are 3", true, "3"},
		{VariableSpec{Name: "guests", Type: TypeNumber}, "we are 3", false, ""},
		{VariableSpec{Name: "newsletter", Type: TypeBoolean}, "Yes!", true, "true"},
		{VariableSpec{Name: "newsletter", Type: TypeBoolean}, "no thanks", true, "false"},
		{VariableSpec{Name: "plan", Type: TypeEnum, Options: []string{"pro", "basic"}}, "the product is great", true, ""},
		{VariableSpec{Name: "name"}, "I'm Ana", true, "Ana"},
		{VariableSpec{Name: "name"}, "OK, call me Ana. Thanks!", true, "Ana"},
		{VariableSpec{Name: "name"}, "Ana Lopez", false, ""},
	}
	for _, tc := range cases {
		got, _ := extractValue(tc.v, tc.text, tc.asked)
		if got != tc.want {
			t.Errorf("%s from %q (asked %v) = %q, want %q", tc.v.Name, tc.text, tc.asked, got, tc.want)
		}
	}
}

func TestVariablesSchemaAndParse(t *testing.T) {
	s := VariablesSchema(testVars)
	req := s.Schema["required"].([]string)
	if s.Name != VariablesSchemaName || !s.Strict || len(req) != len(testVars) || s.Schema["additionalProperties"] != false {
		t.Fatalf("schema %+v", s)
	}
	plan := s.Schema["properties"].(map[string]any)["plan"].(map[string]any)
	if enum := plan["enum"].([]any); len(enum) != 4 || enum[3] != nil {
		t.Fatalf("enum %v", plan["enum"])
	}
	got, err := ParseVariables("```json\n{\"full_name\":\" Jane \",\"email\":null,\"plan\":\"\",\"other\":\"x\",\"company\":42}\n```", testVars)
	if err != nil || len(got) != 2 || got["full_name"] != "Jane" || got["company"] != "42" {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ParseVariables("not json", testVars); err == nil {
		t.Fatal("want an error")
	}
}

func TestHumanize(t *testing.T) {
	for in, want := range map[string]string{
		"phone_number": "phone number", "phoneNumber": "phone number", "phone-number": "phone number",
		"Email": "email", "VATId": "VAT id", "zip": "zip", "  first name ": "first name",
	} {
		if got := Humanize(in); got != want {
			t.Errorf("Humanize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEncodingFor(t *testing.T) {
	for model, want := range map[string]string{
		"gpt-4o-mini": EncodingO200K, "gpt-4o-2024-08-06": EncodingO200K, "gpt-4.1-nano": EncodingO200K,
		"o3-mini": EncodingO200K, "o4-mini": EncodingO200K, "gpt-5": EncodingO200K, "openai/gpt-4o": EncodingO200K,
		"gpt-4": EncodingCL100K, "gpt-3.5-turbo": EncodingCL100K, "llama3.1:8b": EncodingCL100K, "": EncodingCL100K,
	} {
		if got := EncodingFor(model); got != want {
			t.Errorf("EncodingFor(%q) = %s, want %s", model, got, want)
		}
	}
}
