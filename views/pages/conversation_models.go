package pages

import (
	"strconv"
	"time"

	"github.com/parleyhq/parley/views/components"
)

// KV is a variable chip.
type KV struct{ Name, Value string }

// ConvRow is one row of the list.
type ConvRow struct {
	ID           int64
	Type         string
	TypeLabel    string
	Customer     string
	CustomerName string
	Preview      string
	PreviewRole  string
	Vars         []KV
	MessageCount int
	CostCents    string
	CostExact    string
	Tokens       int64
	Assistant    string
	StartedAt    time.Time
	LastAt       time.Time
	Window       components.WindowView
	Charged      bool
	// From is the list's query, carried by the row's link for keyboard review. issue 14: review
	From string
	// The latest evaluation ("" before one): outcome and sentiment keys with their labels,
	// and the summary line.
	Outcome, OutcomeLabel     string
	Sentiment, SentimentLabel string
	Summary                   string
}

// ConvFilters is the filter form's state.
type ConvFilters struct {
	Type, Assistant, Customer, Range, From, To, Var, Value, Q, Sort string
	Closing                                                         bool
	Missing                                                         bool // missing a required variable
	Assistants                                                      []Option
	VarNames                                                        []string
	Error                                                           string
	ErrorParam                                                      string
	// The judgement (issue 14).
	Outcome, Sentiment, Review, Tag, Assignee  string
	CSATMin, CSATMax, EstimateMin, EstimateMax string
	NeedsReview                                bool
	Evals                                      []EvalControl
}

// EvalControl is the filter control of one filterable custom evaluator: eval.<name> with the
// values its type takes.
type EvalControl struct {
	Name    string
	Options []string
	Value   string
}

// ViewItem is a saved view in the list page's management panel.
type ViewItem struct {
	ID       int64
	Name     string
	Count    string
	Shared   bool
	Editable bool
	Builtin  bool
}

// ConvList is the list page.
type ConvList struct {
	Rows        []ConvRow
	MoreURL     string // full-page link to the next page
	MoreHXURL   string // the same for htmx (rows only)
	Filters     ConvFilters
	Filtered    bool
	Total       int64 // in the workspace
	QueryString string
	EventsURL   string
	CSRF        string
	// Saved views: whether the member may share one, and the views to manage.
	CanShare bool
	Views    []ViewItem
}

// VarView is one variable with its provenance.
type VarView struct {
	Name, Value, Source, SourceLabel string
	MessageID                        int64
	UpdatedAt                        time.Time
}

// ConvDetail is the detail page.
type ConvDetail struct {
	ID int64
	// Version is the assistant version the conversation started with (0: not recorded).
	Version          int
	Type, TypeLabel  string
	Assistant        string
	Customer         string
	CustomerName     string
	MessageCount     int
	UserMessageCount int
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	CostCents        string
	CostExact        string
	Charged          bool
	StartedAt        time.Time
	LastAt           time.Time
	Window           components.WindowView
	WindowClosedAt   *time.Time
	LastError        string
	Messages         []components.MsgView
	OlderURL         string
	Vars             []VarView
	EventsURL        string
	CSRF             string
	// WA is the WhatsApp panel (AI switch, composer); nil for other conversation types.
	WA *WAPanel
	// End is whether it is open or ended (conversation_end.templ).
	End EndView
	// Evaluation is the evaluation panel (issue 14, evaluation.templ).
	Evaluation EvalPanel
	// Review is the review panel (review.templ). issue 14: review
	Review *ReviewView
	// CSAT is the customer's own score (nil before one).
	CSAT *CSATView
	// issue 15: Replays is the "Replay with…" card and the conversation's replays
	// (replay.templ); nil where it is not shown.
	Replays *ReplayPanel
	// TestSet is "Add to test set" (testsets.templ; nil for who may not). issue 15
	TestSet *TestSetAddView
}

func rowID(id int64) string { return "conv-" + strconv.FormatInt(id, 10) }
