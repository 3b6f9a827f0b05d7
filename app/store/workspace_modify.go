package store

import (
	"context"

	"github.com/uptrace/bun"
)

// ModifyWorkspaceSettings reads the workspace's settings JSON (locking its row on PostgreSQL),
// lets fn change it, and writes the result back in the same transaction, so two saves of
// different sections do not lose each other's change (as ModifyAssistant does for assistants).
// When fn returns an error nothing is written and that error is returned. fn must not use the
// store: on SQLite the transaction holds the only connection.
// The audit entries given are written in the same transaction; fn may still change them.
func (s *Store) ModifyWorkspaceSettings(ctx context.Context, workspaceID int64, fn func(raw string) (string, error), audit ...*AuditEntry) error {
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var raw string
		q := tx.NewSelect().Model((*Workspace)(nil)).Column("settings").Where("id = ?", workspaceID)
		if s.Dialect == Postgres {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx, &raw); err != nil {
			return notFound(err)
		}
		out, err := fn(raw)
		if err != nil {
			return err
		}
		if _, err = tx.NewUpdate().Model((*Workspace)(nil)).Set("settings = ?", out).Set("updated_at = ?", now()).
			Where("id = ?", workspaceID).Exec(ctx); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
}
