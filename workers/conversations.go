package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/conversation"
)

// Task types of conversation maintenance.
const (
	TypeConversationsDelete = "conversations:delete"
	TypeRetentionApply      = "retention:apply"
)

// DeleteMatchingPayload is a bulk deletion: the list's filters as URL parameters, evaluated
// at the time the user asked (so "last 7 days" means the same week when a retry runs later).
type DeleteMatchingPayload struct {
	WorkspaceID int64     `json:"workspace_id"`
	JobID       string    `json:"job_id"`
	Query       string    `json:"query"`
	AskedAt     time.Time `json:"asked_at"`
}

// DeleteMatching deletes every conversation matching a filter, in batches.
func (t *Tasks) DeleteMatching(p DeleteMatchingPayload) (*asynq.Task, error) {
	if p.WorkspaceID <= 0 || p.JobID == "" {
		return nil, fmt.Errorf("conversations:delete: workspace and job id are required")
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	// No retention: the query can hold a customer's words or number, and a completed task would
	// keep it in Redis (the job's progress, without the query, is in BulkJobs). Job ids are
	// random, so the task id only has to be unique while the task is queued or running.
	return asynq.NewTask(TypeConversationsDelete, b, asynq.TaskID(t.id("delete", p.JobID)), asynq.Queue(QueueDefault),
		asynq.MaxRetry(5), asynq.Timeout(30*time.Minute)), nil
}

// Retention applies every workspace's retention settings.
func (t *Tasks) Retention() *asynq.Task {
	return t.periodic(TypeRetentionApply, asynq.Queue(QueueLow), asynq.MaxRetry(3),
		asynq.Timeout(time.Hour), asynq.Unique(time.Hour))
}

// Maintenance deletes conversations in bulk and by retention.
type Maintenance struct {
	Conversations *conversation.Service
	Jobs          conversation.BulkJobs
	Log           *slog.Logger
	Batch         int
}

// HandleDeleteMatching runs a bulk deletion.
func (h *Maintenance) HandleDeleteMatching(ctx context.Context, t *asynq.Task) error {
	var p DeleteMatchingPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.JobID == "" {
		return fmt.Errorf("conversations:delete: bad payload: %w", asynq.SkipRetry)
	}
	n, err := h.Conversations.RunBulkDelete(ctx, h.Jobs, p.WorkspaceID, p.JobID, p.Query, p.AskedAt, h.Batch)
	if errors.Is(err, conversation.ErrBadBulkDelete) {
		return fmt.Errorf("conversations:delete: %v: %w", err, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "bulk deletion done", "workspace_id", p.WorkspaceID, "job_id", p.JobID, "deleted", n)
	return nil
}

// HandleRetention deletes, per workspace and type, conversations whose last activity is older
// than the workspace's retention.
func (h *Maintenance) HandleRetention(ctx context.Context, _ *asynq.Task) error {
	done, err := h.Conversations.ApplyRetention(ctx, time.Now().UTC(), h.Batch)
	for _, r := range done {
		h.Log.InfoContext(ctx, "retention deleted conversations", "workspace_id", r.WorkspaceID, "type", r.Type, "days", r.Days, "deleted", r.Deleted)
	}
	return err
}
