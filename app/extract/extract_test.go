package extract_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/extract"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/usage"
)

// openAIServer speaks the chat-completions wire format; each call is answered by reply(n)
// (n counts from 1), which returns the status and the message content.
type openAIServer struct{ *testkit.FakeLLM }

// newOpenAIServer is testkit's fake OpenAI-compatible server answering the n-th call with
// reply(n): a status other than 200 gets OpenAI's "overloaded" server_error.
func newOpenAIServer(t *testing.T, reply func(n int) (int, string)) *openAIServer {
	l := testkit.NewFakeLLM(t)
	l.Usage = testkit.LLMUsage{Prompt: 500, Completion: 20}
	l.Answer = func(n int, _ testkit.LLMRequest) testkit.LLMAnswer {
		status, content := reply(n)
		if status != http.StatusOK {
			return testkit.LLMAnswer{Status: status, Message: "overloaded", Type: "server_error"}
		}
		return testkit.LLMAnswer{Content: content, Model: "gpt-4o-mini-2024-07-18"}
	}
	return &openAIServer{l}
}

func (s *openAIServer) calls() int { return s.Calls() }

// ids are the X-Client-Request-Id of every call; bodies their JSON bodies.
func (s *openAIServer) ids() []string {
	var out []string
	for _, r := range s.Requests() {
		out = append(out, r.Header.Get("X-Client-Request-Id"))
	}
	return out
}

func (s *openAIServer) bodies() []map[string]any {
	var out []map[string]any
	for _, r := range s.Requests() {
		out = append(out, r.Body)
	}
	return out
}

func (s *openAIServer) provider(t *testing.T) llm.Provider {
	p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: s.URL + "/v1", APIKey: "sk-test", DefaultModel: "gpt-4o-mini", Timeout: 5 * time.Second, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const exVariables = `[
 {"name":"name","description":"The customer's full name","type":"text","required":true},
 {"name":"email","type":"email","required":true},
 {"name":"company","type":"text"},
 {"name":"plan","type":"enum","options":["Basic","Pro"]},
 {"name":"seats","type":"number"}]`

type fixture struct {
	st   *store.Store
	ws   int64
	a    *store.Assistant
	conv *store.Conversation
}

func setup(t *testing.T, st *store.Store, vars string, typ, customer string) *fixture {
	t.Helper()
	ctx := context.Background()
	w, _, err := st.CreateWorkspaceWithUser(ctx, "X", fmt.Sprintf("x%d@example.com", time.Now().UnixNano()), "hash")
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Assistant{WorkspaceID: w.ID, Name: "Sales", Model: "gpt-4o-mini"}
	if err := a.Variables.Scan(vars); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, ws: w.ID, a: a}
	f.conv = f.newConv(t, typ, customer)
	return f
}

func (f *fixture) newConv(t *testing.T, typ, customer string) *store.Conversation {
	t.Helper()
	aid := f.a.ID
	c := &store.Conversation{WorkspaceID: f.ws, AssistantID: &aid, Type: typ, Customer: customer, Charged: typ != model.TypeTest}
	if err := f.st.CreateConversation(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// say adds messages: "A:" marks the assistant's.
func (f *fixture) say(t *testing.T, conv *store.Conversation, lines ...string) int64 {
	t.Helper()
	var last int64
	for _, l := range lines {
		role := "user"
		if strings.HasPrefix(l, "A:") {
			role, l = "assistant", strings.TrimPrefix(l, "A:")
		}
		m := &store.Message{WorkspaceID: f.ws, ConversationID: conv.ID, Role: role, Content: l}
		if _, err := f.st.AddMessage(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if role == "user" {
			last = m.ID
		}
	}
	return last
}

func (f *fixture) vars(t *testing.T, conv *store.Conversation) map[string]store.ConversationVariable {
	t.Helper()
	vs, err := f.st.Variables(context.Background(), f.ws, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.ConversationVariable{}
	for _, v := range vs {
		out[v.Name] = v
	}
	return out
}

func (f *fixture) run(t *testing.T, x *extract.Extractor, conv *store.Conversation, reason string) extract.Result {
	t.Helper()
	res, err := x.Execute(context.Background(), extract.Run{WorkspaceID: f.ws, ConversationID: conv.ID, Reason: reason})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestLLMPathStoresValuesAndUsage(t *testing.T) {
	st := testkit.Store(t)
	f := setup(t, st, exVariables, model.TypeWidget, "visitor-1")
	srv := newOpenAIServer(t, func(int) (int, string) {
		return http.StatusOK, `{"name":"Jane Doe","company":"Acme","plan":null}`
	})
	x := &extract.Extractor{Store: st, LLM: srv.provider(t), Prices: usage.Default(), Log: testkit.Logger(t)}
	last := f.say(t, f.conv, "A:Hello! What's your name?", "I'm Jane Doe from Acme, jane@acme.com", "A:Thanks. How many seats?", "we need 12 seats")
	res := f.run(t, x, f.conv, extract.ReasonMessage)
	if res.Error != "" || res.Skipped != "" {
		t.Fatalf("run: %+v", res)
	}
	// The extractors settled email and seats: the model was asked only about the rest.
	if strings.Join(res.Asked, ",") != "name,company,plan" {
		t.Fatalf("asked the model about %v", res.Asked)
	}
	if srv.calls() != 1 || srv.ids()[0] != extract.RequestID(f.conv.ID, last, "") || srv.ids()[0] != fmt.Sprintf("extract:%d:%d", f.conv.ID, last) {
		t.Fatalf("calls %d, request ids %v", srv.calls(), srv.ids())
	}
	rf := srv.bodies()[0]["response_format"].(map[string]any)
	js := rf["json_schema"].(map[string]any)
	props := js["schema"].(map[string]any)["properties"].(map[string]any)
	if rf["type"] != "json_schema" || js["strict"] != true || len(props) != 3 || props["name"] == nil || props["email"] != nil {
		t.Fatalf("structured output: %v", rf)
	}
	v := f.vars(t, f.conv)
	want := map[string]string{"name": "Jane Doe", "email": "jane@acme.com", "company": "Acme", "seats": "12"}
	for k, w := range want {
		if v[k].Value != w || v[k].Source != "extracted" || v[k].MessageID == nil {
			t.Errorf("%s: %+v, want %q", k, v[k], w)
		}
	}
	if _, ok := v["plan"]; ok {
		t.Error("a null is not a value")
	}
	// The usage is in the ledger once, with purpose extraction, and on the conversation.
	e, err := st.UsageByRequestID(context.Background(), f.ws, res.RequestID)
	if err != nil || e.Purpose != usage.PurposeExtraction || e.PromptTokens != 500 || e.CompletionTokens != 20 || e.CostNanos != 87_000 || e.ConversationType != model.TypeWidget {
		t.Fatalf("ledger: %+v %v", e, err)
	}
	c, _ := st.GetConversation(context.Background(), f.ws, f.conv.ID)
	if c.CostNanos != 87_000 || c.PromptTokens != 500 {
		t.Fatalf("conversation totals: %d %d", c.CostNanos, c.PromptTokens)
	}
	// The same state again (a duplicate task): nothing is asked or written.
	res = f.run(t, x, f.conv, extract.ReasonMessage)
	if res.Skipped == "" || srv.calls() != 1 {
		t.Fatalf("duplicate run: %+v, %d calls", res, srv.calls())
	}
	// A rerun asks again, under a request id of its own.
	res = f.run(t, x, f.conv, extract.ReasonRerun)
	if srv.calls() != 2 || !strings.HasPrefix(srv.ids()[1], fmt.Sprintf("extract:%d:%d:rerun:", f.conv.ID, last)) {
		t.Fatalf("rerun: %+v %v", res, srv.ids())
	}
	c, _ = st.GetConversation(context.Background(), f.ws, f.conv.ID)
	if c.CostNanos != 2*87_000 {
		t.Fatalf("after the rerun: %d", c.CostNanos)
	}
}

func TestLLMReplyBreakingTheSchemaIsNotStored(t *testing.T) {
	st := testkit.Store(t)
	f := setup(t, st, exVariables, model.TypeWidget, "visitor-2")
	replies := []string{
		`{"name":"Jane Doe"}`, // keys missing
		`Sure! The name is Jane Doe.`,
		`{"name":"Jane Doe","company":"Acme","plan":null,"seats":null,"age":"41"}`, // a key that is not in the schema
		`{"name":["Jane"],"company":null,"plan":null,"seats":null}`,                // not a string
	}
	for i, reply := range replies {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			conv := f.newConv(t, model.TypeWidget, fmt.Sprintf("v-%d", i))
			srv := newOpenAIServer(t, func(int) (int, string) { return http.StatusOK, reply })
			x := &extract.Extractor{Store: st, LLM: srv.provider(t), Log: testkit.Logger(t)}
			f.say(t, conv, "A:What's your name?", "Jane Doe, jane@acme.com")
			res := f.run(t, x, conv, extract.ReasonMessage)
			if !strings.Contains(res.Error, "breaks the schema") || srv.calls() != 1 || strings.Join(res.Asked, ",") != "name,company,plan,seats" {
				t.Fatalf("result: %+v", res)
			}
			v := f.vars(t, conv)
			if _, ok := v["name"]; ok {
				t.Fatalf("a value of a reply that breaks the schema was stored: %+v", v["name"])
			}
			if v["email"].Value != "jane@acme.com" {
				t.Fatalf("the extractors' values are kept: %+v", v)
			}
			st8, _ := st.ExtractionStateOf(context.Background(), f.ws, conv.ID)
			c, _ := st.GetConversation(context.Background(), f.ws, conv.ID)
			if !strings.Contains(st8.Error, "breaks the schema") || !strings.HasPrefix(c.LastError, store.ExtractionErrorPrefix) {
				t.Fatalf("error recorded: %q / %q", st8.Error, c.LastError)
			}
			// The call was made: its cost is recorded all the same.
			if c.CostNanos != 87_000 {
				t.Fatalf("cost of the call: %d", c.CostNanos)
			}
		})
	}
}

func TestLLMFailureIsRetriedAndRecorded(t *testing.T) {
	st := testkit.Store(t)
	f := setup(t, st, exVariables, model.TypeWidget, "visitor-3")
	srv := newOpenAIServer(t, func(n int) (int, string) {
		if n == 1 {
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusOK, `{"name":"Jane Doe","company":null,"seats":null}`
	})
	x := &extract.Extractor{Store: st, LLM: srv.provider(t), Log: testkit.Logger(t)}
	f.say(t, f.conv, "A:What's your name?", "Jane Doe. The pro plan, please.")
	_, err := x.Execute(context.Background(), extract.Run{WorkspaceID: f.ws, ConversationID: f.conv.ID, Reason: extract.ReasonMessage})
	var le *llm.Error
	if !errors.As(err, &le) || !le.Retryable {
		t.Fatalf("a 503 is returned for a retry: %v", err)
	}
	st8, _ := st.ExtractionStateOf(context.Background(), f.ws, f.conv.ID)
	if st8 == nil || st8.Error == "" || st8.LastMessageID != 0 {
		t.Fatalf("state after the failure: %+v", st8)
	}
	// The retry asks again and stores.
	res := f.run(t, x, f.conv, extract.ReasonMessage)
	v := f.vars(t, f.conv)
	if res.Error != "" || v["name"].Value != "Jane Doe" || v["plan"].Value != "Pro" || srv.calls() != 2 {
		t.Fatalf("retry: %+v %+v", res, v)
	}
	c, _ := st.GetConversation(context.Background(), f.ws, f.conv.ID)
	if c.LastError != "" {
		t.Fatalf("the error is cleared: %q", c.LastError)
	}
}

func TestProvenanceRules(t *testing.T) {
	st := testkit.Store(t)
	f := setup(t, st, exVariables, model.TypeWidget, "visitor-4")
	ctx := context.Background()
	x := &extract.Extractor{Store: st, LLM: llm.NewOffline(llm.OfflineOptions{}), Log: testkit.Logger(t)}
	// The pre-chat form gave the email.
	if err := st.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: f.ws, ConversationID: f.conv.ID, Name: "email", Value: "form@example.com", Source: "prechat"}); err != nil {
		t.Fatal(err)
	}
	f.say(t, f.conv, "A:Hi!", "my email is jane@example.com and we want basic")
	f.run(t, x, f.conv, extract.ReasonMessage)
	v := f.vars(t, f.conv)
	if v["email"].Value != "form@example.com" || v["email"].Source != "prechat" {
		t.Fatalf("a pre-chat value is never overwritten by a guess: %+v", v["email"])
	}
	if v["plan"].Value != "Basic" {
		t.Fatalf("plan: %+v", v["plan"])
	}
	firstPlanMsg := *v["plan"].MessageID
	// A later correction replaces an earlier extracted value.
	other := f.newConv(t, model.TypeWidget, "visitor-5")
	first := f.say(t, other, "A:Hi!", "reach me at jane@example.com")
	f.run(t, x, other, extract.ReasonMessage)
	if got := f.vars(t, other)["email"]; got.Value != "jane@example.com" || *got.MessageID != first {
		t.Fatalf("email: %+v", got)
	}
	time.Sleep(2 * time.Millisecond)
	corr := f.say(t, other, "A:Thanks!", "my email is actually jane.doe@example.org")
	f.run(t, x, other, extract.ReasonMessage)
	got := f.vars(t, other)["email"]
	if got.Value != "jane.doe@example.org" || *got.MessageID != corr || got.Source != "extracted" || !got.UpdatedAt.After(got.CreatedAt) {
		t.Fatalf("correction: %+v", got)
	}
	// A message without a new value keeps the value and where it came from.
	f.say(t, f.conv, "A:Anything else?", "no, thanks")
	f.run(t, x, f.conv, extract.ReasonMessage)
	if v := f.vars(t, f.conv); v["plan"].Value != "Basic" || *v["plan"].MessageID != firstPlanMsg {
		t.Fatalf("plan after an unrelated message: %+v", v["plan"])
	}
}

func TestOfflineProviderExtractsFreeText(t *testing.T) {
	st := testkit.Store(t)
	f := setup(t, st, exVariables, model.TypeWhatsApp, "+4915112345678")
	x := &extract.Extractor{Store: st, LLM: llm.NewOffline(llm.OfflineOptions{}), Log: testkit.Logger(t)}
	name := llm.VariableSpec{Name: "name", Description: "The customer's full name", Type: "text", Required: true}
	f.say(t, f.conv, "A:Hello! "+llm.AskFor(name), "Sure, my name is Jane Doe")
	res := f.run(t, x, f.conv, extract.ReasonMessage)
	if v := f.vars(t, f.conv); v["name"].Value != "Jane Doe" {
		t.Fatalf("offline extraction: %+v %+v", res, v)
	}
	e, err := st.UsageByRequestID(context.Background(), f.ws, res.RequestID)
	if err != nil || e.Model != llm.OfflineModel || e.CostNanos != 0 || e.Purpose != "extraction" {
		t.Fatalf("offline usage: %+v %v", e, err)
	}
}

func TestNothingToExtract(t *testing.T) {
	st := testkit.Store(t)
	f := setup(t, st, `[]`, model.TypeWidget, "visitor-6")
	srv := newOpenAIServer(t, func(int) (int, string) { return http.StatusOK, `{}` })
	x := &extract.Extractor{Store: st, LLM: srv.provider(t), Log: testkit.Logger(t)}
	f.say(t, f.conv, "hello")
	if res := f.run(t, x, f.conv, extract.ReasonMessage); res.Skipped == "" || srv.calls() != 0 {
		t.Fatalf("no variables: %+v", res)
	}
	// A deleted conversation is skipped, not retried.
	if res, err := x.Execute(context.Background(), extract.Run{WorkspaceID: f.ws, ConversationID: 999999, Reason: extract.ReasonMessage}); err != nil || res.Skipped == "" {
		t.Fatalf("deleted: %+v %v", res, err)
	}
}
