package workers

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// TypeInboundPrune deletes raw inbound events processed longer ago than
// PARLEY_INBOUND_RETENTION (erasure: their payloads hold customers' texts and numbers).
const TypeInboundPrune = "inbound:prune"

// InboundPrune prunes processed raw inbound events.
func (t *Tasks) InboundPrune() *asynq.Task {
	return t.periodic(TypeInboundPrune, asynq.Queue(QueueLow), asynq.MaxRetry(3),
		asynq.Timeout(time.Hour), asynq.Unique(time.Hour))
}

// HandlePrune deletes, in batches, the processed raw events older than the service's
// retention; unprocessed ones stay for the sweep.
func (h *Inbound) HandlePrune(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Service.Prune(ctx, time.Now().UTC(), 1000)
	if n > 0 {
		h.Log.InfoContext(ctx, "inbound events pruned", "deleted", n)
	}
	return err
}
