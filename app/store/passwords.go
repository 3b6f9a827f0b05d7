package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Accounts (issue 13 item 4): a user's own name, email and password, and the one-time links
// that set a password. app/account decides; this file only stores. A user's sessions and
// reset links are the user's across workspaces (a password is the person's, not a
// workspace's), so these statements are keyed by the user alone.

// ErrEmailTaken is returned when another user has the email (case-insensitively).
var ErrEmailTaken = errors.New("another account uses this email")

// PasswordReset is a one-time link to set a user's password: TokenHash is the SHA-256 of the
// token the link carries, never the token.
type PasswordReset struct {
	bun.BaseModel `bun:"table:password_resets,alias:prs"`
	ID            int64      `bun:"id,pk,autoincrement"`
	UserID        int64      `bun:"user_id"`
	TokenHash     string     `bun:"token_hash"`
	CreatedAt     time.Time  `bun:"created_at"`
	ExpiresAt     time.Time  `bun:"expires_at"`
	UsedAt        *time.Time `bun:"used_at"`
}

// UpdateProfile sets a user's name and email (ErrEmailTaken when another user has it). A new
// email ends the user's unused reset links: they went to the old address.
func (s *Store) UpdateProfile(ctx context.Context, userID int64, name, email string) error {
	email = strings.TrimSpace(email)
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		u := new(User)
		if err := tx.NewSelect().Model(u).Where("id = ?", userID).Scan(ctx); err != nil {
			return notFound(err)
		}
		n, err := tx.NewSelect().Model((*User)(nil)).Where("lower(email) = lower(?) AND id <> ?", email, userID).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrEmailTaken
		}
		if _, err := tx.NewUpdate().Model((*User)(nil)).Set("name = ?", name).Set("email = ?", email).
			Where("id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		if !strings.EqualFold(u.Email, email) {
			return endResets(ctx, tx, userID)
		}
		return nil
	})
	if IsUniqueViolation(err) { // a concurrent change took it between the check and the write
		return ErrEmailTaken
	}
	return err
}

// SetPassword stores a user's new password hash and, in the same transaction, ends the user's
// unused reset links and every session of the user but keepSession (0: all of them). It says
// how many sessions ended.
func (s *Store) SetPassword(ctx context.Context, userID int64, hash string, keepSession int64) (ended int64, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		ended, err = setPassword(ctx, tx, userID, hash, keepSession)
		return err
	})
	return ended, err
}

func setPassword(ctx context.Context, tx bun.Tx, userID int64, hash string, keepSession int64) (int64, error) {
	res, err := tx.NewUpdate().Model((*User)(nil)).Set("password_hash = ?", hash).Where("id = ?", userID).Exec(ctx)
	if ok, err := affected(res, err); err != nil {
		return 0, err
	} else if !ok {
		return 0, ErrNotFound
	}
	if err := endResets(ctx, tx, userID); err != nil {
		return 0, err
	}
	q := tx.NewDelete().Model((*Session)(nil)).Where("user_id = ?", userID)
	if keepSession > 0 {
		q = q.Where("id <> ?", keepSession)
	}
	res, err = q.Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// endResets marks every unused reset link of the user used.
func endResets(ctx context.Context, tx bun.IDB, userID int64) error {
	_, err := tx.NewUpdate().Model((*PasswordReset)(nil)).Set("used_at = ?", now()).
		Where("user_id = ? AND used_at IS NULL", userID).Exec(ctx)
	return err
}

// CreatePasswordReset stores a reset link (its token's hash) for a user, valid until expires.
func (s *Store) CreatePasswordReset(ctx context.Context, userID int64, tokenHash string, expires time.Time) error {
	r := &PasswordReset{UserID: userID, TokenHash: tokenHash, CreatedAt: now(), ExpiresAt: expires.UTC()}
	_, err := s.DB.NewInsert().Model(r).ExcludeColumn("id").Exec(ctx)
	return err
}

// ValidPasswordReset loads the user of a reset link that is unused and unexpired at `at`;
// ErrNotFound for an unknown, used or expired one.
func (s *Store) ValidPasswordReset(ctx context.Context, tokenHash string, at time.Time) (*User, error) {
	r := new(PasswordReset)
	err := s.DB.NewSelect().Model(r).
		Where("token_hash = ? AND used_at IS NULL AND expires_at > ?", tokenHash, at.UTC()).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return s.UserByID(ctx, r.UserID)
}

// UsePasswordReset spends a reset link that is unused and unexpired at `at` and sets its
// user's password hash, ending the user's other reset links and all of the user's sessions,
// in one transaction: ErrNotFound (nothing written) for an unknown, used or expired link,
// so two uses of one link set one password.
func (s *Store) UsePasswordReset(ctx context.Context, tokenHash, hash string, at time.Time) (*User, error) {
	var u *User
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var userID int64
		res, err := tx.NewUpdate().Model((*PasswordReset)(nil)).Set("used_at = ?", at.UTC()).
			Where("token_hash = ? AND used_at IS NULL AND expires_at > ?", tokenHash, at.UTC()).
			Returning("user_id").Exec(ctx, &userID)
		if ok, err := affected(res, err); err != nil {
			return notFound(err)
		} else if !ok || userID == 0 {
			return ErrNotFound
		}
		if _, err := setPassword(ctx, tx, userID, hash, 0); err != nil {
			return err
		}
		u = new(User)
		return tx.NewSelect().Model(u).Where("id = ?", userID).Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
