package evaluation_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/evaluation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/reeval"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// requestText is the text of a recorded request's messages.
func requestText(r testkit.LLMRequest) string {
	var b strings.Builder
	msgs, _ := r.Body["messages"].([]any)
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		c, _ := mm["content"].(string)
		b.WriteString(c + "\n")
	}
	return b.String()
}

// A Test Chat answered by the draft is evaluated with the draft's evaluators and model (the
// rule replies follow, store.AnsweringAssistant); a widget conversation of the same assistant
// with the published version's.
func TestTestChatIsEvaluatedByItsVersion(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		l := testkit.NewFakeLLM(t)
		l.Answer = func(int, testkit.LLMRequest) testkit.LLMAnswer {
			return testkit.LLMAnswer{Content: strings.Replace(goodReply, `"polite"`, `"refund_offered": {"value": true, "reason": "\"refund\""}, "polite"`, 1)}
		}
		f := setup(t, st, customEvaluators) // v1, published: polite, accuracy, topic, next_step
		draftEvs := []model.Evaluator{{Name: "refund_offered", Question: "Did the assistant offer a refund?", Type: model.EvaluatorBoolean}}
		vs := &assistants.Versions{Store: st}
		if _, err := vs.Save(ctx, f.ws, f.a.ID, func(_ *store.Assistant, base model.Behaviour) (model.Behaviour, error) {
			base.Model, base.Evaluators = "gpt-4.1-mini", draftEvs
			return base, nil
		}, false, nil); err != nil {
			t.Fatal(err)
		}
		row, err := st.AssistantByID(ctx, f.ws, f.a.ID)
		if err != nil || row.DraftVersion != 2 || row.PublishedVersion != 1 {
			t.Fatalf("after the save: %+v %v", row, err)
		}
		draft, err := st.AssistantVersionByNumber(ctx, f.ws, f.a.ID, 2)
		if err != nil {
			t.Fatal(err)
		}
		svc := &evaluation.Service{Store: st, LLM: provider(t, l), Log: testkit.Logger(t)}

		// The widget conversation: the published evaluators.
		f.say(t, "Hi, I want a refund for order 42", "A:Done, the refund is on its way.", "thanks")
		run := f.end(t, svc)
		if _, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: run.ID}); err != nil {
			t.Fatal(err)
		}

		// A Test Chat on the draft.
		aid, v := f.a.ID, 2
		f.conv = &store.Conversation{WorkspaceID: f.ws, AssistantID: &aid, AssistantVersion: &v, Type: model.TypeTest, Customer: "tester", AIEnabled: true}
		if err := st.CreateConversation(ctx, f.conv); err != nil {
			t.Fatal(err)
		}
		f.say(t, "Hi, I want a refund for order 42", "A:Done, the refund is on its way.", "thanks")
		run2 := f.end(t, svc)
		if want := model.EvaluatorsVersion(draft.Evaluators); run2.EvaluatorsVersion != want || want == run.EvaluatorsVersion {
			t.Fatalf("evaluators version of the Test Chat's run = %d, want the draft's %d (the widget's: %d)", run2.EvaluatorsVersion, want, run.EvaluatorsVersion)
		}
		res, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: f.ws, RunID: run2.ID})
		if err != nil || res.Status != model.EvalDone {
			t.Fatalf("execute: %+v %v", res, err)
		}

		reqs := l.Requests()
		if len(reqs) != 2 {
			t.Fatalf("%d calls, want 2", len(reqs))
		}
		for i, c := range []struct {
			model        string
			asks, ignore string
		}{
			{"gpt-4o-mini", "Was the assistant polite?", "Did the assistant offer a refund?"},
			{"gpt-4.1-mini", "Did the assistant offer a refund?", "Was the assistant polite?"},
		} {
			text := requestText(reqs[i])
			if !strings.Contains(text, c.asks) || strings.Contains(text, c.ignore) {
				t.Errorf("call %d asks %q, want %q and not %q", i, text, c.asks, c.ignore)
			}
			if got := reqs[i].Body["model"]; got != c.model {
				t.Errorf("call %d model = %v, want %s", i, got, c.model)
			}
			if _, ok := reqs[i].Schema["refund_offered"]; ok != (i == 1) {
				t.Errorf("call %d schema has refund_offered: %v", i, ok)
			}
		}
		vals := valuesByName(t, st, f.ws, run2.ID)
		if v, ok := vals["refund_offered"]; !ok || v.Status != model.EvalDone {
			t.Errorf("the draft's evaluator's value: %+v (%v)", v, ok)
		}
		if _, ok := vals["polite"]; ok {
			t.Errorf("the Test Chat was judged by a published evaluator: %+v", vals)
		}

		// Its history types the draft's evaluator, and "Evaluate again" asks the draft's.
		hist, err := reeval.History(ctx, st, f.get(t), 1)
		if err != nil || len(hist) != 1 {
			t.Fatalf("history: %+v %v", hist, err)
		}
		typed := false
		for _, v := range hist[0].Values {
			typed = typed || (v.Name == "refund_offered" && v.Type == model.EvaluatorBoolean)
		}
		if !typed {
			t.Errorf("history values: %+v", hist[0].Values)
		}
		again, err := (&reeval.Service{Store: st}).Again(ctx, f.ws, f.conv.ID)
		if err != nil || again.EvaluatorsVersion != run2.EvaluatorsVersion {
			t.Fatalf("evaluate again: %+v %v, want evaluators version %d", again, err, run2.EvaluatorsVersion)
		}
	})
}
