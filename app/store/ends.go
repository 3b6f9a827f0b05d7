package store

import (
	"context"
	"time"
)

// IdleConversation is an open conversation the end sweep found idle.
type IdleConversation struct {
	ID            int64     `bun:"id"`
	WorkspaceID   int64     `bun:"workspace_id"`
	LastMessageAt time.Time `bun:"last_message_at"`
}

// IdleConversations returns up to limit open conversations of type typ whose last message is
// no later than before (model.IdleCutoff), oldest first, across workspaces: the end sweep's
// query, served by conversations_open_idle_idx (type, last_message_at) WHERE ended_at IS NULL.
func (s *Store) IdleConversations(ctx context.Context, typ string, before time.Time, limit int) ([]IdleConversation, error) {
	var out []IdleConversation
	err := s.DB.NewSelect().Model((*Conversation)(nil)).Column("id", "workspace_id", "last_message_at").
		Where("type = ? AND ended_at IS NULL AND last_message_at <= ?", typ, before.UTC()).
		Order("last_message_at ASC", "id ASC").Limit(int64(limit)).Scan(ctx, &out)
	return out, err
}
