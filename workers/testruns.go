package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testruns"
)

// Test set run task types (issue 15 item 3).
const (
	// TypeTestRunRun executes one test set run (every unfinished case, then the totals).
	TypeTestRunRun = "testrun:run"
	// TypeTestRunSweep re-enqueues runs left pending or running (their task was lost).
	TypeTestRunSweep = "testrun:sweep"
)

// TestRunPayload names one run.
type TestRunPayload struct {
	WorkspaceID int64 `json:"workspace_id"`
	RunID       int64 `json:"run_id"`
}

// testRunMaxRetry is how many times a run's task is retried; the last attempt records a
// retryable judge failure on its case instead of leaving the run unfinished.
const testRunMaxRetry = 8

// TestRun executes one run. Its id is "<prefix>:testrun:<run>:<EventToken(created at)>": Start
// and the sweep enqueue the same task while it is queued, retried or running.
func (t *Tasks) TestRun(p TestRunPayload, createdAt time.Time) (*asynq.Task, error) {
	if p.WorkspaceID <= 0 || p.RunID <= 0 {
		return nil, fmt.Errorf("%s: workspace and run ids are required", TypeTestRunRun)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeTestRunRun, b,
		asynq.TaskID(t.id("testrun", strconv.FormatInt(p.RunID, 10), EventToken(createdAt))),
		asynq.Queue(QueueLow),
		asynq.MaxRetry(testRunMaxRetry),
		asynq.Timeout(30*time.Minute), // a timed-out run is retried and resumes where it stopped
		asynq.Retention(10*time.Minute),
	), nil
}

// TestRunSweep finds runs whose task was lost.
func (t *Tasks) TestRunSweep() *asynq.Task {
	return t.periodic(TypeTestRunSweep,
		asynq.Queue(QueueLow), asynq.MaxRetry(0), asynq.Timeout(time.Minute), asynq.Unique(30*time.Second))
}

// EnqueueTestRun enqueues the task of a run (a duplicate is success).
func (t *Tasks) EnqueueTestRun(ctx context.Context, r *store.TestSetRun) error {
	task, err := t.TestRun(TestRunPayload{WorkspaceID: r.WorkspaceID, RunID: r.ID}, r.CreatedAt)
	if err != nil {
		return err
	}
	return t.Enqueue(ctx, task)
}

// TestRuns runs test set runs and their sweep.
type TestRuns struct {
	Runs  *testruns.Service
	Tasks *Tasks
	Log   *slog.Logger
	// Age is how long a run waits pending or running before the sweep enqueues it again
	// (default two minutes: a duplicate of a running task is refused by its id anyway);
	// Batch bounds one sweep (default 100).
	Age   time.Duration
	Batch int
}

func (h *TestRuns) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// HandleRun executes one run (testruns.Service.Execute): idempotent, a finished run is
// skipped, a killed one resumes.
func (h *TestRuns) HandleRun(ctx context.Context, t *asynq.Task) error {
	var p TestRunPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.RunID <= 0 {
		return fmt.Errorf("%s: bad payload %q: %w", TypeTestRunRun, t.Payload(), asynq.SkipRetry)
	}
	last := lastAttempt(ctx)
	return h.Runs.Execute(ctx, testruns.Exec{WorkspaceID: p.WorkspaceID, RunID: p.RunID, LastAttempt: last})
}

// HandleSweep enqueues the runs left pending or running (read from the database).
func (h *TestRuns) HandleSweep(ctx context.Context, _ *asynq.Task) error {
	age, batch := h.Age, h.Batch
	if age <= 0 {
		age = 2 * time.Minute
	}
	if batch <= 0 {
		batch = 100
	}
	runs, err := h.Runs.Due(ctx, age, batch)
	if err != nil {
		return err
	}
	for i := range runs {
		if err := h.Tasks.EnqueueTestRun(ctx, &runs[i]); err != nil {
			return fmt.Errorf("enqueue test run %d: %w", runs[i].ID, err)
		}
	}
	if len(runs) > 0 {
		h.log().InfoContext(ctx, "test run sweep enqueued runs", "count", len(runs))
	}
	return nil
}
