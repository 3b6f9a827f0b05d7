package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// The storage of test set runs (issue 15 items 3-4). app/testruns decides (grading, the
// regression rule, the gate); this file keeps what a retried or concurrent task could break:
// a run and everything it promises (a test_run_cases row and a replay with its turns per case)
// are written in ONE transaction before any task exists; a case is finished once (the
// test_run_cases row decides, and the run's counters move in the same transaction); a
// judgement's ledger row is written once per request id, in that transaction too.

// RunCase is one case of a run to create: the case and its replay's turns (built by
// app/replay.TurnsFromCase).
type RunCase struct {
	CaseID int64
	Turns  []ReplayTurn
}

// CreateTestSetRun writes run (pending, CasesTotal = len(cases)) with, per case, a replay of
// the case's turns (Expected set, no conversation) and the case's test_run_cases row, in one
// transaction. run.ID and each row's id are set. (CreateReplay writes one replay in its own
// transaction; here every replay joins the run's.)
func (s *Store) CreateTestSetRun(ctx context.Context, run *TestSetRun, cases []RunCase) ([]TestRunCase, error) {
	at := now()
	run.Status, run.CasesTotal, run.CasesDone, run.CasesPassed, run.CostNanos = model.JobPending, len(cases), 0, 0, 0
	run.CreatedAt = at
	if run.Totals == "" {
		run.Totals = "{}"
	}
	var out []TestRunCase
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		out = nil
		if _, err := tx.NewInsert().Model(run).Returning("id").Exec(ctx); err != nil {
			return err
		}
		for i := range cases {
			c := &cases[i]
			runID, caseID := run.ID, c.CaseID
			r := &Replay{WorkspaceID: run.WorkspaceID, AssistantID: run.AssistantID, Version: run.Version,
				TestRunID: &runID, TestCaseID: &caseID, Status: model.JobPending, TurnsTotal: len(c.Turns),
				OriginalEvaluations: ReplayEvaluations{}, ReplayedEvaluations: ReplayEvaluations{},
				CreatedByID: run.CreatedByID, CreatedBy: run.CreatedBy, CreatedAt: at}
			if _, err := tx.NewInsert().Model(r).Returning("id").Exec(ctx); err != nil {
				return err
			}
			if len(c.Turns) > 0 {
				rows := make([]ReplayTurn, len(c.Turns))
				for k, t := range c.Turns {
					t.ID, t.WorkspaceID, t.ReplayID, t.Idx = 0, run.WorkspaceID, r.ID, k
					rows[k] = t
				}
				if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
					return err
				}
			}
			rid := r.ID
			rc := TestRunCase{WorkspaceID: run.WorkspaceID, RunID: run.ID, CaseID: &caseID, ReplayID: &rid,
				Status: model.JobPending, Evaluations: ReplayEvaluations{}, Judgements: "[]"}
			if _, err := tx.NewInsert().Model(&rc).Returning("id").Exec(ctx); err != nil {
				return err
			}
			out = append(out, rc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// TestSetRunByID loads a run of the workspace (ErrNotFound).
func (s *Store) TestSetRunByID(ctx context.Context, workspaceID, id int64) (*TestSetRun, error) {
	r := new(TestSetRun)
	if err := s.DB.NewSelect().Model(r).Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return r, nil
}

// TestSetRuns lists the runs of a set of the workspace, newest first, at most limit (all
// when limit <= 0).
func (s *Store) TestSetRuns(ctx context.Context, workspaceID, setID int64, limit int) ([]TestSetRun, error) {
	var out []TestSetRun
	q := s.DB.NewSelect().Model(&out).Where("workspace_id = ? AND test_set_id = ?", workspaceID, setID).OrderExpr("id DESC")
	if limit > 0 {
		q = q.Limit(int64(limit))
	}
	err := q.Scan(ctx)
	return out, err
}

// TestRunCases lists a run's cases in the order they were written (the set's order).
func (s *Store) TestRunCases(ctx context.Context, workspaceID, runID int64) ([]TestRunCase, error) {
	var out []TestRunCase
	err := s.DB.NewSelect().Model(&out).Where("workspace_id = ? AND run_id = ?", workspaceID, runID).OrderExpr("id").Scan(ctx)
	return out, err
}

// MarkTestSetRunRunning moves a pending run to running (started_at set); a run running
// already, or finished, is left as it is.
func (s *Store) MarkTestSetRunRunning(ctx context.Context, workspaceID, id int64) error {
	_, err := s.DB.NewUpdate().Model((*TestSetRun)(nil)).
		Set("status = ?", model.JobRunning).Set("started_at = ?", now()).
		Where("id = ? AND workspace_id = ? AND status = ?", id, workspaceID, model.JobPending).Exec(ctx)
	return err
}

// FinishTestRunCase finishes one case of a run, once: its judgements' ledger rows (purpose
// replay, naming the case's replay) are written (once per request id), the case's cost is
// read from the ledger (every row of its replay: answers, evaluations, judgements), and the
// case row is updated only while it is unfinished; then, in the same transaction, the run's
// cases_done, cases_passed and cost_nanos move. finished is false when another task had
// finished the case (nothing moved). c's Status, Passed, Evaluations, Judgements, LatencyMS
// and Error are written; its CostNanos and FinishedAt are set here.
func (s *Store) FinishTestRunCase(ctx context.Context, c *TestRunCase, judgeUsage []*UsageEntry) (finished bool, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		finished = false
		for _, e := range judgeUsage {
			if _, err := insertUsage(ctx, tx, e); err != nil {
				return err
			}
		}
		var cost int64
		if c.ReplayID != nil {
			var sum sql.NullInt64
			if err := tx.NewSelect().Model((*UsageEntry)(nil)).ColumnExpr("coalesce(sum(cost_nanos), 0)").
				Where("workspace_id = ? AND replay_id = ?", c.WorkspaceID, *c.ReplayID).Scan(ctx, &sum); err != nil {
				return err
			}
			cost = sum.Int64
		}
		at := now()
		c.CostNanos, c.FinishedAt = cost, &at
		res, err := tx.NewUpdate().Model(c).
			Column("status", "passed", "evaluations", "judgements", "cost_nanos", "latency_ms", "error", "finished_at").
			Where("id = ? AND workspace_id = ? AND status IN (?)", c.ID, c.WorkspaceID, bun.List([]string{model.JobPending, model.JobRunning})).
			Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		finished = true
		passed := 0
		if c.Passed != nil && *c.Passed {
			passed = 1
		}
		_, err = tx.NewUpdate().Model((*TestSetRun)(nil)).
			Set("cases_done = cases_done + 1").Set("cases_passed = cases_passed + ?", passed).
			Set("cost_nanos = cost_nanos + ?", cost).
			Where("id = ? AND workspace_id = ?", c.RunID, c.WorkspaceID).Exec(ctx)
		return err
	})
	return finished, err
}

// FinishTestSetRun writes a run's end: status (done or failed), totals (JSON) and error,
// once (a finished run is left as it is; finished false then).
func (s *Store) FinishTestSetRun(ctx context.Context, workspaceID, id int64, status, totals, errMsg string) (finished bool, err error) {
	res, err := s.DB.NewUpdate().Model((*TestSetRun)(nil)).
		Set("status = ?", status).Set("totals = ?", totals).Set("error = ?", errMsg).Set("finished_at = ?", now()).
		Where("id = ? AND workspace_id = ? AND status IN (?)", id, workspaceID, bun.List([]string{model.JobPending, model.JobRunning})).
		Exec(ctx)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// PendingTestSetRuns lists up to limit runs of every workspace left pending or running since
// before (their task may have been lost), oldest first: the sweep's work.
func (s *Store) PendingTestSetRuns(ctx context.Context, before time.Time, limit int) ([]TestSetRun, error) {
	var out []TestSetRun
	err := s.DB.NewSelect().Model(&out).
		Where("status IN (?) AND created_at < ?", bun.List([]string{model.JobPending, model.JobRunning}), before.UTC()).
		OrderExpr("created_at, id").Limit(int64(limit)).Scan(ctx)
	return out, err
}

// LatestFinishedTestSetRun is the newest run of version on the set that finished done
// (ErrNotFound when there is none).
func (s *Store) LatestFinishedTestSetRun(ctx context.Context, workspaceID, setID int64, version int) (*TestSetRun, error) {
	r := new(TestSetRun)
	err := s.DB.NewSelect().Model(r).
		Where("workspace_id = ? AND test_set_id = ? AND version = ? AND status = ?", workspaceID, setID, version, model.JobDone).
		OrderExpr("id DESC").Limit(1).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return r, nil
}

// FinishedTestSetRunsOfVersion lists the runs of an assistant's version that finished done,
// on any of its sets, newest first.
func (s *Store) FinishedTestSetRunsOfVersion(ctx context.Context, workspaceID, assistantID int64, version int) ([]TestSetRun, error) {
	var out []TestSetRun
	err := s.DB.NewSelect().Model(&out).
		Where("workspace_id = ? AND assistant_id = ? AND version = ? AND status = ?", workspaceID, assistantID, version, model.JobDone).
		OrderExpr("id DESC").Scan(ctx)
	return out, err
}

// TestSetRunLedger is the sum of cost_nanos and the count of the ledger rows spent on a
// run's replays (its answers, evaluations and judgements).
func (s *Store) TestSetRunLedger(ctx context.Context, workspaceID, runID int64) (costNanos int64, rows int, err error) {
	var cost sql.NullInt64
	err = s.DB.NewSelect().TableExpr("usage_ledger").
		ColumnExpr("coalesce(sum(cost_nanos), 0)").ColumnExpr("count(*)").
		Where("workspace_id = ? AND replay_id IN (?)", workspaceID,
			s.DB.NewSelect().TableExpr("replays").Column("id").Where("workspace_id = ? AND test_run_id = ?", workspaceID, runID)).
		Scan(ctx, &cost, &rows)
	return cost.Int64, rows, err
}

// ReplaysOfTestRun loads the replays of a run's cases by id.
func (s *Store) ReplaysOfTestRun(ctx context.Context, workspaceID, runID int64) (map[int64]*Replay, error) {
	var rs []Replay
	if err := s.DB.NewSelect().Model(&rs).Where("workspace_id = ? AND test_run_id = ?", workspaceID, runID).Scan(ctx); err != nil {
		return nil, err
	}
	out := make(map[int64]*Replay, len(rs))
	for i := range rs {
		out[rs[i].ID] = &rs[i]
	}
	return out, nil
}

// ReplayTurnsOfTestRun loads the turns of a run's replays, by replay id, each in order.
func (s *Store) ReplayTurnsOfTestRun(ctx context.Context, workspaceID, runID int64) (map[int64][]ReplayTurn, error) {
	var ts []ReplayTurn
	err := s.DB.NewSelect().Model(&ts).
		Where("workspace_id = ? AND replay_id IN (?)", workspaceID,
			s.DB.NewSelect().TableExpr("replays").Column("id").Where("workspace_id = ? AND test_run_id = ?", workspaceID, runID)).
		OrderExpr("replay_id, idx").Scan(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int64][]ReplayTurn{}
	for _, t := range ts {
		out[t.ReplayID] = append(out[t.ReplayID], t)
	}
	return out, nil
}
