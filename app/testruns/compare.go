package testruns

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Report is a run as the page, the API and the CLI show it: the run, its totals (computed
// from its cases while it runs, the stored ones once done) and its cases with their turns.
type Report struct {
	Run    *store.TestSetRun
	Totals Totals
	Cases  []CaseReport
}

// CaseReport is one case of a run.
type CaseReport struct {
	store.TestRunCase
	Judgements []Judgement
	Turns      []store.ReplayTurn
	Replay     *store.Replay // nil when it is gone
}

// Key is the case id (0 when the case was deleted): what matches cases across runs.
func (c CaseReport) Key() int64 { return caseID(&c.TestRunCase) }

// IsPassed reports a finished case that passed.
func (c CaseReport) IsPassed() bool { return c.Passed != nil && *c.Passed }

// Judgement is the judgement of turn idx, if any.
func (c CaseReport) Judgement(idx int) (Judgement, bool) {
	for _, j := range c.Judgements {
		if j.Turn == idx {
			return j, true
		}
	}
	return Judgement{}, false
}

// Load reads a run of the workspace with its cases (ErrNotFound).
func (s *Service) Load(ctx context.Context, workspaceID, runID int64) (*Report, error) {
	run, err := s.Store.TestSetRunByID(ctx, workspaceID, runID)
	if err != nil {
		return nil, err
	}
	cases, err := s.Store.TestRunCases(ctx, workspaceID, runID)
	if err != nil {
		return nil, err
	}
	replays, err := s.Store.ReplaysOfTestRun(ctx, workspaceID, runID)
	if err != nil {
		return nil, err
	}
	turns, err := s.Store.ReplayTurnsOfTestRun(ctx, workspaceID, runID)
	if err != nil {
		return nil, err
	}
	rep := &Report{Run: run}
	for _, c := range cases {
		cr := CaseReport{TestRunCase: c, Judgements: DecodeJudgements(c.Judgements)}
		if c.ReplayID != nil {
			cr.Replay = replays[*c.ReplayID]
			cr.Turns = turns[*c.ReplayID]
		}
		rep.Cases = append(rep.Cases, cr)
	}
	if run.Status == model.JobDone {
		rep.Totals = DecodeTotals(run.Totals)
	} else {
		rep.Totals = ComputeTotals(figures(cases, replays))
	}
	return rep, nil
}

// Comparison is a run against a baseline run of the same set: case by case (matched by case
// id) and in totals, with the regressions.
type Comparison struct {
	Baseline, Run *Report
	Tolerance     float64
	Cases         []CaseComparison
	// Regressions is Worse(baseline, run): empty when the run is not worse.
	Regressions []string
	// RatingNames lists the rating evaluators of either side, sorted.
	RatingNames []string
}

// Worse reports the run worse than its baseline (THE rule: Worse).
func (c *Comparison) Worse() bool { return len(c.Regressions) > 0 }

// RatingRegressed reports the rating evaluator name's average regressed.
func (c *Comparison) RatingRegressed(name string) bool {
	b, ok1 := c.Baseline.Totals.Ratings[name]
	n, ok2 := c.Run.Totals.Ratings[name]
	return ok1 && ok2 && RatingRegressed(b, n, c.Tolerance)
}

// PassRateRegressed reports the pass rate lower than the baseline's.
func (c *Comparison) PassRateRegressed() bool {
	return c.Run.Totals.PassRate < c.Baseline.Totals.PassRate-epsilon
}

// CaseComparison is one case on both sides (nil where a side has no such case).
type CaseComparison struct {
	CaseID        int64
	Baseline, Run *CaseReport
	// Regressed: it passed in the baseline and fails now.
	Regressed bool
}

// ErrDifferentSets: two runs of different test sets cannot be compared.
var ErrDifferentSets = errors.New("the runs are of different test sets")

// Compare loads a run and its baseline (both of the workspace, of the same set) and compares
// them with the tolerance (model.DefaultRegressionTolerance when negative).
func (s *Service) Compare(ctx context.Context, workspaceID, baselineID, runID int64, tolerance float64) (*Comparison, error) {
	base, err := s.Load(ctx, workspaceID, baselineID)
	if err != nil {
		return nil, err
	}
	run, err := s.Load(ctx, workspaceID, runID)
	if err != nil {
		return nil, err
	}
	if base.Run.TestSetID != run.Run.TestSetID {
		return nil, ErrDifferentSets
	}
	return CompareReports(base, run, tolerance), nil
}

// DefaultBaseline is the run a run is compared with when none is named: the latest finished
// run of the assistant's published version on the same set, or the run itself when there is
// none (nothing to compare with: not worse).
func (s *Service) DefaultBaseline(ctx context.Context, run *store.TestSetRun) (int64, error) {
	a, err := s.Store.AssistantByID(ctx, run.WorkspaceID, run.AssistantID)
	if err != nil {
		return 0, err
	}
	b, err := s.Store.LatestFinishedTestSetRun(ctx, run.WorkspaceID, run.TestSetID, a.PublishedVersion)
	if errors.Is(err, store.ErrNotFound) {
		return run.ID, nil
	}
	if err != nil {
		return 0, err
	}
	return b.ID, nil
}

// CompareReports compares two loaded runs.
func CompareReports(base, run *Report, tolerance float64) *Comparison {
	if tolerance < 0 {
		tolerance = model.DefaultRegressionTolerance
	}
	c := &Comparison{Baseline: base, Run: run, Tolerance: tolerance, Regressions: Worse(base.Totals, run.Totals, tolerance)}
	index := map[int64]int{}
	for i := range run.Cases {
		cr := &run.Cases[i]
		index[cr.Key()] = len(c.Cases)
		c.Cases = append(c.Cases, CaseComparison{CaseID: cr.Key(), Run: cr})
	}
	for i := range base.Cases {
		br := &base.Cases[i]
		if k, ok := index[br.Key()]; ok && br.Key() != 0 {
			c.Cases[k].Baseline = br
			c.Cases[k].Regressed = CaseRegressed(br.IsPassed(), c.Cases[k].Run.IsPassed())
			continue
		}
		c.Cases = append(c.Cases, CaseComparison{CaseID: br.Key(), Baseline: br})
	}
	seen := map[string]bool{}
	for _, t := range []Totals{base.Totals, run.Totals} {
		for n := range t.Ratings {
			if !seen[n] {
				seen[n] = true
				c.RatingNames = append(c.RatingNames, n)
			}
		}
	}
	sortStrings(c.RatingNames)
	return c
}

// Gate is the publish gate (issue 15 item 4): when the assistant's gate is on, publishing
// version v requires a finished run of v on one of the assistant's test sets that is not worse
// (Worse, the default tolerance) than the latest finished run of the published version on the
// same set. It returns nil when publishing may go on, or an error that says what to run.
// Publishing the published version again, or a gate that is off, passes.
func (s *Service) Gate(ctx context.Context, a *store.Assistant, v *store.AssistantVersion) error {
	if !a.PublishGate || v.Number == a.PublishedVersion {
		return nil
	}
	runs, err := s.Store.FinishedTestSetRunsOfVersion(ctx, a.WorkspaceID, a.ID, v.Number)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return assistants.Refuse("the publish gate is on: run a test set of this assistant against v%d and against the published v%d first", v.Number, a.PublishedVersion)
	}
	var why []string
	seenSet := map[int64]bool{}
	for _, r := range runs { // newest first: the latest run of v on each set decides for that set
		if seenSet[r.TestSetID] {
			continue
		}
		seenSet[r.TestSetID] = true
		base, err := s.Store.LatestFinishedTestSetRun(ctx, a.WorkspaceID, r.TestSetID, a.PublishedVersion)
		if errors.Is(err, store.ErrNotFound) {
			why = append(why, fmt.Sprintf("test set %d has no finished run of the published v%d to compare with: run it against v%d", r.TestSetID, a.PublishedVersion, a.PublishedVersion))
			continue
		}
		if err != nil {
			return err
		}
		reg := Worse(DecodeTotals(base.Totals), DecodeTotals(r.Totals), model.DefaultRegressionTolerance)
		if len(reg) == 0 {
			return nil
		}
		why = append(why, fmt.Sprintf("run %d of v%d on test set %d is worse than run %d of v%d: %s", r.ID, v.Number, r.TestSetID, base.ID, a.PublishedVersion, joinSemi(reg)))
	}
	return assistants.Refuse("the publish gate is on: %s", joinSemi(why))
}
