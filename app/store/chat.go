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
// promises). An ended conversation is left as it is: end is nil. A zero at is now.
func (s *Store) EndConversation(ctx context.Context, workspaceID, id int64, reason string, at time.Time) (end *ConversationEnd, err error) {
	if at.IsZero() {
		at = now()
	}
	at = at.UTC().Truncate(time.Microsecond)
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockConversation(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model((*Conversation)(nil)).
			Set("ended_at = ?", at).Set("end_reason = ?", reason).
			Set("end_count = end_count + 1").
			Set("evaluation_status = ?", model.EvalPending).
			Set("updated_at = ?", now()).
			Where("id = ? AND workspace_id = ? AND ended_at IS NULL", id, workspaceID).Exec(ctx)
		if ok, err := affected(res, err); err != nil || !ok {
			return err
		}
		var seq int
		if err := tx.NewSelect().Model((*Conversation)(nil)).Column("end_count").
			Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx, &seq); err != nil {
			return err
		}
		e := &ConversationEnd{WorkspaceID: workspaceID, ConversationID: id, Seq: seq, Reason: reason, EndedAt: at}
		if _, err := tx.NewInsert().Model(e).Returning("id").Exec(ctx); err != nil {
			return err
		}
		end = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	return end, nil
}
