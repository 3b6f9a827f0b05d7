package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// The reply outbox (issue 12 item 8): one pending_replies row per customer message that was
// promised an AI reply, written in the same transaction as the message (AddCustomerMessage).
// The row is done when the reply is stored (widget, Test Chat: in the same transaction, see
// Message.Answers) or its send reached a final state (WhatsApp: see ReplyIntent states), or
// when nothing is to be said (superseded by a newer customer message, AI switched off, window
// closed). Until then a sweep finds it (DueReplies) and enqueues the reply again: Redis may
// lose the task, the database keeps the promise.

// Reply intent states.
const (
	ReplyPending    = "pending"
	ReplyReplied    = "replied"    // the reply is stored (and, on WhatsApp, sent)
	ReplyFailed     = "failed"     // its send failed for good (the message shows why)
	ReplySuperseded = "superseded" // a newer customer message has its own intent (one reply per burst)
	ReplySkipped    = "skipped"    // nothing to send: AI off, assistant disabled or gone, window closed
)

// PendingReply is a durable intent to answer one customer message.
type PendingReply struct {
	bun.BaseModel  `bun:"table:pending_replies,alias:pr"`
	ID             int64      `bun:"id,pk,autoincrement"`
	WorkspaceID    int64      `bun:"workspace_id"`
	ConversationID int64      `bun:"conversation_id"`
	MessageID      int64      `bun:"message_id"`
	Token          string     `bun:"token"`
	State          string     `bun:"state"`
	DueAt          time.Time  `bun:"due_at"`
	CreatedAt      time.Time  `bun:"created_at"`
	Attempts       int        `bun:"attempts"`
	Sweeps         int        `bun:"sweeps"`
	LastError      string     `bun:"last_error"`
	DoneAt         *time.Time `bun:"done_at"`
	// ConversationType is the conversation's type (read by DueReplies, not a column).
	ConversationType string `bun:"conversation_type,scanonly"`
}

// Token is a random id of 16 hex characters: task ids carry one per row, so that a database
// restored while Redis keeps its completed-task records never makes a new row's task collide
// with an old one that had the same numeric id.
func Token() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// InstallationPrefix is this installation's random id, created once (the first caller wins)
// and kept in the database: the prefix of every task id in Redis.
func (s *Store) InstallationPrefix(ctx context.Context) (string, error) {
	row := struct {
		bun.BaseModel `bun:"table:installation"`
		ID            int64     `bun:"id,pk"`
		Prefix        string    `bun:"prefix"`
		CreatedAt     time.Time `bun:"created_at"`
	}{ID: 1, Prefix: "p" + Token()[:12], CreatedAt: now()}
	if _, err := s.DB.NewInsert().Model(&row).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
		return "", err
	}
	var prefix string
	err := s.DB.NewSelect().Table("installation").Column("prefix").Where("id = 1").Scan(ctx, &prefix)
	return prefix, err
}

// AddCustomerMessage stores a customer message as AddMessage does and, in the same
// transaction, the intent to answer it when the conversation's AI replies are on (read from
// the locked row): a pending_replies row due at the message's storing time. Older pending
// intents of the conversation (for customer messages before this one) are done as superseded:
// a burst gets one reply. A duplicate (same provider id) writes nothing.
func (s *Store) AddCustomerMessage(ctx context.Context, m *Message) (inserted bool, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockConversation(ctx, tx, m.WorkspaceID, m.ConversationID); err != nil {
			return err
		}
		if inserted, err = s.addMessage(ctx, tx, m); err != nil || !inserted || m.Role != model.RoleUser {
			return err
		}
		t := now()
		older := tx.NewSelect().Model((*Message)(nil)).Column("id").
			Where("conversation_id = ? AND role = ?", m.ConversationID, model.RoleUser).
			Where("(created_at < ? OR (created_at = ? AND id < ?))", m.CreatedAt, m.CreatedAt, m.ID)
		if _, err := tx.NewUpdate().Model((*PendingReply)(nil)).
			Set("state = ?", ReplySuperseded).Set("done_at = ?", t).
			Where("conversation_id = ? AND done_at IS NULL", m.ConversationID).
			Where("message_id IN (?)", older).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewRaw(`INSERT INTO pending_replies (workspace_id, conversation_id, message_id, token, state, due_at, created_at)
			SELECT c.workspace_id, c.id, ?, ?, ?, ?, ? FROM conversations AS c
			WHERE c.id = ? AND c.workspace_id = ? AND c.ai_enabled
			ON CONFLICT (message_id) DO NOTHING`,
			m.ID, Token(), ReplyPending, t, t, m.ConversationID, m.WorkspaceID).Exec(ctx)
		return err
	})
	if err != nil {
		inserted = false
	}
	return inserted, err
}

// markAnswered finishes the intent of the customer message m answers, in the caller's
// transaction (the one that stores the reply).
func markAnswered(ctx context.Context, tx bun.IDB, m *Message) error {
	if m.Answers <= 0 {
		return nil
	}
	_, err := tx.NewUpdate().Model((*PendingReply)(nil)).
		Set("state = ?", ReplyReplied).Set("done_at = ?", now()).Set("last_error = ''").
		Where("workspace_id = ? AND conversation_id = ? AND message_id = ? AND done_at IS NULL", m.WorkspaceID, m.ConversationID, m.Answers).
		Exec(ctx)
	return err
}

// PendingReplyFor loads the intent to answer customer message messageID (ErrNotFound: none
// was promised).
func (s *Store) PendingReplyFor(ctx context.Context, workspaceID, messageID int64) (*PendingReply, error) {
	r := new(PendingReply)
	if err := s.DB.NewSelect().Model(r).Where("workspace_id = ? AND message_id = ?", workspaceID, messageID).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return r, nil
}

// FinishReply ends the intent to answer messageID with state (a Reply* constant) and a note;
// an intent already done is left as it is. done tells whether this call ended it.
func (s *Store) FinishReply(ctx context.Context, workspaceID, messageID int64, state, note string) (done bool, err error) {
	res, err := s.DB.NewUpdate().Model((*PendingReply)(nil)).
		Set("state = ?", state).Set("done_at = ?", now()).Set("last_error = ?", truncate(note, 2000)).
		Where("workspace_id = ? AND message_id = ? AND done_at IS NULL", workspaceID, messageID).Exec(ctx)
	return affected(res, err)
}

// TouchReply records that an attempt at the intent starts: its due time becomes now, so the
// sweep (which looks for intents due longer than its age ago) leaves a running attempt alone.
func (s *Store) TouchReply(ctx context.Context, workspaceID, messageID int64) error {
	_, err := s.DB.NewUpdate().Model((*PendingReply)(nil)).Set("due_at = ?", now()).
		Where("workspace_id = ? AND message_id = ? AND done_at IS NULL AND due_at < ?", workspaceID, messageID, now()).Exec(ctx)
	return err
}

// NoteReplyAttempt records a failed attempt at an intent that stays pending.
func (s *Store) NoteReplyAttempt(ctx context.Context, workspaceID, messageID int64, errText string) error {
	_, err := s.DB.NewUpdate().Model((*PendingReply)(nil)).
		Set("attempts = attempts + 1").Set("last_error = ?", truncate(errText, 2000)).
		Where("workspace_id = ? AND message_id = ? AND done_at IS NULL", workspaceID, messageID).Exec(ctx)
	return err
}

// DueReplies returns up to limit intents not done whose due time is before `before` (oldest
// first), with their conversation's type, created since `since`.
func (s *Store) DueReplies(ctx context.Context, before, since time.Time, limit int) ([]PendingReply, error) {
	var out []PendingReply
	err := s.DB.NewSelect().Model(&out).
		ColumnExpr("pr.*").ColumnExpr("c.type AS conversation_type").
		Join("JOIN conversations AS c ON c.id = pr.conversation_id").
		Where("pr.done_at IS NULL AND pr.due_at <= ? AND pr.created_at >= ?", before.UTC(), since.UTC()).
		Order("pr.due_at ASC", "pr.id ASC").Limit(int64(limit)).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return out, err
}

// RescheduleReply counts a sweep's enqueue of an intent and moves its due time to next (so
// that the following sweeps leave it to the task just enqueued for a while). It returns the
// new sweep count, or 0 when the intent is done or another sweep took it first.
func (s *Store) RescheduleReply(ctx context.Context, r *PendingReply, next time.Time) (int, error) {
	res, err := s.DB.NewUpdate().Model((*PendingReply)(nil)).
		Set("sweeps = sweeps + 1").Set("due_at = ?", next.UTC()).
		Where("id = ? AND sweeps = ? AND done_at IS NULL", r.ID, r.Sweeps).Exec(ctx)
	if ok, err := affected(res, err); err != nil || !ok {
		return 0, err
	}
	return r.Sweeps + 1, nil
}

// UnextractedConversations lists up to limit open conversations whose last customer message
// came between since and quietBefore and that no extraction has read yet (the debounced
// extraction's task was lost with Redis): the extraction sweep enqueues it again. The state
// is the database's: conversation_extractions.last_message_id against the newest customer
// message.
func (s *Store) UnextractedConversations(ctx context.Context, quietBefore, since time.Time, limit int) ([]ConversationRef, error) {
	var out []ConversationRef
	err := s.DB.NewRaw(`SELECT c.id, c.workspace_id FROM conversations AS c
		LEFT JOIN conversation_extractions AS x ON x.conversation_id = c.id
		WHERE c.last_inbound_at IS NOT NULL AND c.ended_at IS NULL AND c.last_inbound_at >= ? AND c.last_inbound_at <= ?
		AND COALESCE(x.last_message_id, 0) < (SELECT MAX(m.id) FROM messages AS m WHERE m.conversation_id = c.id AND m.role = ?)
		ORDER BY c.last_inbound_at ASC LIMIT ?`, since.UTC(), quietBefore.UTC(), model.RoleUser, limit).Scan(ctx, &out)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return out, err
}
