package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Reply outbox task types (issue 12 item 8).
const (
	// TypeChatReply finishes the reply promised to a widget or Test Chat visitor's message
	// whose web request did not store it (the process died mid-reply).
	TypeChatReply = "chat:reply"
	// TypeReplySweep re-enqueues the replies that are due and not done.
	TypeReplySweep = "reply:sweep"
)

// ChatReplyPayload names the customer message a widget or Test Chat reply answers.
type ChatReplyPayload struct {
	WorkspaceID    int64 `json:"workspace_id"`
	ConversationID int64 `json:"conversation_id"`
	MessageID      int64 `json:"message_id"`
}

// ChatReply finishes one promised widget or Test Chat reply; its id is
// "<prefix>:chatreply:<conversation>:<message>:<intent token>:s<sweep>".
func (t *Tasks) ChatReply(p ChatReplyPayload, token string, sweep int) (*asynq.Task, error) {
	if p.WorkspaceID <= 0 || p.ConversationID <= 0 || p.MessageID <= 0 {
		return nil, fmt.Errorf("%s: workspace, conversation and message ids are required", TypeChatReply)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeChatReply, b,
		asynq.TaskID(t.replyID("chatreply", p.ConversationID, p.MessageID, token, sweep)),
		asynq.Queue(QueueCritical),
		asynq.MaxRetry(8),
		asynq.Timeout(4*time.Minute),
		asynq.Retention(10*time.Minute),
	), nil
}

// ReplySweep re-enqueues the replies that are due and not done.
func (t *Tasks) ReplySweep() *asynq.Task {
	return t.periodic(TypeReplySweep,
		asynq.Queue(QueueLow), asynq.MaxRetry(0), asynq.Timeout(time.Minute), asynq.Unique(30*time.Second))
}

// Replies finishes promised replies: the reply sweep and the widget/Test Chat reply task.
type Replies struct {
	Store *store.Store
	Chat  *chat.Responder
	Tasks *Tasks
	Log   *slog.Logger
	// Age is how long after its customer message an intent must still be pending before the
	// sweep enqueues its reply: more than the WhatsApp debounce plus a grace, so that the sweep
	// does not race the reply's own task (default 30 s).
	Age time.Duration
	// Lookback bounds how old an intent the sweep still answers (default 24 h: WhatsApp's
	// window is closed by then anyway); Batch bounds one sweep (default 500).
	Lookback time.Duration
	Batch    int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (h *Replies) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Replies) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// HandleChatReply finishes one widget or Test Chat reply (chat.Responder.ReplyDue).
func (h *Replies) HandleChatReply(ctx context.Context, t *asynq.Task) error {
	var p ChatReplyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.ConversationID <= 0 || p.MessageID <= 0 {
		return fmt.Errorf("%s: bad payload %q: %w", TypeChatReply, t.Payload(), asynq.SkipRetry)
	}
	return h.Chat.ReplyDue(ctx, p.WorkspaceID, p.ConversationID, p.MessageID)
}

// HandleSweep enqueues the reply of every intent that is due (older than Age) and not done,
// with a task id of its own for each sweep round (so a completed task's id kept by Redis
// never blocks it), and moves the intent's next due time back by a growing delay (so that
// the next sweeps leave the task just enqueued time to run). Running the reply twice is
// harmless: the reply is stored once per message and sent once per key.
func (h *Replies) HandleSweep(ctx context.Context, _ *asynq.Task) error {
	age, back, batch := h.Age, h.Lookback, h.Batch
	if age <= 0 {
		age = 30 * time.Second
	}
	if back <= 0 {
		back = 24 * time.Hour
	}
	if batch <= 0 {
		batch = 500
	}
	now := h.now()
	due, err := h.Store.DueReplies(ctx, now.Add(-age), now.Add(-back), batch)
	if err != nil {
		return err
	}
	n := 0
	var ids []int64
	for i := range due {
		r := &due[i]
		// Next look: after 2, 4, 8 ... sweep ages, at most a minute (a reply is never left
		// waiting longer than that for a lost task to be replaced).
		wait := min(age<<min(r.Sweeps, 6), time.Minute)
		sweep, err := h.Store.RescheduleReply(ctx, r, now.Add(wait-age))
		if err != nil {
			return err
		}
		if sweep == 0 {
			continue // done meanwhile, or another sweep took it
		}
		var t *asynq.Task
		if r.ConversationType == model.TypeWhatsApp {
			t, err = h.Tasks.WhatsAppReply(WhatsAppReplyPayload{WorkspaceID: r.WorkspaceID, ConversationID: r.ConversationID, MessageID: r.MessageID}, r.Token, sweep, 0)
		} else {
			t, err = h.Tasks.ChatReply(ChatReplyPayload{WorkspaceID: r.WorkspaceID, ConversationID: r.ConversationID, MessageID: r.MessageID}, r.Token, sweep)
		}
		if err != nil {
			return err
		}
		if err := h.Tasks.Enqueue(ctx, t); err != nil {
			return fmt.Errorf("reply sweep: enqueue the reply to message %d: %w", r.MessageID, err)
		}
		n++
		if len(ids) < 50 {
			ids = append(ids, r.MessageID)
		}
	}
	if n > 0 {
		h.log().InfoContext(ctx, "reply sweep re-enqueued replies that were due and not done", "count", n, "message_ids", ids)
	}
	return nil
}
