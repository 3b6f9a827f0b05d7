package conversation

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// EvalParamPrefix starts the parameter of an evaluator's value: eval.<name>=<value>.
const EvalParamPrefix = "eval."

// MaxEvalFilters bounds the evaluator filters of one query.
const MaxEvalFilters = 10

// MaxTagLength is the longest tag name.
const MaxTagLength = 50

// TagKey is the key a tag name is stored and matched on (tags.name_key): its words joined by
// one space, lower-cased. The review workflow stores tags under it and the list's tag= filter
// looks them up by it: one rule, so "Late  Delivery" finds "late delivery".
func TagKey(name string) string { return strings.ToLower(strings.Join(strings.Fields(name), " ")) }

// parseJudgement reads the filters of the judgement (issue 14): outcome, sentiment,
// review_status, needs_review, tag, assignee (a member id, "none", or "me" for the member me
// when me > 0), eval.<name>, csat_min/csat_max (the customer's score) and
// csat_estimate_min/csat_estimate_max (the estimate).
func parseJudgement(v url.Values, q *Query, f *store.Filter, me int64) error {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	q.Outcome, q.Sentiment, q.Review, q.Tag, q.Assignee = get("outcome"), get("sentiment"), get("review_status"), get("tag"), get("assignee")
	q.NeedsReview = v.Get("needs_review") == "1" || v.Get("needs_review") == "true"
	f.NeedsReview = q.NeedsReview
	oneOf := func(param, val string, list []string) error {
		if val != "" && !slices.Contains(list, val) {
			return &FieldError{param, "must be one of " + strings.Join(list, ", ")}
		}
		return nil
	}
	if err := oneOf("outcome", q.Outcome, model.Outcomes); err != nil {
		return err
	}
	if err := oneOf("sentiment", q.Sentiment, model.Sentiments); err != nil {
		return err
	}
	if err := oneOf("review_status", q.Review, model.ReviewStatuses); err != nil {
		return err
	}
	f.Outcome, f.Sentiment, f.ReviewStatus = q.Outcome, q.Sentiment, q.Review
	if len(q.Tag) > MaxTagLength || strings.ContainsRune(q.Tag, 0) {
		return &FieldError{"tag", fmt.Sprintf("must be a tag name of at most %d characters", MaxTagLength)}
	}
	f.TagKey = TagKey(q.Tag)
	switch q.Assignee {
	case "":
	case "none":
		f.AssigneeNone = true
	case "me":
		if me <= 0 {
			return &FieldError{"assignee", "must be a member id or none (me names the signed-in member of the dashboard)"}
		}
		f.AssigneeID = me
	default:
		id, err := strconv.ParseInt(q.Assignee, 10, 64)
		if err != nil || id <= 0 {
			return &FieldError{"assignee", "must be a member id, me or none"}
		}
		f.AssigneeID = id
	}
	bounds := []struct {
		param string
		dst   *string
		out   *int
	}{
		{"csat_min", &q.CSATMin, &f.CSATMin}, {"csat_max", &q.CSATMax, &f.CSATMax},
		{"csat_estimate_min", &q.EstimateMin, &f.EstimateMin}, {"csat_estimate_max", &q.EstimateMax, &f.EstimateMax},
	}
	for _, b := range bounds {
		*b.dst = get(b.param)
		if *b.dst == "" {
			continue
		}
		n, err := strconv.Atoi(*b.dst)
		if err != nil || n < model.CSATMin || n > model.CSATMax {
			return &FieldError{b.param, fmt.Sprintf("must be an integer from %d to %d", model.CSATMin, model.CSATMax)}
		}
		*b.dst, *b.out = strconv.Itoa(n), n
	}
	if f.CSATMin > 0 && f.CSATMax > 0 && f.CSATMin > f.CSATMax {
		return &FieldError{"csat_max", "must not be below csat_min"}
	}
	if f.EstimateMin > 0 && f.EstimateMax > 0 && f.EstimateMin > f.EstimateMax {
		return &FieldError{"csat_estimate_max", "must not be below csat_estimate_min"}
	}
	var names []string
	for k := range v {
		if strings.HasPrefix(k, EvalParamPrefix) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if len(names) > MaxEvalFilters {
		return &FieldError{names[MaxEvalFilters], fmt.Sprintf("at most %d evaluator filters", MaxEvalFilters)}
	}
	for _, param := range names {
		name, val := strings.TrimPrefix(param, EvalParamPrefix), strings.TrimSpace(v.Get(param))
		if val == "" {
			continue // an empty control of the form: no filter
		}
		if err := checkEvalFilter(name, val); err != nil {
			return &FieldError{param, err.Error()}
		}
		e := store.EvalFilter{Name: name, Value: val}
		q.Evals = append(q.Evals, e)
		f.Evals = append(f.Evals, e)
	}
	return nil
}

// checkEvalFilter checks what the URL alone can tell of eval.<name>=val: a name an evaluator
// may have, and a value of its type for the built-in ones (text evaluators are not
// filterable). A custom evaluator's type is its assistant's: CheckEvalFilters checks it.
func checkEvalFilter(name, val string) error {
	if !validEvaluatorName(name) {
		return fmt.Errorf("names no evaluator (a name is 1 to 50 lower-case letters, digits or _)")
	}
	if len(val) > MaxQueryLength || strings.ContainsRune(val, 0) {
		return fmt.Errorf("must be at most %d characters", MaxQueryLength)
	}
	for _, e := range model.BuiltinEvaluators() {
		if e.Name == name {
			return EvalValueError(e, val)
		}
	}
	return nil
}

// EvalValueError says why val is not a value the filter of evaluator e can take (nil when it
// is): true or false for boolean, an integer 1 to 5 for rating, one of the options for option;
// text is not filterable.
func EvalValueError(e model.Evaluator, val string) error {
	switch e.Type {
	case model.EvaluatorBoolean:
		if val != "true" && val != "false" {
			return fmt.Errorf("must be true or false")
		}
	case model.EvaluatorRating:
		n, err := strconv.Atoi(val)
		if err != nil || n < model.CSATMin || n > model.CSATMax || strconv.Itoa(n) != val {
			return fmt.Errorf("must be an integer from %d to %d", model.CSATMin, model.CSATMax)
		}
	case model.EvaluatorOption:
		if len(e.Options) > 0 && !slices.Contains(e.Options, val) {
			return fmt.Errorf("must be one of %s", strings.Join(e.Options, ", "))
		}
	default:
		return fmt.Errorf("is a text evaluator, which is not filterable")
	}
	return nil
}

func validEvaluatorName(name string) bool {
	if name == "" || len(name) > 50 {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// List returns a page of the workspace's conversations for a parsed filter (see
// store.ListConversations), after checking what the URL alone could not: the value given to
// a custom evaluator must suit its type (a FieldError naming eval.<name> otherwise; a text
// evaluator is not filterable). A name that no assistant's evaluator has now is not an error:
// its old values still match.
func (s *Service) List(ctx context.Context, workspaceID int64, f store.Filter, cursor string, limit int) ([]store.Conversation, string, error) {
	if err := s.CheckEvalFilters(ctx, workspaceID, f); err != nil {
		return nil, "", err
	}
	return s.Store.ListConversations(ctx, workspaceID, f, cursor, limit)
}

// CheckEvalFilters checks the filter's values of custom evaluators against the types the
// workspace's assistants give them: a value is refused when every evaluator of that name
// refuses it.
func (s *Service) CheckEvalFilters(ctx context.Context, workspaceID int64, f store.Filter) error {
	var custom []store.EvalFilter
	for _, e := range f.Evals {
		if !model.IsBuiltinEvaluator(e.Name) {
			custom = append(custom, e)
		}
	}
	if len(custom) == 0 {
		return nil
	}
	evs, err := s.Store.WorkspaceEvaluators(ctx, workspaceID)
	if err != nil {
		return err
	}
	for _, e := range custom {
		var firstErr error
		accepted := false
		for _, ev := range evs {
			if ev.Name != e.Name {
				continue
			}
			if err := EvalValueError(ev, e.Value); err == nil {
				accepted = true
				break
			} else if firstErr == nil {
				firstErr = err
			}
		}
		if !accepted && firstErr != nil {
			return &FieldError{EvalParamPrefix + e.Name, firstErr.Error()}
		}
	}
	return nil
}

// Absolute is Values with assignee=me replaced by the member's id, for a job that runs later
// without a member (bulk deletion): it names the same conversations.
func (q Query) Absolute(me int64) url.Values {
	v := q.Values()
	if q.Assignee == "me" && me > 0 {
		v.Set("assignee", strconv.FormatInt(me, 10))
	}
	return v
}

// FilterableEvaluators returns the custom evaluators a filter control offers, once per name
// (the first assistant's definition), with the values each takes as Options: true/false,
// 1 to 5, or its options. Text evaluators are not filterable.
func FilterableEvaluators(evs []model.Evaluator) []model.Evaluator {
	var out []model.Evaluator
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.Name] || model.IsBuiltinEvaluator(e.Name) {
			continue
		}
		switch e.Type {
		case model.EvaluatorBoolean:
			e.Options = []string{"true", "false"}
		case model.EvaluatorRating:
			e.Options = []string{"1", "2", "3", "4", "5"}
		case model.EvaluatorOption:
		default:
			continue
		}
		seen[e.Name] = true
		out = append(out, e)
	}
	return out
}

// EvaluatorNames returns the names of the custom evaluators, once each, in order of first
// appearance (the export's eval.<name> columns).
func EvaluatorNames(evs []model.Evaluator) []string {
	var out []string
	for _, e := range evs {
		if !model.IsBuiltinEvaluator(e.Name) && !slices.Contains(out, e.Name) {
			out = append(out, e.Name)
		}
	}
	return out
}
