package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// SetConversationError records (or clears, with "") the conversation's last error, shown on
// its page.
func (s *Store) SetConversationError(ctx context.Context, workspaceID, id int64, msg string) error {
	_, err := s.DB.NewUpdate().Model((*Conversation)(nil)).Set("last_error = ?", truncate(msg, 1000)).Set("updated_at = ?", now()).
		Where("id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx)
	return err
}

// EndConversation ends an open conversation at time at for reason (model.EndReasons): in one
// transaction it sets ended_at and end_reason, counts the end (end_count), marks the
// evaluation pending and writes the end's row (conversation_ends, the outbox of what an end
// promises), with the audit entries given. An ended conversation is left as it is (and no
// entry is written): end is nil. A zero at is now.
func (s *Store) EndConversation(ctx context.Context, workspaceID, id int64, reason string, at time.Time, audit ...*AuditEntry) (end *ConversationEnd, err error) {
	return s.endConversation(ctx, workspaceID, id, reason, at, time.Time{}, audit)
}

// EndIdleConversation ends an open conversation for idling (model.EndIdle) at time at, only
// when its last message is still no later than idleBefore (a message that came meanwhile
// keeps it open): nil end when it did not end.
func (s *Store) EndIdleConversation(ctx context.Context, workspaceID, id int64, at, idleBefore time.Time) (*ConversationEnd, error) {
	return s.endConversation(ctx, workspaceID, id, model.EndIdle, at, idleBefore, nil)
}

func (s *Store) endConversation(ctx context.Context, workspaceID, id int64, reason string, at, idleBefore time.Time, audit []*AuditEntry) (end *ConversationEnd, err error) {
	if at.IsZero() {
		at = now()
	}
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockConversation(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		end, err = endTx(ctx, tx, workspaceID, id, reason, at, idleBefore)
		if err != nil || end == nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return nil, err
	}
	return end, nil
}

// endTx ends the conversation in tx when it is open (and, with a non-zero idleBefore, when its
// last message is no later than that): the single UPDATE ... WHERE ended_at IS NULL decides,
// so an end happens once however many callers race. nil when it did not end.
func endTx(ctx context.Context, tx bun.IDB, workspaceID, id int64, reason string, at, idleBefore time.Time) (*ConversationEnd, error) {
	at = at.UTC().Truncate(time.Microsecond)
	q := tx.NewUpdate().Model((*Conversation)(nil)).
		Set("ended_at = ?", at).Set("end_reason = ?", reason).
		Set("end_count = end_count + 1").
		Set("evaluation_status = ?", model.EvalPending).
		Set("updated_at = ?", now()).
		Where("id = ? AND workspace_id = ? AND ended_at IS NULL", id, workspaceID)
	if !idleBefore.IsZero() {
		q = q.Where("last_message_at <= ?", idleBefore.UTC())
	}
	if ok, err := affected(q.Exec(ctx)); err != nil || !ok {
		return nil, err
	}
	var seq int
	if err := tx.NewSelect().Model((*Conversation)(nil)).Column("end_count").
		Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx, &seq); err != nil {
		return nil, err
	}
	e := &ConversationEnd{WorkspaceID: workspaceID, ConversationID: id, Seq: seq, Reason: reason, EndedAt: at}
	if _, err := tx.NewInsert().Model(e).Returning("id").Exec(ctx); err != nil {
		return nil, err
	}
	return e, nil
}
