package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// "Evaluate again" and what the conversation page shows of the evaluations (issue 14). The
// engine executes the runs these functions request: a row of evaluation_runs with status
// pending is the request.

// RequestEvaluation asks for a new evaluation run of a conversation of the workspace, for its
// current end (end_seq = end_count, 0 while it has never ended) with the assistant's
// evaluators version: run = the end's largest run + 1 (at least 1: run 0 is the automatic
// one), pending, and the conversation's evaluation_status pending, in one transaction that
// holds the conversation's row. When the end already has a pending run for the same
// evaluators, that run is returned instead (created=false): it will answer the same question.
func (s *Store) RequestEvaluation(ctx context.Context, workspaceID, id int64, evaluatorsVersion int, at time.Time) (run *EvaluationRun, created bool, err error) {
	if at.IsZero() {
		at = now()
	}
	at = at.UTC().Truncate(time.Microsecond)
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockConversation(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		var endSeq int
		if err := tx.NewSelect().Model((*Conversation)(nil)).Column("end_count").
			Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx, &endSeq); err != nil {
			return err
		}
		var pending []EvaluationRun
		if err := tx.NewSelect().Model(&pending).
			Where("workspace_id = ? AND conversation_id = ? AND end_seq = ? AND evaluators_version = ? AND status = ?",
				workspaceID, id, endSeq, evaluatorsVersion, model.EvalPending).
			OrderExpr("run DESC").Limit(1).Scan(ctx); err != nil {
			return err
		}
		if len(pending) > 0 {
			run = &pending[0]
			return nil
		}
		rows, err := s.insertRuns(ctx, tx, workspaceID, []int64{id}, evaluatorsVersion, at)
		if err != nil {
			return err
		}
		if len(rows) == 1 {
			run, created = &rows[0], true
		}
		return nil
	})
	if err == nil && run == nil {
		// The unique key refused the run: a concurrent request took its number (SQLite's
		// serialised writes and PostgreSQL's row lock make this unreachable in practice).
		err = ErrConflict
	}
	return run, created, err
}

// insertRuns inserts, for each conversation of ids, a pending run for its current end
// numbered after the end's largest, and marks their evaluation pending.
func (s *Store) insertRuns(ctx context.Context, tx bun.IDB, workspaceID int64, ids []int64, evaluatorsVersion int, at time.Time) ([]EvaluationRun, error) {
	var rows []EvaluationRun
	if len(ids) == 0 {
		return rows, nil
	}
	err := tx.NewRaw(`INSERT INTO evaluation_runs (workspace_id, conversation_id, end_seq, run, evaluators_version, status, created_at)
SELECT c.workspace_id, c.id, c.end_count,
	COALESCE((SELECT MAX(r.run) FROM evaluation_runs AS r WHERE r.conversation_id = c.id AND r.end_seq = c.end_count), 0) + 1,
	?, ?, ?
FROM conversations AS c WHERE c.workspace_id = ? AND c.id IN (?)
ON CONFLICT DO NOTHING
RETURNING id, workspace_id, conversation_id, end_seq, run, evaluators_version, status, provider, request_id, error, cost_nanos, created_at, finished_at`,
		evaluatorsVersion, model.EvalPending, at, workspaceID, bun.List(ids)).Scan(ctx, &rows)
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	done := make([]int64, len(rows))
	for i := range rows {
		done[i] = rows[i].ConversationID
	}
	_, err = tx.NewUpdate().Model((*Conversation)(nil)).Set("evaluation_status = ?", model.EvalPending).
		Where("workspace_id = ? AND id IN (?)", workspaceID, bun.List(done)).Exec(ctx)
	return rows, err
}

// EvalTarget is a conversation to evaluate again in bulk: its id and assistant.
type EvalTarget struct {
	ID          int64  `bun:"id"`
	AssistantID *int64 `bun:"assistant_id"`
}

// RequestEvaluationsMatching requests a run (as RequestEvaluation does, skipping the
// conversations whose current end already has a pending run) for up to batch conversations
// matching the filter with an id above afterID, in id order, in one transaction; version
// gives the evaluators version of an assistant (nil: a conversation without one). It returns
// the runs it created and the last id it looked at (0 when none is left).
func (s *Store) RequestEvaluationsMatching(ctx context.Context, workspaceID int64, f Filter, afterID int64, batch int, version func(assistantID *int64) int, at time.Time) (runs []EvaluationRun, lastID int64, err error) {
	if at.IsZero() {
		at = now()
	}
	at = at.UTC().Truncate(time.Microsecond)
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var targets []EvalTarget
		q := tx.NewSelect().ModelTableExpr("conversations AS c").ColumnExpr("c.id, c.assistant_id").
			Where("c.id > ?", afterID).
			Where("NOT EXISTS (SELECT 1 FROM evaluation_runs AS p WHERE p.conversation_id = c.id AND p.end_seq = c.end_count AND p.status = ?)", model.EvalPending)
		// The pending runs skipped above are still counted as looked at: the page is the
		// filter's ids, so the cursor moves past them.
		page := tx.NewSelect().ModelTableExpr("conversations AS c").ColumnExpr("c.id").Where("c.id > ?", afterID)
		page = s.applyFilter(page, workspaceID, f).OrderExpr("c.id ASC").Limit(int64(batch))
		if err := tx.NewSelect().TableExpr("(?) AS pg", page).ColumnExpr("MAX(pg.id)").Scan(ctx, &lastID); err != nil {
			return err
		}
		if lastID == 0 {
			return nil
		}
		q = s.applyFilter(q, workspaceID, f).Where("c.id <= ?", lastID).OrderExpr("c.id ASC")
		if err := q.Scan(ctx, &targets); err != nil {
			return err
		}
		byVersion := map[int][]int64{}
		var order []int
		for _, t := range targets {
			v := version(t.AssistantID)
			if _, ok := byVersion[v]; !ok {
				order = append(order, v)
			}
			byVersion[v] = append(byVersion[v], t.ID)
		}
		for _, v := range order {
			rows, err := s.insertRuns(ctx, tx, workspaceID, byVersion[v], v, at)
			if err != nil {
				return err
			}
			runs = append(runs, rows...)
		}
		return nil
	})
	return runs, lastID, err
}

// EvaluationCostSample is what recent finished runs of a workspace cost: how many were
// priced (runs of a real provider) and their total.
type EvaluationCostSample struct {
	Runs       int64 `bun:"runs"`
	TotalNanos int64 `bun:"total_nanos"`
}

// RecentEvaluationCost sums the cost of the workspace's latest limit finished runs that a
// provider other than the offline one answered (the base of a bulk estimate).
func (s *Store) RecentEvaluationCost(ctx context.Context, workspaceID int64, limit int) (EvaluationCostSample, error) {
	var out EvaluationCostSample
	recent := s.DB.NewSelect().Model((*EvaluationRun)(nil)).Column("cost_nanos").
		Where("workspace_id = ? AND status <> ? AND provider <> '' AND provider <> ?", workspaceID, model.EvalPending, "offline").
		OrderExpr("id DESC").Limit(int64(limit))
	err := s.DB.NewSelect().TableExpr("(?) AS r", recent).
		ColumnExpr("count(*) AS runs, COALESCE(sum(r.cost_nanos), 0) AS total_nanos").Scan(ctx, &out)
	return out, err
}

// EvaluationRuns lists up to limit runs of a conversation of the workspace, the latest first
// (by end, then run).
func (s *Store) EvaluationRuns(ctx context.Context, workspaceID, conversationID int64, limit int) ([]EvaluationRun, error) {
	var rows []EvaluationRun
	err := s.DB.NewSelect().Model(&rows).
		Where("workspace_id = ? AND conversation_id = ?", workspaceID, conversationID).
		OrderExpr("end_seq DESC, run DESC, id DESC").Limit(int64(limit)).Scan(ctx)
	return rows, err
}

// EvaluationValuesOf lists the values of the given runs of a conversation of the workspace
// (one query for a whole history), in the order they were written.
func (s *Store) EvaluationValuesOf(ctx context.Context, workspaceID, conversationID int64, runIDs []int64) ([]EvaluationValue, error) {
	var rows []EvaluationValue
	if len(runIDs) == 0 {
		return rows, nil
	}
	err := s.DB.NewSelect().Model(&rows).
		Where("workspace_id = ? AND conversation_id = ? AND run_id IN (?)", workspaceID, conversationID, bun.List(runIDs)).
		OrderExpr("run_id, id").Scan(ctx)
	return rows, err
}
