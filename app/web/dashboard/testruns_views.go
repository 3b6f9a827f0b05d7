package dashboard

import (
	"sort"
	"strconv"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testruns"
	"github.com/parleyhq/parley/views/pages"
)

// The view models of test set runs, from app/testruns' reports.

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

func runRow(r *store.TestSetRun, published int) pages.RunRow {
	row := pages.RunRow{ID: r.ID, SetID: r.TestSetID, Version: r.Version, IsPublished: r.Version == published, Status: r.Status,
		Done: r.CasesDone, Total: r.CasesTotal, Passed: r.CasesPassed, PassRate: "-", Cost: model.Money(r.CostNanos).Dollars(),
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, Finished: model.JobFinished(r.Status), Error: r.Error}
	if r.CasesTotal > 0 && r.CasesDone > 0 {
		row.PassRate = pct(float64(r.CasesPassed) / float64(r.CasesTotal))
	}
	return row
}

func totalsView(t testruns.Totals, names []string) pages.TotalsView {
	v := pages.TotalsView{PassRate: pct(t.PassRate), Passed: t.Passed, Cases: t.Cases, Cost: model.Money(t.CostNanos).Dollars(),
		Latency: strconv.FormatFloat(t.AvgLatencyMS, 'f', 0, 64) + " ms"}
	for _, n := range names {
		v.Ratings = append(v.Ratings, pages.RatingView{Name: n, Value: avgOf(t.Ratings, n)})
	}
	return v
}

func avgOf(m map[string]float64, n string) string {
	v, ok := m[n]
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func caseView(c *testruns.CaseReport) *pages.CaseView {
	if c == nil {
		return nil
	}
	v := &pages.CaseView{CaseID: c.Key(), Status: c.Status, Passed: c.Passed, Error: c.Error, Cost: model.Money(c.CostNanos).Dollars()}
	for _, e := range c.Evaluations {
		val := "-"
		if e.Value != nil {
			val = *e.Value
		}
		if e.Status == model.EvalFailed {
			val = "failed"
		}
		v.Evals = append(v.Evals, pages.EvalChip{Name: e.Name, Value: val, Status: e.Status})
	}
	for _, t := range c.Turns {
		tv := pages.TurnView{Customer: t.Customer, Expected: t.Expected, Answered: t.Replayed != nil,
			Latency: strconv.FormatInt(t.LatencyMS, 10) + " ms", Cost: model.Money(t.CostNanos).Dollars()}
		if t.Replayed != nil {
			tv.Replayed = *t.Replayed
		}
		if j, ok := c.Judgement(t.Idx); ok {
			tv.Judged, tv.Same, tv.Reason, tv.JudgeError = true, j.Same, j.Reason, j.Error
		}
		v.Turns = append(v.Turns, tv)
	}
	return v
}

func ratingNames(ts ...testruns.Totals) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range ts {
		for n := range t.Ratings {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// runPageView is a run's page.
func runPageView(rep *testruns.Report, published int) pages.RunView {
	v := pages.RunView{RunRow: runRow(rep.Run, published), Totals: totalsView(rep.Totals, ratingNames(rep.Totals))}
	for i := range rep.Cases {
		v.Cases = append(v.Cases, *caseView(&rep.Cases[i]))
	}
	return v
}

// compareView is the comparison page.
func compareView(cmp *testruns.Comparison, published int) pages.CompareView {
	b, r := cmp.Baseline, cmp.Run
	v := pages.CompareView{SetID: r.Run.TestSetID, Base: runRow(b.Run, published), Run: runRow(r.Run, published),
		Finished: model.JobFinished(b.Run.Status) && model.JobFinished(r.Run.Status), Worse: cmp.Worse(), Regressions: cmp.Regressions,
		Tolerance: strconv.FormatFloat(cmp.Tolerance, 'f', -1, 64), PassRate: [2]string{pct(b.Totals.PassRate), pct(r.Totals.PassRate)},
		PassRateRegressed: cmp.PassRateRegressed(),
		Cost:              [2]string{model.Money(b.Totals.CostNanos).Dollars(), model.Money(r.Totals.CostNanos).Dollars()},
		Latency: [2]string{strconv.FormatFloat(b.Totals.AvgLatencyMS, 'f', 0, 64) + " ms",
			strconv.FormatFloat(r.Totals.AvgLatencyMS, 'f', 0, 64) + " ms"}}
	for _, n := range cmp.RatingNames {
		v.Ratings = append(v.Ratings, pages.RatingCmp{Name: n, Base: avgOf(b.Totals.Ratings, n), Now: avgOf(r.Totals.Ratings, n), Regressed: cmp.RatingRegressed(n)})
	}
	for _, cc := range cmp.Cases {
		v.Cases = append(v.Cases, pages.CaseCmp{CaseID: cc.CaseID, Base: caseView(cc.Baseline), Run: caseView(cc.Run), Regressed: cc.Regressed})
	}
	return v
}
