package model

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// The vocabulary of improving an assistant with evidence (issue 15): versions of its
// behaviour, replays of real conversations, and test sets. Each value is spelled here once.

// VersionDraft names the draft where a version number is expected ("version": "draft").
const VersionDraft = "draft"

// Behaviour is what a version of an assistant fixes: every saved change to one of these
// fields makes a new version. Everything else of an assistant (its name, widget, pre-chat
// form, origins, WhatsApp number, identity, CSAT and publish gate settings) is not versioned.
type Behaviour struct {
	SystemPrompt string
	FirstMessage string
	Model        string
	Temperature  float64
	Variables    []Variable
	Evaluators   []Evaluator
}

// Behaviour is the versioned part of the settings.
func (s AssistantSettings) Behaviour() Behaviour {
	return Behaviour{SystemPrompt: s.SystemPrompt, FirstMessage: s.FirstMessage, Model: s.Model,
		Temperature: s.Temperature, Variables: s.Variables, Evaluators: s.Evaluators}
}

// SetBehaviour writes b into the settings.
func (s *AssistantSettings) SetBehaviour(b Behaviour) {
	s.SystemPrompt, s.FirstMessage, s.Model, s.Temperature = b.SystemPrompt, b.FirstMessage, b.Model, b.Temperature
	s.Variables, s.Evaluators = b.Variables, b.Evaluators
}

// VersionRef is a version as a request names it: a number, or the draft.
type VersionRef struct {
	Number int  // > 0 when a number is named
	Draft  bool // the draft
}

// String is the reference as the API spells it: "7" or "draft".
func (r VersionRef) String() string {
	if r.Draft {
		return VersionDraft
	}
	return strconv.Itoa(r.Number)
}

// ErrVersionRef is a version reference that is neither a positive number nor "draft".
var ErrVersionRef = errors.New(`must be a version number (1 or more) or "draft"`)

// ParseVersionRef reads "7", "v7" or "draft" (the form and query string spelling; the JSON
// API sends a number or the string "draft"). "" is the draft.
func ParseVersionRef(s string) (VersionRef, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == VersionDraft {
		return VersionRef{Draft: true}, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "v"))
	if err != nil || n < 1 {
		return VersionRef{}, ErrVersionRef
	}
	return VersionRef{Number: n}, nil
}

// Job statuses: of a replay, of a test set run and of each of its cases.
const (
	JobPending = "pending"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// JobStatuses lists the job statuses.
var JobStatuses = []string{JobPending, JobRunning, JobDone, JobFailed}

// JobFinished reports a status no worker changes again.
func JobFinished(status string) bool { return status == JobDone || status == JobFailed }

// DefaultRegressionTolerance is how much lower a rating evaluator's average may be before a
// run counts as worse than its baseline (`parley eval run --tolerance`).
const DefaultRegressionTolerance = 0.2

// TestCaseTurn is one customer turn of a test case, with the answer a reviewer expects
// there (a correction of the original answer; "" when none).
type TestCaseTurn struct {
	Customer string `json:"customer"`
	Expected string `json:"expected,omitempty"`
}

// Limits of issue 15.
const (
	MaxTestSetNameLen = 100
	MaxTestCases      = 1000 // cases in one set
	MaxCaseTurns      = 50   // customer turns replayed per conversation
)

// ValidJobStatus reports a job status.
func ValidJobStatus(s string) bool { return slices.Contains(JobStatuses, s) }
