package evaluation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/evaluation"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// BenchmarkEvaluateOffline is evaluations per second with the offline provider: each
// iteration executes the run 0 of one ended conversation of 8 messages (read the run, the
// conversation, its assistant and its messages; the heuristics; the one transaction that
// stores the run, its values and the conversation's columns). The conversations are prepared
// before the timer starts. The database is SQLite, or PostgreSQL with DATABASE_URL.
//
//	go test -run '^$' -bench EvaluateOffline -benchtime 2000x ./app/evaluation/
func BenchmarkEvaluateOffline(b *testing.B) {
	ctx := context.Background()
	st := testkit.Store(b)
	w, _, err := st.CreateWorkspaceWithUser(ctx, "B", fmt.Sprintf("b%d@example.com", time.Now().UnixNano()), "hash")
	if err != nil {
		b.Fatal(err)
	}
	a := &store.Assistant{WorkspaceID: w.ID, Name: "Support", Model: "gpt-4o-mini", Evaluators: customEvaluators}
	if err := st.CreateAssistant(ctx, a); err != nil {
		b.Fatal(err)
	}
	convs := &conversation.Service{Store: st}
	svc := &evaluation.Service{Store: st, LLM: llm.NewOffline(llm.OfflineOptions{}), Conversations: convs}
	lines := []string{"Hi, my parcel has not arrived", "A:Sorry to hear that. What is your order number?", "It is 4711",
		"A:Thanks. It left our warehouse yesterday.", "When will it arrive?", "A:Tomorrow before noon.", "great, thanks a lot!", "A:You're welcome."}
	runs := make([]int64, b.N)
	for i := range runs {
		c := &store.Conversation{WorkspaceID: w.ID, AssistantID: &a.ID, Type: model.TypeWidget, Customer: fmt.Sprintf("v%d", i), AIEnabled: true}
		if err := st.CreateConversation(ctx, c); err != nil {
			b.Fatal(err)
		}
		for _, l := range lines {
			role := model.RoleUser
			if l[:2] == "A:" {
				role, l = model.RoleAssistant, l[2:]
			}
			if _, err := st.AddMessage(ctx, &store.Message{WorkspaceID: w.ID, ConversationID: c.ID, Role: role, Content: l}); err != nil {
				b.Fatal(err)
			}
		}
		end, err := convs.End(ctx, w.ID, c.ID, model.EndIdle, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		r, err := svc.Begin(ctx, end)
		if err != nil {
			b.Fatal(err)
		}
		runs[i] = r.ID
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		res, err := svc.Execute(ctx, evaluation.Run{WorkspaceID: w.ID, RunID: runs[i]})
		if err != nil || res.Status != model.EvalDone {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "evals/s")
}

// BenchmarkOfflineHeuristics is the heuristics alone (no database).
//
//	go test -run '^$' -bench OfflineHeuristics ./app/evaluation/
func BenchmarkOfflineHeuristics(b *testing.B) {
	evs := evaluation.Evaluators(&store.Assistant{Evaluators: customEvaluators})
	msgs := conv("Hi, my parcel has not arrived", "A:Sorry to hear that. What is your order number?", "It is 4711",
		"A:Thanks. It left our warehouse yesterday.", "When will it arrive?", "A:Tomorrow before noon.", "great, thanks a lot!", "A:You're welcome.")
	for i := 0; i < b.N; i++ {
		evaluation.Offline(msgs, evs, evaluation.Facts{})
	}
}
