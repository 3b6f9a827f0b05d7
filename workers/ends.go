package workers

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
)

// TypeEndSweep ends open conversations idle past their type's idle time (issue 14 item 1).
const TypeEndSweep = "conversations:end_sweep"

// EndSweep is the periodic end sweep.
func (t *Tasks) EndSweep() *asynq.Task {
	return t.periodic(TypeEndSweep, asynq.Queue(QueueLow), asynq.MaxRetry(0),
		asynq.Timeout(5*time.Minute), asynq.Unique(time.Minute))
}

// Ends runs the end sweep. The database is the truth: a conversation is idle when its last
// message is older than its type's idle time, whatever Redis lost, so a sweep that did not run
// is made up for by the next one (each end is at the moment the conversation idled out).
type Ends struct {
	Conversations *conversation.Service
	// Idle are the idle times by type (PARLEY_WIDGET_IDLE, PARLEY_WHATSAPP_IDLE,
	// PARLEY_TESTCHAT_IDLE).
	Idle model.IdleTimes
	// Batch bounds one query (default 500); Rounds the batches per type in one run (default 20).
	Batch, Rounds int
	Log           *slog.Logger
}

// HandleSweep ends the conversations that idled out.
func (h *Ends) HandleSweep(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Conversations.EndIdleConversations(ctx, h.Idle, time.Now().UTC(), h.Batch, h.Rounds)
	if n > 0 && h.Log != nil {
		h.Log.InfoContext(ctx, "end sweep ended idle conversations", "count", n)
	}
	return err
}
