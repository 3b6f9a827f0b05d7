package store

import (
	"context"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// The customer's own verdict (issue 14): a thumbs up or down on a message, and a CSAT score
// once per end of a conversation.

// ErrNotEnded is a CSAT score for a conversation that is open (or for an end that is not
// its current one).
var ErrNotEnded = errors.New("the conversation has not ended")

// ErrCSATGiven is a second CSAT score for the same end.
var ErrCSATGiven = errors.New("a CSAT score was already given for this end")

// SaveFeedback stores the customer's feedback on a message, replacing an earlier one
// (message_feedback is keyed by the message: an upsert, never a check-then-insert).
func (s *Store) SaveFeedback(ctx context.Context, f *MessageFeedback) error {
	t := now()
	f.CreatedAt, f.UpdatedAt = t, t
	_, err := s.DB.NewInsert().Model(f).
		On("CONFLICT (message_id) DO UPDATE").
		Set("rating = EXCLUDED.rating").
		Set("comment = EXCLUDED.comment").
		Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	return err
}

// Feedback returns the feedback on the messages of one conversation by message id (one
// query, whatever the number of messages).
func (s *Store) Feedback(ctx context.Context, workspaceID, conversationID int64) (map[int64]MessageFeedback, error) {
	var fs []MessageFeedback
	err := s.DB.NewSelect().Model(&fs).
		Where("workspace_id = ? AND conversation_id = ?", workspaceID, conversationID).Scan(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]MessageFeedback, len(fs))
	for _, f := range fs {
		out[f.MessageID] = f
	}
	return out, nil
}

// RecordCSAT stores the customer's CSAT score for end seq of a conversation: only while seq
// is its latest end (end_count) and no score was given for it yet (csat_end < seq), in one
// update. requireEnded also demands that the conversation is still ended (the widget asks
// after "End chat"; a WhatsApp tap may come after a later message). The errors: ErrNotFound
// (no such conversation), ErrNotEnded (open, or seq is not its latest end), ErrCSATGiven.
func (s *Store) RecordCSAT(ctx context.Context, workspaceID, id int64, seq, score int, comment string, requireEnded bool, at time.Time) error {
	if at.IsZero() {
		at = now()
	}
	at = at.UTC().Truncate(time.Microsecond)
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		up := tx.NewUpdate().Model((*Conversation)(nil)).
			Set("csat_score = ?", score).Set("csat_comment = ?", comment).
			Set("csat_at = ?", at).Set("csat_end = ?", seq).Set("updated_at = ?", now()).
			Where("id = ? AND workspace_id = ?", id, workspaceID).
			Where("end_count = ? AND csat_end < ? AND ? > 0", seq, seq, seq)
		if requireEnded {
			up = up.Where("ended_at IS NOT NULL")
		}
		ok, err := affected(up.Exec(ctx))
		if err != nil || ok {
			return err
		}
		// Nothing changed: say why.
		var c Conversation
		if err := tx.NewSelect().Model(&c).Column("id", "ended_at", "end_count", "csat_end").
			Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx); err != nil {
			return notFound(err)
		}
		if seq > 0 && c.EndCount == seq && c.CSATEnd >= seq {
			return ErrCSATGiven
		}
		return ErrNotEnded
	})
}

// ConversationEndByID loads one end of a conversation of the workspace.
func (s *Store) ConversationEndByID(ctx context.Context, workspaceID, id int64) (*ConversationEnd, error) {
	e := new(ConversationEnd)
	if err := s.DB.NewSelect().Model(e).Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return e, nil
}

// MarkCSATSent records that the WhatsApp CSAT question of an end was sent (or failed for
// good): the end's promise is kept, the sweep leaves it.
func (s *Store) MarkCSATSent(ctx context.Context, workspaceID, id int64, at time.Time) error {
	_, err := s.DB.NewUpdate().Model((*ConversationEnd)(nil)).Set("csat_sent_at = ?", at.UTC().Truncate(time.Microsecond)).
		Where("id = ? AND workspace_id = ? AND csat_sent_at IS NULL", id, workspaceID).Exec(ctx)
	return err
}

// UnsentCSATEnds lists up to limit ends since `since` whose WhatsApp CSAT question may still
// be due: not sent, the conversation's latest end, a WhatsApp conversation whose window is
// open at now, of an enabled assistant that asks for it. Oldest first.
func (s *Store) UnsentCSATEnds(ctx context.Context, since, now time.Time, limit int) ([]ConversationEnd, error) {
	var out []ConversationEnd
	err := s.DB.NewSelect().Model(&out).
		Join("JOIN conversations AS c ON c.id = conversation_end.conversation_id AND c.workspace_id = conversation_end.workspace_id").
		Join("JOIN assistants AS a ON a.id = c.assistant_id AND a.workspace_id = c.workspace_id").
		Where("conversation_end.csat_sent_at IS NULL AND conversation_end.ended_at >= ?", since.UTC()).
		Where("c.type = ? AND c.end_count = conversation_end.seq", model.TypeWhatsApp).
		Where("c.window_expires_at > ? AND c.window_closed_at IS NULL", now.UTC()).
		Where("a.csat_whatsapp = ? AND a.disabled = ?", true, false).
		OrderExpr("conversation_end.ended_at ASC, conversation_end.id ASC").Limit(int64(limit)).Scan(ctx)
	return out, err
}
