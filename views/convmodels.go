package views

import (
	"strconv"
	"time"

	"github.com/parleyhq/parley/app/web/routenames"
)

// KV is a variable chip.
type KV struct{ Name, Value string }

// WindowView is a WhatsApp window as shown.
type WindowView struct {
	Applies   bool
	Known     bool
	Open      bool
	ExpiresAt time.Time
	Remaining string
}

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
	Window       WindowView
	Charged      bool
}

// Option is a select option.
type Option struct {
	Value, Label string
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
}

// BulkJobView is a running or finished bulk deletion.
type BulkJobView struct {
	ID      string
	State   string
	Deleted int64
	Total   int64
	Error   string
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

func itoaInt(n int) string { return strconv.Itoa(n) }

func convURL(id int64) string { return routenames.URL(routenames.Conversation, id) }

func rowID(id int64) string { return "conv-" + strconv.FormatInt(id, 10) }

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func selected(a, b string) bool { return a == b }

// MsgView is one message of the timeline.
type MsgView struct {
	ID               int64
	Role             string
	RoleLabel        string
	Content          string
	ContentType      string
	CreatedAt        time.Time
	Status           string
	StatusError      string
	PromptTokens     int
	CompletionTokens int
	CostExact        string
	ShowUsage        bool
	Error            string
}

// VarView is one variable with its provenance.
type VarView struct {
	Name, Value, Source, SourceLabel string
	MessageID                        int64
	UpdatedAt                        time.Time
}

// ConvDetail is the detail page.
type ConvDetail struct {
	ID               int64
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
	Window           WindowView
	WindowClosedAt   *time.Time
	LastError        string
	Messages         []MsgView
	OlderURL         string
	Vars             []VarView
	EventsURL        string
	CSRF             string
	// WA is the WhatsApp panel (AI switch, composer); nil for other conversation types.
	WA *WAPanel
}

func msgID(id int64) string { return "msg-" + strconv.FormatInt(id, 10) }
