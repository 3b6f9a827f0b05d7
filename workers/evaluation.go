package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/evaluation"
	"github.com/parleyhq/parley/app/store"
)

// Evaluation task types (issue 14 item 2).
const (
	// TypeEvaluationRun executes one pending evaluation run.
	TypeEvaluationRun = "evaluation:run"
	// TypeEvaluationSweep creates the run of ends whose hook was lost and re-enqueues runs
	// whose task was lost.
	TypeEvaluationSweep = "evaluation:sweep"
)

// EvaluationRunPayload names one evaluation run.
type EvaluationRunPayload struct {
	WorkspaceID    int64 `json:"workspace_id"`
	ConversationID int64 `json:"conversation_id"`
	RunID          int64 `json:"run_id"`
}

// evaluationMaxRetry is how many times a run's task is retried after a retryable failure; the
// last attempt fails the run rather than leave it pending.
const evaluationMaxRetry = 5

// EvaluationRun executes one evaluation run. Its id is
// "<prefix>:evaluation:<run>:<EventToken(run created at)>": the end's hook, "Evaluate again"
// and the sweep enqueue the same task while it is queued, retried or running, so a run is
// executed by one task at a time.
func (t *Tasks) EvaluationRun(p EvaluationRunPayload, createdAt time.Time) (*asynq.Task, error) {
	if p.WorkspaceID <= 0 || p.ConversationID <= 0 || p.RunID <= 0 {
		return nil, fmt.Errorf("%s: workspace, conversation and run ids are required", TypeEvaluationRun)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeEvaluationRun, b,
		asynq.TaskID(t.id("evaluation", strconv.FormatInt(p.RunID, 10), EventToken(createdAt))),
		asynq.Queue(QueueDefault),
		asynq.MaxRetry(evaluationMaxRetry),
		asynq.Timeout(3*time.Minute),
		asynq.Retention(10*time.Minute),
	), nil
}

// EvaluationSweep finds evaluations whose task was lost.
func (t *Tasks) EvaluationSweep() *asynq.Task {
	return t.periodic(TypeEvaluationSweep,
		asynq.Queue(QueueLow), asynq.MaxRetry(0), asynq.Timeout(time.Minute), asynq.Unique(30*time.Second))
}

// EnqueueEvaluation enqueues the task of a run (a duplicate is success).
func (t *Tasks) EnqueueEvaluation(ctx context.Context, r *store.EvaluationRun) error {
	task, err := t.EvaluationRun(EvaluationRunPayload{WorkspaceID: r.WorkspaceID, ConversationID: r.ConversationID, RunID: r.ID}, r.CreatedAt)
	if err != nil {
		return err
	}
	return t.Enqueue(ctx, task)
}

// Evaluation runs evaluations and their sweep.
type Evaluation struct {
	Evaluations *evaluation.Service
	Tasks       *Tasks
	Log         *slog.Logger
	// Age is how long an end without a run, or a pending run, waits before the sweep takes it
	// (default a minute); Batch bounds one sweep (default 500).
	Age   time.Duration
	Batch int
}

func (h *Evaluation) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// OnEnded is the conversations service's hook for an end: it creates the end's run 0 and
// enqueues it. A failure is logged, not returned: the end's row is stored, and the sweep
// creates or re-enqueues its run.
func (h *Evaluation) OnEnded(ctx context.Context, end *store.ConversationEnd) {
	if end == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	r, err := h.Evaluations.Begin(ctx, end)
	if err == nil {
		err = h.Tasks.EnqueueEvaluation(ctx, r)
	}
	if err != nil {
		h.log().WarnContext(ctx, "could not schedule the evaluation of an end; the sweep will", "conversation_id", end.ConversationID, "end", end.Seq, "err", err)
	}
}

// HandleRun executes one run (evaluation.Service.Execute). It is idempotent: a finished run
// is skipped and its call recorded once. On its last attempt a retryable provider failure
// fails the run.
func (h *Evaluation) HandleRun(ctx context.Context, t *asynq.Task) error {
	var p EvaluationRunPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.RunID <= 0 {
		return fmt.Errorf("%s: bad payload %q: %w", TypeEvaluationRun, t.Payload(), asynq.SkipRetry)
	}
	last := lastAttempt(ctx)
	res, err := h.Evaluations.Execute(ctx, evaluation.Run{WorkspaceID: p.WorkspaceID, RunID: p.RunID, LastAttempt: last})
	if err != nil {
		return err
	}
	if res.Skipped == "" {
		h.log().InfoContext(ctx, "conversation evaluated", "conversation_id", p.ConversationID, "run_id", p.RunID,
			"status", res.Status, "provider", res.Provider, "error", res.Error)
	}
	return nil
}

// HandleSweep creates the run of ends whose hook was lost and enqueues them, with the runs
// left pending (their task was lost with Redis): both read from the database.
func (h *Evaluation) HandleSweep(ctx context.Context, _ *asynq.Task) error {
	age, batch := h.Age, h.Batch
	if age <= 0 {
		age = time.Minute
	}
	if batch <= 0 {
		batch = 500
	}
	runs, err := h.Evaluations.Due(ctx, age, batch)
	if err != nil {
		return err
	}
	for i := range runs {
		if err := h.Tasks.EnqueueEvaluation(ctx, &runs[i]); err != nil {
			return fmt.Errorf("enqueue evaluation run %d: %w", runs[i].ID, err)
		}
	}
	if len(runs) > 0 {
		h.log().InfoContext(ctx, "evaluation sweep enqueued runs", "count", len(runs))
	}
	return nil
}
