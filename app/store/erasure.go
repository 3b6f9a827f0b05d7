package store

import (
	"context"
	"time"
)

// Erasure: a deleted conversation leaves no copy of its content. Its messages, variables,
// extraction record and raw inbound events go with it by ON DELETE CASCADE (the events through
// inbound_events.conversation_id, set by LinkInboundEvent); the usage ledger keeps its amounts
// and ids (conversation_id and message_id become NULL). On SQLite the full-text index deletes
// terms for real (FTS5 'secure-delete'), freed space is zeroed (PRAGMA secure_delete) and Scrub
// empties the write-ahead log; on PostgreSQL the tsvector and its GIN entries are the row's.

// LinkInboundEvent records that the raw inbound event (provider, providerID) was processed
// into a conversation of the workspace: deleting the conversation deletes the event.
func (s *Store) LinkInboundEvent(ctx context.Context, provider, providerID string, workspaceID, conversationID int64) error {
	_, err := s.DB.NewUpdate().Model((*InboundEvent)(nil)).
		Set("conversation_id = ?", conversationID).Set("workspace_id = ?", workspaceID).
		Where("provider = ? AND provider_id = ?", provider, providerID).
		Where("workspace_id IS NULL OR workspace_id = ?", workspaceID).Exec(ctx)
	return err
}

// PruneInboundEvents deletes up to limit raw inbound events that were processed and received
// before `before`, oldest first, and returns how many it deleted. Unprocessed events are never
// deleted.
func (s *Store) PruneInboundEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	ids := s.DB.NewSelect().Model((*InboundEvent)(nil)).Column("id").
		Where("processed_at IS NOT NULL").Where("received_at < ?", before.UTC()).
		Order("received_at ASC", "id ASC").Limit(int64(limit))
	res, err := s.DB.NewDelete().Model((*InboundEvent)(nil)).
		Where("id IN (?)", ids).Where("processed_at IS NOT NULL").Exec(ctx)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Scrub makes deletions final on disk where the database keeps old copies of pages: on SQLite
// it checkpoints the write-ahead log and truncates it (its frames still hold the deleted rows'
// pages as they were). PostgreSQL keeps nothing readable through SQL; its dead tuples are
// reclaimed by (auto)vacuum.
func (s *Store) Scrub(ctx context.Context) error {
	if s.Dialect != SQLite {
		return nil
	}
	var busy, logFrames, checkpointed int
	return s.DB.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &checkpointed)
}
