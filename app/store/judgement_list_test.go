package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// judged is one conversation of the judgement fixture.
type judged struct {
	outcome, sentiment, review string
	estimate, csat             int // 0: none
	assignee                   int64
	tags                       []string
	evals                      map[string]string // latest values
	stale                      map[string]string // values of an earlier run (latest = false)
}

// seedJudged creates the conversations with their judgement written as the evaluation and
// review helpers write it (columns, tags, runs and values), and returns their ids in order.
func seedJudged(t *testing.T, s *store.Store, ws int64, rows []judged) []int64 {
	t.Helper()
	ctx := context.Background()
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	ids := make([]int64, len(rows))
	tagIDs := map[string]int64{}
	for i, r := range rows {
		c := wgConv(t, s, ws, nil, model.TypeWidget, fmt.Sprintf("v%d", i), base.Add(time.Duration(i)*time.Minute))
		ids[i] = c.ID
		q := s.DB.NewUpdate().Model((*store.Conversation)(nil)).Where("id = ?", c.ID).
			Set("outcome = ?", r.outcome).Set("sentiment = ?", r.sentiment)
		if r.review != "" {
			q = q.Set("review_status = ?", r.review)
		}
		if r.estimate > 0 {
			q = q.Set("csat_estimate = ?", r.estimate)
		}
		if r.csat > 0 {
			q = q.Set("csat_score = ?", r.csat)
		}
		if r.assignee > 0 {
			q = q.Set("assignee_id = ?", r.assignee)
		}
		if _, err := q.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for _, name := range r.tags {
			key := name
			if tagIDs[key] == 0 {
				tg := &store.Tag{WorkspaceID: ws, Name: name, NameKey: key, CreatedAt: base}
				if _, err := s.DB.NewInsert().Model(tg).Returning("id").Exec(ctx); err != nil {
					t.Fatal(err)
				}
				tagIDs[key] = tg.ID
			}
			if _, err := s.DB.NewInsert().Model(&store.ConversationTag{WorkspaceID: ws, ConversationID: c.ID, TagID: tagIDs[key], CreatedAt: base}).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for run, vals := range []map[string]string{r.stale, r.evals} {
			if vals == nil {
				continue
			}
			er := &store.EvaluationRun{WorkspaceID: ws, ConversationID: c.ID, EndSeq: 1, Run: run, Status: model.EvalDone, CreatedAt: base}
			if _, err := s.DB.NewInsert().Model(er).Returning("id").Exec(ctx); err != nil {
				t.Fatal(err)
			}
			for name, v := range vals {
				v := v
				ev := &store.EvaluationValue{WorkspaceID: ws, ConversationID: c.ID, RunID: er.ID, Name: name, Value: &v, Status: model.EvalDone, Latest: run == 1}
				if _, err := s.DB.NewInsert().Model(ev).Exec(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return ids
}

// Each filter of the judgement selects exactly the conversations it names, in one workspace.
func TestListJudgementFilters(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws, other := asWS(t, s, "Alpha"), asWS(t, s, "Beta")
		rows := []judged{
			0: {outcome: model.OutcomeResolved, sentiment: model.SentimentPositive, estimate: 5, csat: 5, assignee: 7, tags: []string{"billing"},
				evals: map[string]string{"polite": "true", "accuracy": "4", "topic": "refund"}},
			1: {outcome: model.OutcomeUnresolved, sentiment: model.SentimentNegative, estimate: 1, csat: 2, tags: []string{"billing", "bug"},
				evals: map[string]string{"polite": "false", "accuracy": "2", "topic": "shipping"}, stale: map[string]string{"topic": "refund"}},
			2: {outcome: model.OutcomeUnresolved, sentiment: model.SentimentNeutral, review: model.ReviewReviewed, estimate: 3, assignee: 8},
			3: {outcome: model.OutcomeHandedOff, sentiment: model.SentimentNegative, review: model.ReviewFlagged},
		}
		ids := seedJudged(t, s, ws, rows)
		seedJudged(t, s, other, rows) // another workspace's matches never show
		cases := []struct {
			name string
			f    store.Filter
			want []int
		}{
			{"outcome", store.Filter{Outcome: model.OutcomeUnresolved}, []int{2, 1}},
			{"sentiment", store.Filter{Sentiment: model.SentimentNegative}, []int{3, 1}},
			{"review", store.Filter{ReviewStatus: model.ReviewUnreviewed}, []int{1, 0}},
			{"needs review: flagged, or unresolved and unreviewed", store.Filter{NeedsReview: true}, []int{3, 1}},
			{"tag", store.Filter{TagKey: "billing"}, []int{1, 0}},
			{"tag bug", store.Filter{TagKey: "bug"}, []int{1}},
			{"assignee", store.Filter{AssigneeID: 8}, []int{2}},
			{"assignee none", store.Filter{AssigneeNone: true}, []int{3, 1}},
			{"eval boolean", store.Filter{Evals: []store.EvalFilter{{Name: "polite", Value: "false"}}}, []int{1}},
			{"eval rating", store.Filter{Evals: []store.EvalFilter{{Name: "accuracy", Value: "4"}}}, []int{0}},
			{"eval option reads the latest run only", store.Filter{Evals: []store.EvalFilter{{Name: "topic", Value: "refund"}}}, []int{0}},
			{"two evals", store.Filter{Evals: []store.EvalFilter{{Name: "polite", Value: "true"}, {Name: "topic", Value: "shipping"}}}, nil},
			{"csat range", store.Filter{CSATMin: 2, CSATMax: 4}, []int{1}},
			{"csat min", store.Filter{CSATMin: 3}, []int{0}},
			{"estimate range", store.Filter{EstimateMin: 2, EstimateMax: 5}, []int{2, 0}},
			{"estimate max", store.Filter{EstimateMax: 1}, []int{1}},
			{"sort by estimate: least satisfied first, unevaluated last", store.Filter{Sort: "csat"}, []int{1, 2, 0, 3}},
		}
		for _, tc := range cases {
			got, _, err := s.ListConversations(ctx, ws, tc.f, "", 10)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var gotIdx []int
			for _, c := range got {
				gotIdx = append(gotIdx, slices.Index(ids, c.ID))
			}
			if !slices.Equal(gotIdx, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, gotIdx, tc.want)
			}
			n, err := s.CountBounded(ctx, ws, tc.f, 1000)
			if err != nil || n != int64(len(tc.want)) {
				t.Errorf("%s: bounded count %d %v, want %d", tc.name, n, err, len(tc.want))
			}
		}
		// The estimate sort pages by keyset, one row at a time, in the same order.
		var walked []int
		cursor := ""
		for range 10 {
			page, next, err := s.ListConversations(ctx, ws, store.Filter{Sort: "csat"}, cursor, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				walked = append(walked, slices.Index(ids, c.ID))
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(walked, []int{1, 2, 0, 3}) {
			t.Fatalf("paged by estimate: %v", walked)
		}
	})
}

// A bounded count reads at most bound+1 rows: it says bound+1 for anything above the bound.
func TestCountBounded(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws := asWS(t, s, "Alpha")
		seedJudged(t, s, ws, make([]judged, 5))
		for bound, want := range map[int]int64{2: 3, 4: 5, 5: 5, 10: 5} {
			if n, err := s.CountBounded(ctx, ws, store.Filter{}, bound); err != nil || n != want {
				t.Errorf("bound %d: %d %v, want %d", bound, n, err, want)
			}
		}
	})
}

// The out-of-the-box views are created once per workspace whoever races; a member sees the
// shared views and their own, never another member's; renames and deletes stay in the
// workspace.
func TestSavedViewsStore(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws, other := asWS(t, s, "Alpha"), asWS(t, s, "Beta")
		builtins := []store.SavedView{{Builtin: "a", Name: "A", Query: "outcome=resolved", Position: -2}, {Builtin: "b", Name: "B", Query: "sentiment=negative", Position: -1}}
		for range 2 {
			if err := s.EnsureBuiltinViews(ctx, ws, builtins); err != nil {
				t.Fatal(err)
			}
		}
		var users []int64
		for _, email := range []string{"one@example.com", "two@example.com"} {
			u := &store.User{WorkspaceID: ws, Email: email, PasswordHash: "x", Role: model.UserRoleMember, CreatedAt: time.Now()}
			if _, err := s.DB.NewInsert().Model(u).Returning("id").Exec(ctx); err != nil {
				t.Fatal(err)
			}
			users = append(users, u.ID)
		}
		mine := &store.SavedView{WorkspaceID: ws, UserID: &users[0], Name: "Mine", Query: "tag=x"}
		if err := s.CreateSavedView(ctx, mine); err != nil || mine.ID == 0 || mine.Position != 1 {
			t.Fatalf("create: %+v %v", mine, err)
		}
		names := func(uid int64) []string {
			vs, err := s.SavedViews(ctx, ws, uid)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, v := range vs {
				out = append(out, v.Name)
			}
			return out
		}
		if got := names(users[0]); !slices.Equal(got, []string{"A", "B", "Mine"}) {
			t.Fatalf("member one sees %v", got)
		}
		if got := names(users[1]); !slices.Equal(got, []string{"A", "B"}) {
			t.Fatalf("member two sees %v", got)
		}
		if err := s.RenameSavedView(ctx, other, mine.ID, "Theirs"); err != store.ErrNotFound {
			t.Fatalf("rename from another workspace: %v", err)
		}
		if err := s.RenameSavedView(ctx, ws, mine.ID, "Renamed"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSavedView(ctx, other, mine.ID); err != store.ErrNotFound {
			t.Fatalf("delete from another workspace: %v", err)
		}
		if err := s.DeleteSavedView(ctx, ws, mine.ID); err != nil {
			t.Fatal(err)
		}
		if got := names(users[0]); !slices.Equal(got, []string{"A", "B"}) {
			t.Fatalf("after delete %v", got)
		}
	})
}
