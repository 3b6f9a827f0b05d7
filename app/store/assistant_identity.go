package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
func (s *Store) RotateIdentitySecret(ctx context.Context, workspaceID, id int64) (string, error) {
	secret := NewIdentitySecret()
	res, err := s.DB.NewUpdate().Model((*Assistant)(nil)).
		Set("identity_secret = ?", secret).Set("updated_at = ?", now()).
		Where("id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx)
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return "", ErrNotFound
	}
	return secret, nil
}
