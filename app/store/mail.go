package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// The mail outbox (issue 13): a message to send is an outgoing_mail row first; a worker task
// sends it with retries (app/mail decides), and a sweep finds the rows whose task was lost,
// as pending_replies do for replies. The rows are the installation's (a password reset
// belongs to no workspace); workspace_id says which workspace a mail is about, when one is.

// Outgoing mail states.
const (
	MailPending = "pending"
	MailSent    = "sent"
	MailFailed  = "failed" // given up: a permanent refusal, or too many attempts
)

// OutgoingMail is one message to send.
type OutgoingMail struct {
	bun.BaseModel `bun:"table:outgoing_mail,alias:om"`
	ID            int64      `bun:"id,pk,autoincrement"`
	WorkspaceID   *int64     `bun:"workspace_id"`
	Token         string     `bun:"token"`
	Kind          string     `bun:"kind"`
	From          string     `bun:"from_addr"`
	To            string     `bun:"to_addr"`
	Subject       string     `bun:"subject"`
	TextBody      string     `bun:"text_body"`
	HTMLBody      string     `bun:"html_body"`
	State         string     `bun:"state"`
	DueAt         time.Time  `bun:"due_at"`
	LockedUntil   *time.Time `bun:"locked_until"`
	Attempts      int        `bun:"attempts"`
	Sweeps        int        `bun:"sweeps"`
	LastError     string     `bun:"last_error"`
	CreatedAt     time.Time  `bun:"created_at"`
	SentAt        *time.Time `bun:"sent_at"`
	FailedAt      *time.Time `bun:"failed_at"`
}

// AddMail stores a pending message due at m.DueAt (now when zero); m.ID and m.Token are set.
func (s *Store) AddMail(ctx context.Context, m *OutgoingMail) error {
	t := now()
	m.Token, m.State, m.CreatedAt = Token(), MailPending, t
	if m.DueAt.IsZero() {
		m.DueAt = t
	}
	m.DueAt = m.DueAt.UTC()
	_, err := s.DB.NewInsert().Model(m).ExcludeColumn("id").Returning("id").Exec(ctx)
	return err
}

// MailByID loads a message (ErrNotFound when there is none).
func (s *Store) MailByID(ctx context.Context, id int64) (*OutgoingMail, error) {
	m := new(OutgoingMail)
	if err := s.DB.NewSelect().Model(m).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return m, nil
}

// ClaimMail takes a pending message for one send attempt until `until`: false when it is
// done or another attempt holds it.
func (s *Store) ClaimMail(ctx context.Context, id int64, at, until time.Time) (bool, error) {
	res, err := s.DB.NewUpdate().Model((*OutgoingMail)(nil)).Set("locked_until = ?", until.UTC()).
		Where("id = ? AND state = ?", id, MailPending).
		Where("(locked_until IS NULL OR locked_until < ?)", at.UTC()).Exec(ctx)
	return affected(res, err)
}

// MailSent ends a message as sent and blanks its bodies (they may hold one-time links).
func (s *Store) MailSent(ctx context.Context, id int64) error {
	t := now()
	_, err := s.DB.NewUpdate().Model((*OutgoingMail)(nil)).
		Set("state = ?", MailSent).Set("sent_at = ?", t).Set("locked_until = NULL").
		Set("attempts = attempts + 1").Set("last_error = ''").
		Set("text_body = ''").Set("html_body = ''").
		Where("id = ? AND state = ?", id, MailPending).Exec(ctx)
	return err
}

// MailAttemptFailed records a failed attempt: the message stays pending, due again at next,
// or, when giveUp, ends as failed (bodies blanked).
func (s *Store) MailAttemptFailed(ctx context.Context, id int64, errText string, next time.Time, giveUp bool) error {
	q := s.DB.NewUpdate().Model((*OutgoingMail)(nil)).
		Set("attempts = attempts + 1").Set("last_error = ?", truncate(errText, 2000)).Set("locked_until = NULL").
		Where("id = ? AND state = ?", id, MailPending)
	if giveUp {
		q = q.Set("state = ?", MailFailed).Set("failed_at = ?", now()).Set("text_body = ''").Set("html_body = ''")
	} else {
		q = q.Set("due_at = ?", next.UTC())
	}
	_, err := q.Exec(ctx)
	return err
}

// DueMail returns up to limit pending messages due at or before `before` that no attempt
// holds at `before`, oldest due first (bodies not read).
func (s *Store) DueMail(ctx context.Context, before time.Time, limit int) ([]OutgoingMail, error) {
	var out []OutgoingMail
	err := s.DB.NewSelect().Model(&out).ExcludeColumn("text_body", "html_body").
		Where("state = ? AND due_at <= ?", MailPending, before.UTC()).
		Where("(locked_until IS NULL OR locked_until < ?)", before.UTC()).
		Order("due_at ASC", "id ASC").Limit(int64(limit)).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return out, err
}

// RescheduleMail counts a sweep's enqueue of a message and moves its due time to next. It
// returns the new sweep count, or 0 when the message is done or another sweep took it.
func (s *Store) RescheduleMail(ctx context.Context, m *OutgoingMail, next time.Time) (int, error) {
	res, err := s.DB.NewUpdate().Model((*OutgoingMail)(nil)).
		Set("sweeps = sweeps + 1").Set("due_at = ?", next.UTC()).
		Where("id = ? AND sweeps = ? AND state = ?", m.ID, m.Sweeps, MailPending).Exec(ctx)
	if ok, err := affected(res, err); err != nil || !ok {
		return 0, err
	}
	return m.Sweeps + 1, nil
}

// MailTo lists the messages to an address, newest first (tests and support).
func (s *Store) MailTo(ctx context.Context, to string) ([]OutgoingMail, error) {
	var out []OutgoingMail
	err := s.DB.NewSelect().Model(&out).Where("lower(to_addr) = lower(?)", to).Order("id DESC").Scan(ctx)
	return out, err
}
