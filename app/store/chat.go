package store

import "context"

// SetConversationError records (or clears, with "") the conversation's last error, shown on
// its page.
func (s *Store) SetConversationError(ctx context.Context, workspaceID, id int64, msg string) error {
	_, err := s.DB.NewUpdate().Model((*Conversation)(nil)).Set("last_error = ?", truncate(msg, 1000)).Set("updated_at = ?", now()).
		Where("id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx)
	return err
}

// EndConversation marks a conversation ended (a new session starts a new one).
func (s *Store) EndConversation(ctx context.Context, workspaceID, id int64) error {
	_, err := s.DB.NewUpdate().Model((*Conversation)(nil)).Set("ended_at = ?", now()).Set("updated_at = ?", now()).
		Where("id = ? AND workspace_id = ? AND ended_at IS NULL", id, workspaceID).Exec(ctx)
	return err
}
