package pages

import "time"

// View models of test set runs (issue 15): built by the dashboard (app/web/dashboard/
// testruns_views.go) from app/testruns' reports.

// TestRunsView is a set's "Run against…" form and its runs.
type TestRunsView struct {
	SetID          int64
	SetName        string
	AssistantName  string
	CSRF           string
	Error          string
	CanStart       bool
	Published      int   // the published version's number
	Draft          int   // the draft's number (0: none)
	Versions       []int // newest first
	Runs           []RunRow
	BaselineRunID  int64 // the published version's latest finished run (0: none), for "compare"
	BaselineExists bool
}

// RunRow is one run in a list, or a run's head.
type RunRow struct {
	ID          int64
	SetID       int64
	Version     int
	IsPublished bool // the version is the published one now
	Status      string
	Done, Total int
	Passed      int
	PassRate    string // "50.0%" ("-" before any case finished)
	Cost        string
	CreatedBy   string
	CreatedAt   time.Time
	Finished    bool
	Error       string
}

// RunView is a run's page.
type RunView struct {
	RunRow
	SetName string
	Totals  TotalsView
	Cases   []CaseView
}

// TotalsView is a run's totals.
type TotalsView struct {
	PassRate string
	Passed   int
	Cases    int
	Ratings  []RatingView
	Cost     string
	Latency  string // per replayed turn
}

// RatingView is a rating evaluator's average.
type RatingView struct {
	Name, Value string
}

// CaseView is one case of a run.
type CaseView struct {
	CaseID int64
	Status string
	Passed *bool
	Error  string
	Cost   string
	Evals  []EvalChip
	Turns  []TurnView
}

// EvalChip is one evaluator's value on the replayed answers.
type EvalChip struct {
	Name, Value, Status string
}

// TurnView is one turn of a case.
type TurnView struct {
	Customer, Expected, Replayed string
	Answered                     bool
	Judged, Same                 bool
	Reason, JudgeError           string
	Latency, Cost                string
}

// CompareView is a run against a baseline run.
type CompareView struct {
	SetID             int64
	SetName           string
	Base, Run         RunRow
	Finished          bool // both are finished
	Worse             bool
	Regressions       []string
	Tolerance         string
	PassRate          [2]string // baseline, now
	PassRateRegressed bool
	Ratings           []RatingCmp
	Cost              [2]string
	Latency           [2]string
	Cases             []CaseCmp
}

// RatingCmp is a rating evaluator's average on both sides.
type RatingCmp struct {
	Name, Base, Now string
	Regressed       bool
}

// CaseCmp is one case on both sides (nil where a side lacks it).
type CaseCmp struct {
	CaseID    int64
	Base, Run *CaseView
	Regressed bool
}

// PassWord is how a case's result reads.
func (c *CaseView) PassWord() string {
	switch {
	case c == nil:
		return "—"
	case c.Passed == nil:
		return c.Status
	case *c.Passed:
		return "pass"
	}
	return "fail"
}

// PassClass is the CSS class of a case's result.
func (c *CaseView) PassClass() string {
	switch {
	case c == nil || c.Passed == nil:
		return "badge"
	case *c.Passed:
		return "badge outcome-resolved"
	}
	return "badge outcome-unresolved"
}
