package workers

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/analytics"
)

// Quality rollup task types (issue 14, Analytics).
const (
	TypeQualityTally     = "quality:tally"
	TypeQualityReconcile = "quality:reconcile"
)

// QualityTally recomputes the quality rollups of the days whose evaluations, CSAT answers or
// feedback changed since the watermark. Running it twice, concurrently or after a crash gives
// the same rollups; the uniqueness only saves work.
func (t *Tasks) QualityTally() *asynq.Task {
	return t.periodic(TypeQualityTally, asynq.Queue(QueueLow), asynq.MaxRetry(3),
		asynq.Timeout(5*time.Minute), asynq.Unique(50*time.Second))
}

// QualityReconcile recomputes the recent days' quality rollups of every workspace.
func (t *Tasks) QualityReconcile() *asynq.Task {
	return t.periodic(TypeQualityReconcile, asynq.Queue(QueueLow), asynq.MaxRetry(2),
		asynq.Timeout(15*time.Minute), asynq.Unique(10*time.Minute))
}

// Quality runs the quality rollup tasks; the rules are app/analytics' QualityTally.
type Quality struct {
	*analytics.QualityTally
}

// HandleTally runs one recomputation of the touched days.
func (h *Quality) HandleTally(ctx context.Context, _ *asynq.Task) error {
	_, err := h.Run(ctx)
	return err
}

// HandleReconcile recomputes the recent days.
func (h *Quality) HandleReconcile(ctx context.Context, _ *asynq.Task) error {
	_, err := h.Reconcile(ctx)
	return err
}
