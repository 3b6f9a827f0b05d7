package api_test

import (
	"context"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// judge writes a conversation's judgement as the evaluation and review write it: columns,
// a tag, and the latest value of an evaluator.
func judge(t *testing.T, f *apiConvFixture, c *store.Conversation, set string, tag string, evals map[string]string) {
	t.Helper()
	ctx := context.Background()
	db := f.e.App.Store.DB
	if set != "" {
		if _, err := db.NewRaw("UPDATE conversations SET "+set+" WHERE id = ?", c.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if tag != "" {
		tg := &store.Tag{WorkspaceID: c.WorkspaceID, Name: tag, NameKey: strings.ToLower(tag), CreatedAt: apiConvBase}
		if _, err := db.NewInsert().Model(tg).On("CONFLICT (workspace_id, name_key) DO UPDATE SET name = EXCLUDED.name").Returning("id").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NewInsert().Model(&store.ConversationTag{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, TagID: tg.ID, CreatedAt: apiConvBase}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(evals) > 0 {
		run := &store.EvaluationRun{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, EndSeq: 1, Status: model.EvalDone, CreatedAt: apiConvBase}
		if _, err := db.NewInsert().Model(run).Returning("id").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for name, v := range evals {
			v := v
			ev := &store.EvaluationValue{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, RunID: run.ID, Name: name, Value: &v, Status: model.EvalDone, Latest: true}
			if _, err := db.NewInsert().Model(ev).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// GET /api/v1/conversations takes the judgement's filters, each tested alone: outcome,
// sentiment, review_status, tag, assignee, eval.<name>, csat_min, csat_max (and the
// estimate's bounds, needs_review and sort=csat_estimate); bad values are a 400 naming the
// parameter, a text evaluator included.
func TestAPIConversationsJudgementFilters(t *testing.T) {
	f := newAPIConvFixture(t)
	ctx := context.Background()
	f.asst.Evaluators = store.Evaluators{
		{Name: "polite", Type: model.EvaluatorBoolean, Version: 1},
		{Name: "accuracy", Type: model.EvaluatorRating, Version: 1},
		{Name: "topic", Type: model.EvaluatorOption, Options: []string{"refund", "shipping"}, Version: 1},
		{Name: "notes", Type: model.EvaluatorText, Version: 1},
	}
	if _, err := f.e.App.Store.DB.NewUpdate().Model(f.asst).Column("evaluators").WherePK().Exec(ctx); err != nil {
		t.Fatal(err)
	}
	judge(t, f, f.c1, "outcome = 'resolved', sentiment = 'positive', csat_score = 5, csat_estimate = 5, assignee_id = 41", "VIP",
		map[string]string{"polite": "true", "accuracy": "5", "topic": "refund"})
	judge(t, f, f.c2, "outcome = 'unresolved', sentiment = 'negative', csat_score = 2, csat_estimate = 1", "vip",
		map[string]string{"polite": "false", "accuracy": "2", "topic": "shipping"})
	judge(t, f, f.c3, "outcome = 'unresolved', review_status = 'reviewed', csat_estimate = 3, assignee_id = 42", "", nil)
	judge(t, f, f.c4, "review_status = 'flagged', sentiment = 'negative'", "", nil)
	judge(t, f, f.cB, "outcome = 'unresolved', sentiment = 'negative', csat_score = 2", "VIP", map[string]string{"polite": "false"})

	ids := func(cs ...*store.Conversation) []int64 {
		var out []int64
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	sorted := func(v []int64) []int64 {
		sort.Slice(v, func(i, j int) bool { return v[i] > v[j] })
		return v
	}
	for _, tc := range []struct {
		query string
		want  []int64
		keep  bool // the order is the answer's (a sort)
	}{
		{"outcome=unresolved", ids(f.c2, f.c3), false},
		{"sentiment=negative", ids(f.c2, f.c4), false},
		{"review_status=flagged", ids(f.c4), false},
		{"review_status=unreviewed", ids(f.c1, f.c2, f.c5), false},
		{"needs_review=1", ids(f.c2, f.c4), false},
		{"tag=vip", ids(f.c1, f.c2), false},
		{"tag=VIP", ids(f.c1, f.c2), false},
		{"tag=unknown", nil, false},
		{"assignee=42", ids(f.c3), false},
		{"assignee=none", ids(f.c2, f.c4, f.c5), false},
		{"eval.polite=false", ids(f.c2), false},
		{"eval.accuracy=5", ids(f.c1), false},
		{"eval.topic=shipping", ids(f.c2), false},
		{"csat_min=3", ids(f.c1), false},
		{"csat_max=2", ids(f.c2), false},
		{"csat_min=2&csat_max=5", ids(f.c1, f.c2), false},
		{"csat_estimate_min=3", ids(f.c1, f.c3), false},
		{"csat_estimate_max=2", ids(f.c2), false},
		{"sort=csat_estimate", ids(f.c2, f.c3, f.c1, f.c5, f.c4), true},
	} {
		got := apiConvIDs(apiConvList(t, f.e, tc.query, f.keyA))
		want := tc.want
		if !tc.keep {
			got, want = sorted(got), sorted(append([]int64{}, want...))
		}
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("?%s: %v, want %v", tc.query, got, want)
		}
	}
	for _, tc := range []struct{ query, param string }{
		{"outcome=great", "outcome"}, {"sentiment=mad", "sentiment"}, {"review_status=done", "review_status"},
		{"assignee=me", "assignee"}, {"assignee=abc", "assignee"}, {"tag=" + strings.Repeat("t", 51), "tag"},
		{"eval.polite=yes", "eval.polite"}, {"eval.accuracy=9", "eval.accuracy"}, {"eval.topic=other", "eval.topic"},
		{"eval.notes=hello", "eval.notes"}, {"eval.summary=x", "eval.summary"},
		{"csat_min=0", "csat_min"}, {"csat_max=6", "csat_max"}, {"csat_min=4&csat_max=2", "csat_max"},
		{"sort=csat", "sort"},
	} {
		code, msg := apiConvErr(t, f.e, http.MethodGet, "/api/v1/conversations?"+tc.query, f.keyA, http.StatusBadRequest)
		if code != "invalid_parameter" || !strings.HasPrefix(msg, tc.param+": ") {
			t.Errorf("?%s: %q %q, want invalid_parameter naming %s", tc.query, code, msg, tc.param)
		}
	}
}
