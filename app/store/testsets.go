package store

import (
	"database/sql/driver"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// TestSet is a named set of cases of one assistant (issue 15); NameKey is the name as
// uniqueness compares it.
type TestSet struct {
	bun.BaseModel `bun:"table:test_sets"`
	ID            int64     `bun:"id,pk,autoincrement"`
	WorkspaceID   int64     `bun:"workspace_id"`
	AssistantID   int64     `bun:"assistant_id"`
	Name          string    `bun:"name"`
	NameKey       string    `bun:"name_key"`
	CreatedByID   *int64    `bun:"created_by_id"`
	CreatedBy     string    `bun:"created_by"`
	CreatedAt     time.Time `bun:"created_at"`
}

// TestCase is a conversation's customer turns, copied when it was added (so the case
// outlives the conversation), each with the answer a reviewer expects there, if any.
type TestCase struct {
	bun.BaseModel  `bun:"table:test_cases"`
	ID             int64         `bun:"id,pk,autoincrement"`
	WorkspaceID    int64         `bun:"workspace_id"`
	TestSetID      int64         `bun:"test_set_id"`
	ConversationID *int64        `bun:"conversation_id"`
	Title          string        `bun:"title"`
	Turns          TestCaseTurns `bun:"turns"`
	CreatedByID    *int64        `bun:"created_by_id"`
	CreatedBy      string        `bun:"created_by"`
	CreatedAt      time.Time     `bun:"created_at"`
}

// TestCaseTurns is the test_cases.turns JSON column.
type TestCaseTurns []model.TestCaseTurn

// Scan implements sql.Scanner.
func (t *TestCaseTurns) Scan(src any) error {
	return scanJSONList((*[]model.TestCaseTurn)(t), "turns", src)
}

// Value implements driver.Valuer.
func (t TestCaseTurns) Value() (driver.Value, error) { return jsonListValue(t) }

// TestSetRun is one run of a test set against a version: every case replayed and graded.
// Totals is the run's summary (pass rate, averages of rating evaluators, cost, latency) as
// JSON, written when it finishes.
type TestSetRun struct {
	bun.BaseModel `bun:"table:test_set_runs"`
	ID            int64      `bun:"id,pk,autoincrement"`
	WorkspaceID   int64      `bun:"workspace_id"`
	TestSetID     int64      `bun:"test_set_id"`
	AssistantID   int64      `bun:"assistant_id"`
	Version       int        `bun:"version"`
	Status        string     `bun:"status"`
	CasesTotal    int        `bun:"cases_total"`
	CasesDone     int        `bun:"cases_done"`
	CasesPassed   int        `bun:"cases_passed"`
	CostNanos     int64      `bun:"cost_nanos"`
	Totals        string     `bun:"totals"`
	Error         string     `bun:"error"`
	CreatedByID   *int64     `bun:"created_by_id"`
	CreatedBy     string     `bun:"created_by"`
	CreatedAt     time.Time  `bun:"created_at"`
	StartedAt     *time.Time `bun:"started_at"`
	FinishedAt    *time.Time `bun:"finished_at"`
}

// TestRunCase is one case of a run: its replay, whether it passed, the evaluators' values on
// the replayed answers and the judgements of the answers against the expected ones.
type TestRunCase struct {
	bun.BaseModel `bun:"table:test_run_cases"`
	ID            int64             `bun:"id,pk,autoincrement"`
	WorkspaceID   int64             `bun:"workspace_id"`
	RunID         int64             `bun:"run_id"`
	CaseID        *int64            `bun:"case_id"`
	ReplayID      *int64            `bun:"replay_id"`
	Status        string            `bun:"status"`
	Passed        *bool             `bun:"passed"`
	Evaluations   ReplayEvaluations `bun:"evaluations"`
	Judgements    string            `bun:"judgements"` // JSON list, the grader's
	CostNanos     int64             `bun:"cost_nanos"`
	LatencyMS     int64             `bun:"latency_ms"`
	Error         string            `bun:"error"`
	FinishedAt    *time.Time        `bun:"finished_at"`
}
