package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// Replay regenerates a conversation's assistant turns with an assistant version, the
// customer's turns held fixed (issue 15). It never sends anything and never touches the
// original: its answers are its turns (replay_turns), its calls ledger rows of purpose
// PurposeReplay naming it. A test set run's cases are replays too (TestRunID, TestCaseID).
type Replay struct {
	bun.BaseModel  `bun:"table:replays"`
	ID             int64  `bun:"id,pk,autoincrement"`
	WorkspaceID    int64  `bun:"workspace_id"`
	ConversationID *int64 `bun:"conversation_id"` // nil once the original is deleted
	AssistantID    int64  `bun:"assistant_id"`
	Version        int    `bun:"version"`
	TestRunID      *int64 `bun:"test_run_id"`
	TestCaseID     *int64 `bun:"test_case_id"`
	// Status is a model.Job* status; TurnsDone of TurnsTotal is the progress.
	Status              string            `bun:"status"`
	TurnsTotal          int               `bun:"turns_total"`
	TurnsDone           int               `bun:"turns_done"`
	CostNanos           int64             `bun:"cost_nanos"`
	OriginalCostNanos   int64             `bun:"original_cost_nanos"`
	OriginalEvaluations ReplayEvaluations `bun:"original_evaluations"`
	ReplayedEvaluations ReplayEvaluations `bun:"replayed_evaluations"`
	Error               string            `bun:"error"`
	CreatedByID         *int64            `bun:"created_by_id"`
	CreatedBy           string            `bun:"created_by"`
	CreatedAt           time.Time         `bun:"created_at"`
	StartedAt           *time.Time        `bun:"started_at"`
	FinishedAt          *time.Time        `bun:"finished_at"`
}

// Finished reports a replay no worker changes again.
func (r *Replay) Finished() bool { return model.JobFinished(r.Status) }

// ReplayTurn is one customer turn of a replay: what the customer wrote, what the original
// answered (with its cost and latency) and what the version answered instead (Replayed nil
// until it has), with that answer's tokens, cost and latency. Expected is a test case's
// expected answer for the turn.
type ReplayTurn struct {
	bun.BaseModel     `bun:"table:replay_turns"`
	ID                int64      `bun:"id,pk,autoincrement"`
	WorkspaceID       int64      `bun:"workspace_id"`
	ReplayID          int64      `bun:"replay_id"`
	Idx               int        `bun:"idx"`
	Customer          string     `bun:"customer"`
	Original          string     `bun:"original"`
	OriginalMessageID *int64     `bun:"original_message_id"`
	OriginalVersion   *int       `bun:"original_version"`
	OriginalCostNanos int64      `bun:"original_cost_nanos"`
	OriginalLatencyMS *int64     `bun:"original_latency_ms"`
	Expected          string     `bun:"expected"`
	Replayed          *string    `bun:"replayed"`
	Model             string     `bun:"model"`
	PromptTokens      int        `bun:"prompt_tokens"`
	CachedTokens      int        `bun:"cached_tokens"`
	CompletionTokens  int        `bun:"completion_tokens"`
	CostNanos         int64      `bun:"cost_nanos"`
	LatencyMS         int64      `bun:"latency_ms"`
	Error             string     `bun:"error"`
	ReplayedAt        *time.Time `bun:"replayed_at"`
}

// ReplayEvaluation is one evaluator's value on one side of a replay (or on a test case's
// replayed answers): the replays.*_evaluations and test_run_cases.evaluations JSON columns.
type ReplayEvaluation struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Value  *string `json:"value"`
	Reason string  `json:"reason,omitempty"`
	Status string  `json:"status"`
	Error  string  `json:"error,omitempty"`
}

// ReplayEvaluations is a JSON column of evaluation values.
type ReplayEvaluations []ReplayEvaluation

// Scan implements sql.Scanner.
func (e *ReplayEvaluations) Scan(src any) error {
	return scanJSONList((*[]ReplayEvaluation)(e), "evaluations", src)
}

// Value implements driver.Valuer.
func (e ReplayEvaluations) Value() (driver.Value, error) { return jsonListValue(e) }

// scanJSONList reads a JSON list column into dst (an empty column is an empty list).
func scanJSONList[T any](dst *[]T, col string, src any) error {
	raw, err := columnText(col, src)
	if err != nil {
		return err
	}
	out := []T{}
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			return err
		}
	}
	*dst = out
	return nil
}

// jsonListValue writes a JSON list column ([] for nil).
func jsonListValue[T any](v []T) (driver.Value, error) {
	if v == nil {
		v = []T{}
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// ReplayTurnRequestID is the ledger request id of a replay's answer to turn idx: a retried
// turn is charged once ("replay:<replay id>:<idx>").
func ReplayTurnRequestID(replayID int64, idx int) string {
	return "replay:" + strconv.FormatInt(replayID, 10) + ":" + strconv.Itoa(idx)
}

// ReplayEvalRequestID is the ledger request id of the evaluation of one side of a replay
// ("replay:<id>:eval:original" or "replay:<id>:eval:replayed").
func ReplayEvalRequestID(replayID int64, side string) string {
	return "replay:" + strconv.FormatInt(replayID, 10) + ":eval:" + side
}

// The two sides of a replay.
const (
	ReplaySideOriginal = "original"
	ReplaySideReplayed = "replayed"
)

// CreateReplay writes a replay row and its turns in one transaction: r's TurnsTotal,
// OriginalCostNanos, Status (pending) and CreatedAt are set here, each turn's ReplayID,
// WorkspaceID and Idx (0, 1, ... in the order given). A test set run's case (TestRunID and
// TestCaseID set) is created at most once: a second call finds the first row (r is then
// that row, and inserted is false; its turns are not written again).
func (s *Store) CreateReplay(ctx context.Context, r *Replay, turns []ReplayTurn) (inserted bool, err error) {
	if r.WorkspaceID == 0 || r.AssistantID == 0 || r.Version <= 0 {
		return false, errors.New("replay: a workspace, an assistant and a version are required")
	}
	r.ID = 0
	r.Status = model.JobPending
	r.TurnsTotal, r.TurnsDone, r.CostNanos, r.OriginalCostNanos = len(turns), 0, 0, 0
	for _, t := range turns {
		r.OriginalCostNanos += t.OriginalCostNanos
	}
	if r.OriginalEvaluations == nil {
		r.OriginalEvaluations = ReplayEvaluations{}
	}
	if r.ReplayedEvaluations == nil {
		r.ReplayedEvaluations = ReplayEvaluations{}
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now()
	}
	r.CreatedAt = r.CreatedAt.UTC().Truncate(time.Microsecond)
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewInsert().Model(r).Returning("id")
		if r.TestRunID != nil && r.TestCaseID != nil {
			q = q.On("CONFLICT (test_run_id, test_case_id) DO NOTHING")
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return tx.NewSelect().Model(r).Where("test_run_id = ? AND test_case_id = ?", *r.TestRunID, *r.TestCaseID).Scan(ctx)
		}
		if r.ID == 0 {
			return errors.New("replay: no id returned")
		}
		inserted = true
		for i := range turns {
			turns[i].ID = 0
			turns[i].WorkspaceID, turns[i].ReplayID, turns[i].Idx = r.WorkspaceID, r.ID, i
		}
		if len(turns) > 0 {
			if _, err := tx.NewInsert().Model(&turns).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return inserted, nil
}

// ReplayByID loads a replay of the workspace (ErrNotFound for another workspace's).
func (s *Store) ReplayByID(ctx context.Context, workspaceID, id int64) (*Replay, error) {
	r := new(Replay)
	if err := s.DB.NewSelect().Model(r).Where("workspace_id = ? AND id = ?", workspaceID, id).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return r, nil
}

// ReplayTurns loads a replay's turns in order.
func (s *Store) ReplayTurns(ctx context.Context, workspaceID, replayID int64) ([]ReplayTurn, error) {
	var ts []ReplayTurn
	err := s.DB.NewSelect().Model(&ts).Where("workspace_id = ? AND replay_id = ?", workspaceID, replayID).
		Order("idx ASC").Scan(ctx)
	return ts, err
}

// ReplayWithTurns loads a replay and its turns.
func (s *Store) ReplayWithTurns(ctx context.Context, workspaceID, id int64) (*Replay, []ReplayTurn, error) {
	r, err := s.ReplayByID(ctx, workspaceID, id)
	if err != nil {
		return nil, nil, err
	}
	ts, err := s.ReplayTurns(ctx, workspaceID, id)
	return r, ts, err
}

// ConversationReplays lists a conversation's replays, newest first (at most limit).
func (s *Store) ConversationReplays(ctx context.Context, workspaceID, conversationID int64, limit int) ([]Replay, error) {
	var out []Replay
	err := s.DB.NewSelect().Model(&out).Where("workspace_id = ? AND conversation_id = ?", workspaceID, conversationID).
		Order("id DESC").Limit(int64(limit)).Scan(ctx)
	return out, err
}

// UnfinishedReplays lists up to limit replays of conversations (not of test set runs: their
// run owns them) still pending or running that were created before createdBefore (their task
// may have been lost with Redis, or their worker killed): the sweep enqueues them again.
func (s *Store) UnfinishedReplays(ctx context.Context, createdBefore time.Time, limit int) ([]Replay, error) {
	var out []Replay
	err := s.DB.NewSelect().Model(&out).
		Where("test_run_id IS NULL AND status IN (?, ?) AND created_at < ?", model.JobPending, model.JobRunning, createdBefore.UTC().Truncate(time.Microsecond)).
		Order("created_at ASC", "id ASC").Limit(int64(limit)).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return out, err
}

// ReplayAnswer is the replayed answer of one turn, its call's ledger row (nil when no call was
// recorded) and its latency.
type ReplayAnswer struct {
	WorkspaceID int64
	ReplayID    int64
	Idx         int
	Content     string
	Model       string
	LatencyMS   int64
	Usage       *UsageEntry
}

// RecordReplayAnswer stores one turn's replayed answer, once: the turn is updated only while
// its replayed answer is NULL, and in the same transaction the call's ledger row is written
// (ON CONFLICT on its request id) and the replay's turns_done and cost_nanos grow. It reports
// whether this call stored the answer (false: another task did; nothing was written).
func (s *Store) RecordReplayAnswer(ctx context.Context, a ReplayAnswer) (recorded bool, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		at := now()
		q := tx.NewUpdate().Model((*ReplayTurn)(nil)).
			Set("replayed = ?", a.Content).Set("model = ?", a.Model).Set("latency_ms = ?", a.LatencyMS).
			Set("replayed_at = ?", at).Set("error = ''")
		var cost int64
		if a.Usage != nil {
			cost = a.Usage.CostNanos
			q = q.Set("prompt_tokens = ?", a.Usage.PromptTokens).Set("cached_tokens = ?", a.Usage.CachedTokens).
				Set("completion_tokens = ?", a.Usage.CompletionTokens).Set("cost_nanos = ?", a.Usage.CostNanos)
		}
		res, err := q.Where("workspace_id = ? AND replay_id = ? AND idx = ? AND replayed IS NULL", a.WorkspaceID, a.ReplayID, a.Idx).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		recorded = true
		if a.Usage != nil {
			inserted, err := insertUsage(ctx, tx, a.Usage)
			if err != nil {
				return err
			}
			if !inserted {
				cost = 0 // recorded before (cannot happen with the turn still empty; kept exact anyway)
			}
		}
		_, err = tx.NewUpdate().Model((*Replay)(nil)).
			Set("turns_done = turns_done + 1").Set("cost_nanos = cost_nanos + ?", cost).
			Where("workspace_id = ? AND id = ?", a.WorkspaceID, a.ReplayID).Exec(ctx)
		return err
	})
	if err != nil {
		recorded = false
	}
	return recorded, err
}

// StartReplay marks a pending replay running (its started_at set once); a finished replay is
// left alone. It reports whether the replay is still to be worked on.
func (s *Store) StartReplay(ctx context.Context, workspaceID, id int64) (bool, error) {
	if _, err := s.DB.NewUpdate().Model((*Replay)(nil)).
		Set("status = ?", model.JobRunning).Set("started_at = COALESCE(started_at, ?)", now()).
		Where("workspace_id = ? AND id = ? AND status IN (?, ?)", workspaceID, id, model.JobPending, model.JobRunning).Exec(ctx); err != nil {
		return false, err
	}
	r, err := s.ReplayByID(ctx, workspaceID, id)
	if err != nil {
		return false, err
	}
	return !r.Finished(), nil
}

// ReplayOutcome is how a replay finishes: its status (done or failed), error, the evaluators'
// values of both sides and the evaluation calls' ledger rows.
type ReplayOutcome struct {
	WorkspaceID int64
	ReplayID    int64
	Status      string
	Error       string
	Original    ReplayEvaluations
	Replayed    ReplayEvaluations
	Usage       []*UsageEntry
}

// FinishReplay finishes a replay once, in one transaction: its status, error, evaluations,
// finished_at, and the evaluation calls' ledger rows (their cost added to the replay's). It
// reports false (nothing written) when the replay was finished already.
func (s *Store) FinishReplay(ctx context.Context, o ReplayOutcome) (finished bool, err error) {
	if !model.JobFinished(o.Status) {
		return false, errors.New("replay: finish with done or failed")
	}
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if o.Original == nil {
			o.Original = ReplayEvaluations{}
		}
		if o.Replayed == nil {
			o.Replayed = ReplayEvaluations{}
		}
		res, err := tx.NewUpdate().Model((*Replay)(nil)).
			Set("status = ?", o.Status).Set("error = ?", o.Error).
			Set("original_evaluations = ?", o.Original).Set("replayed_evaluations = ?", o.Replayed).
			Set("finished_at = ?", now()).Set("started_at = COALESCE(started_at, ?)", now()).
			Where("workspace_id = ? AND id = ? AND status IN (?, ?)", o.WorkspaceID, o.ReplayID, model.JobPending, model.JobRunning).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		finished = true
		var cost int64
		for _, e := range o.Usage {
			if e == nil {
				continue
			}
			inserted, err := insertUsage(ctx, tx, e)
			if err != nil {
				return err
			}
			if inserted {
				cost += e.CostNanos
			}
		}
		if cost != 0 {
			_, err = tx.NewUpdate().Model((*Replay)(nil)).Set("cost_nanos = cost_nanos + ?", cost).
				Where("workspace_id = ? AND id = ?", o.WorkspaceID, o.ReplayID).Exec(ctx)
		}
		return err
	})
	if err != nil {
		finished = false
	}
	return finished, err
}

// ReplayLedger lists a replay's ledger rows (purpose replay), oldest first.
func (s *Store) ReplayLedger(ctx context.Context, workspaceID, replayID int64) ([]UsageEntry, error) {
	var out []UsageEntry
	err := s.DB.NewSelect().Model(&out).Where("workspace_id = ? AND replay_id = ?", workspaceID, replayID).
		Order("id ASC").Scan(ctx)
	return out, err
}
