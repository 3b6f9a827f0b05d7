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
	"github.com/parleyhq/parley/app/whatsapp"
)

// The WhatsApp CSAT question at a conversation's end (issue 14, item 8). The end's row is
// the promise (conversation_ends.csat_sent_at): a task is enqueued at the end, and the sweep
// enqueues it again for recent ends whose question may still be due.
const (
	TypeWhatsAppCSAT      = "whatsapp:csat"
	TypeWhatsAppCSATSweep = "whatsapp:csat_sweep"
)

// WhatsAppCSATPayload names one end of a conversation.
type WhatsAppCSATPayload struct {
	WorkspaceID int64 `json:"workspace_id"`
	EndID       int64 `json:"end_id"`
}

// WhatsAppCSAT sends the CSAT question of one end. One task per end: the task id is
// "<prefix>:csat:<end id>", so enqueueing it again is a no-op (and the send is keyed anyway).
func (t *Tasks) WhatsAppCSAT(workspaceID, endID int64) (*asynq.Task, error) {
	if workspaceID <= 0 || endID <= 0 {
		return nil, fmt.Errorf("%s: workspace and end ids are required", TypeWhatsAppCSAT)
	}
	b, err := json.Marshal(WhatsAppCSATPayload{WorkspaceID: workspaceID, EndID: endID})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeWhatsAppCSAT, b,
		asynq.TaskID(t.id("csat", strconv.FormatInt(endID, 10))),
		asynq.Queue(QueueDefault),
		asynq.MaxRetry(8),
		asynq.Timeout(time.Minute),
		asynq.Retention(10*time.Minute),
	), nil
}

// WhatsAppCSATSweep re-enqueues the CSAT questions whose task was lost.
func (t *Tasks) WhatsAppCSATSweep() *asynq.Task {
	return t.periodic(TypeWhatsAppCSATSweep,
		asynq.Queue(QueueLow), asynq.MaxRetry(0), asynq.Timeout(time.Minute), asynq.Unique(30*time.Second))
}

// CSATScheduler enqueues the CSAT question of an end; its OnEnded is (one of) the
// conversations service's hooks for ends. Every end is enqueued: the task decides (one
// query) whether the question is due.
type CSATScheduler struct {
	Tasks *Tasks
	Log   *slog.Logger
}

// OnEnded enqueues the end's CSAT task. A queue that does not answer is logged, not
// returned: the end's row is the promise, and the sweep finds it.
func (s *CSATScheduler) OnEnded(ctx context.Context, end *store.ConversationEnd) {
	if end == nil || s.Tasks == nil {
		return
	}
	t, err := s.Tasks.WhatsAppCSAT(end.WorkspaceID, end.ID)
	if err == nil {
		err = s.Tasks.Enqueue(context.WithoutCancel(ctx), t)
	}
	if err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "could not enqueue the whatsapp csat question", "conversation_id", end.ConversationID, "end", end.Seq, "err", err)
	}
}

// ChainOnEnded calls each non-nil hook in turn: the ends' hooks compose.
func ChainOnEnded(hooks ...func(context.Context, *store.ConversationEnd)) func(context.Context, *store.ConversationEnd) {
	var hs []func(context.Context, *store.ConversationEnd)
	for _, h := range hooks {
		if h != nil {
			hs = append(hs, h)
		}
	}
	return func(ctx context.Context, end *store.ConversationEnd) {
		for _, h := range hs {
			h(ctx, end)
		}
	}
}

// HandleCSAT sends the CSAT question of one end when it is due (whatsapp.Service.SendCSAT).
func (h *WhatsApp) HandleCSAT(ctx context.Context, t *asynq.Task) error {
	var p WhatsAppCSATPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.EndID <= 0 {
		return fmt.Errorf("%s: bad payload %q: %w", TypeWhatsAppCSAT, t.Payload(), asynq.SkipRetry)
	}
	err := h.Service.SendCSAT(ctx, p.WorkspaceID, p.EndID)
	if err != nil && !whatsapp.Retryable(err) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// HandleCSATSweep enqueues the CSAT task of every recent end (within the window) whose
// question may still be due.
func (h *WhatsApp) HandleCSATSweep(ctx context.Context, _ *asynq.Task) error {
	batch := h.SweepBatch
	if batch <= 0 {
		batch = 1000
	}
	window := h.Service.Window
	if window <= 0 {
		window = whatsapp.DefaultWindow
	}
	ends, err := h.Service.UnsentCSAT(ctx, time.Now().Add(-window), batch)
	if err != nil {
		return err
	}
	for _, e := range ends {
		t, err := h.Tasks.WhatsAppCSAT(e.WorkspaceID, e.ID)
		if err != nil {
			return err
		}
		if err := h.Tasks.Enqueue(ctx, t); err != nil {
			return fmt.Errorf("csat sweep: enqueue end %d: %w", e.ID, err)
		}
	}
	if len(ends) > 0 {
		h.log().InfoContext(ctx, "csat sweep enqueued whatsapp csat questions", "count", len(ends))
	}
	return nil
}
