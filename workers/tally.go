package workers

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/usage"
)

// Usage task types.
const (
	TypeUsageTally     = "usage:tally"
	TypeUsageReconcile = "usage:reconcile"
)

// UsageTally adds the untallied ledger rows to the daily rollups (and refreshes the
// recent days' activity figures). Running it twice, concurrently or after a crash, gives the
// same totals; the uniqueness only saves work.
func (t *Tasks) UsageTally() *asynq.Task {
	return t.periodic(TypeUsageTally, asynq.Queue(QueueLow), asynq.MaxRetry(3),
		asynq.Timeout(5*time.Minute), asynq.Unique(50*time.Second))
}

// UsageReconcile compares the recent days' rollups with the ledger and repairs drift.
func (t *Tasks) UsageReconcile() *asynq.Task {
	return t.periodic(TypeUsageReconcile, asynq.Queue(QueueLow), asynq.MaxRetry(2),
		asynq.Timeout(15*time.Minute), asynq.Unique(10*time.Minute))
}

// Tally runs the usage tally and reconciliation tasks; the rules are app/usage's Tally.
type Tally struct {
	*usage.Tally
}

// HandleTally runs one tally.
func (h *Tally) HandleTally(ctx context.Context, _ *asynq.Task) error {
	_, err := h.Run(ctx)
	return err
}

// HandleReconcile runs one reconciliation.
func (h *Tally) HandleReconcile(ctx context.Context, _ *asynq.Task) error {
	_, err := h.Reconcile(ctx)
	return err
}
