package store

import (
	"context"
)

// WorkspaceSettings reads the workspace's settings JSON.
func (s *Store) WorkspaceSettings(ctx context.Context, workspaceID int64) (string, error) {
	var raw string
	err := s.DB.NewSelect().Model((*Workspace)(nil)).Column("settings").Where("id = ?", workspaceID).Scan(ctx, &raw)
	return raw, notFound(err)
}

// SetWorkspaceSettings replaces the workspace's settings JSON.
func (s *Store) SetWorkspaceSettings(ctx context.Context, workspaceID int64, raw string) error {
	res, err := s.DB.NewUpdate().Model((*Workspace)(nil)).Set("settings = ?", raw).Set("updated_at = ?", now()).
		Where("id = ?", workspaceID).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// WorkspaceIDs lists every workspace id (for the retention sweep).
func (s *Store) WorkspaceIDs(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := s.DB.NewSelect().Model((*Workspace)(nil)).Column("id").Order("id ASC").Scan(ctx, &ids)
	return ids, err
}
