package evaluation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/evaluation"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// customEvaluators has one custom evaluator of each type.
var customEvaluators = store.Evaluators{
	{Name: "polite", Question: "Was the assistant polite?", Type: model.EvaluatorBoolean, Version: 1},
	{Name: "accuracy", Question: "How accurate were the answers?", Type: model.EvaluatorRating, Version: 2},
	{Name: "topic", Question: "What was it about?", Type: model.EvaluatorOption, Options: []string{"billing", "shipping", "other"}, Version: 1},
	{Name: "next_step", Question: "What should the team do next?", Type: model.EvaluatorText, Version: 1},
}

type fixture struct {
	st    *store.Store
	ws    int64
	a     *store.Assistant
	conv  *store.Conversation
	convs *conversation.Service
}

func setup(t *testing.T, st *store.Store, evs store.Evaluators) *fixture {
	t.Helper()
	ctx := context.Background()
	w, _, err := st.CreateWorkspaceWithUser(ctx, "X", fmt.Sprintf("x%d@example.com", time.Now().UnixNano()), "hash")
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Assistant{WorkspaceID: w.ID, Name: "Support", Model: "gpt-4o-mini", Evaluators: evs}
	if err := st.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, ws: w.ID, a: a, convs: &conversation.Service{Store: st}}
	aid := a.ID
	f.conv = &store.Conversation{WorkspaceID: w.ID, AssistantID: &aid, Type: model.TypeWidget, Customer: "v1", AIEnabled: true, Charged: true}
	if err := st.CreateConversation(ctx, f.conv); err != nil {
		t.Fatal(err)
	}
	return f
}

// say adds messages a second apart: "A:" marks the assistant's.
func (f *fixture) say(t *testing.T, lines ...string) {
	t.Helper()
	for _, l := range lines {
		role := model.RoleUser
		if strings.HasPrefix(l, "A:") {
			role, l = model.RoleAssistant, strings.TrimPrefix(l, "A:")
		}
		m := &store.Message{WorkspaceID: f.ws, ConversationID: f.conv.ID, Role: role, Content: l}
		if _, err := f.st.AddMessage(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}

// end ends the conversation and creates its run 0.
func (f *fixture) end(t *testing.T, svc *evaluation.Service) *store.EvaluationRun {
	t.Helper()
	end, err := f.convs.End(context.Background(), f.ws, f.conv.ID, model.EndVisitor, time.Time{})
	if err != nil || end == nil {
		t.Fatalf("end: %+v %v", end, err)
	}
	r, err := svc.Begin(context.Background(), end)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) get(t *testing.T) *store.Conversation {
	t.Helper()
	c, err := f.st.GetConversation(context.Background(), f.ws, f.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func provider(t *testing.T, l *testkit.FakeLLM) llm.Provider {
	t.Helper()
	p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: l.URL + "/v1", APIKey: "sk-test", DefaultModel: "gpt-4o-mini", Timeout: 5 * time.Second, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// goodReply answers every evaluator of the set validly.
const goodReply = `{
 "summary": {"value": "The customer asked about a refund. It was granted.", "reason": "\"I want a refund\""},
 "outcome": {"value": "resolved", "reason": "\"thanks, that solved it\""},
 "sentiment": {"value": "positive", "reason": "\"thanks\""},
 "csat_estimate": {"value": 5, "reason": "\"great\""},
 "language": {"value": "en-us", "reason": "English"},
 "polite": {"value": true, "reason": "\"thank you\""},
 "accuracy": {"value": 4, "reason": "\"right\""},
 "topic": {"value": "Billing", "reason": "\"refund\""},
 "next_step": {"value": "Nothing.", "reason": "\"solved\""}
}`

// ledger is the conversation's evaluation ledger rows.
func (f *fixture) ledger(t *testing.T) []store.UsageEntry {
	t.Helper()
	rows, err := f.st.ConversationUsage(context.Background(), f.ws, f.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.UsageEntry
	for _, r := range rows {
		if r.Purpose == store.PurposeEvaluation {
			out = append(out, r)
		}
	}
	return out
}

func valuesByName(t *testing.T, st *store.Store, ws, runID int64) map[string]store.EvaluationValue {
	t.Helper()
	vs, err := st.EvaluationValues(context.Background(), ws, runID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.EvaluationValue{}
	for _, v := range vs {
		out[v.Name] = v
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// The schema sent has one strict property per evaluator (the built-in ones and every custom
// type), the call is recorded once in the ledger with purpose evaluation under its request id,
// the values are stored and the built-in ones land on the conversation, and the conversation's
// cost grows by exactly the ledger's cost (cost_evaluation_nanos too).
func TestEvaluateSendsTheSchemaAndStoresTheRun(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := testkit.NewFakeLLM(t)
		l.Usage = testkit.LLMUsage{Prompt: 1200, Completion: 150, Cached: 200}
		l.Answer = func(int, testkit.LLMRequest) testkit.LLMAnswer {
			return testkit.LLMAnswer{Content: goodReply, Model: "gpt-4o-mini-2024-07-18"}
		}
		f := setup(t, st, customEvaluators)
		f.say(t, "Hi, I want a refund for order 42", "A:Done, the refund is on its way.", "thanks, that solved it")
		svc := &evaluation.Service{Store: st, LLM: provider(t, l), Log: testkit.Logger(t)}
		before := f.get(t)
		run := f.end(t, svc)
		if run.Run != 0 || run.EndSeq != 1 || run.Status != model.EvalPending ||
			run.EvaluatorsVersion != model.EvaluatorsVersion([]model.Evaluator(customEvaluators)) {
			t.Fatalf("run 0: %+v", run)
		}
		res, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: run.ID})
		if err != nil || res.Skipped != "" || res.Status != model.EvalDone || res.Error != "" || !res.Latest {
			t.Fatalf("execute: %+v %v", res, err)
		}
		reqs := l.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d calls, want 1", len(reqs))
		}
		wantID := fmt.Sprintf("evaluate:%d:1:%d:0", f.conv.ID, run.EvaluatorsVersion)
		if got := reqs[0].Header.Get("X-Client-Request-Id"); got != wantID {
			t.Fatalf("request id %q, want %q", got, wantID)
		}
		rf := reqs[0].Body["response_format"].(map[string]any)["json_schema"].(map[string]any)
		if rf["name"] != evaluation.SchemaName || rf["strict"] != true {
			t.Fatalf("response_format: %v", rf)
		}
		schema := rf["schema"].(map[string]any)
		if schema["additionalProperties"] != false {
			t.Fatalf("schema allows other properties: %v", schema)
		}
		wantTypes := map[string]string{"summary": "string", "outcome": "string", "sentiment": "string", "csat_estimate": "integer",
			"language": "string", "polite": "boolean", "accuracy": "integer", "topic": "string", "next_step": "string"}
		req := schema["required"].([]any)
		if len(reqs[0].Schema) != len(wantTypes) || len(req) != len(wantTypes) {
			t.Fatalf("properties %v, required %v", reqs[0].Schema, req)
		}
		for name, typ := range wantTypes {
			p, ok := reqs[0].Schema[name].(map[string]any)
			if !ok {
				t.Fatalf("no property %q in %v", name, reqs[0].Schema)
			}
			props := p["properties"].(map[string]any)
			val := props["value"].(map[string]any)
			if p["type"] != "object" || p["additionalProperties"] != false || val["type"] != typ || props["reason"].(map[string]any)["type"] != "string" {
				t.Fatalf("property %q: %v", name, p)
			}
			if r := p["required"].([]any); len(r) != 2 {
				t.Fatalf("property %q requires %v", name, r)
			}
		}
		enumOf := func(name string) string {
			b, _ := json.Marshal(reqs[0].Schema[name].(map[string]any)["properties"].(map[string]any)["value"].(map[string]any)["enum"])
			return string(b)
		}
		if enumOf("topic") != `["billing","shipping","other"]` || enumOf("outcome") != `["resolved","unresolved","handed_off","abandoned"]` ||
			enumOf("accuracy") != `[1,2,3,4,5]` || enumOf("csat_estimate") != `[1,2,3,4,5]` || enumOf("polite") != "null" {
			t.Fatalf("enums: topic %s outcome %s accuracy %s", enumOf("topic"), enumOf("outcome"), enumOf("accuracy"))
		}
		// The transcript is sent as chat messages between the instruction and the last one.
		msgs := reqs[0].Body["messages"].([]any)
		if len(msgs) != 5 || msgs[1].(map[string]any)["role"] != "user" || msgs[2].(map[string]any)["role"] != "assistant" {
			t.Fatalf("messages: %v", msgs)
		}

		vals := valuesByName(t, st, f.ws, run.ID)
		want := map[string]string{"summary": "The customer asked about a refund. It was granted.", "outcome": "resolved", "sentiment": "positive",
			"csat_estimate": "5", "language": "en-US", "polite": "true", "accuracy": "4", "topic": "billing", "next_step": "Nothing."}
		for name, v := range want {
			got := vals[name]
			if got.Status != model.EvalDone || str(got.Value) != v || !got.Latest || got.Reason == "" {
				t.Fatalf("value %s: %+v (%s), want %q", name, got, str(got.Value), v)
			}
		}
		if vals["accuracy"].EvaluatorVersion != 2 || !vals["summary"].Builtin || vals["polite"].Builtin {
			t.Fatalf("versions and builtin flags: %+v %+v %+v", vals["accuracy"], vals["summary"], vals["polite"])
		}
		c := f.get(t)
		if c.Summary != want["summary"] || c.Outcome != "resolved" || c.Sentiment != "positive" || c.CSATEstimate == nil || *c.CSATEstimate != 5 ||
			c.Language != "en-US" || c.EvaluationStatus != model.EvalDone {
			t.Fatalf("conversation: %+v", c)
		}
		rows := f.ledger(t)
		if len(rows) != 1 || rows[0].RequestID != wantID || rows[0].CostNanos <= 0 || rows[0].PromptTokens != 1200 {
			t.Fatalf("ledger: %+v", rows)
		}
		if c.CostEvaluationNanos != rows[0].CostNanos || c.CostNanos-before.CostNanos != rows[0].CostNanos ||
			c.PromptTokens-before.PromptTokens != 1200 || c.CostSplit().Evaluation != rows[0].CostNanos || c.CostSplit().Reply != before.CostNanos {
			t.Fatalf("cost: conversation %d (evaluation %d), before %d, ledger %d", c.CostNanos, c.CostEvaluationNanos, before.CostNanos, rows[0].CostNanos)
		}
		got, _ := st.EvaluationRunByID(ctx, f.ws, run.ID)
		if got.Status != model.EvalDone || got.CostNanos != rows[0].CostNanos || got.Provider != "gpt-4o-mini-2024-07-18" || got.RequestID != wantID || got.FinishedAt == nil {
			t.Fatalf("run: %+v", got)
		}
		end, _ := st.ConversationEndBySeq(ctx, f.ws, f.conv.ID, 1)
		if end.EvaluatedAt == nil {
			t.Fatal("the end is not marked evaluated")
		}
		// Executing the finished run again does nothing.
		if res, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: run.ID}); err != nil || res.Skipped == "" || l.Calls() != 1 {
			t.Fatalf("again: %+v %v, %d calls", res, err, l.Calls())
		}
	})
}

// A reply that breaks the schema keeps the values that are valid and marks the rest failed
// with the error; one that is not JSON fails every value and the run (its call is still
// charged, once).
func TestEvaluateSchemaBreakingReply(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		reply := `{
 "summary": {"value": "A question about shipping.", "reason": "\"where is my parcel\""},
 "outcome": {"value": "fixed", "reason": "?"},
 "sentiment": {"value": "negative", "reason": "\"still waiting\""},
 "csat_estimate": {"value": 7, "reason": "x"},
 "language": {"value": "english please", "reason": "x"},
 "polite": {"value": "yes", "reason": "x"},
 "accuracy": {"value": 2.5, "reason": "x"},
 "topic": {"value": "shipping", "reason": "\"parcel\""},
 "extra": {"value": 1, "reason": "x"}
}`
		l := testkit.NewFakeLLM(t)
		l.Answer = func(n int, _ testkit.LLMRequest) testkit.LLMAnswer {
			if n == 1 {
				return testkit.LLMAnswer{Content: reply}
			}
			return testkit.LLMAnswer{Content: "Sorry, I cannot help with that."}
		}
		f := setup(t, st, customEvaluators)
		f.say(t, "where is my parcel?", "A:It is on its way.", "still waiting...")
		svc := &evaluation.Service{Store: st, LLM: provider(t, l), Log: testkit.Logger(t)}
		run := f.end(t, svc)
		res, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: run.ID})
		if err != nil || res.Status != model.EvalDone || !strings.Contains(res.Error, "breaks the schema") {
			t.Fatalf("execute: %+v %v", res, err)
		}
		vals := valuesByName(t, st, f.ws, run.ID)
		for _, name := range []string{"summary", "sentiment", "topic"} {
			if vals[name].Status != model.EvalDone || vals[name].Value == nil {
				t.Fatalf("valid value %s not kept: %+v", name, vals[name])
			}
		}
		for name, msg := range map[string]string{"outcome": "not one of the options", "csat_estimate": "not from 1 to 5", "language": "BCP 47",
			"polite": "not a boolean", "accuracy": "not an integer", "next_step": "missing"} {
			v := vals[name]
			if v.Status != model.EvalFailed || v.Value != nil || !strings.Contains(v.Error, msg) || !strings.Contains(res.Error, name) {
				t.Fatalf("invalid value %s: %+v, want error %q (run error %q)", name, v, msg, res.Error)
			}
		}
		if _, ok := vals["extra"]; ok || !strings.Contains(res.Error, "extra") {
			t.Fatalf("a key outside the schema was stored or not reported: %q", res.Error)
		}
		c := f.get(t)
		if c.Summary != "A question about shipping." || c.Sentiment != "negative" || c.Outcome != "" || c.CSATEstimate != nil || c.Language != "" || c.EvaluationStatus != model.EvalDone {
			t.Fatalf("conversation: %+v", c)
		}

		// Reopened and ended again: the reply is not JSON.
		f.say(t, "hello again")
		run2 := f.end(t, svc)
		if run2.EndSeq != 2 {
			t.Fatalf("second end's run: %+v", run2)
		}
		res, err = svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: run2.ID})
		if err != nil || res.Status != model.EvalFailed || !strings.Contains(res.Error, "not a JSON object") {
			t.Fatalf("not JSON: %+v %v", res, err)
		}
		for name, v := range valuesByName(t, st, f.ws, run2.ID) {
			if v.Status != model.EvalFailed || v.Value != nil || !v.Latest {
				t.Fatalf("%s: %+v", name, v)
			}
		}
		if len(valuesByName(t, st, f.ws, run2.ID)) != 9 {
			t.Fatal("not every evaluator has a value row")
		}
		c = f.get(t)
		if c.EvaluationStatus != model.EvalFailed || c.Summary != "" {
			t.Fatalf("conversation after a failed run: %+v", c)
		}
		rows := f.ledger(t)
		var sum int64
		for _, r := range rows {
			sum += r.CostNanos
		}
		if len(rows) != 2 || c.CostEvaluationNanos != sum || sum <= 0 {
			t.Fatalf("ledger %+v, cost_evaluation_nanos %d", rows, c.CostEvaluationNanos)
		}
	})
}

// Duplicate executions of one run (concurrent or one after the other), a retryable failure
// and a call cut short (a worker killed mid-run) end with one done run, one ledger row and
// the cost counted once; a reopened and re-ended conversation is evaluated again (end 2) and
// its values become the latest. The cost of the evaluations equals the ledger to the
// nano-dollar.
func TestEvaluateOncePerEndUnderDuplicatesRetriesAndKills(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := testkit.NewFakeLLM(t)
		l.Usage = testkit.LLMUsage{Prompt: 777, Completion: 33}
		var mu sync.Mutex
		mode := "ok"
		l.Answer = func(int, testkit.LLMRequest) testkit.LLMAnswer {
			mu.Lock()
			defer mu.Unlock()
			switch mode {
			case "fail":
				return testkit.LLMAnswer{Status: http.StatusServiceUnavailable, Message: "overloaded"}
			case "slow":
				return testkit.LLMAnswer{Content: goodReply, Delay: 5 * time.Second}
			}
			return testkit.LLMAnswer{Content: goodReply, Model: "gpt-4o-mini-2024-07-18"}
		}
		setMode := func(m string) { mu.Lock(); mode = m; mu.Unlock() }
		f := setup(t, st, customEvaluators)
		f.say(t, "I want a refund", "A:Done.", "thanks, great")
		svc := &evaluation.Service{Store: st, LLM: provider(t, l), Log: testkit.Logger(t)}
		end, err := f.convs.End(ctx, f.ws, f.conv.ID, model.EndIdle, time.Time{})
		if err != nil || end == nil {
			t.Fatal(err)
		}
		// The hook and a sweep both create run 0: one row.
		r1, err1 := svc.Begin(ctx, end)
		r2, err2 := svc.Begin(ctx, end)
		if err1 != nil || err2 != nil || r1.ID != r2.ID {
			t.Fatalf("begin twice: %+v %v / %+v %v", r1, err1, r2, err2)
		}
		// A retryable failure leaves the run pending and charges nothing.
		setMode("fail")
		if _, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: r1.ID}); err == nil || !llm.IsRetryable(err) {
			t.Fatalf("a 503 should be retried: %v", err)
		}
		// A call cut short (the worker died): nothing written either.
		setMode("slow")
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err = svc.Execute(cctx, evaluation.Run{WorkspaceID: f.ws, RunID: r1.ID})
		cancel()
		if err == nil {
			t.Fatal("a call cut short returned no error")
		}
		if got, _ := st.EvaluationRunByID(ctx, f.ws, r1.ID); got.Status != model.EvalPending || len(f.ledger(t)) != 0 {
			t.Fatalf("after failures: %+v, %d ledger rows", got, len(f.ledger(t)))
		}
		// Duplicate tasks run at once: one finishes the run, the other writes nothing.
		setMode("ok")
		var wg sync.WaitGroup
		results := make([]evaluation.Result, 4)
		errs := make([]error, 4)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: r1.ID})
			}()
		}
		wg.Wait()
		done := 0
		for i := range results {
			if errs[i] != nil {
				t.Fatalf("duplicate %d: %v", i, errs[i])
			}
			if results[i].Skipped == "" {
				done++
			}
		}
		if done != 1 {
			t.Fatalf("%d executions finished the run, want 1: %+v", done, results)
		}
		rows := f.ledger(t)
		c := f.get(t)
		if len(rows) != 1 || c.CostEvaluationNanos != rows[0].CostNanos {
			t.Fatalf("ledger %+v, cost_evaluation_nanos %d", rows, c.CostEvaluationNanos)
		}
		calls := l.Calls()
		// A retry after the run finished makes no call.
		if res, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: r1.ID}); err != nil || res.Skipped == "" || l.Calls() != calls {
			t.Fatalf("retry after done: %+v %v (%d calls, was %d)", res, err, l.Calls(), calls)
		}

		// Reopened by the customer and ended again: a second evaluation, latest.
		f.say(t, "one more question")
		end2, err := f.convs.End(ctx, f.ws, f.conv.ID, model.EndIdle, time.Time{})
		if err != nil || end2 == nil || end2.Seq != 2 {
			t.Fatalf("second end: %+v %v", end2, err)
		}
		run2, err := svc.Begin(ctx, end2)
		if err != nil || run2.ID == r1.ID || run2.EndSeq != 2 {
			t.Fatalf("second run: %+v %v", run2, err)
		}
		if c := f.get(t); c.EvaluationStatus != model.EvalPending {
			t.Fatalf("a new end leaves the evaluation pending: %q", c.EvaluationStatus)
		}
		if res, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: run2.ID}); err != nil || res.Status != model.EvalDone || !res.Latest {
			t.Fatalf("second evaluation: %+v %v", res, err)
		}
		for _, v := range valuesByName(t, st, f.ws, r1.ID) {
			if v.Latest {
				t.Fatalf("the first end's value %s is still latest", v.Name)
			}
		}
		for _, v := range valuesByName(t, st, f.ws, run2.ID) {
			if !v.Latest {
				t.Fatalf("the second end's value %s is not latest", v.Name)
			}
		}
		rows = f.ledger(t)
		var sum int64
		for _, r := range rows {
			sum += r.CostNanos
		}
		c = f.get(t)
		if len(rows) != 2 || c.CostEvaluationNanos != sum || c.EvaluationStatus != model.EvalDone {
			t.Fatalf("ledger %d rows summing %d, cost_evaluation_nanos %d, status %s", len(rows), sum, c.CostEvaluationNanos, c.EvaluationStatus)
		}
		var runSum int64
		if err := st.DB.NewSelect().Model((*store.EvaluationRun)(nil)).ColumnExpr("coalesce(sum(cost_nanos), 0)").Where("conversation_id = ?", f.conv.ID).Scan(ctx, &runSum); err != nil || runSum != sum {
			t.Fatalf("runs' cost %d, ledger %d (%v)", runSum, sum, err)
		}
		// The conversation's totals still match its messages and ledger (the reconcile agrees).
		drift, err := st.ConversationTotalsDrift(ctx, []int64{f.conv.ID})
		if err != nil || len(drift) != 0 {
			t.Fatalf("totals drift: %+v %v", drift, err)
		}
	})
}

// On the last attempt a retryable failure fails the run (it is not left pending for ever);
// a non-retryable failure fails it at once. Neither is charged.
func TestEvaluateProviderFailures(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := testkit.NewFakeLLM(t)
		l.Answer = func(n int, _ testkit.LLMRequest) testkit.LLMAnswer {
			if n == 1 {
				return testkit.LLMAnswer{Status: http.StatusServiceUnavailable, Message: "overloaded"}
			}
			return testkit.LLMAnswer{Status: http.StatusBadRequest, Message: "context too long", Type: "invalid_request_error"}
		}
		f := setup(t, st, nil)
		f.say(t, "hello")
		svc := &evaluation.Service{Store: st, LLM: provider(t, l), Log: testkit.Logger(t)}
		run := f.end(t, svc)
		res, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: run.ID, LastAttempt: true})
		if err != nil || res.Status != model.EvalFailed || !strings.Contains(res.Error, "503") {
			t.Fatalf("last attempt: %+v %v", res, err)
		}
		f.say(t, "again")
		run2 := f.end(t, svc)
		res, err = svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: run2.ID})
		if err != nil || res.Status != model.EvalFailed || !strings.Contains(res.Error, "400") {
			t.Fatalf("non-retryable: %+v %v", res, err)
		}
		if len(f.ledger(t)) != 0 || f.get(t).EvaluationStatus != model.EvalFailed {
			t.Fatalf("failures charged or status wrong: %+v", f.get(t))
		}
		if n := len(valuesByName(t, st, f.ws, run2.ID)); n != 5 {
			t.Fatalf("%d values, want the 5 built-in ones failed", n)
		}
	})
}

// A server without structured output (a 400 naming response_format) is asked again with a
// tool call whose parameters are the same schema; the call's arguments are the reply.
func TestEvaluateFallsBackToToolCalling(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := testkit.NewFakeLLM(t)
		l.NoResponseFormat = true
		l.Answer = func(int, testkit.LLMRequest) testkit.LLMAnswer { return testkit.LLMAnswer{Content: goodReply} }
		f := setup(t, st, customEvaluators)
		f.say(t, "I want a refund", "A:Done.", "thanks")
		svc := &evaluation.Service{Store: st, LLM: provider(t, l), Log: testkit.Logger(t)}
		run := f.end(t, svc)
		res, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: run.ID})
		if err != nil || res.Status != model.EvalDone || res.Error != "" {
			t.Fatalf("execute: %+v %v", res, err)
		}
		reqs := l.Requests()
		if len(reqs) != 2 || reqs[1].Tool != evaluation.SchemaName || len(reqs[1].Schema) != 9 {
			t.Fatalf("requests: %d, second tool %q with %d properties", len(reqs), reqs[len(reqs)-1].Tool, len(reqs[len(reqs)-1].Schema))
		}
		if tc := reqs[1].Body["tool_choice"].(map[string]any); tc["function"].(map[string]any)["name"] != evaluation.SchemaName {
			t.Fatalf("tool_choice: %v", tc)
		}
		if c := f.get(t); c.Outcome != model.OutcomeResolved || len(f.ledger(t)) != 1 {
			t.Fatalf("conversation %+v, %d ledger rows", c, len(f.ledger(t)))
		}
	})
}

// The offline provider makes no call: the heuristics fill the built-in values (provider
// "offline"), custom evaluators fail honestly, nothing is charged.
func TestEvaluateOffline(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := setup(t, st, customEvaluators)
		f.say(t, "Hallo, ich habe eine Frage zu meiner Rechnung", "A:Gerne, worum geht es?", "Danke, das hat funktioniert, super!")
		svc := &evaluation.Service{Store: st, LLM: llm.NewOffline(llm.OfflineOptions{}), Log: testkit.Logger(t)}
		run := f.end(t, svc)
		res, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: run.ID})
		if err != nil || res.Status != model.EvalDone || res.Asked || res.Provider != evaluation.Provider {
			t.Fatalf("execute: %+v %v", res, err)
		}
		vals := valuesByName(t, st, f.ws, run.ID)
		for name, want := range map[string]string{"outcome": "resolved", "sentiment": "positive", "csat_estimate": "5", "language": "de"} {
			if v := vals[name]; v.Status != model.EvalDone || str(v.Value) != want || !strings.HasPrefix(v.Reason, "offline") {
				t.Fatalf("%s: %+v (%s), want %s", name, v, str(v.Value), want)
			}
		}
		for _, name := range []string{"polite", "accuracy", "topic", "next_step"} {
			if v := vals[name]; v.Status != model.EvalFailed || v.Error != evaluation.OfflineNotEvaluated {
				t.Fatalf("custom %s offline: %+v", name, v)
			}
		}
		got, _ := st.EvaluationRunByID(ctx, f.ws, run.ID)
		c := f.get(t)
		if got.Provider != "offline" || got.CostNanos != 0 || len(f.ledger(t)) != 0 || c.CostEvaluationNanos != 0 ||
			!strings.Contains(c.Summary, "Rechnung") || c.Outcome != model.OutcomeResolved {
			t.Fatalf("run %+v, conversation %+v", got, c)
		}
	})
}
