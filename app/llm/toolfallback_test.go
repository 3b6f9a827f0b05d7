package llm_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/testkit"
)

// A server that refuses structured output (HTTP 400 naming response_format) is asked again
// with one forced tool call whose parameters are the schema, when the request allows it; the
// call's arguments are the reply. Without ToolFallback the refusal is the error.
func TestToolFallbackWhenResponseFormatIsRefused(t *testing.T) {
	schema := &llm.JSONSchema{Name: "answer", Strict: true, Schema: map[string]any{
		"type": "object", "properties": map[string]any{"ok": map[string]any{"type": "boolean"}},
		"required": []string{"ok"}, "additionalProperties": false,
	}}
	cases := []struct {
		name     string
		refuse   bool
		fallback bool
		wantErr  bool
		wantTool bool
		calls    int
	}{
		{"structured output works", false, true, false, false, 1},
		{"refused, falls back", true, true, false, true, 2},
		{"refused, no fallback asked", true, false, true, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := testkit.NewFakeLLM(t)
			l.NoResponseFormat = c.refuse
			l.Answer = func(int, testkit.LLMRequest) testkit.LLMAnswer { return testkit.LLMAnswer{Content: `{"ok":true}`} }
			p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: l.URL + "/v1", APIKey: "sk-test", Timeout: 5 * time.Second, MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.Complete(context.Background(), llm.Request{
				Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, JSONSchema: schema, ToolFallback: c.fallback})
			if (err != nil) != c.wantErr {
				t.Fatalf("err %v", err)
			}
			if l.Calls() != c.calls {
				t.Fatalf("%d calls, want %d", l.Calls(), c.calls)
			}
			if c.wantErr {
				if llm.IsRetryable(err) {
					t.Fatalf("a refusal is not retryable: %v", err)
				}
				return
			}
			if resp.Content != `{"ok":true}` || resp.ViaTool != c.wantTool || resp.Usage.PromptTokens == 0 {
				t.Fatalf("response %+v", resp)
			}
			last := l.Requests()[l.Calls()-1]
			if c.wantTool {
				if _, ok := last.Body["response_format"]; ok || last.Tool != "answer" || last.Schema["ok"] == nil {
					t.Fatalf("the fallback request: %v", last.Body)
				}
				fn := last.Tools[0].(map[string]any)["function"].(map[string]any)
				if fn["strict"] != true || last.Body["tool_choice"].(map[string]any)["type"] != "function" {
					t.Fatalf("tool %v, tool_choice %v", fn, last.Body["tool_choice"])
				}
			}
		})
	}
}
