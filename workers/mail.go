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

	"github.com/parleyhq/parley/app/mail"
	"github.com/parleyhq/parley/app/store"
)

// Mail outbox task types (issue 13).
const (
	// TypeMailSend sends one stored outgoing_mail row.
	TypeMailSend = "mail:send"
	// TypeMailSweep re-enqueues the messages that are due and not sent (their task was lost).
	TypeMailSweep = "mail:sweep"
)

// MailSendPayload names the message to send (never its content).
type MailSendPayload struct {
	MailID int64 `json:"mail_id"`
}

// MailSend sends one stored message; its id is "<prefix>:mail:<id>:<row token>:s<sweep>", so
// that each sweep round gets a task of its own and a restored database never collides with
// the completed task of an old row that had the same id.
func (t *Tasks) MailSend(id int64, token string, sweep int) (*asynq.Task, error) {
	if id <= 0 || token == "" {
		return nil, fmt.Errorf("%s: the message id and token are required", TypeMailSend)
	}
	b, err := json.Marshal(MailSendPayload{MailID: id})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeMailSend, b,
		asynq.TaskID(t.id("mail", strconv.FormatInt(id, 10), token, "s"+strconv.Itoa(sweep))),
		asynq.Queue(QueueDefault),
		asynq.MaxRetry(6),
		asynq.Timeout(2*time.Minute),
		asynq.Retention(10*time.Minute),
	), nil
}

// MailSweep re-enqueues the messages that are due and not sent.
func (t *Tasks) MailSweep() *asynq.Task {
	return t.periodic(TypeMailSweep,
		asynq.Queue(QueueLow), asynq.MaxRetry(0), asynq.Timeout(time.Minute), asynq.Unique(30*time.Second))
}

// NotifyMail is mail.Service's Notify: it enqueues the first send task of a stored message.
func (t *Tasks) NotifyMail(ctx context.Context, m *store.OutgoingMail) error {
	task, err := t.MailSend(m.ID, m.Token, 0)
	if err != nil {
		return err
	}
	return t.Enqueue(ctx, task)
}

// Mail sends the outbox: the send task and the sweep.
type Mail struct {
	Mail  *mail.Service
	Store *store.Store
	Tasks *Tasks
	Log   *slog.Logger
	// Batch bounds one sweep (default 200). Now is the clock (time.Now when nil).
	Batch int
	Now   func() time.Time
}

// HandleSend sends one message (mail.Service.Deliver): a message that failed for good is not
// retried; any other failure is, and the row keeps its own next due time for the sweep.
func (h *Mail) HandleSend(ctx context.Context, t *asynq.Task) error {
	var p MailSendPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.MailID <= 0 {
		return fmt.Errorf("%s: bad payload %q: %w", TypeMailSend, t.Payload(), asynq.SkipRetry)
	}
	err := h.Mail.Deliver(ctx, p.MailID)
	if errors.Is(err, mail.ErrGaveUp) || errors.Is(err, mail.ErrNotConfigured) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// HandleSweep enqueues a send task for every pending message whose due time has passed (its
// own task was lost, or its retries ran out before MaxAttempts), and moves the message's due
// time on by a growing delay so that the next sweeps leave the task time to run.
func (h *Mail) HandleSweep(ctx context.Context, _ *asynq.Task) error {
	if !h.Mail.Enabled() {
		return nil
	}
	batch := h.Batch
	if batch <= 0 {
		batch = 200
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	due, err := h.Store.DueMail(ctx, now, batch)
	if err != nil {
		return err
	}
	n := 0
	for i := range due {
		m := &due[i]
		sweep, err := h.Store.RescheduleMail(ctx, m, now.Add(min(time.Minute<<min(m.Sweeps, 6), time.Hour)))
		if err != nil {
			return err
		}
		if sweep == 0 {
			continue
		}
		t, err := h.Tasks.MailSend(m.ID, m.Token, sweep)
		if err != nil {
			return err
		}
		if err := h.Tasks.Enqueue(ctx, t); err != nil {
			return fmt.Errorf("mail sweep: enqueue message %d: %w", m.ID, err)
		}
		n++
	}
	if n > 0 && h.Log != nil {
		h.Log.InfoContext(ctx, "mail sweep re-enqueued messages", "count", n)
	}
	return nil
}
