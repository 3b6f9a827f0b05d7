package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/uptrace/bun"
)

// NewIdentitySecret makes an assistant's identity secret: 256 random bits, hex.
func NewIdentitySecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RotateIdentitySecret gives an assistant of the workspace a new identity secret and returns
// it: every visitor hash made with the old one stops verifying at once. ErrNotFound when the
// assistant is not the workspace's.
// The audit entries given are written in the same transaction.
func (s *Store) RotateIdentitySecret(ctx context.Context, workspaceID, id int64, audit ...*AuditEntry) (string, error) {
	secret := NewIdentitySecret()
	err := s.withAudit(ctx, audit, func(ctx context.Context, db bun.IDB) error {
		res, err := db.NewUpdate().Model((*Assistant)(nil)).
			Set("identity_secret = ?", secret).Set("updated_at = ?", now()).
			Where("id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}
