package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/conversations"
	"github.com/parleyhq/parley/app/store"
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

// NewDeleteMatchingTask deletes every conversation matching a filter, in batches.
func NewDeleteMatchingTask(p DeleteMatchingPayload) (*asynq.Task, error) {
	if p.WorkspaceID <= 0 || p.JobID == "" {
		return nil, fmt.Errorf("conversations:delete: workspace and job id are required")
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeConversationsDelete, b, asynq.TaskID("delete:"+p.JobID), asynq.Queue(QueueDefault),
		asynq.MaxRetry(5), asynq.Timeout(30*time.Minute), asynq.Retention(time.Hour)), nil
}

// NewRetentionTask applies every workspace's retention settings.
func NewRetentionTask() *asynq.Task {
	return asynq.NewTask(TypeRetentionApply, nil, asynq.Queue(QueueLow), asynq.MaxRetry(3),
		asynq.Timeout(time.Hour), asynq.Unique(time.Hour))
}

// Maintenance deletes conversations in bulk and by retention.
type Maintenance struct {
	Store         *store.Store
	Conversations *conversations.Service
	Jobs          conversations.BulkJobs
	Log           *slog.Logger
	Batch         int
}

func (h *Maintenance) batch() int {
	if h.Batch > 0 {
		return h.Batch
	}
	return 500
}

// deleteAll deletes matching conversations batch by batch, reporting each batch; every batch
// is one transaction that keeps the counts right, so a crash loses nothing and a retry
// continues where it stopped.
func (h *Maintenance) deleteAll(ctx context.Context, ws int64, f store.Filter, each func(n int) error) (int, error) {
	total := 0
	for {
		n, err := h.Store.DeleteMatching(ctx, ws, f, h.batch())
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		total += n
		h.Conversations.CountsChanged(ctx, ws)
		if err := each(n); err != nil {
			return total, err
		}
	}
}

// HandleDeleteMatching runs a bulk deletion.
func (h *Maintenance) HandleDeleteMatching(ctx context.Context, t *asynq.Task) error {
	var p DeleteMatchingPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.JobID == "" {
		return fmt.Errorf("conversations:delete: bad payload: %w", asynq.SkipRetry)
	}
	vals, err := url.ParseQuery(p.Query)
	if err != nil {
		return fmt.Errorf("conversations:delete: bad query: %w", asynq.SkipRetry)
	}
	asked := p.AskedAt
	if asked.IsZero() {
		asked = time.Now()
	}
	_, f, err := conversations.ParseQuery(vals, asked)
	if err != nil {
		_ = h.Jobs.Progress(ctx, p.WorkspaceID, p.JobID, 0, "failed", err.Error())
		return fmt.Errorf("conversations:delete: %v: %w", err, asynq.SkipRetry)
	}
	f.Sort = ""
	_ = h.Jobs.Progress(ctx, p.WorkspaceID, p.JobID, 0, "running", "")
	n, err := h.deleteAll(ctx, p.WorkspaceID, f, func(n int) error {
		return h.Jobs.Progress(ctx, p.WorkspaceID, p.JobID, int64(n), "running", "")
	})
	if err != nil {
		_ = h.Jobs.Progress(context.WithoutCancel(ctx), p.WorkspaceID, p.JobID, 0, "running", "retrying after: "+err.Error())
		return err
	}
	h.Log.InfoContext(ctx, "bulk deletion done", "workspace_id", p.WorkspaceID, "job_id", p.JobID, "deleted", n)
	return h.Jobs.Progress(ctx, p.WorkspaceID, p.JobID, 0, "done", "")
}

// HandleRetention deletes, per workspace and type, conversations whose last activity is older
// than the workspace's retention.
func (h *Maintenance) HandleRetention(ctx context.Context, _ *asynq.Task) error {
	ids, err := h.Store.WorkspaceIDs(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, ws := range ids {
		raw, err := h.Store.WorkspaceSettings(ctx, ws)
		if err != nil {
			return err
		}
		var st conversations.WorkspaceSettings
		if json.Unmarshal([]byte(raw), &st) != nil {
			continue
		}
		for typ, days := range st.RetentionDays {
			if days <= 0 || !conversations.ValidType(typ) {
				continue
			}
			cutoff := now.AddDate(0, 0, -days)
			n, err := h.deleteAll(ctx, ws, store.Filter{Type: typ, To: &cutoff}, func(int) error { return nil })
			if err != nil {
				return err
			}
			if n > 0 {
				h.Log.InfoContext(ctx, "retention deleted conversations", "workspace_id", ws, "type", typ, "days", days, "deleted", n)
			}
		}
	}
	return nil
}
