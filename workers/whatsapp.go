package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/logctx"
	"github.com/parleyhq/parley/app/metrics"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/whatsapp"
)

// WhatsApp task types.
const (
	TypeWhatsAppWindowExpire = "whatsapp:window_expire"
	TypeWhatsAppWindowSweep  = "whatsapp:window_sweep"
	TypeWhatsAppReply        = "whatsapp:reply"
)

// WhatsAppWindowPayload names a conversation's window deadline.
type WhatsAppWindowPayload struct {
	WorkspaceID    int64 `json:"workspace_id"`
	ConversationID int64 `json:"conversation_id"`
	Deadline       int64 `json:"deadline"` // Unix seconds
	// RequestID is the webhook request whose message opened the window (for the logs).
	RequestID string `json:"request_id,omitempty"`
}

// WhatsAppWindowExpire closes a conversation's window at its deadline (rounded up to the
// second). One task per conversation and deadline: the task id is
// "<prefix>:window:<conversation id>:<deadline unix>", so enqueueing it again is a no-op, and
// a newer deadline has a task of its own (the older one finds the window still open in the
// database and does nothing). The database is the truth: the window sweep closes every
// window whose deadline passed (conversations.window_expires_at), whatever Redis lost.
func (t *Tasks) WhatsAppWindowExpire(workspaceID, conversationID int64, deadline time.Time, requestID ...string) (*asynq.Task, error) {
	if workspaceID <= 0 || conversationID <= 0 {
		return nil, fmt.Errorf("%s: workspace and conversation ids are required", TypeWhatsAppWindowExpire)
	}
	at := deadline.UTC()
	if tr := at.Truncate(time.Second); !tr.Equal(at) {
		at = tr.Add(time.Second)
	}
	p := WhatsAppWindowPayload{WorkspaceID: workspaceID, ConversationID: conversationID, Deadline: at.Unix()}
	if len(requestID) > 0 {
		p.RequestID = requestID[0]
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeWhatsAppWindowExpire, b,
		asynq.TaskID(t.id("window", strconv.FormatInt(conversationID, 10), strconv.FormatInt(at.Unix(), 10))),
		asynq.ProcessAt(at),
		asynq.Queue(QueueDefault),
		asynq.MaxRetry(10),
		asynq.Timeout(30*time.Second),
	), nil
}

// WhatsAppWindowSweep closes windows whose expiry task was lost (Redis restarted).
func (t *Tasks) WhatsAppWindowSweep() *asynq.Task {
	return t.periodic(TypeWhatsAppWindowSweep,
		asynq.Queue(QueueLow), asynq.MaxRetry(0), asynq.Timeout(time.Minute), asynq.Unique(30*time.Second))
}

// WhatsAppReplyPayload names the customer message a reply answers: the conversation's
// latest when the task was enqueued.
type WhatsAppReplyPayload struct {
	WorkspaceID    int64 `json:"workspace_id"`
	ConversationID int64 `json:"conversation_id"`
	MessageID      int64 `json:"message_id"`
	// RequestID is the webhook request of the customer message (for the logs).
	RequestID string `json:"request_id,omitempty"`
}

// WhatsAppReply answers a conversation after a short debounce, so that a burst of customer
// messages gets one reply: the task id is "<prefix>:reply:<conversation id>:<message
// id>:<intent token>" (a sweep's re-enqueue adds ":s<n>", its n-th), and a task whose message
// is no longer the latest does nothing. token is the reply intent's (store.PendingReply).
func (t *Tasks) WhatsAppReply(p WhatsAppReplyPayload, token string, sweep int, debounce time.Duration) (*asynq.Task, error) {
	if p.WorkspaceID <= 0 || p.ConversationID <= 0 || p.MessageID <= 0 {
		return nil, fmt.Errorf("%s: workspace, conversation and message ids are required", TypeWhatsAppReply)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeWhatsAppReply, b,
		asynq.TaskID(t.replyID("reply", p.ConversationID, p.MessageID, token, sweep)),
		asynq.ProcessIn(debounce),
		asynq.Queue(QueueCritical),
		asynq.MaxRetry(8),
		asynq.Timeout(3*time.Minute),
		asynq.Retention(10*time.Minute),
	), nil
}

func (t *Tasks) replyID(kind string, conversationID, messageID int64, token string, sweep int) string {
	parts := []string{kind, strconv.FormatInt(conversationID, 10), strconv.FormatInt(messageID, 10)}
	if token != "" {
		parts = append(parts, token)
	}
	if sweep > 0 {
		parts = append(parts, "s"+strconv.Itoa(sweep))
	}
	return t.id(parts...)
}

// WhatsAppReplier is whatsapp.Replier (kept under its old name for the tools and tests).
type WhatsAppReplier = whatsapp.Replier

// WhatsAppReplierFunc is whatsapp.ReplierFunc.
type WhatsAppReplierFunc = whatsapp.ReplierFunc

// WhatsApp processes WhatsApp's inbound events (its Process is the "whatsapp" Processor of
// Inbound), closes windows at their deadline, and replies.
type WhatsApp struct {
	Service *whatsapp.Service
	Tasks   *Tasks
	Log     *slog.Logger
	// Debounce is how long the reply waits for more customer messages (default 2s).
	Debounce time.Duration
	// SweepBatch bounds one window sweep round (default 1000).
	SweepBatch int
	// Metrics counts windows opened and closed; nil counts nothing.
	Metrics *metrics.Metrics
}

func (h *WhatsApp) debounce() time.Duration {
	if h.Debounce > 0 {
		return h.Debounce
	}
	return 2 * time.Second
}

func (h *WhatsApp) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// Process handles one stored WhatsApp event: a customer message (stored once, window
// reopened, expiry scheduled, reply enqueued), a delivery status (applied only forward), or
// another change (kept, nothing to do). Errors that no retry fixes wrap asynq.SkipRetry.
func (h *WhatsApp) Process(ctx context.Context, ev *store.InboundEvent) error {
	p, err := whatsapp.DecodeEvent(ev.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	switch ev.Kind {
	case whatsapp.KindMessage:
		return h.processMessage(ctx, ev, p)
	case whatsapp.KindStatus:
		note, err := h.Service.ReceiveStatus(ctx, p)
		if err != nil {
			return final(err)
		}
		if note != "" {
			return h.Service.Keep(ctx, ev, note)
		}
		return nil
	default: // other webhook fields: stored for the record
		return h.Service.Keep(ctx, ev, "kept: "+ev.Kind+" "+p.Field)
	}
}

// final marks the errors no retry can fix.
func final(err error) error {
	if errors.Is(err, whatsapp.ErrUnknownNumber) || errors.Is(err, whatsapp.ErrBadEvent) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

func (h *WhatsApp) processMessage(ctx context.Context, ev *store.InboundEvent, p *whatsapp.EventPayload) error {
	// A tap on a CSAT question is the customer's score, never a turn the AI answers.
	if note, handled, err := h.Service.ReceiveCSATReply(ctx, p); handled || err != nil {
		if err != nil {
			return final(err)
		}
		return h.Service.Keep(ctx, ev, note)
	}
	r, err := h.Service.ReceiveMessage(ctx, p, ev.ProviderID, ev.ReceivedAt)
	if err != nil {
		return final(err)
	}
	conv := r.Conversation
	if r.Inserted && !whatsapp.WindowOpen(conv, r.Message.CreatedAt) && r.Deadline.After(store.Now()) {
		// conv is the row as it was before this message: no window was open, now one is.
		h.Metrics.Window(metrics.WindowOpened, 1)
		h.log().InfoContext(ctx, "whatsapp window opened", "conversation_id", conv.ID, "deadline", r.Deadline)
	}
	reqID := logctx.RequestID(ctx)
	// Every run schedules (a duplicate enqueue is a no-op), so a run that died after storing
	// the message still schedules on retry.
	t, err := h.Tasks.WhatsAppWindowExpire(conv.WorkspaceID, conv.ID, r.Deadline, reqID)
	if err != nil {
		return err
	}
	if err := h.Tasks.Enqueue(ctx, t); err != nil {
		return fmt.Errorf("schedule window expiry: %w", err)
	}
	if !conv.AIEnabled {
		return nil
	}
	// The intent to answer the latest customer message was stored with it (the outbox): this
	// task is the fast path; the reply sweep enqueues it again if Redis loses it.
	intent, err := h.Service.PendingReply(ctx, conv)
	if err != nil || intent == nil {
		return err
	}
	rt, err := h.Tasks.WhatsAppReply(WhatsAppReplyPayload{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, MessageID: intent.MessageID, RequestID: reqID}, intent.Token, 0, h.debounce())
	if err != nil {
		return err
	}
	if err := h.Tasks.Enqueue(ctx, rt); err != nil {
		return fmt.Errorf("enqueue reply: %w", err)
	}
	return nil
}

// HandleWindowExpire closes the window if its deadline has really passed (the database
// decides), and tells open pages.
func (h *WhatsApp) HandleWindowExpire(ctx context.Context, t *asynq.Task) error {
	var p WhatsAppWindowPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.ConversationID <= 0 {
		return fmt.Errorf("%s: bad payload %q: %w", TypeWhatsAppWindowExpire, t.Payload(), asynq.SkipRetry)
	}
	closed, err := h.Service.CloseWindow(ctx, p.WorkspaceID, p.ConversationID)
	if err != nil {
		return err
	}
	if closed {
		h.Metrics.Window(metrics.WindowClosed, 1)
		h.log().InfoContext(ctx, "whatsapp window closed", "conversation_id", p.ConversationID)
	}
	return nil
}

// HandleWindowSweep closes every window whose deadline passed and that is still marked open.
func (h *WhatsApp) HandleWindowSweep(ctx context.Context, _ *asynq.Task) error {
	batch := h.SweepBatch
	if batch <= 0 {
		batch = 1000
	}
	total := 0
	for {
		closed, err := h.Service.CloseExpiredWindows(ctx, batch)
		total += closed
		h.Metrics.Window(metrics.WindowClosed, closed)
		if err != nil {
			return err
		}
		if closed < batch {
			break
		}
	}
	if total > 0 {
		h.log().InfoContext(ctx, "window sweep closed WhatsApp windows whose expiry task was lost", "count", total)
	}
	return nil
}

// HandleReply answers a conversation once for a burst of customer messages, when the reply
// is still due (whatsapp.Service.ReplyIfDue decides). A send that failed for good is not
// retried.
func (h *WhatsApp) HandleReply(ctx context.Context, t *asynq.Task) error {
	var p WhatsAppReplyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.ConversationID <= 0 || p.MessageID <= 0 {
		return fmt.Errorf("%s: bad payload %q: %w", TypeWhatsAppReply, t.Payload(), asynq.SkipRetry)
	}
	err := h.Service.ReplyIfDue(ctx, p.WorkspaceID, p.ConversationID, p.MessageID)
	if err != nil && !whatsapp.Retryable(err) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}
