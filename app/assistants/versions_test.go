package assistants_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

func verAssistant(t *testing.T, st *store.Store) (*store.Workspace, *store.Assistant) {
	t.Helper()
	ctx := context.Background()
	ws, _, err := st.CreateWorkspaceWithUser(ctx, "W", "w@x.test", "h")
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "A", Model: "m1", SystemPrompt: "v1",
		Evaluators: []model.Evaluator{{Name: "tone", Question: "Polite?", Type: model.EvaluatorBoolean, Options: []string{}, Version: 1}}}
	if err := st.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	return ws, a
}

// setPrompt is an edit that changes only the system prompt.
func setPrompt(p string) assistants.Edit {
	return func(_ *store.Assistant, base model.Behaviour) (model.Behaviour, error) {
		base.SystemPrompt = p
		return base, nil
	}
}

// Eight saves at once make versions 2 to 9: no duplicate, no gap, and each immutable row
// holds the prompt of the save that made it.
func TestConcurrentSavesNumberWithoutGaps(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ws, a := verAssistant(t, st)
		vs := &assistants.Versions{Store: st}
		ctx := context.Background()
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := vs.Save(ctx, ws.ID, a.ID, setPrompt(fmt.Sprintf("prompt %d", i)), false, nil)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		rows, err := st.AssistantVersions(ctx, ws.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var nums []int
		prompts := map[string]bool{}
		for _, v := range rows {
			nums = append(nums, v.Number)
			prompts[v.SystemPrompt] = true
		}
		sort.Ints(nums)
		if fmt.Sprint(nums) != "[1 2 3 4 5 6 7 8 9]" {
			t.Fatalf("version numbers %v, want 1 to 9", nums)
		}
		for i := range n {
			if !prompts[fmt.Sprintf("prompt %d", i)] {
				t.Fatalf("no version holds prompt %d: %v", i, prompts)
			}
		}
		row, err := st.AssistantByID(ctx, ws.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if row.DraftVersion != 9 || row.PublishedVersion != 1 || row.SystemPrompt != "v1" {
			t.Fatalf("after the saves: draft %d, published %d, prompt %q", row.DraftVersion, row.PublishedVersion, row.SystemPrompt)
		}
	})
}

// A save makes a version only when the behaviour differs from the draft (or the published
// version); evaluators are versioned against the draft's; an unversioned setting is written
// to the row at once; publishing copies a version into the row.
func TestSaveDecidesVersions(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ws, a := verAssistant(t, st)
		vs := &assistants.Versions{Store: st}
		ctx := context.Background()
		question := func(q string) assistants.Edit {
			return func(_ *store.Assistant, base model.Behaviour) (model.Behaviour, error) {
				base.Evaluators = []model.Evaluator{{Name: "tone", Question: q, Type: model.EvaluatorBoolean}}
				return base, nil
			}
		}
		steps := []struct {
			name         string
			edit         assistants.Edit
			publish      bool
			wantVersion  int // the version made or published (0: none)
			wantDraft    int
			wantPub      int
			wantEvalVers int // the tone evaluator's version in the draft (or published when no draft)
		}{
			{"unchanged behaviour", setPrompt("v1"), false, 0, 0, 1, 1},
			{"renamed only", func(row *store.Assistant, base model.Behaviour) (model.Behaviour, error) {
				row.Name = "Renamed"
				return base, nil
			}, false, 0, 0, 1, 1},
			{"evaluator question", question("Was it polite?"), false, 2, 2, 1, 2},
			{"evaluator question again, on the draft", question("Was it kind?"), false, 3, 3, 1, 3},
			{"the draft's behaviour again", question("Was it kind?"), false, 0, 3, 1, 3},
			{"publish the draft by saving it unchanged", question("Was it kind?"), true, 3, 0, 3, 3},
			{"save and publish at once", setPrompt("v4"), true, 4, 0, 4, 3},
		}
		for _, s := range steps {
			saved, err := vs.Save(ctx, ws.ID, a.ID, s.edit, s.publish, nil)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			got := 0
			if saved.Version != nil {
				got = saved.Version.Number
			}
			row := saved.Assistant
			if got != s.wantVersion || row.DraftVersion != s.wantDraft || row.PublishedVersion != s.wantPub {
				t.Fatalf("%s: version %d draft %d published %d, want %d %d %d", s.name, got, row.DraftVersion, row.PublishedVersion, s.wantVersion, s.wantDraft, s.wantPub)
			}
			n := row.DraftVersion
			if n == 0 {
				n = row.PublishedVersion
			}
			v, err := st.AssistantVersionByNumber(ctx, ws.ID, a.ID, n)
			if err != nil {
				t.Fatal(err)
			}
			if ev := v.Evaluators; len(ev) != 1 || ev[0].Version != s.wantEvalVers {
				t.Fatalf("%s: evaluators %+v, want tone v%d", s.name, ev, s.wantEvalVers)
			}
		}
		row, _ := st.AssistantByID(ctx, ws.ID, a.ID)
		if row.Name != "Renamed" || row.SystemPrompt != "v4" || row.Evaluators[0].Question != "Was it kind?" {
			t.Fatalf("row after publishing v4: %q %q %+v", row.Name, row.SystemPrompt, row.Evaluators)
		}
		// Versions never change: v2 still holds its question.
		v2, _ := st.AssistantVersionByNumber(ctx, ws.ID, a.ID, 2)
		if v2.Evaluators[0].Question != "Was it polite?" {
			t.Fatalf("v2 changed: %+v", v2.Evaluators)
		}
		// An edit's error writes nothing.
		boom := errors.New("boom")
		_, err := vs.Save(ctx, ws.ID, a.ID, func(row *store.Assistant, base model.Behaviour) (model.Behaviour, error) {
			row.Name = "Never"
			return base, boom
		}, false, nil)
		if !errors.Is(err, boom) {
			t.Fatalf("edit error: %v", err)
		}
		if row, _ := st.AssistantByID(ctx, ws.ID, a.ID); row.Name != "Renamed" {
			t.Fatalf("a failed edit wrote the name %q", row.Name)
		}
	})
}

// Publish: a rollback to any version; the gate is asked only when the assistant's gate is
// on, a refusal publishes nothing, and without a gate function a gated assistant cannot be
// published.
func TestPublishAndGate(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ws, a := verAssistant(t, st)
		ctx := context.Background()
		vs := &assistants.Versions{Store: st}
		if _, err := vs.Save(ctx, ws.ID, a.ID, setPrompt("v2"), true, nil); err != nil {
			t.Fatal(err)
		}
		v, row, err := vs.Publish(ctx, ws.ID, a.ID, model.VersionRef{Number: 1})
		if err != nil || v.Number != 1 || row.SystemPrompt != "v1" || row.PublishedVersion != 1 {
			t.Fatalf("rollback: %v %+v", err, row)
		}
		if _, _, err := vs.Publish(ctx, ws.ID, a.ID, model.VersionRef{Number: 7}); !errors.Is(err, assistants.ErrNoVersion) {
			t.Fatalf("missing version: %v", err)
		}
		if _, _, err := vs.Publish(ctx, ws.ID, a.ID, model.VersionRef{Draft: true}); !errors.Is(err, store.ErrNoDraft) {
			t.Fatalf("no draft: %v", err)
		}
		// Gate on.
		if _, err := vs.Save(ctx, ws.ID, a.ID, func(row *store.Assistant, base model.Behaviour) (model.Behaviour, error) {
			row.PublishGate = true
			return base, nil
		}, false, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := vs.Publish(ctx, ws.ID, a.ID, model.VersionRef{Number: 2}); err == nil {
			t.Fatal("a gated assistant was published without a gate")
		} else if _, refused := assistants.IsRefusal(err); !refused {
			t.Fatalf("no gate: %v, want a refusal", err)
		}
		var asked []int
		vs.Gate = func(_ context.Context, a *store.Assistant, v *store.AssistantVersion) error {
			asked = append(asked, v.Number)
			if v.Number == 2 {
				return assistants.Refuse("v2 regressed")
			}
			return nil
		}
		if _, _, err := vs.Publish(ctx, ws.ID, a.ID, model.VersionRef{Number: 2}); err == nil {
			t.Fatal("v2 published through the gate")
		} else if reason, ok := assistants.IsRefusal(err); !ok || reason != "v2 regressed" {
			t.Fatalf("refusal: %v", err)
		}
		if row, _ := st.AssistantByID(ctx, ws.ID, a.ID); row.PublishedVersion != 1 {
			t.Fatalf("a refusal published v%d", row.PublishedVersion)
		}
		// A gate's failure (not a refusal) is returned as it is.
		vs.Gate = func(context.Context, *store.Assistant, *store.AssistantVersion) error { return errors.New("db down") }
		if _, _, err := vs.Publish(ctx, ws.ID, a.ID, model.VersionRef{Number: 1}); err == nil {
			t.Fatal("a failing gate published")
		} else if _, refused := assistants.IsRefusal(err); refused {
			t.Fatalf("a failure is not a refusal: %v", err)
		}
		if len(asked) != 1 {
			t.Fatalf("gate asked %v", asked)
		}
	})
}
