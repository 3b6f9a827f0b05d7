package workers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/analytics"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/workers"
)

// The quality tasks run through the mux: an evaluated end lands in its day's rollups, a rerun
// and the reconciliation change nothing, and the schedule carries both tasks.
func TestQualityTasksKeepTheRollups(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w, _, err := s.CreateWorkspaceWithUser(ctx, "Quality", fmt.Sprintf("qw%d@example.com", time.Now().UnixNano()), "hash")
		if err != nil {
			t.Fatal(err)
		}
		a := &store.Assistant{WorkspaceID: w.ID, Name: "A"}
		if err := s.CreateAssistant(ctx, a); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		c := &store.Conversation{WorkspaceID: w.ID, AssistantID: &a.ID, Type: model.TypeWidget, Customer: "x", StartedAt: now.Add(-time.Hour), LastMessageAt: now.Add(-time.Hour)}
		if err := s.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		end, err := s.EndConversation(ctx, w.ID, c.ID, model.EndIdle, now.Add(-time.Minute))
		if err != nil || end == nil {
			t.Fatalf("end: %v %v", end, err)
		}
		r := &store.EvaluationRun{WorkspaceID: w.ID, ConversationID: c.ID, EndSeq: end.Seq, Status: model.EvalDone, CreatedAt: now, FinishedAt: &now}
		if _, err := s.DB.NewInsert().Model(r).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		v := model.OutcomeResolved
		if _, err := s.DB.NewInsert().Model(&store.EvaluationValue{WorkspaceID: w.ID, ConversationID: c.ID, RunID: r.ID, Name: model.EvalOutcome,
			Builtin: true, Value: &v, Status: model.EvalDone, Latest: true}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		mux := workers.NewMux(workers.Handlers{Quality: &workers.Quality{QualityTally: &analytics.QualityTally{Store: s, Log: testkit.Logger(t)}}, Log: testkit.Logger(t)})
		read := func() string {
			rows, err := s.QualityRollups(ctx, w.ID, "2000-01-01", "2100-01-01")
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(rows)
		}
		for i := range 2 {
			if err := mux.ProcessTask(ctx, tk.QualityTally()); err != nil {
				t.Fatal(err)
			}
			day := store.Day(end.EndedAt)
			want := fmt.Sprint([]store.QualityDaily{
				{WorkspaceID: w.ID, Day: day, AssistantID: a.ID, Metric: store.QualityEvaluated, N: 1},
				{WorkspaceID: w.ID, Day: day, AssistantID: a.ID, Metric: store.QualityOutcome, Item: model.OutcomeResolved, N: 1},
			})
			if got := read(); got != want {
				t.Fatalf("run %d: %s, want %s", i, got, want)
			}
		}
		before := read()
		if err := mux.ProcessTask(ctx, tk.QualityReconcile()); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != before {
			t.Fatalf("the reconciliation changed %s into %s", before, got)
		}
		types := map[string]bool{}
		for _, e := range (workers.Schedule{Tasks: tk}).Entries() {
			types[e.Task.Type()] = true
		}
		if !types[workers.TypeQualityTally] || !types[workers.TypeQualityReconcile] {
			t.Fatalf("schedule: %v", types)
		}
	})
}
