package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// ErrBadSettings wraps the decoding error of a workspace settings document that is not JSON.
var ErrBadSettings = errors.New("workspace settings")

// decodeSettings reads the settings column: "" is empty settings.
func decodeSettings(raw string) (model.Settings, error) {
	var st model.Settings
	if strings.TrimSpace(raw) == "" {
		return st, nil
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return model.Settings{}, fmt.Errorf("%w: %w", ErrBadSettings, err)
	}
	return st, nil
}

// WorkspaceSettings reads and decodes the workspace's settings (ErrBadSettings when the
// stored document is not JSON, ErrNotFound when there is no such workspace).
func (s *Store) WorkspaceSettings(ctx context.Context, workspaceID int64) (model.Settings, error) {
	raw, err := s.WorkspaceSettingsJSON(ctx, workspaceID)
	if err != nil {
		return model.Settings{}, err
	}
	return decodeSettings(raw)
}

// WorkspaceSettingsJSON reads the workspace's settings document as it is stored.
func (s *Store) WorkspaceSettingsJSON(ctx context.Context, workspaceID int64) (string, error) {
	var raw string
	err := s.DB.NewSelect().Model((*Workspace)(nil)).Column("settings").Where("id = ?", workspaceID).Scan(ctx, &raw)
	return raw, notFound(err)
}

// ModifyWorkspaceSettings reads the workspace's settings (locking its row on PostgreSQL), lets
// fn change them, and writes them back in the same transaction, so that two saves of different
// sections both persist. A stored document that is not JSON is replaced (fn gets empty
// settings). When fn returns an error nothing is written and that error is returned. fn must
// not use the store: on SQLite the transaction holds the only connection.
func (s *Store) ModifyWorkspaceSettings(ctx context.Context, workspaceID int64, fn func(st *model.Settings) error) error {
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var raw string
		q := tx.NewSelect().Model((*Workspace)(nil)).Column("settings").Where("id = ?", workspaceID)
		if s.Dialect == Postgres {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx, &raw); err != nil {
			return notFound(err)
		}
		st, _ := decodeSettings(raw)
		if err := fn(&st); err != nil {
			return err
		}
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model((*Workspace)(nil)).Set("settings = ?", string(b)).Set("updated_at = ?", now()).
			Where("id = ?", workspaceID).Exec(ctx)
		return err
	})
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
