package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/reeval"
)

// TypeConversationsEvaluate is the bulk "Evaluate again" (issue 14).
const TypeConversationsEvaluate = "conversations:evaluate"

// EvaluateMatchingPayload is a bulk "Evaluate again": the list's filters as URL parameters,
// evaluated at the time the user asked.
type EvaluateMatchingPayload struct {
	WorkspaceID int64     `json:"workspace_id"`
	JobID       string    `json:"job_id"`
	Query       string    `json:"query"`
	AskedAt     time.Time `json:"asked_at"`
}

// EvaluateMatching asks for a new evaluation run of every conversation matching a filter, in
// batches.
func (t *Tasks) EvaluateMatching(p EvaluateMatchingPayload) (*asynq.Task, error) {
	if p.WorkspaceID <= 0 || p.JobID == "" {
		return nil, fmt.Errorf("%s: workspace and job id are required", TypeConversationsEvaluate)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	// No retention, as the bulk deletion: the query may hold a customer's words.
	return asynq.NewTask(TypeConversationsEvaluate, b, asynq.TaskID(t.id("evaluate", p.JobID)), asynq.Queue(QueueDefault),
		asynq.MaxRetry(5), asynq.Timeout(30*time.Minute)), nil
}

// Reeval runs the bulk "Evaluate again" jobs.
type Reeval struct {
	Service *reeval.Service
	Log     *slog.Logger
	Batch   int
}

// HandleEvaluateMatching runs a bulk "Evaluate again".
func (h *Reeval) HandleEvaluateMatching(ctx context.Context, t *asynq.Task) error {
	var p EvaluateMatchingPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.JobID == "" {
		return fmt.Errorf("%s: bad payload: %w", TypeConversationsEvaluate, asynq.SkipRetry)
	}
	n, err := h.Service.RunBulk(ctx, p.WorkspaceID, p.JobID, p.Query, p.AskedAt, h.Batch)
	if errors.Is(err, reeval.ErrBadBulk) {
		return fmt.Errorf("%s: %v: %w", TypeConversationsEvaluate, err, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "bulk evaluation requested", "workspace_id", p.WorkspaceID, "job_id", p.JobID, "runs", n)
	return nil
}
