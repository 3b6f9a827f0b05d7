package store

import (
	"context"

	"github.com/uptrace/bun"
)

// Counts are a workspace's conversation counts per type, read from conversation_counts (kept
// current in the transactions that insert and delete conversations), never COUNT(*).
type Counts struct {
	ByType map[string]int64
	Total  int64
}

// ConversationCounts reads the workspace's counts: one indexed query over at most three rows.
func (s *Store) ConversationCounts(ctx context.Context, workspaceID int64) (Counts, error) {
	var rows []struct {
		Type  string `bun:"type"`
		Count int64  `bun:"count"`
	}
	c := Counts{ByType: map[string]int64{}}
	err := s.DB.NewSelect().Table("conversation_counts").Column("type", "count").
		Where("workspace_id = ?", workspaceID).Scan(ctx, &rows)
	if err != nil {
		return c, err
	}
	for _, r := range rows {
		c.ByType[r.Type] = r.Count
		c.Total += r.Count
	}
	return c, nil
}

// bumpCount adds delta to a workspace's count of a type, inside the caller's transaction.
func (s *Store) bumpCount(ctx context.Context, tx bun.IDB, workspaceID int64, typ string, delta int64) error {
	_, err := tx.NewRaw(`INSERT INTO conversation_counts (workspace_id, type, count) VALUES (?, ?, ?)
		ON CONFLICT (workspace_id, type) DO UPDATE SET count = conversation_counts.count + EXCLUDED.count`,
		workspaceID, typ, delta).Exec(ctx)
	return err
}
