package model

import (
	"hash/fnv"
	"sort"
	"strconv"
)

// The vocabulary of judging conversations (issue 14): how a conversation ended, what its
// evaluation says, where its review stands and what the customer said of it. Each list is
// the one place its values are spelled; validation, filters and views read it from here.

// End reasons: why a conversation ended (conversations.end_reason, conversation_ends.reason).
const (
	EndIdle    = "idle"    // no message for the type's idle time (widget, WhatsApp, Test Chat)
	EndVisitor = "visitor" // the widget's visitor pressed "End chat"
	EndWindow  = "window"  // the WhatsApp customer service window closed
	EndClosed  = "closed"  // a Test Chat session was closed in the dashboard
	EndAPI     = "api"     // POST /api/v1/conversations/{id}/end
	EndAgent   = "agent"   // a member of the team ended it in the dashboard
)

// EndReasons lists the end reasons.
var EndReasons = []string{EndIdle, EndVisitor, EndWindow, EndClosed, EndAPI, EndAgent}

// Outcomes of a conversation (the built-in evaluator "outcome").
const (
	OutcomeResolved   = "resolved"
	OutcomeUnresolved = "unresolved"
	OutcomeHandedOff  = "handed_off"
	OutcomeAbandoned  = "abandoned"
)

// Outcomes lists the outcomes in display order.
var Outcomes = []string{OutcomeResolved, OutcomeUnresolved, OutcomeHandedOff, OutcomeAbandoned}

// Sentiments of the customer (the built-in evaluator "sentiment").
const (
	SentimentPositive = "positive"
	SentimentNeutral  = "neutral"
	SentimentNegative = "negative"
)

// Sentiments lists the sentiments in display order.
var Sentiments = []string{SentimentPositive, SentimentNeutral, SentimentNegative}

// Review statuses of a conversation.
const (
	ReviewUnreviewed = "unreviewed"
	ReviewReviewed   = "reviewed"
	ReviewFlagged    = "flagged"
)

// ReviewStatuses lists the review statuses.
var ReviewStatuses = []string{ReviewUnreviewed, ReviewReviewed, ReviewFlagged}

// Evaluation statuses (of a run, of each value, and the conversation's evaluation_status,
// which is "" before its first end).
const (
	EvalPending = "pending"
	EvalDone    = "done"
	EvalFailed  = "failed"
)

// Evaluator types.
const (
	EvaluatorBoolean = "boolean"
	EvaluatorRating  = "rating" // an integer 1 to 5
	EvaluatorOption  = "option" // one of Options
	EvaluatorText    = "text"   // not filterable
)

// EvaluatorTypes lists the evaluator types.
var EvaluatorTypes = []string{EvaluatorBoolean, EvaluatorRating, EvaluatorOption, EvaluatorText}

// The built-in evaluators every assistant has, by name.
const (
	EvalSummary      = "summary"       // text: two or three sentences
	EvalOutcome      = "outcome"       // option: Outcomes
	EvalSentiment    = "sentiment"     // option: Sentiments
	EvalCSATEstimate = "csat_estimate" // rating 1 to 5
	EvalLanguage     = "language"      // text: a BCP 47 tag
)

// Evaluator is one question asked of every ended conversation of an assistant. Custom
// evaluators are stored on the assistant (assistants.evaluators); Version counts the changes
// of one evaluator (a change applies to later evaluations only).
type Evaluator struct {
	Name     string   `json:"name"`
	Question string   `json:"question"`
	Type     string   `json:"type"`
	Options  []string `json:"options"`
	Version  int      `json:"version"`
	// Builtin is set on the five built-in evaluators (never stored).
	Builtin bool `json:"-"`
}

// BuiltinEvaluators are the evaluators every assistant has, before its custom ones.
func BuiltinEvaluators() []Evaluator {
	return []Evaluator{
		{Name: EvalSummary, Type: EvaluatorText, Version: 1, Builtin: true,
			Question: "Summarise the conversation in two or three sentences: what the customer wanted and what happened."},
		{Name: EvalOutcome, Type: EvaluatorOption, Options: Outcomes, Version: 1, Builtin: true,
			Question: "How did the conversation end? resolved: the customer got what they came for; unresolved: they did not; handed_off: a person of the team took over or was asked for; abandoned: the customer stopped answering."},
		{Name: EvalSentiment, Type: EvaluatorOption, Options: Sentiments, Version: 1, Builtin: true,
			Question: "What was the customer's sentiment by the end of the conversation?"},
		{Name: EvalCSATEstimate, Type: EvaluatorRating, Version: 1, Builtin: true,
			Question: "How satisfied would the customer say they were, from 1 (very dissatisfied) to 5 (very satisfied)?"},
		{Name: EvalLanguage, Type: EvaluatorText, Version: 1, Builtin: true,
			Question: "Which language did the customer write in? Answer with a BCP 47 tag such as en, de or pt-BR."},
	}
}

// IsBuiltinEvaluator reports whether name is one of the built-in evaluators.
func IsBuiltinEvaluator(name string) bool {
	for _, e := range BuiltinEvaluators() {
		if e.Name == name {
			return true
		}
	}
	return false
}

// Feedback ratings of one assistant message (the widget's thumbs).
const (
	FeedbackUp   = "up"
	FeedbackDown = "down"
)

// CSAT bounds (the customer's score, and the estimate).
const (
	CSATMin = 1
	CSATMax = 5
)

// EvaluatorsVersion is the version of an assistant's set of custom evaluators: it changes when
// an evaluator is added, removed or changed (its Version), and is the same for the same set.
// An evaluation run records it (evaluation_runs.evaluators_version), so a run is unique per
// conversation, end and evaluator set.
func EvaluatorsVersion(custom []Evaluator) int {
	h := fnv.New32a()
	names := make([]string, 0, len(custom))
	for _, e := range custom {
		names = append(names, e.Name+"\x00"+strconv.Itoa(e.Version))
	}
	sort.Strings(names)
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0xff})
	}
	return int(h.Sum32() & 0x7fffffff)
}
