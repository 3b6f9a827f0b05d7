package store

import (
	"context"
	"database/sql"

	"github.com/uptrace/bun"
)

// SavedViews returns the views a member sees in a workspace: the shared ones and the member's
// own, in position order (the out-of-the-box views first).
func (s *Store) SavedViews(ctx context.Context, workspaceID, userID int64) ([]SavedView, error) {
	var rows []SavedView
	err := s.DB.NewSelect().Model(&rows).
		Where("workspace_id = ?", workspaceID).
		Where("(user_id IS NULL OR user_id = ?)", userID).
		OrderExpr("position ASC, id ASC").Scan(ctx)
	return rows, err
}

// EnsureBuiltinViews creates the workspace's out-of-the-box views that do not exist yet (once
// each, whoever races: the unique index saved_views_builtin_idx decides).
func (s *Store) EnsureBuiltinViews(ctx context.Context, workspaceID int64, views []SavedView) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		for i := range views {
			v := views[i]
			v.ID, v.WorkspaceID, v.UserID, v.CreatedAt = 0, workspaceID, nil, now()
			if _, err := tx.NewInsert().Model(&v).
				On("CONFLICT (workspace_id, builtin) WHERE builtin <> '' DO NOTHING").Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// CreateSavedView inserts a view, after the others of the workspace.
func (s *Store) CreateSavedView(ctx context.Context, v *SavedView) error {
	v.CreatedAt = now()
	var pos int
	if err := s.DB.NewSelect().Model((*SavedView)(nil)).ColumnExpr("COALESCE(max(position), 0)").
		Where("workspace_id = ?", v.WorkspaceID).Scan(ctx, &pos); err != nil {
		return err
	}
	v.Position = max(pos, 0) + 1 // the out-of-the-box views have negative positions
	_, err := s.DB.NewInsert().Model(v).Returning("id").Exec(ctx)
	return err
}

// SavedView returns one view of the workspace (ErrNotFound when there is none).
func (s *Store) SavedView(ctx context.Context, workspaceID, id int64) (*SavedView, error) {
	v := new(SavedView)
	err := s.DB.NewSelect().Model(v).Where("workspace_id = ? AND id = ?", workspaceID, id).Scan(ctx)
	return v, notFound(err)
}

// RenameSavedView renames a view of the workspace.
func (s *Store) RenameSavedView(ctx context.Context, workspaceID, id int64, name string) error {
	res, err := s.DB.NewUpdate().Model((*SavedView)(nil)).Set("name = ?", name).
		Where("workspace_id = ? AND id = ?", workspaceID, id).Exec(ctx)
	return oneRow(res, err)
}

// DeleteSavedView deletes a view of the workspace.
func (s *Store) DeleteSavedView(ctx context.Context, workspaceID, id int64) error {
	res, err := s.DB.NewDelete().Model((*SavedView)(nil)).
		Where("workspace_id = ? AND id = ?", workspaceID, id).Exec(ctx)
	return oneRow(res, err)
}

// CountBounded counts the conversations matching a filter up to bound: it reads at most
// bound+1 of them (SELECT count(*) FROM (SELECT 1 ... LIMIT bound+1)), so a count above bound
// says only "more than bound", at the cost of bound rows of an index, never of the table.
func (s *Store) CountBounded(ctx context.Context, workspaceID int64, f Filter, bound int) (int64, error) {
	inner := s.applyFilter(s.DB.NewSelect().ModelTableExpr("conversations AS c").ColumnExpr("1"), workspaceID, f).
		Limit(int64(bound + 1))
	var n int64
	err := s.DB.NewSelect().TableExpr("(?) AS b", inner).ColumnExpr("count(*)").Scan(ctx, &n)
	return n, err
}

// oneRow is ErrNotFound when a write changed no row.
func oneRow(res sql.Result, err error) error {
	ok, err := affected(res, err)
	if err == nil && !ok {
		return ErrNotFound
	}
	return err
}
