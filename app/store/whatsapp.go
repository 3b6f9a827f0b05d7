package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// statusRankSQL is model.Status.Rank in SQL, over the messages.status column.
var statusRankSQL = func() string {
	var b strings.Builder
	b.WriteString("(CASE status")
	for _, st := range model.RankedStatuses {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", st, model.StatusRank(st))
	}
	b.WriteString(" ELSE 0 END)")
	return b.String()
}()

// InsertInboundEvents stores a webhook delivery's events in one statement (so all or none
// are stored) and returns the ones that were new; events already stored (same provider and
// provider_id) are left alone. The rows are written in (provider, provider_id) order, so that
// concurrent statements with overlapping events (the batcher joins several deliveries in one)
// take their row locks in the same order instead of deadlocking on PostgreSQL.
func (s *Store) InsertInboundEvents(ctx context.Context, evs []*InboundEvent) ([]*InboundEvent, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	evs = slices.Clone(evs)
	slices.SortStableFunc(evs, func(a, b *InboundEvent) int {
		return cmp.Or(strings.Compare(a.Provider, b.Provider), strings.Compare(a.ProviderID, b.ProviderID))
	})
	t := now()
	for _, ev := range evs {
		if ev.ReceivedAt.IsZero() {
			ev.ReceivedAt = t
		}
	}
	var rows []struct {
		ID         int64  `bun:"id"`
		Provider   string `bun:"provider"`
		ProviderID string `bun:"provider_id"`
	}
	err := s.DB.NewInsert().Model(&evs).ExcludeColumn("id").
		On("CONFLICT (provider, provider_id) DO NOTHING").
		Returning("id, provider, provider_id").Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	byKey := make(map[[2]string]*InboundEvent, len(evs))
	for _, ev := range evs {
		byKey[[2]string{ev.Provider, ev.ProviderID}] = ev
	}
	out := make([]*InboundEvent, 0, len(rows))
	for _, r := range rows {
		if ev := byKey[[2]string{r.Provider, r.ProviderID}]; ev != nil {
			ev.ID = r.ID
			out = append(out, ev)
		}
	}
	return out, nil
}

// MarkEventProcessedNote records success with a note kept in last_error (for example a
// status about a message Parley does not know).
func (s *Store) MarkEventProcessedNote(ctx context.Context, id int64, note string) error {
	_, err := s.DB.NewUpdate().Model((*InboundEvent)(nil)).
		Set("processed_at = ?", now()).Set("attempts = attempts + 1").Set("last_error = ?", truncate(note, 2000)).
		Where("id = ? AND processed_at IS NULL", id).Exec(ctx)
	return err
}

// SetCustomerName updates a conversation's customer name when it changed.
func (s *Store) SetCustomerName(ctx context.Context, workspaceID, id int64, name string) (bool, error) {
	res, err := s.DB.NewUpdate().Model((*Conversation)(nil)).
		Set("customer_name = ?", name).Set("updated_at = ?", now()).
		Where("id = ? AND workspace_id = ? AND customer_name <> ?", id, workspaceID, name).Exec(ctx)
	return affected(res, err)
}

// OpenWhatsAppWindow applies a customer message sent at msgTime whose window ends at deadline:
// window_expires_at becomes the later of the current deadline and this one, and a closed
// window reopens when the new deadline is still ahead. A message older than the window's
// closing (processed late) changes nothing. One conditional UPDATE, so concurrent messages
// cannot move the deadline back. changed reports whether the row moved.
func (s *Store) OpenWhatsAppWindow(ctx context.Context, workspaceID, id int64, msgTime, deadline, at time.Time) (changed bool, err error) {
	msgTime, deadline, at = msgTime.UTC(), deadline.UTC(), at.UTC()
	reopen := deadline.After(at)
	q := s.DB.NewUpdate().Model((*Conversation)(nil)).
		Set("window_expires_at = CASE WHEN window_expires_at IS NULL OR window_expires_at < ? THEN ? ELSE window_expires_at END", deadline, deadline).
		Set("updated_at = ?", now()).
		Where("id = ? AND workspace_id = ? AND type = ?", id, workspaceID, model.TypeWhatsApp).
		Where("(window_closed_at IS NULL OR window_closed_at <= ?)", msgTime)
	if reopen {
		q = q.Set("window_closed_at = NULL").
			Where("(window_expires_at IS NULL OR window_expires_at < ? OR window_closed_at IS NOT NULL)", deadline)
	} else {
		q = q.Where("(window_expires_at IS NULL OR window_expires_at < ?)", deadline)
	}
	return affected(q.Exec(ctx))
}

// CloseExpiredWindow closes a WhatsApp conversation's window when its deadline has really
// passed at time at, and ends the conversation (model.EndWindow, at the deadline) when it is
// open, in one transaction; it reports whether the window closed (CloseWindowAndEnd also
// returns the end).
func (s *Store) CloseExpiredWindow(ctx context.Context, workspaceID, id int64, at time.Time) (bool, error) {
	closed, _, err := s.CloseWindowAndEnd(ctx, workspaceID, id, at)
	return closed, err
}

// CloseWindowAndEnd is CloseExpiredWindow returning the conversation's end too (nil when the
// window did not close or the conversation had already ended).
func (s *Store) CloseWindowAndEnd(ctx context.Context, workspaceID, id int64, at time.Time) (closed bool, end *ConversationEnd, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var rows []ClosedWindow
		err := tx.NewUpdate().Model((*Conversation)(nil)).
			Set("window_closed_at = window_expires_at").Set("updated_at = ?", now()).
			Where("id = ? AND workspace_id = ? AND type = ?", id, workspaceID, model.TypeWhatsApp).
			Where("window_closed_at IS NULL AND window_expires_at IS NOT NULL AND window_expires_at <= ?", at.UTC()).
			Returning("id, workspace_id, window_expires_at").Scan(ctx, &rows)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		closed = true
		end, err = endTx(ctx, tx, workspaceID, id, model.EndWindow, rows[0].ExpiresAt, time.Time{})
		return err
	})
	if err != nil {
		return false, nil, err
	}
	return closed, end, nil
}

// ClosedWindow names a conversation whose window a sweep closed, and its end (nil when it
// had already ended).
type ClosedWindow struct {
	ID          int64            `bun:"id"`
	WorkspaceID int64            `bun:"workspace_id"`
	ExpiresAt   time.Time        `bun:"window_expires_at"`
	End         *ConversationEnd `bun:"-"`
}

// WindowSweepLookback bounds how far back the sweep looks for windows left open: a window whose
// deadline passed is closed for every reader already (see whatsapp.WindowOpen); the sweep only
// records it and tells open pages, and it runs every minute.
const WindowSweepLookback = 7 * 24 * time.Hour

// CloseExpiredWindows closes up to limit windows whose deadline passed at now but that are
// still marked open (their expiry task was lost), ending each open conversation at its
// deadline (model.EndWindow) in the same transaction, and returns them.
func (s *Store) CloseExpiredWindows(ctx context.Context, at time.Time, limit int) ([]ClosedWindow, error) {
	at = at.UTC()
	var out []ClosedWindow
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		out = nil
		sub := tx.NewSelect().Model((*Conversation)(nil)).Column("id").
			Where("type = ? AND window_expires_at IS NOT NULL", model.TypeWhatsApp).
			Where("window_expires_at <= ? AND window_expires_at > ?", at, at.Add(-WindowSweepLookback)).
			Where("window_closed_at IS NULL").
			Order("window_expires_at ASC").Limit(int64(limit))
		err := tx.NewUpdate().Model((*Conversation)(nil)).
			Set("window_closed_at = window_expires_at").Set("updated_at = ?", now()).
			Where("id IN (?)", sub).Where("window_closed_at IS NULL").
			Returning("id, workspace_id, window_expires_at").Scan(ctx, &out)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		for i := range out {
			c := &out[i]
			if c.End, err = endTx(ctx, tx, c.WorkspaceID, c.ID, model.EndWindow, c.ExpiresAt, time.Time{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CloseWindowAt closes a conversation's window at `at` because Meta refused a free-form
// message (131047): window_closed_at = at and the deadline no later than at. A customer
// message newer than at keeps the window open (Meta's refusal predates it).
func (s *Store) CloseWindowAt(ctx context.Context, workspaceID, id int64, at time.Time) (bool, error) {
	at = at.UTC().Truncate(time.Microsecond)
	res, err := s.DB.NewUpdate().Model((*Conversation)(nil)).
		Set("window_closed_at = CASE WHEN window_closed_at IS NULL THEN ? ELSE window_closed_at END", at).
		Set("window_expires_at = CASE WHEN window_expires_at IS NULL OR window_expires_at > ? THEN ? ELSE window_expires_at END", at, at).
		Set("updated_at = ?", now()).
		Where("id = ? AND workspace_id = ? AND type = ?", id, workspaceID, model.TypeWhatsApp).
		Where("(last_inbound_at IS NULL OR last_inbound_at <= ?)", at).
		Where("(window_closed_at IS NULL OR window_expires_at IS NULL OR window_expires_at > ?)", at).Exec(ctx)
	return affected(res, err)
}

// MessageRef locates a message.
type MessageRef struct {
	ID             int64  `bun:"id"`
	WorkspaceID    int64  `bun:"workspace_id"`
	ConversationID int64  `bun:"conversation_id"`
	Status         string `bun:"status"`
}

// UpdateMessageStatus moves the workspace's message with Meta's id forward to status, in one
// conditional UPDATE: a status only replaces a lower one (sent < delivered < read < failed),
// so statuses may arrive in any order. statusError is recorded with "failed". It returns the
// message and whether it moved; ErrNotFound when no message has that id.
func (s *Store) UpdateMessageStatus(ctx context.Context, workspaceID int64, providerMessageID, status, statusError string, at time.Time) (*MessageRef, bool, error) {
	rank := model.StatusRank(status)
	if rank == 0 {
		ref, err := s.messageRef(ctx, workspaceID, providerMessageID)
		return ref, false, err
	}
	q := s.DB.NewUpdate().Model((*Message)(nil)).
		Set("status = ?", status).Set("status_updated_at = ?", at.UTC().Truncate(time.Microsecond)).
		Where("workspace_id = ? AND provider_message_id = ?", workspaceID, providerMessageID).
		Where(statusRankSQL+" < ?", rank)
	if status == model.StatusFailed {
		q = q.Set("status_error = ?", truncate(statusError, 2000))
	}
	var refs []MessageRef
	err := q.Returning("id, workspace_id, conversation_id, status").Scan(ctx, &refs)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, false, err
	}
	if len(refs) > 0 {
		return &refs[0], true, nil
	}
	ref, err := s.messageRef(ctx, workspaceID, providerMessageID)
	return ref, false, err
}

func (s *Store) messageRef(ctx context.Context, workspaceID int64, providerMessageID string) (*MessageRef, error) {
	ref := new(MessageRef)
	err := s.DB.NewSelect().Model((*Message)(nil)).Column("id", "workspace_id", "conversation_id", "status").
		Where("workspace_id = ? AND provider_message_id = ?", workspaceID, providerMessageID).Scan(ctx, ref)
	if err != nil {
		return nil, notFound(err)
	}
	return ref, nil
}

// MessageByProviderID loads the workspace's message with that provider id (Meta's id, or the
// idempotency key of an outgoing message not sent yet).
func (s *Store) MessageByProviderID(ctx context.Context, workspaceID int64, providerMessageID string) (*Message, error) {
	m := new(Message)
	if err := s.DB.NewSelect().Model(m).Where("workspace_id = ? AND provider_message_id = ?", workspaceID, providerMessageID).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return m, nil
}

// AttachProviderMessageID replaces an outgoing message's idempotency key by Meta's id, when
// a status carrying the key (biz_opaque_callback_data) arrives before the send's answer was
// stored (the worker died in between).
func (s *Store) AttachProviderMessageID(ctx context.Context, workspaceID int64, key, providerMessageID string) (bool, error) {
	res, err := s.DB.NewUpdate().Model((*Message)(nil)).
		Set("provider_message_id = ?", providerMessageID).
		Set("status = CASE WHEN status IN (?, ?) THEN ? ELSE status END", model.StatusPending, model.StatusSending, model.StatusSent).
		Set("status_updated_at = ?", now()).
		Where("workspace_id = ? AND provider_message_id = ?", workspaceID, key).Exec(ctx)
	return affected(res, err)
}

// The idempotency key of an outgoing message is taken for good by one message (table
// send_keys): it is also the message's provider id until Meta's id replaces it, but a key that
// lived only there was free again once the message was sent, and a twin run (asynq's re-run,
// the reply sweep's re-enqueue) that stored its copy after that sent the message a second
// time. The database decides which message a key names; the Redis locks in front are only an
// economy.

// OutgoingByKey loads the workspace's message that send key key names (ErrNotFound: none yet).
// The message's provider id is the key until the send stores Meta's id in its place.
func (s *Store) OutgoingByKey(ctx context.Context, workspaceID int64, key string) (*Message, error) {
	m := new(Message)
	err := s.DB.NewSelect().Model(m).Where("workspace_id = ?", workspaceID).
		Where("(provider_message_id = ? OR id IN (SELECT message_id FROM send_keys WHERE send_key = ?))", key, key).
		Order("id ASC").Limit(1).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return m, nil
}

// AddOutgoingMessage stores an outgoing message under its send key (m.ProviderMessageID must be
// the key) as AddMessage does, unless the key already names a message: then nothing is written
// and inserted is false (the caller loads that message with OutgoingByKey). Of two callers with
// one key, exactly one inserts, even when the first's message was sent (its provider id is
// Meta's) before the second looked. The audit entries given are written with an inserted
// message, in its transaction.
func (s *Store) AddOutgoingMessage(ctx context.Context, m *Message, audit ...*AuditEntry) (inserted bool, err error) {
	if m.ProviderMessageID == nil || *m.ProviderMessageID == "" {
		return false, errors.New("store: an outgoing message needs its send key as provider id")
	}
	key := *m.ProviderMessageID
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockConversation(ctx, tx, m.WorkspaceID, m.ConversationID); err != nil {
			return err
		}
		if taken, err := tx.NewSelect().Table("send_keys").Where("send_key = ?", key).Exists(ctx); err != nil || taken {
			return err
		}
		if inserted, err = s.addMessage(ctx, tx, m); err != nil || !inserted {
			return err
		}
		if _, err := tx.NewRaw("INSERT INTO send_keys (send_key, workspace_id, message_id, created_at) VALUES (?, ?, ?, ?)",
			key, m.WorkspaceID, m.ID, now()).Exec(ctx); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if IsUniqueViolation(err) { // another caller took the key meanwhile (its transaction committed first)
		return false, nil
	}
	if err != nil {
		inserted = false
	}
	return inserted, err
}

// ClaimOutgoingMessage puts send key key on a stored outgoing message that has no provider id
// yet (a reply stored by the LLM layer) and makes it "pending": the key is what a retried send
// finds it by. It claims nothing when the key already names another message (a twin's copy).
func (s *Store) ClaimOutgoingMessage(ctx context.Context, workspaceID, id int64, key string) (claimed bool, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewRaw(`INSERT INTO send_keys (send_key, workspace_id, message_id, created_at)
			SELECT ?, m.workspace_id, m.id, ? FROM messages AS m WHERE m.id = ? AND m.workspace_id = ?
			ON CONFLICT (send_key) DO NOTHING`, key, now(), id, workspaceID).Exec(ctx); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model((*Message)(nil)).
			Set("provider_message_id = ?", key).Set("status = ?", model.StatusPending).Set("status_updated_at = ?", now()).
			Where("id = ? AND workspace_id = ? AND provider_message_id IS NULL", id, workspaceID).
			Where("id IN (SELECT message_id FROM send_keys WHERE send_key = ?)", key).Exec(ctx)
		claimed, err = affected(res, err)
		return err
	})
	return claimed, err
}

// MarkMessageSending claims the send of the outgoing message (still under its key): it moves
// from pending to sending, or takes over a send that started before staleBefore (its outcome
// stayed unknown past the resend grace). The claim is exclusive: of two runners (a task and
// its twin re-enqueued by a sweep), one claims and the other is refused, so one key reaches
// Meta once.
func (s *Store) MarkMessageSending(ctx context.Context, workspaceID, id int64, key string, staleBefore time.Time) (bool, error) {
	res, err := s.DB.NewUpdate().Model((*Message)(nil)).
		Set("status = ?", model.StatusSending).Set("status_updated_at = ?", now()).
		Where("id = ? AND workspace_id = ? AND provider_message_id = ?", id, workspaceID, key).
		Where("(status = ? OR (status = ? AND (status_updated_at IS NULL OR status_updated_at < ?)))",
			model.StatusPending, model.StatusSending, staleBefore.UTC()).Exec(ctx)
	return affected(res, err)
}

// MarkMessageSent stores Meta's id in place of the key and moves the message to "sent" (unless
// a status got further first).
func (s *Store) MarkMessageSent(ctx context.Context, workspaceID, id int64, key, providerMessageID string) (bool, error) {
	res, err := s.DB.NewUpdate().Model((*Message)(nil)).
		Set("provider_message_id = ?", providerMessageID).
		Set("status = CASE WHEN status IN (?, ?, '') THEN ? ELSE status END", model.StatusPending, model.StatusSending, model.StatusSent).
		Set("status_updated_at = ?", now()).
		Where("id = ? AND workspace_id = ? AND provider_message_id = ?", id, workspaceID, key).Exec(ctx)
	return affected(res, err)
}

// MarkMessageFailed fails an outgoing message that was not sent, with the reason shown on it.
func (s *Store) MarkMessageFailed(ctx context.Context, workspaceID, id int64, reason string) (bool, error) {
	res, err := s.DB.NewUpdate().Model((*Message)(nil)).
		Set("status = ?", model.StatusFailed).Set("status_error = ?", truncate(reason, 2000)).Set("status_updated_at = ?", now()).
		Where("id = ? AND workspace_id = ?", id, workspaceID).
		Where("status IN (?, ?)", model.StatusPending, model.StatusSending).Exec(ctx)
	return affected(res, err)
}

// MarkMessagePending puts a message whose send certainly did not reach Meta back to "pending".
func (s *Store) MarkMessagePending(ctx context.Context, workspaceID, id int64) error {
	_, err := s.DB.NewUpdate().Model((*Message)(nil)).
		Set("status = ?", model.StatusPending).Set("status_updated_at = ?", now()).
		Where("id = ? AND workspace_id = ? AND status = ?", id, workspaceID, model.StatusSending).Exec(ctx)
	return err
}

// LatestUserMessage is the conversation's newest customer message (by its time, then id).
func (s *Store) LatestUserMessage(ctx context.Context, workspaceID, conversationID int64) (*Message, error) {
	m := new(Message)
	err := s.DB.NewSelect().Model(m).
		Where("workspace_id = ? AND conversation_id = ? AND role = ?", workspaceID, conversationID, model.RoleUser).
		Order("created_at DESC", "id DESC").Limit(1).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return m, nil
}

// AnsweredAfter reports whether an assistant or a human of the team answered in the
// conversation after message m: a message of theirs, sent or on its way (it has a provider
// id, Meta's or its send key), stored after m and not older than it. Both, because WhatsApp
// times are whole seconds: a message of ours sent in the same second before the customer's is
// not an answer to it. A reply stored but not yet claimed for sending does not count, so that
// a reply job that died in between finishes it.
func (s *Store) AnsweredAfter(ctx context.Context, workspaceID, conversationID int64, m *Message) (bool, error) {
	return s.DB.NewSelect().Model((*Message)(nil)).
		Where("workspace_id = ? AND conversation_id = ? AND role IN (?)", workspaceID, conversationID, bun.List(model.ReplyRoles)).
		Where("provider_message_id IS NOT NULL").
		Where("id > ? AND created_at >= ?", m.ID, m.CreatedAt.UTC()).
		Exists(ctx)
}

func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
