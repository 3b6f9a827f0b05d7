package pages

import (
	"time"

	"github.com/a-h/templ"
)

// The test sets' pages (issue 15 item 3; testsets.templ).

// TestSetRow is a set in the list: its assistant, name, cases and latest run.
type TestSetRow struct {
	ID            int64
	Name          string
	AssistantID   int64
	AssistantName string
	Cases         int
	CreatedBy     string
	CreatedAt     time.Time
	// The latest run ("" Status before the first).
	RunStatus  string
	RunVersion int
	RunPassed  int
	RunTotal   int
	RunCost    string
}

// TestSetAssistant is an assistant one can make a set of.
type TestSetAssistant struct {
	ID   int64
	Name string
}

// TestSetsData is the Test sets page: the sets (of one assistant when AssistantID), the
// assistants to make a new one of, and the create form's values and error.
type TestSetsData struct {
	CSRF        string
	Sets        []TestSetRow
	Assistants  []TestSetAssistant
	AssistantID int64
	CanEdit     bool
	Name        string
	Error       string
}

// TestCaseTurnView is a customer turn of a case and the answer expected there ("": none).
type TestCaseTurnView struct {
	Customer string
	Expected string
}

// TestCaseView is a case on its set's page.
type TestCaseView struct {
	ID        int64
	Title     string
	ConvURL   string // "" once the conversation is deleted
	Turns     []TestCaseTurnView
	Expected  int // turns with an expected answer
	CreatedBy string
	CreatedAt time.Time
}

// TestSetData is a set's page.
type TestSetData struct {
	CSRF          string
	ID            int64
	Name          string
	AssistantID   int64
	AssistantName string
	Cases         []TestCaseView
	MaxCases      int
	CanEdit       bool
	Error         string
	// Runs is the runs' part of the page (app/testruns' component: the "Run against…" form
	// and the runs list); nil shows nothing.
	Runs templ.Component
}

// TestSetOption is a set one may add a conversation to.
type TestSetOption struct {
	ID   int64
	Name string
}

// TestSetAddView is the conversation page's "Add to test set" panel: the sets of the
// conversation's assistant, the outcome of the last addition (Message, SetURL) or its error.
type TestSetAddView struct {
	ConvID  int64
	CSRF    string
	Sets    []TestSetOption
	Message string
	SetURL  string
	Error   string
}

// BulkTestSetData is the page that adds every conversation matching the list's filter
// to a set: how many match, the sets to choose from (of the filter's assistant, when it
// names one), and after the addition its outcome.
type BulkTestSetData struct {
	CSRF        string
	QueryString string
	Selection   bool // the conversations chosen on the list, not a filter
	Count       int64
	AssistantID int64
	Sets        []TestSetRow
	Assistants  []TestSetAssistant
	Error       string
	Done        bool
	Added       int
	Refreshed   int
	Skipped     int
	SetURL      string
	SetName     string
}
