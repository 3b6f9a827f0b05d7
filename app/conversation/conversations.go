// Package conversation owns conversations' use cases and rules: its Service is the writer of
// conversations and messages that publishes each change's live event itself (add message, add
// reply with its usage row, start, delete, bulk delete, retention, AI on/off, end, window
// close; the WhatsApp channel's thread, customer name, window, delivery statuses and send
// outcomes; extraction runs), so no caller publishes after a write: publishing is private to
// the package. Beside it the types and their badges, the filter that URLs and API parameters
// describe, and the WhatsApp window state (whose rule is model.WindowAt). Money is formatted by
// model.Money.
//
// It may use app/store, app/events, app/usage and app/workspace; it never imports app/web,
// views, workers or the channel packages (app/whatsapp, app/chat, app/extract call it), and
// knows nothing of HTTP or templates.
package conversation

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// TypeInfo is how a type is shown.
type TypeInfo struct {
	Key, Label, Class string
}

// Types in display order: Test (orange), Web widget (purple), WhatsApp (green).
var Types = []TypeInfo{
	{model.TypeTest, "Test", "test"},
	{model.TypeWidget, "Web widget", "widget"},
	{model.TypeWhatsApp, "WhatsApp", "whatsapp"},
}

// TypeLabel is a type's label.
func TypeLabel(t string) string {
	for _, ti := range Types {
		if ti.Key == t {
			return ti.Label
		}
	}
	return t
}

// ValidType reports a known type.
func ValidType(t string) bool {
	for _, ti := range Types {
		if ti.Key == t {
			return true
		}
	}
	return false
}

// Window is a WhatsApp conversation's 24-hour customer-service window (see model.WindowAt).
type Window = model.Window

// WindowOf computes the window of a conversation at time now.
func WindowOf(c *store.Conversation, now time.Time) Window {
	return model.WindowAt(c.Type, c.WindowExpiresAt, c.WindowClosedAt, now)
}

// Remaining is "3h 12m" style time left.
func Remaining(d time.Duration) string {
	if d <= 0 {
		return "0m"
	}
	h := int(d.Hours())
	m := int(d.Minutes()) % 60
	if h > 0 {
		return fmt.Sprintf("%dh %dm", h, m)
	}
	if m == 0 {
		return "<1m"
	}
	return fmt.Sprintf("%dm", m)
}

// Query is the filter of the list as a URL describes it (the page's GET form and the API).
type Query struct {
	Type      string
	Assistant int64
	Customer  string
	Range     string // "", "7", "30", "90", "custom"
	From, To  string // YYYY-MM-DD (custom range) or RFC 3339 (API)
	Var       string
	Value     string
	Q         string
	Sort      string
	Closing   bool // WhatsApp windows closing within 2 hours
	Missing   bool // missing a required variable
	Cursor    string
	Limit     int

	// The judgement (issue 14).
	Outcome, Sentiment, Review, Tag string
	Assignee                        string             // a member id, "me" or "none"
	Evals                           []store.EvalFilter // eval.<name>=value, by name
	CSATMin, CSATMax                string
	EstimateMin, EstimateMax        string
	NeedsReview                     bool
}

// FieldError names the parameter that is wrong.
type FieldError struct {
	Param, Msg string
}

func (e *FieldError) Error() string { return e.Param + ": " + e.Msg }

// MaxQueryLength bounds free-text parameters.
const MaxQueryLength = 200

// ParseQuery reads and validates a filter from URL parameters. Dates: the custom range of the
// page (from/to as YYYY-MM-DD, to inclusive) or RFC 3339 instants (the API). It knows no
// member: assignee=me is refused (see ParseQueryFor).
func ParseQuery(v url.Values, now time.Time) (Query, store.Filter, error) {
	return ParseQueryFor(v, now, 0)
}

// ParseQueryFor is ParseQuery for the member me (a user id), whom assignee=me names.
func ParseQueryFor(v url.Values, now time.Time, me int64) (Query, store.Filter, error) {
	q := Query{
		Type:     strings.TrimSpace(v.Get("type")),
		Customer: strings.TrimSpace(v.Get("customer")),
		Range:    strings.TrimSpace(v.Get("range")),
		From:     strings.TrimSpace(v.Get("from")),
		To:       strings.TrimSpace(v.Get("to")),
		Var:      strings.TrimSpace(v.Get("var")),
		Value:    strings.TrimSpace(v.Get("value")),
		Q:        strings.TrimSpace(v.Get("q")),
		Sort:     strings.TrimSpace(v.Get("sort")),
		Cursor:   strings.TrimSpace(v.Get("cursor")),
		Closing:  v.Get("closing") == "1" || v.Get("closing") == "true",
		Missing:  v.Get("missing") == "1" || v.Get("missing") == "true",
	}
	var f store.Filter
	if err := parseJudgement(v, &q, &f, me); err != nil {
		return q, f, err
	}
	if q.Type != "" && !ValidType(q.Type) {
		return q, f, &FieldError{"type", "must be test, widget or whatsapp"}
	}
	f.Type = q.Type
	a := strings.TrimSpace(v.Get("assistant"))
	if a == "" {
		a = strings.TrimSpace(v.Get("assistant_id"))
	}
	if a != "" {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return q, f, &FieldError{paramName(v, "assistant"), "must be an assistant id"}
		}
		q.Assistant, f.AssistantID = id, id
	}
	for _, p := range []struct{ name, val string }{{"customer", q.Customer}, {"var", q.Var}, {"value", q.Value}, {"q", q.Q}} {
		if len(p.val) > MaxQueryLength {
			return q, f, &FieldError{p.name, fmt.Sprintf("must be at most %d characters", MaxQueryLength)}
		}
		if strings.ContainsRune(p.val, 0) {
			return q, f, &FieldError{p.name, "must not contain NUL characters"}
		}
	}
	f.Customer, f.Query = q.Customer, q.Q
	if q.Value != "" && q.Var == "" {
		return q, f, &FieldError{"var", "name the variable whose value you filter on"}
	}
	f.VarName, f.VarValue = q.Var, q.Value
	switch q.Range {
	case "":
	case "7", "30", "90":
		days, _ := strconv.Atoi(q.Range)
		from := now.AddDate(0, 0, -days)
		f.From = &from
	case "custom":
	default:
		return q, f, &FieldError{"range", "must be 7, 30, 90 or custom"}
	}
	if q.Range == "custom" || q.Range == "" {
		if q.From != "" {
			t, err := parseDate(q.From, false)
			if err != nil {
				return q, f, &FieldError{"from", err.Error()}
			}
			f.From = &t
		}
		if q.To != "" {
			t, err := parseDate(q.To, true)
			if err != nil {
				return q, f, &FieldError{"to", err.Error()}
			}
			f.To = &t
		}
		if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
			return q, f, &FieldError{"to", "must be after from"}
		}
	}
	switch q.Sort {
	case "", "last":
		q.Sort = ""
	case "cost":
		f.Sort = "cost"
	case "csat_estimate":
		f.Sort = "csat"
	default:
		return q, f, &FieldError{"sort", "must be last, cost or csat_estimate"}
	}
	f.MissingRequired = q.Missing
	if q.Closing {
		f.WindowClosingWithin = 2 * time.Hour
	}
	if q.Cursor != "" {
		k, err := store.DecodeCursor(q.Cursor)
		if err != nil || k.Sort != f.SortKey() {
			return q, f, &FieldError{"cursor", "is not a cursor of this list (start again without it)"}
		}
	}
	q.Limit = 50
	if l := strings.TrimSpace(v.Get("limit")); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return q, f, &FieldError{"limit", "must be an integer from 1 to 100"}
		}
		q.Limit = n
	}
	return q, f, nil
}

func paramName(v url.Values, base string) string {
	if v.Has(base + "_id") {
		return base + "_id"
	}
	return base
}

// parseDate reads YYYY-MM-DD (a whole day; as an upper bound, the end of that day) or RFC 3339,
// in years 1 to 9999 (year 0, or a time before year 1 in UTC, is no date PostgreSQL takes).
func parseDate(s string, upper bool) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err == nil {
		if upper {
			t = t.AddDate(0, 0, 1)
		}
	} else if t, err = time.Parse(time.RFC3339, s); err != nil {
		return time.Time{}, fmt.Errorf("must be a date (YYYY-MM-DD) or an RFC 3339 time")
	}
	t = t.UTC()
	if t.Year() < 1 || t.After(maxDate) {
		return time.Time{}, fmt.Errorf("must be a date from 0001-01-01 to 9999-12-31")
	}
	return t, nil
}

// maxDate is the end of the last day a filter may name.
var maxDate = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)

// Values encodes the query back into URL parameters (without the cursor), for links such as
// "Load more", the export and the pushed URL.
func (q Query) Values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("type", q.Type)
	if q.Assistant > 0 {
		v.Set("assistant", strconv.FormatInt(q.Assistant, 10))
	}
	set("customer", q.Customer)
	set("range", q.Range)
	if q.Range == "custom" || q.Range == "" {
		set("from", q.From)
		set("to", q.To)
	}
	set("var", q.Var)
	set("value", q.Value)
	set("q", q.Q)
	set("sort", q.Sort)
	if q.Missing {
		v.Set("missing", "1")
	}
	if q.Closing {
		v.Set("closing", "1")
	}
	set("outcome", q.Outcome)
	set("sentiment", q.Sentiment)
	set("review_status", q.Review)
	set("tag", q.Tag)
	set("assignee", q.Assignee)
	for _, e := range q.Evals {
		v.Set(EvalParamPrefix+e.Name, e.Value)
	}
	set("csat_min", q.CSATMin)
	set("csat_max", q.CSATMax)
	set("csat_estimate_min", q.EstimateMin)
	set("csat_estimate_max", q.EstimateMax)
	if q.NeedsReview {
		v.Set("needs_review", "1")
	}
	return v
}

// Active reports whether any filter is set (the empty state differs).
func (q Query) Active() bool {
	v := q.Values()
	v.Del("sort")
	return len(v) > 0
}
