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

// NewWhatsAppWindowExpireTask closes a conversation's window at its deadline (rounded up to
// the second). One task per conversation and deadline: the task id is
// "window:<conversation id>:<deadline unix>", so enqueueing it again is a no-op, and a newer
// deadline has a task of its own (the older one finds the window still open in the database
// and does nothing).
func NewWhatsAppWindowExpireTask(workspaceID, conversationID int64, deadline time.Time, requestID ...string) (*asynq.Task, error) {
	if workspaceID <= 0 || conversationID <= 0 {
		return nil, fmt.Errorf("%s: workspace and conversation ids are required", TypeWhatsAppWindowExpire)
	}
	at := deadline.UTC()
	if t := at.Truncate(time.Second); !t.Equal(at) {
		at = t.Add(time.Second)
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
		asynq.TaskID("window:"+strconv.FormatInt(conversationID, 10)+":"+strconv.FormatInt(at.Unix(), 10)),
		asynq.ProcessAt(at),
		asynq.Queue(QueueDefault),
		asynq.MaxRetry(10),
		asynq.Timeout(30*time.Second),
	), nil
}

// NewWhatsAppWindowSweepTask closes windows whose expiry task was lost (Redis restarted).
func NewWhatsAppWindowSweepTask() *asynq.Task {
	return asynq.NewTask(TypeWhatsAppWindowSweep, nil,
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

// NewWhatsAppReplyTask answers a conversation after a short debounce, so that a burst of
// customer messages gets one reply: the task id is "reply:<conversation id>:<last inbound
// message id>", and a task whose message is no longer the latest does nothing.
func NewWhatsAppReplyTask(p WhatsAppReplyPayload, debounce time.Duration) (*asynq.Task, error) {
	if p.WorkspaceID <= 0 || p.ConversationID <= 0 || p.MessageID <= 0 {
		return nil, fmt.Errorf("%s: workspace, conversation and message ids are required", TypeWhatsAppReply)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeWhatsAppReply, b,
		asynq.TaskID("reply:"+strconv.FormatInt(p.ConversationID, 10)+":"+strconv.FormatInt(p.MessageID, 10)),
		asynq.ProcessIn(debounce),
		asynq.Queue(QueueCritical),
		asynq.MaxRetry(8),
		asynq.Timeout(3*time.Minute),
		asynq.Retention(10*time.Minute),
	), nil
}

// WhatsAppReplier is the hook of the AI reply: it writes the assistant's answer to a
// WhatsApp conversation. It may store the message itself (the LLM layer stores replies with
// their usage) and return it with its ID, or return an unsaved message (ID 0), which the
// worker stores. requestID is the same on every retry of one reply; a Replier that stores
// must return the same message when called again with it. A nil message means "nothing to
// say". A nil Replier on WhatsApp means no AI replies.
//
// Plugging in app/chat's Responder is one line:
//
//	wa.Replier = workers.WhatsAppReplierFunc(func(ctx context.Context, c *store.Conversation, a *store.Assistant, id string) (*store.Message, error) { r, err := responder.Reply(ctx, c, a, id, nil); return r.Message, err })
type WhatsAppReplier interface {
	Reply(ctx context.Context, conv *store.Conversation, assistant *store.Assistant, requestID string) (*store.Message, error)
}

// WhatsAppReplierFunc adapts a function to WhatsAppReplier.
type WhatsAppReplierFunc func(ctx context.Context, conv *store.Conversation, assistant *store.Assistant, requestID string) (*store.Message, error)

// Reply calls f.
func (f WhatsAppReplierFunc) Reply(ctx context.Context, conv *store.Conversation, a *store.Assistant, requestID string) (*store.Message, error) {
	return f(ctx, conv, a, requestID)
}

// WhatsApp processes WhatsApp's inbound events (its Process is the "whatsapp" Processor of
// Inbound), closes windows at their deadline, and replies.
type WhatsApp struct {
	Service *whatsapp.Service
	Queue   Enqueuer
	Log     *slog.Logger
	// Replier writes AI replies; nil: no AI reply is sent (the reply task does nothing).
	Replier WhatsAppReplier
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
			return h.Service.Store.MarkEventProcessedNote(ctx, ev.ID, note)
		}
		return nil
	default: // other webhook fields: stored for the record
		return h.Service.Store.MarkEventProcessedNote(ctx, ev.ID, "kept: "+ev.Kind+" "+p.Field)
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
	t, err := NewWhatsAppWindowExpireTask(conv.WorkspaceID, conv.ID, r.Deadline, reqID)
	if err != nil {
		return err
	}
	if err := Enqueue(ctx, h.Queue, t); err != nil {
		return fmt.Errorf("schedule window expiry: %w", err)
	}
	if !conv.AIEnabled {
		return nil
	}
	latest, err := h.Service.Store.LatestUserMessage(ctx, conv.WorkspaceID, conv.ID)
	if err != nil {
		return err
	}
	rt, err := NewWhatsAppReplyTask(WhatsAppReplyPayload{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, MessageID: latest.ID, RequestID: reqID}, h.debounce())
	if err != nil {
		return err
	}
	if err := Enqueue(ctx, h.Queue, rt); err != nil {
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
	closed, err := h.Service.Store.CloseExpiredWindow(ctx, p.WorkspaceID, p.ConversationID, store.Now())
	if err != nil {
		return err
	}
	if closed {
		h.Metrics.Window(metrics.WindowClosed, 1)
		h.log().InfoContext(ctx, "whatsapp window closed", "conversation_id", p.ConversationID)
		if h.Service.Conversations != nil {
			h.Service.Conversations.Changed(ctx, p.WorkspaceID, p.ConversationID)
		}
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
		closed, err := h.Service.Store.CloseExpiredWindows(ctx, store.Now(), batch)
		if err != nil {
			return err
		}
		for _, c := range closed {
			if h.Service.Conversations != nil {
				h.Service.Conversations.Changed(ctx, c.WorkspaceID, c.ID)
			}
		}
		total += len(closed)
		h.Metrics.Window(metrics.WindowClosed, len(closed))
		if len(closed) < batch {
			break
		}
	}
	if total > 0 {
		h.log().InfoContext(ctx, "window sweep closed WhatsApp windows whose expiry task was lost", "count", total)
	}
	return nil
}

// HandleReply answers a conversation once for a burst of customer messages: only when the
// named message is still the latest customer message, nobody answered it yet, AI replies are
// on, and a Replier is set. The send checks the window in the database and never sends one
// reply twice (its key is the task's).
func (h *WhatsApp) HandleReply(ctx context.Context, t *asynq.Task) error {
	var p WhatsAppReplyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.ConversationID <= 0 || p.MessageID <= 0 {
		return fmt.Errorf("%s: bad payload %q: %w", TypeWhatsAppReply, t.Payload(), asynq.SkipRetry)
	}
	if h.Replier == nil {
		return nil
	}
	st := h.Service.Store
	conv, err := st.GetConversation(ctx, p.WorkspaceID, p.ConversationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	if !conv.AIEnabled || conv.AssistantID == nil {
		return nil
	}
	key := whatsapp.ReplyKey(conv.ID, p.MessageID)
	if m, err := st.MessageByProviderID(ctx, conv.WorkspaceID, key); err == nil {
		// A previous run stored the reply and may have died before sending it: resume.
		return h.send(ctx, conv, whatsapp.Outgoing{Key: key, Role: "assistant", Stored: m})
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	latest, err := st.LatestUserMessage(ctx, conv.WorkspaceID, conv.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if latest.ID != p.MessageID {
		return nil // a newer customer message has its own reply task
	}
	if answered, err := st.AnsweredAfter(ctx, conv.WorkspaceID, conv.ID, latest); err != nil || answered {
		return err
	}
	if !whatsapp.WindowOpen(conv, store.Now()) {
		// Say why instead of writing a reply that cannot be sent.
		return st.SetConversationError(ctx, conv.WorkspaceID, conv.ID, "AI reply not sent: "+whatsapp.WindowClosedReason)
	}
	a, err := st.AssistantByID(ctx, conv.WorkspaceID, *conv.AssistantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if a.Disabled {
		return nil
	}
	requestID := fmt.Sprintf("reply:%d:%d", conv.ID, p.MessageID)
	started := store.Now()
	m, err := h.Replier.Reply(ctx, conv, a, requestID)
	if err != nil {
		return err
	}
	if m == nil || (m.ID == 0 && m.Content == "") {
		return nil
	}
	if m.ID == 0 && m.CreatedAt.IsZero() {
		// The reply's place in the timeline is when it was asked for, so a customer message
		// that arrives while the model is writing comes after it and gets its own reply.
		m.CreatedAt = started
	}
	return h.send(ctx, conv, whatsapp.Outgoing{Key: key, Role: "assistant", Stored: m})
}

func (h *WhatsApp) send(ctx context.Context, conv *store.Conversation, out whatsapp.Outgoing) error {
	_, err := h.Service.Send(ctx, conv, out)
	if err == nil {
		h.log().InfoContext(ctx, "whatsapp reply sent", "conversation_id", conv.ID, "key", out.Key)
		return nil
	}
	if !whatsapp.Retryable(err) {
		h.log().InfoContext(ctx, "whatsapp reply not sent", "conversation_id", conv.ID, "reason", err)
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}
