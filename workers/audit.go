package workers

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/audit"
)

// TypeAuditPrune deletes audit log entries older than PARLEY_AUDIT_RETENTION.
const TypeAuditPrune = "audit:prune"

// AuditPrune prunes the audit log.
func (t *Tasks) AuditPrune() *asynq.Task {
	return t.periodic(TypeAuditPrune, asynq.Queue(QueueLow), asynq.MaxRetry(3),
		asynq.Timeout(time.Hour), asynq.Unique(time.Hour))
}

// Audit runs the audit log's maintenance.
type Audit struct {
	Service *audit.Service
	Log     *slog.Logger
}

// HandlePrune deletes, in batches, the entries older than the service's retention.
func (h *Audit) HandlePrune(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Service.Prune(ctx, time.Now().UTC(), 1000)
	if n > 0 && h.Log != nil {
		h.Log.InfoContext(ctx, "audit log entries pruned", "deleted", n)
	}
	return err
}
