package chat_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/usage"
)

func TestValidatePrechat(t *testing.T) {
	fields := []model.PrechatField{
		{Name: "name", Label: "Your name", Type: "text", Required: true},
		{Name: "mail", Label: "Email", Type: "email", Variable: "email", Required: true},
		{Name: "phone", Label: "Phone", Type: "phone"},
	}
	vars, errs := chat.ValidatePrechat(fields, map[string]string{"name": " Ana ", "mail": "ana@x.test", "phone": "+49 (151) 123-456"})
	if len(errs) != 0 || vars["name"] != "Ana" || vars["email"] != "ana@x.test" || vars["phone"] != "+49151123456" {
		t.Fatalf("valid: %v %v", vars, errs)
	}
	_, errs = chat.ValidatePrechat(fields, map[string]string{"mail": "nope", "phone": "call me", "role": "admin"})
	for _, f := range []string{"name", "mail", "phone", "role"} {
		if errs[f] == "" {
			t.Errorf("no error for %s: %v", f, errs)
		}
	}
	if _, err := chat.ValidateMessage("   "); err == nil {
		t.Fatal("empty message")
	}
	if _, err := chat.ValidateMessage(strings.Repeat("é", 4001)); err == nil {
		t.Fatal("4,001 characters")
	}
	if m, err := chat.ValidateMessage(strings.Repeat("é", 4000)); err != nil || len([]rune(m)) != 4000 {
		t.Fatal("4,000 characters are fine")
	}
}

func setup(t *testing.T, provider llm.Provider) (*chat.Responder, *store.Store, *store.Conversation, *store.Assistant) {
	t.Helper()
	st := testkit.Store(t)
	ctx := context.Background()
	ws, _, err := st.CreateWorkspaceWithUser(ctx, "W", "w@x.test", "h")
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "A", Model: "gpt-4o-mini", SystemPrompt: "Be brief.", FirstMessage: "Hello!",
		Variables: []model.Variable{{Name: "email", Type: "email", Required: true, Description: "email"}}}
	if err := st.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	svc := &conversation.Service{Store: st}
	conv, err := chat.StartSession(ctx, st, svc, a, model.TypeWidget, "visitor-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddMessage(ctx, &store.Message{WorkspaceID: ws.ID, ConversationID: conv.ID, Role: "user", Content: "hi"}); err != nil {
		t.Fatal(err)
	}
	conv, _ = st.GetConversation(ctx, ws.ID, conv.ID)
	return &chat.Responder{Store: st, LLM: provider, Prices: usage.Default(), Conversations: svc, Log: testkit.Logger(t)}, st, conv, a
}

func TestReplyIsStoredOnceWithUsage(t *testing.T) {
	srv := testkit.NewFakeLLM(t)
	srv.Answer = func(int, testkit.LLMRequest) testkit.LLMAnswer {
		return testkit.LLMAnswer{Content: "What is your email?", Model: "gpt-4o-mini", Usage: &testkit.LLMUsage{Prompt: 1234, Completion: 567}}
	}
	p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: srv.URL, APIKey: "k", DefaultModel: "gpt-4o-mini", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r, st, conv, a := setup(t, p)
	ctx := context.Background()
	rep, err := r.Reply(ctx, conv, a, "reply:test:1", nil)
	if err != nil || rep.Failed || rep.Replayed {
		t.Fatalf("reply: %+v %v", rep, err)
	}
	if rep.Message.Content != "What is your email?" || rep.Message.CostNanos != 525300 || rep.Message.PromptTokens != 1234 {
		t.Fatalf("stored reply: %+v", rep.Message)
	}
	again, err := r.Reply(ctx, conv, a, "reply:test:1", nil)
	if err != nil || !again.Replayed || again.Message.ID != rep.Message.ID {
		t.Fatalf("replay: %+v %v", again, err)
	}
	got, _ := st.GetConversation(ctx, conv.WorkspaceID, conv.ID)
	if got.CostNanos != 525300 || got.MessageCount != 3 {
		t.Fatalf("conversation totals: cost %d, messages %d", got.CostNanos, got.MessageCount)
	}
}

func TestReplyFallsBackPolitely(t *testing.T) {
	srv := testkit.NewFakeLLM(t)
	srv.Answer = func(int, testkit.LLMRequest) testkit.LLMAnswer {
		return testkit.LLMAnswer{Status: http.StatusInternalServerError, Message: "boom", Type: "server_error"}
	}
	p, _ := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: srv.URL, APIKey: "k", DefaultModel: "gpt-4o-mini", Timeout: 5 * time.Second, MaxRetries: 0})
	r, st, conv, a := setup(t, p)
	rep, err := r.Reply(context.Background(), conv, a, "reply:test:2", nil)
	if err != nil || !rep.Failed {
		t.Fatalf("fallback: %+v %v", rep, err)
	}
	if rep.Message.Content != llm.FallbackReply || rep.Message.Error == "" || strings.Contains(rep.Message.Content, "500") {
		t.Fatalf("the customer sees the polite text, the error is kept aside: %+v", rep.Message)
	}
	got, _ := st.GetConversation(context.Background(), conv.WorkspaceID, conv.ID)
	if !strings.Contains(got.LastError, "could not answer") {
		t.Fatalf("last error on the conversation: %q", got.LastError)
	}
}

func TestUnknownModelWarns(t *testing.T) {
	srv := testkit.NewFakeLLM(t)
	srv.Answer = func(int, testkit.LLMRequest) testkit.LLMAnswer {
		return testkit.LLMAnswer{Content: "ok", Model: "mystery-9000", Usage: &testkit.LLMUsage{Prompt: 10, Completion: 5}}
	}
	p, _ := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: srv.URL, APIKey: "k", DefaultModel: "mystery-9000", Timeout: 5 * time.Second})
	r, st, conv, a := setup(t, p)
	rep, err := r.Reply(context.Background(), conv, a, "reply:test:3", nil)
	if err != nil || !strings.Contains(rep.Warning, "no price for model mystery-9000") {
		t.Fatalf("warning: %+v %v", rep, err)
	}
	got, _ := st.GetConversation(context.Background(), conv.WorkspaceID, conv.ID)
	if !strings.Contains(got.LastError, "no price for model mystery-9000") {
		t.Fatalf("visible on the conversation: %q", got.LastError)
	}
}

func TestRequestCarriesContext(t *testing.T) {
	r, _, conv, a := setup(t, llm.NewOffline(llm.OfflineOptions{}))
	req, err := r.Request(context.Background(), conv, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Messages) != 3 || req.Messages[0].Role != llm.RoleSystem || !strings.Contains(req.Messages[0].Content, "Be brief.") ||
		!strings.Contains(req.Messages[0].Content, "email (required)") || req.Messages[2].Content != "hi" {
		t.Fatalf("request: %+v", req.Messages)
	}
	if req.FirstMessage != "Hello!" || len(req.Variables) != 1 {
		t.Fatalf("offline context: %+v", req)
	}
}

// A session is started in one transaction: its pre-chat answers and first message are there
// with it, and when one of them cannot be stored nothing is (no conversation without its
// answers, no count bumped).
func TestStartSessionIsAllOrNothing(t *testing.T) {
	_, st, _, a := setup(t, nil)
	ctx := context.Background()
	svc := &conversation.Service{Store: st}
	before, err := st.ConversationCounts(ctx, a.WorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := chat.StartSession(ctx, st, svc, a, model.TypeWidget, "visitor-2", map[string]string{"email": "a@b.co", "name": "Ana"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetConversation(ctx, a.WorkspaceID, conv.ID)
	if got.MessageCount != 1 || got.LastMessagePreview != "Hello!" || got.Variables != `{"email":"a@b.co","name":"Ana"}` {
		t.Fatalf("started: %d messages, preview %q, variables %s", got.MessageCount, got.LastMessagePreview, got.Variables)
	}
	// The second answer cannot be stored (a NUL byte: refused by both databases, and by
	// ValidatePrechat before this point in real requests).
	if _, err := chat.StartSession(ctx, st, svc, a, model.TypeWidget, "visitor-3", map[string]string{"a": "fine", "b": "bad\x00value"}); err == nil {
		t.Fatal("a session whose answer cannot be stored was started")
	}
	n, err := st.DB.NewSelect().Model((*store.Conversation)(nil)).Where("customer = ?", "visitor-3").Count(ctx)
	if err != nil || n != 0 {
		t.Fatalf("%d conversations left behind (%v)", n, err)
	}
	after, _ := st.ConversationCounts(ctx, a.WorkspaceID)
	if after.Total != before.Total+1 {
		t.Fatalf("count %d, want %d", after.Total, before.Total+1)
	}
}
