package store

import (
	"database/sql/driver"
	"encoding/json"
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
