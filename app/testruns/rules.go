package testruns

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// The rules of grading and comparing runs, each spelled once: the page, the API, the CLI and
// the publish gate call these.

// Judgement methods.
const (
	MethodLLM     = "llm"     // the language model judged (a structured-output call)
	MethodOffline = "offline" // the deterministic word-overlap rule (the offline provider)
)

// Judgement is the grader's view of one turn that has an expected answer: whether the
// replayed answer says the same thing as the expected one, and why.
type Judgement struct {
	Turn   int    `json:"turn"` // the turn's index in the case
	Same   bool   `json:"same"`
	Reason string `json:"reason"`
	Method string `json:"method"`
	Error  string `json:"error,omitempty"` // the judge could not answer: the turn counts as not the same
}

// DecodeJudgements reads the test_run_cases.judgements column (an empty or broken one is no
// judgement).
func DecodeJudgements(raw string) []Judgement {
	var out []Judgement
	if strings.TrimSpace(raw) == "" || json.Unmarshal([]byte(raw), &out) != nil {
		return []Judgement{}
	}
	return out
}

func encodeJudgements(js []Judgement) string {
	if js == nil {
		js = []Judgement{}
	}
	b, _ := json.Marshal(js)
	return string(b)
}

// OfflineSameThreshold is the offline judge's rule: the replayed answer says the same thing as
// the expected one when the Dice coefficient of their normalised word sets (lower-cased runs
// of letters and digits) is at least this; two empty answers are the same.
const OfflineSameThreshold = 0.6

// WordOverlap is the Dice coefficient 2|A∩B|/(|A|+|B|) of the normalised word sets of a and b.
func WordOverlap(a, b string) float64 {
	wa, wb := words(a), words(b)
	if len(wa) == 0 && len(wb) == 0 {
		return 1
	}
	common := 0
	for w := range wa {
		if wb[w] {
			common++
		}
	}
	return 2 * float64(common) / float64(len(wa)+len(wb))
}

func words(s string) map[string]bool {
	out := map[string]bool{}
	for _, f := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		out[f] = true
	}
	return out
}

// OfflineJudge judges one turn by the word-overlap rule.
func OfflineJudge(turn int, expected, replayed string) Judgement {
	o := WordOverlap(expected, replayed)
	j := Judgement{Turn: turn, Same: o >= OfflineSameThreshold, Method: MethodOffline}
	verdict := "below"
	if j.Same {
		verdict = "at or above"
	}
	j.Reason = "word overlap " + strconv.FormatFloat(o, 'f', 2, 64) + " is " + verdict + " the threshold " +
		strconv.FormatFloat(OfflineSameThreshold, 'f', 2, 64)
	return j
}

// FailingOutcomes are the values of the built-in outcome evaluator that fail a case.
var FailingOutcomes = []string{model.OutcomeUnresolved, model.OutcomeAbandoned}

// Passed is THE rule of a case: it passes when every judgement says the same and no
// evaluator of the replayed side failed or gave the outcome "unresolved" or "abandoned".
// The reasons it did not pass are returned too (none when it passed).
func Passed(js []Judgement, evals []store.ReplayEvaluation) (bool, []string) {
	var why []string
	for _, j := range js {
		if !j.Same {
			r := "turn " + strconv.Itoa(j.Turn+1) + " does not say what was expected"
			if j.Error != "" {
				r += " (the judge failed: " + j.Error + ")"
			}
			why = append(why, r)
		}
	}
	for _, e := range evals {
		if e.Status == model.EvalFailed {
			why = append(why, "the evaluator "+e.Name+" failed")
			continue
		}
		if e.Name == model.EvalOutcome && e.Value != nil {
			for _, f := range FailingOutcomes {
				if *e.Value == f {
					why = append(why, "the outcome is "+f)
				}
			}
		}
	}
	return len(why) == 0, why
}

// Totals sum up a run: the pass rate, the average of each rating evaluator over the cases
// that have a value, the cost and the average latency of a replayed turn.
type Totals struct {
	Cases        int                `json:"cases"`
	Done         int                `json:"done"`
	Passed       int                `json:"passed"`
	PassRate     float64            `json:"pass_rate"` // passed / cases, 0..1
	Ratings      map[string]float64 `json:"ratings"`   // evaluator name -> average value
	CostNanos    int64              `json:"cost_nanos"`
	Turns        int                `json:"turns"`
	AvgLatencyMS float64            `json:"avg_latency_ms"` // per replayed turn
}

// CaseFigures are one finished case's figures for the totals.
type CaseFigures struct {
	Passed      bool
	Done        bool
	Evaluations []store.ReplayEvaluation
	CostNanos   int64
	Turns       int   // replayed turns
	LatencyMS   int64 // summed over the turns
}

// ComputeTotals sums up cases.
func ComputeTotals(cases []CaseFigures) Totals {
	t := Totals{Cases: len(cases), Ratings: map[string]float64{}}
	sums, counts := map[string]float64{}, map[string]int{}
	var latency int64
	for _, c := range cases {
		if c.Done {
			t.Done++
		}
		if c.Passed {
			t.Passed++
		}
		t.CostNanos += c.CostNanos
		t.Turns += c.Turns
		latency += c.LatencyMS
		for _, e := range c.Evaluations {
			if e.Type != model.EvaluatorRating || e.Status == model.EvalFailed || e.Value == nil {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(*e.Value), 64)
			if err != nil {
				continue
			}
			sums[e.Name] += v
			counts[e.Name]++
		}
	}
	if t.Cases > 0 {
		t.PassRate = float64(t.Passed) / float64(t.Cases)
	}
	for n, s := range sums {
		t.Ratings[n] = s / float64(counts[n])
	}
	if t.Turns > 0 {
		t.AvgLatencyMS = float64(latency) / float64(t.Turns)
	}
	return t
}

// DecodeTotals reads the test_set_runs.totals column.
func DecodeTotals(raw string) Totals {
	var t Totals
	_ = json.Unmarshal([]byte(raw), &t)
	if t.Ratings == nil {
		t.Ratings = map[string]float64{}
	}
	return t
}

func encodeTotals(t Totals) string {
	b, _ := json.Marshal(t)
	return string(b)
}

// epsilon absorbs float noise in the comparisons (a pass rate of 2/3 against 2/3).
const epsilon = 1e-9

// Worse is THE regression rule (the page, the API, the CLI and the publish gate call it): a
// run is worse than its baseline when its pass rate is lower, or when the average of any
// rating evaluator the baseline has is lower by more than tolerance. It returns why, one line
// per regression, sorted; none means not worse. A negative tolerance counts as 0.
func Worse(baseline, now Totals, tolerance float64) []string {
	tolerance = math.Max(tolerance, 0)
	var why []string
	if now.PassRate < baseline.PassRate-epsilon {
		why = append(why, "pass rate "+pct(now.PassRate)+" is lower than the baseline's "+pct(baseline.PassRate))
	}
	names := make([]string, 0, len(baseline.Ratings))
	for n := range baseline.Ratings {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b := baseline.Ratings[n]
		v, ok := now.Ratings[n]
		if !ok {
			continue // the evaluator is not asked any more: nothing to compare
		}
		if v < b-tolerance-epsilon {
			why = append(why, "average "+n+" "+num(v)+" is lower than the baseline's "+num(b)+" by more than "+num(tolerance))
		}
	}
	return why
}

// RatingRegressed reports a rating average lower than the baseline's by more than tolerance
// (the part of Worse a page highlights per evaluator).
func RatingRegressed(baseline, now, tolerance float64) bool {
	return now < baseline-math.Max(tolerance, 0)-epsilon
}

// CaseRegressed is a case that passed in the baseline and fails now.
func CaseRegressed(baselinePassed, nowPassed bool) bool { return baselinePassed && !nowPassed }

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

func num(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

func sortStrings(s []string) { sort.Strings(s) }

func joinSemi(s []string) string { return strings.Join(s, "; ") }
