package conversation_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// Each judgement parameter becomes its filter; bad values are a FieldError naming the
// parameter; the canonical URL parses back to the same filter.
func TestParseJudgementQuery(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ok := []struct {
		q    string
		want store.Filter
	}{
		{"outcome=unresolved", store.Filter{Outcome: "unresolved"}},
		{"sentiment=negative", store.Filter{Sentiment: "negative"}},
		{"review_status=flagged", store.Filter{ReviewStatus: "flagged"}},
		{"needs_review=1", store.Filter{NeedsReview: true}},
		{"tag=+Billing+", store.Filter{TagKey: "billing"}},
		{"tag=Late++Delivery", store.Filter{TagKey: "late delivery"}}, // the review's key of that name
		{"assignee=12", store.Filter{AssigneeID: 12}},
		{"assignee=none", store.Filter{AssigneeNone: true}},
		{"assignee=me", store.Filter{AssigneeID: 42}},
		{"eval.polite=true&eval.accuracy=4&eval.empty=", store.Filter{Evals: []store.EvalFilter{{Name: "accuracy", Value: "4"}, {Name: "polite", Value: "true"}}}},
		{"eval.outcome=resolved", store.Filter{Evals: []store.EvalFilter{{Name: "outcome", Value: "resolved"}}}},
		{"eval.csat_estimate=2", store.Filter{Evals: []store.EvalFilter{{Name: "csat_estimate", Value: "2"}}}},
		{"csat_min=2&csat_max=4", store.Filter{CSATMin: 2, CSATMax: 4}},
		{"csat_estimate_min=1&csat_estimate_max=1", store.Filter{EstimateMin: 1, EstimateMax: 1}},
		{"sort=csat_estimate", store.Filter{Sort: "csat"}},
	}
	for _, tc := range ok {
		v, _ := url.ParseQuery(tc.q)
		q, f, err := conversation.ParseQueryFor(v, now, 42)
		if err != nil || !reflect.DeepEqual(f, tc.want) {
			t.Errorf("%s: %+v %v, want %+v", tc.q, f, err, tc.want)
			continue
		}
		_, f2, err := conversation.ParseQueryFor(q.Values(), now, 42)
		if err != nil || !reflect.DeepEqual(f2, f) {
			t.Errorf("%s: round trip through %q: %+v %v", tc.q, q.Values().Encode(), f2, err)
		}
	}
	bad := map[string]string{
		"outcome=fine": "outcome", "sentiment=angry": "sentiment", "review_status=done": "review_status",
		"assignee=me": "assignee", "assignee=x": "assignee", "assignee=-3": "assignee",
		"tag=" + url.QueryEscape(string(make([]rune, 51))): "tag",
		"csat_min=0": "csat_min", "csat_max=6": "csat_max", "csat_min=x": "csat_min", "csat_min=4&csat_max=2": "csat_max",
		"csat_estimate_min=9": "csat_estimate_min", "csat_estimate_min=3&csat_estimate_max=2": "csat_estimate_max",
		"eval.summary=x": "eval.summary", "eval.language=en": "eval.language", "eval.outcome=great": "eval.outcome",
		"eval.csat_estimate=7": "eval.csat_estimate", "eval.Bad-Name=1": "eval.Bad-Name", "sort=csat": "sort",
	}
	for q, param := range bad {
		v, _ := url.ParseQuery(q)
		_, _, err := conversation.ParseQuery(v, now) // no member: assignee=me is refused
		var fe *conversation.FieldError
		if !errors.As(err, &fe) || fe.Param != param {
			t.Errorf("%s: %v, want a FieldError naming %s", q, err, param)
		}
	}
	// Absolute names the member for a job that runs without one.
	q, _, _ := conversation.ParseQueryFor(url.Values{"assignee": {"me"}}, now, 42)
	if got := q.Absolute(42).Encode(); got != "assignee=42" || q.Values().Encode() != "assignee=me" {
		t.Fatalf("Absolute: %q", got)
	}
}

func TestCountLabel(t *testing.T) {
	for _, tc := range []struct {
		n     int64
		bound int
		want  string
	}{{0, 1000, "0"}, {999, 1000, "999"}, {1000, 1000, "1,000"}, {1001, 1000, "1,000+"}, {3, 2, "2+"}, {1234567, 2000000, "1,234,567"}} {
		if got := conversation.CountLabel(tc.n, tc.bound); got != tc.want {
			t.Errorf("CountLabel(%d, %d) = %q, want %q", tc.n, tc.bound, got, tc.want)
		}
	}
}

// The list refuses a value a custom evaluator's type cannot take (a text evaluator is not
// filterable), and accepts one that any assistant's evaluator of that name takes.
func TestListChecksCustomEvaluators(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := &conversation.Service{Store: s}
		w, _, err := s.CreateWorkspaceWithUser(ctx, "Shop", "owner@shop.test", "hash")
		if err != nil {
			t.Fatal(err)
		}
		evs := store.Evaluators{
			{Name: "polite", Type: model.EvaluatorBoolean, Version: 1},
			{Name: "notes", Type: model.EvaluatorText, Version: 1},
			{Name: "topic", Type: model.EvaluatorOption, Options: []string{"refund", "shipping"}, Version: 1},
		}
		if err := s.CreateAssistant(ctx, &store.Assistant{WorkspaceID: w.ID, Name: "A", Evaluators: evs}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAssistant(ctx, &store.Assistant{WorkspaceID: w.ID, Name: "B", Evaluators: store.Evaluators{{Name: "topic", Type: model.EvaluatorRating, Version: 1}}}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, value string
			bad         bool
		}{
			{"polite", "true", false}, {"polite", "yes", true}, {"notes", "x", true},
			{"topic", "refund", false}, {"topic", "4", false}, {"topic", "other", true}, {"gone", "anything", false},
		} {
			_, _, err := svc.List(ctx, w.ID, store.Filter{Evals: []store.EvalFilter{{Name: tc.name, Value: tc.value}}}, "", 10)
			var fe *conversation.FieldError
			if got := errors.As(err, &fe) && fe.Param == "eval."+tc.name; got != tc.bad || (!tc.bad && err != nil) {
				t.Errorf("eval.%s=%s: %v", tc.name, tc.value, err)
			}
		}
	})
}

// Saved views: the out-of-the-box ones exist for a new workspace with their counts; members
// save personal views, only admins shared ones; another member's view is not theirs to
// change; out-of-the-box views are renamed, never deleted.
func TestSavedViews(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := &conversation.Service{Store: s}
		w, u, err := s.CreateWorkspaceWithUser(ctx, "Shop", "owner@shop.test", "hash")
		if err != nil {
			t.Fatal(err)
		}
		other := &store.User{WorkspaceID: w.ID, Email: "two@shop.test", PasswordHash: "x", Role: model.UserRoleMember, CreatedAt: time.Now()}
		if _, err := s.DB.NewInsert().Model(other).Returning("id").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-time.Hour)
		for i, set := range []string{"sentiment = 'negative'", "outcome = 'unresolved'", "assignee_id = " + itoa(u.ID), "review_status = 'flagged'"} {
			c := &store.Conversation{WorkspaceID: w.ID, Type: model.TypeWidget, Customer: "v" + itoa(int64(i)), StartedAt: at}
			if err := s.CreateConversation(ctx, c); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DB.NewRaw("UPDATE conversations SET "+set+" WHERE id = ?", c.ID).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		views, err := svc.Views(ctx, w.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, v := range views {
			got[v.Name] = v.Label
		}
		want := map[string]string{"Needs review": "2", "Negative sentiment": "1", "Assigned to me": "1"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("views of a new workspace: %v, want %v", got, want)
		}
		if vs, _ := svc.Views(ctx, w.ID, other.ID); len(vs) != 3 || vs[2].Label != "0" {
			t.Fatalf("another member's Assigned to me: %+v", vs)
		}
		// The bound: beyond it, "<bound>+".
		old := conversation.ViewCountBound
		conversation.ViewCountBound = 1
		vs, _ := svc.Views(ctx, w.ID, u.ID)
		conversation.ViewCountBound = old
		if vs[0].Label != "1+" || vs[0].Count != 2 {
			t.Fatalf("bounded: %+v", vs[0])
		}

		if _, err := svc.SaveView(ctx, w.ID, u.ID, false, "Shared", "outcome=resolved", true); !errors.Is(err, conversation.ErrViewForbidden) {
			t.Fatalf("a member shares a view: %v", err)
		}
		for q, param := range map[string]string{"": "query", "sort=cost": "query", "outcome=bad": "outcome"} {
			var fe *conversation.FieldError
			if _, err := svc.SaveView(ctx, w.ID, u.ID, false, "X", q, false); !errors.As(err, &fe) || fe.Param != param {
				t.Errorf("save %q: %v, want a FieldError naming %s", q, err, param)
			}
		}
		var fe *conversation.FieldError
		if _, err := svc.SaveView(ctx, w.ID, u.ID, false, "  ", "outcome=resolved", false); !errors.As(err, &fe) || fe.Param != "name" {
			t.Fatalf("blank name: %v", err)
		}
		mine, err := svc.SaveView(ctx, w.ID, u.ID, false, "Mine", "cursor=&outcome=unresolved&assignee=me", false)
		if err != nil || mine.Query != "assignee=me&outcome=unresolved" {
			t.Fatalf("save: %+v %v", mine, err)
		}
		shared, err := svc.SaveView(ctx, w.ID, u.ID, true, "Team", "tag=vip", true)
		if err != nil || shared.UserID != nil {
			t.Fatalf("save shared: %+v %v", shared, err)
		}
		if vs, _ := svc.Views(ctx, w.ID, other.ID); len(vs) != 4 || vs[3].Name != "Team" {
			t.Fatalf("the other member sees %+v", vs)
		}
		if err := svc.RenameView(ctx, w.ID, other.ID, true, mine.ID, "Stolen"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rename another's view: %v", err)
		}
		if err := svc.DeleteView(ctx, w.ID, other.ID, false, shared.ID); !errors.Is(err, conversation.ErrViewForbidden) {
			t.Fatalf("a member deletes a shared view: %v", err)
		}
		if err := svc.DeleteView(ctx, w.ID, u.ID, true, views[0].ID); !errors.Is(err, conversation.ErrBuiltinView) {
			t.Fatalf("delete an out-of-the-box view: %v", err)
		}
		if err := svc.RenameView(ctx, w.ID, u.ID, true, views[0].ID, "To look at"); err != nil {
			t.Fatal(err)
		}
		if err := svc.RenameView(ctx, w.ID, u.ID, false, mine.ID, "Renamed"); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteView(ctx, w.ID, u.ID, false, mine.ID); err != nil {
			t.Fatal(err)
		}
		vs, _ = svc.Views(ctx, w.ID, u.ID)
		var names []string
		for _, v := range vs {
			names = append(names, v.Name)
		}
		if !slices.Equal(names, []string{"To look at", "Negative sentiment", "Assigned to me", "Team"}) {
			t.Fatalf("after the changes: %v", names)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
