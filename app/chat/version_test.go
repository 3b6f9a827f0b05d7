package chat_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/usage"
)

// systemPrompt is the system message of a recorded chat completion.
func systemPrompt(t *testing.T, r testkit.LLMRequest) string {
	t.Helper()
	msgs, _ := r.Body["messages"].([]any)
	for _, m := range msgs {
		if mm, _ := m.(map[string]any); mm["role"] == "system" {
			s, _ := mm["content"].(string)
			return s
		}
	}
	t.Fatalf("no system message in %v", r.Body)
	return ""
}

func versionOf(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// A Test Chat started on the draft is answered by the draft throughout; a widget
// conversation by the published version at the time of each reply; every conversation keeps
// the version it started with after the assistant changes and is published again.
func TestConversationsAreAnsweredAndRecordedByVersion(t *testing.T) {
	srv := testkit.NewFakeLLM(t)
	p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: srv.URL, APIKey: "k", DefaultModel: "gpt-4o-mini", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := testkit.Store(t)
	ctx := context.Background()
	ws, _, err := st.CreateWorkspaceWithUser(ctx, "W", "w@x.test", "h")
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "A", Model: "gpt-4o-mini", SystemPrompt: "PUBLISHED PROMPT", FirstMessage: "Hello from v1"}
	if err := st.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	vs := &assistants.Versions{Store: st}
	save := func(prompt, first string, publish bool) {
		t.Helper()
		_, err := vs.Save(ctx, ws.ID, a.ID, func(_ *store.Assistant, base model.Behaviour) (model.Behaviour, error) {
			base.SystemPrompt, base.FirstMessage = prompt, first
			return base, nil
		}, publish, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	save("DRAFT PROMPT", "Hello from v2", false) // v2, the draft
	row, err := st.AssistantByID(ctx, ws.ID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	svc := &conversation.Service{Store: st}
	r := &chat.Responder{Store: st, LLM: p, Prices: usage.Default(), Conversations: svc, Log: testkit.Logger(t)}

	onDraft, err := vs.Answering(ctx, row, model.VersionRef{Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	test, err := chat.StartSession(ctx, st, svc, onDraft, model.TypeTest, "test:w", nil)
	if err != nil {
		t.Fatal(err)
	}
	widget, err := chat.StartSession(ctx, st, svc, row, model.TypeWidget, "visitor", nil)
	if err != nil {
		t.Fatal(err)
	}
	if versionOf(test.AssistantVersion) != 2 || versionOf(widget.AssistantVersion) != 1 {
		t.Fatalf("started with: test v%d, widget v%d", versionOf(test.AssistantVersion), versionOf(widget.AssistantVersion))
	}

	// reply asks conv's reply as the app does: the row as stored now (the published copy).
	reply := func(conv *store.Conversation, n int) *store.Message {
		t.Helper()
		if _, err := svc.AddMessage(ctx, &store.Message{WorkspaceID: ws.ID, ConversationID: conv.ID, Role: "user", Content: "hi"}); err != nil {
			t.Fatal(err)
		}
		conv, err := st.GetConversation(ctx, ws.ID, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		now, err := st.AssistantByID(ctx, ws.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := r.Reply(ctx, conv, now, "reply:v:"+conv.Customer+":"+string(rune('0'+n)), nil)
		if err != nil || rep.Failed {
			t.Fatalf("reply: %+v %v", rep, err)
		}
		return rep.Message
	}
	lastPrompt := func() string {
		reqs := srv.Requests()
		return systemPrompt(t, reqs[len(reqs)-1])
	}

	m := reply(test, 1)
	if !strings.Contains(lastPrompt(), "DRAFT PROMPT") || versionOf(m.AssistantVersion) != 2 {
		t.Fatalf("test chat on the draft: prompt %q, message v%d", lastPrompt(), versionOf(m.AssistantVersion))
	}
	m = reply(widget, 1)
	if !strings.Contains(lastPrompt(), "PUBLISHED PROMPT") || versionOf(m.AssistantVersion) != 1 {
		t.Fatalf("widget: prompt %q, message v%d", lastPrompt(), versionOf(m.AssistantVersion))
	}

	// The draft is published, then a v3 is published: the widget is answered by v3 now, the
	// Test Chat still by v2; both conversations keep the version they started with.
	if _, _, err := vs.Publish(ctx, ws.ID, a.ID, model.VersionRef{Draft: true}); err != nil {
		t.Fatal(err)
	}
	save("THIRD PROMPT", "Hello from v3", true)
	m = reply(widget, 2)
	if !strings.Contains(lastPrompt(), "THIRD PROMPT") || versionOf(m.AssistantVersion) != 3 {
		t.Fatalf("widget after publishing v3: prompt %q, message v%d", lastPrompt(), versionOf(m.AssistantVersion))
	}
	m = reply(test, 2)
	if !strings.Contains(lastPrompt(), "DRAFT PROMPT") || versionOf(m.AssistantVersion) != 2 {
		t.Fatalf("test chat keeps v2: prompt %q, message v%d", lastPrompt(), versionOf(m.AssistantVersion))
	}
	for _, c := range []struct {
		conv *store.Conversation
		want int
	}{{test, 2}, {widget, 1}} {
		got, err := st.GetConversation(ctx, ws.ID, c.conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if versionOf(got.AssistantVersion) != c.want {
			t.Fatalf("%s conversation: v%d, want v%d", got.Type, versionOf(got.AssistantVersion), c.want)
		}
	}
	// The first messages record the version that wrote them.
	page, err := st.Messages(ctx, ws.ID, test.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if first := page.Messages[0]; first.Content != "Hello from v2" || versionOf(first.AssistantVersion) != 2 {
		t.Fatalf("test chat's first message: %q v%d", first.Content, versionOf(first.AssistantVersion))
	}
}
