package testruns

import (
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// The JSON documents of runs and comparisons, spelled once: the API answers them
// (GET /api/v1/test-set-runs/{id}, .../compare) and `parley eval run --json` prints them.

// RunTotalsJSON is a run's totals.
type RunTotalsJSON struct {
	Cases        int                `json:"cases"`
	Done         int                `json:"done"`
	Passed       int                `json:"passed"`
	PassRate     float64            `json:"pass_rate"`
	Ratings      map[string]float64 `json:"ratings"`
	CostUSD      string             `json:"cost_usd"`
	Turns        int                `json:"turns"`
	AvgLatencyMS float64            `json:"avg_latency_ms"`
}

func totalsJSON(t Totals) RunTotalsJSON {
	r := t.Ratings
	if r == nil {
		r = map[string]float64{}
	}
	return RunTotalsJSON{Cases: t.Cases, Done: t.Done, Passed: t.Passed, PassRate: t.PassRate, Ratings: r,
		CostUSD: model.Money(t.CostNanos).Exact(), Turns: t.Turns, AvgLatencyMS: t.AvgLatencyMS}
}

// RunJSON is a run as the API answers it (cases with their turns when withCases).
type RunJSON struct {
	ID          int64         `json:"id"`
	TestSetID   int64         `json:"test_set_id"`
	AssistantID int64         `json:"assistant_id"`
	Version     int           `json:"version"`
	Status      string        `json:"status"`
	Progress    ProgressJSON  `json:"progress"`
	CostUSD     string        `json:"cost_usd"`
	Totals      RunTotalsJSON `json:"totals"`
	Error       string        `json:"error,omitempty"`
	CreatedBy   string        `json:"created_by"`
	CreatedAt   time.Time     `json:"created_at"`
	StartedAt   *time.Time    `json:"started_at"`
	FinishedAt  *time.Time    `json:"finished_at"`
	Cases       []CaseJSON    `json:"cases,omitempty"`
}

// ProgressJSON is how far a run is.
type ProgressJSON struct {
	Done   int `json:"done"`
	Total  int `json:"total"`
	Passed int `json:"passed"`
}

// CaseJSON is one case of a run.
type CaseJSON struct {
	CaseID      *int64                   `json:"case_id"`
	ReplayID    *int64                   `json:"replay_id"`
	Status      string                   `json:"status"`
	Passed      *bool                    `json:"passed"`
	Error       string                   `json:"error,omitempty"`
	CostUSD     string                   `json:"cost_usd"`
	LatencyMS   int64                    `json:"latency_ms"`
	Evaluations []store.ReplayEvaluation `json:"evaluations"`
	Turns       []TurnJSON               `json:"turns"`
}

// TurnJSON is one turn of a case: the customer, the expected answer, the replayed one and
// its judgement (null where nothing was expected or it is not judged yet).
type TurnJSON struct {
	Customer  string     `json:"customer"`
	Expected  string     `json:"expected"`
	Replayed  *string    `json:"replayed"`
	Judgement *Judgement `json:"judgement"`
	CostUSD   string     `json:"cost_usd"`
	LatencyMS int64      `json:"latency_ms"`
	Tokens    int        `json:"tokens"`
}

// Doc is a run's document: the API's answer and the CLI's --json.
func Doc(rep *Report, withCases bool) RunJSON {
	r := rep.Run
	out := RunJSON{ID: r.ID, TestSetID: r.TestSetID, AssistantID: r.AssistantID, Version: r.Version, Status: r.Status,
		Progress: ProgressJSON{Done: r.CasesDone, Total: r.CasesTotal, Passed: r.CasesPassed},
		CostUSD:  model.Money(r.CostNanos).Exact(), Totals: totalsJSON(rep.Totals), Error: r.Error,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	if !withCases {
		return out
	}
	out.Cases = []CaseJSON{}
	for _, c := range rep.Cases {
		cj := CaseJSON{CaseID: c.CaseID, ReplayID: c.ReplayID, Status: c.Status, Passed: c.Passed, Error: c.Error,
			CostUSD: model.Money(c.CostNanos).Exact(), LatencyMS: c.LatencyMS, Evaluations: c.Evaluations, Turns: []TurnJSON{}}
		if cj.Evaluations == nil {
			cj.Evaluations = []store.ReplayEvaluation{}
		}
		for _, t := range c.Turns {
			tj := TurnJSON{Customer: t.Customer, Expected: t.Expected, Replayed: t.Replayed,
				CostUSD: model.Money(t.CostNanos).Exact(), LatencyMS: t.LatencyMS, Tokens: t.PromptTokens + t.CompletionTokens}
			if j, ok := c.Judgement(t.Idx); ok {
				tj.Judgement = &j
			}
			cj.Turns = append(cj.Turns, tj)
		}
		out.Cases = append(out.Cases, cj)
	}
	return out
}

// ComparisonJSON is a run against its baseline.
type ComparisonJSON struct {
	Baseline    RunJSON              `json:"baseline"`
	Run         RunJSON              `json:"run"`
	Tolerance   float64              `json:"tolerance"`
	Worse       bool                 `json:"worse"`
	Regressions []string             `json:"regressions"`
	Cases       []CaseComparisonJSON `json:"cases"`
}

// CaseComparisonJSON is one case on both sides (passed null where a side lacks it).
type CaseComparisonJSON struct {
	CaseID         int64 `json:"case_id"`
	BaselinePassed *bool `json:"baseline_passed"`
	Passed         *bool `json:"passed"`
	Regressed      bool  `json:"regressed"`
}

// CompareDoc is a comparison's document (the API's answer, the CLI's --json).
func CompareDoc(cmp *Comparison) ComparisonJSON {
	out := ComparisonJSON{Baseline: Doc(cmp.Baseline, false), Run: Doc(cmp.Run, false), Tolerance: cmp.Tolerance,
		Worse: cmp.Worse(), Regressions: cmp.Regressions, Cases: []CaseComparisonJSON{}}
	if out.Regressions == nil {
		out.Regressions = []string{}
	}
	for _, cc := range cmp.Cases {
		cj := CaseComparisonJSON{CaseID: cc.CaseID, Regressed: cc.Regressed}
		if cc.Baseline != nil {
			cj.BaselinePassed = cc.Baseline.Passed
		}
		if cc.Run != nil {
			cj.Passed = cc.Run.Passed
		}
		out.Cases = append(out.Cases, cj)
	}
	return out
}
