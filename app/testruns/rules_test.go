package testruns

import (
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

func val(s string) *string { return &s }

func TestPassedRule(t *testing.T) {
	same := Judgement{Turn: 0, Same: true}
	diff := Judgement{Turn: 1, Same: false}
	broken := Judgement{Turn: 2, Error: "the judge's answer is not the expected JSON"}
	ok := store.ReplayEvaluation{Name: "csat_estimate", Type: model.EvaluatorRating, Value: val("4"), Status: model.EvalDone}
	failed := store.ReplayEvaluation{Name: "sentiment", Type: model.EvaluatorOption, Status: model.EvalFailed, Error: "x"}
	outcome := func(v string) store.ReplayEvaluation {
		return store.ReplayEvaluation{Name: model.EvalOutcome, Type: model.EvaluatorOption, Value: val(v), Status: model.EvalDone}
	}
	cases := []struct {
		name   string
		js     []Judgement
		evals  []store.ReplayEvaluation
		passed bool
		why    string
	}{
		{"nothing to judge", nil, nil, true, ""},
		{"all same, resolved", []Judgement{same}, []store.ReplayEvaluation{ok, outcome(model.OutcomeResolved)}, true, ""},
		{"handed off passes", nil, []store.ReplayEvaluation{outcome(model.OutcomeHandedOff)}, true, ""},
		{"one different", []Judgement{same, diff}, nil, false, "turn 2 does not say"},
		{"judge failed", []Judgement{broken}, nil, false, "the judge failed"},
		{"evaluator failed", []Judgement{same}, []store.ReplayEvaluation{failed}, false, "sentiment failed"},
		{"unresolved", nil, []store.ReplayEvaluation{outcome(model.OutcomeUnresolved)}, false, "outcome is unresolved"},
		{"abandoned", nil, []store.ReplayEvaluation{outcome(model.OutcomeAbandoned)}, false, "outcome is abandoned"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := Passed(c.js, c.evals)
			if got != c.passed {
				t.Fatalf("Passed = %v (%v), want %v", got, why, c.passed)
			}
			if c.why != "" && !strings.Contains(strings.Join(why, "; "), c.why) {
				t.Fatalf("why = %v, want it to mention %q", why, c.why)
			}
			if c.passed && len(why) != 0 {
				t.Fatalf("a passing case has reasons %v", why)
			}
		})
	}
}

func TestOfflineJudge(t *testing.T) {
	cases := []struct {
		expected, replayed string
		same               bool
	}{
		{"", "", true},
		{"Your order ships on Monday.", "your ORDER ships on monday!", true},
		{"Your order ships on Monday.", "Your order ships on Monday, with tracking.", true}, // 10/12
		{"Your order ships on Monday.", "Please call our support line.", false},
		{"Refunds take 5 days.", "", false},
	}
	for _, c := range cases {
		j := OfflineJudge(3, c.expected, c.replayed)
		if j.Same != c.same || j.Turn != 3 || j.Method != MethodOffline || j.Reason == "" {
			t.Errorf("OfflineJudge(%q, %q) = %+v, want same=%v", c.expected, c.replayed, j, c.same)
		}
	}
}

func TestComputeTotals(t *testing.T) {
	tot := ComputeTotals([]CaseFigures{
		{Done: true, Passed: true, CostNanos: 100, Turns: 2, LatencyMS: 30,
			Evaluations: []store.ReplayEvaluation{{Name: "csat_estimate", Type: model.EvaluatorRating, Value: val("4"), Status: model.EvalDone}}},
		{Done: true, Passed: false, CostNanos: 50, Turns: 1, LatencyMS: 30,
			Evaluations: []store.ReplayEvaluation{{Name: "csat_estimate", Type: model.EvaluatorRating, Value: val("2"), Status: model.EvalDone},
				{Name: "tone", Type: model.EvaluatorRating, Value: val("5"), Status: model.EvalFailed}}},
		{Done: false},
	})
	if tot.Cases != 3 || tot.Done != 2 || tot.Passed != 1 || tot.CostNanos != 150 || tot.Turns != 3 {
		t.Fatalf("totals %+v", tot)
	}
	if tot.PassRate != 1.0/3 || tot.AvgLatencyMS != 20 || tot.Ratings["csat_estimate"] != 3 {
		t.Fatalf("totals %+v", tot)
	}
	if _, ok := tot.Ratings["tone"]; ok {
		t.Fatalf("a failed rating counted: %+v", tot.Ratings)
	}
	if back := DecodeTotals(encodeTotals(tot)); back.PassRate != tot.PassRate || back.Ratings["csat_estimate"] != 3 {
		t.Fatalf("round trip %+v", back)
	}
}

// TestWorseRule is the regression rule: pass rate lower, or a rating average lower by more
// than the tolerance.
func TestWorseRule(t *testing.T) {
	base := Totals{PassRate: 0.5, Ratings: map[string]float64{"csat_estimate": 4, "tone": 3}}
	cases := []struct {
		name  string
		now   Totals
		tol   float64
		worse bool
		why   string
	}{
		{"equal", Totals{PassRate: 0.5, Ratings: map[string]float64{"csat_estimate": 4, "tone": 3}}, 0.2, false, ""},
		{"better", Totals{PassRate: 1, Ratings: map[string]float64{"csat_estimate": 5, "tone": 3}}, 0.2, false, ""},
		{"pass rate lower", Totals{PassRate: 0.49, Ratings: map[string]float64{"csat_estimate": 4, "tone": 3}}, 0.2, true, "pass rate"},
		{"rating within tolerance", Totals{PassRate: 0.5, Ratings: map[string]float64{"csat_estimate": 3.8, "tone": 3}}, 0.2, false, ""},
		{"rating beyond tolerance", Totals{PassRate: 0.5, Ratings: map[string]float64{"csat_estimate": 3.79, "tone": 3}}, 0.2, true, "csat_estimate"},
		{"zero tolerance", Totals{PassRate: 0.5, Ratings: map[string]float64{"csat_estimate": 3.99, "tone": 3}}, 0, true, "csat_estimate"},
		{"wide tolerance", Totals{PassRate: 0.5, Ratings: map[string]float64{"csat_estimate": 3, "tone": 3}}, 1, false, ""},
		{"rating no longer asked", Totals{PassRate: 0.5, Ratings: map[string]float64{"tone": 3}}, 0.2, false, ""},
		{"negative tolerance is 0", Totals{PassRate: 0.5, Ratings: map[string]float64{"csat_estimate": 3.9, "tone": 3}}, -1, true, "csat_estimate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			why := Worse(base, c.now, c.tol)
			if (len(why) > 0) != c.worse {
				t.Fatalf("Worse = %v, want worse=%v", why, c.worse)
			}
			if c.why != "" && !strings.Contains(strings.Join(why, "; "), c.why) {
				t.Fatalf("why = %v, want %q", why, c.why)
			}
		})
	}
}

func TestParseJudgement(t *testing.T) {
	if j := ParseJudgement(`{"same": true, "reason": "both say\nMonday"}`); !j.Same || j.Reason != "both say Monday" || j.Error != "" {
		t.Fatalf("%+v", j)
	}
	if j := ParseJudgement(`{"same": false, "reason": "differs"}`); j.Same || j.Error != "" {
		t.Fatalf("%+v", j)
	}
	for _, bad := range []string{"", "yes", `{"reason": "no verdict"}`} {
		if j := ParseJudgement(bad); j.Same || j.Error == "" {
			t.Fatalf("ParseJudgement(%q) = %+v", bad, j)
		}
	}
	req := JudgeRequest("m", "When?", "Monday", "Tuesday", JudgeRequestID(7, 9, 2))
	if req.RequestID != "testrun:7:case:9:judge:2" || req.JSONSchema == nil || !req.JSONSchema.Strict || !req.ToolFallback {
		t.Fatalf("request %+v", req)
	}
	body := req.Messages[len(req.Messages)-1].Content
	if !strings.Contains(body, "Monday") || !strings.Contains(body, "Tuesday") || !strings.Contains(body, "When?") {
		t.Fatalf("judge request lacks the texts: %q", body)
	}
}
