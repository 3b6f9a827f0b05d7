package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// Session is one dashboard session (app/session decides; this file only stores). TokenHash
// is the SHA-256 of the cookie's token, never the token. UserID and WorkspaceID are nil for a
// visitor who has not logged in (a login page's CSRF token).
type Session struct {
	bun.BaseModel `bun:"table:sessions"`
	ID            int64     `bun:"id,pk,autoincrement"`
	TokenHash     string    `bun:"token_hash"`
	Data          []byte    `bun:"data"`
	Expiry        time.Time `bun:"expiry"`
	UserID        *int64    `bun:"user_id"`
	WorkspaceID   *int64    `bun:"workspace_id"`
	UserAgent     string    `bun:"user_agent"`
	ClientIP      string    `bun:"client_ip"`
	CreatedAt     time.Time `bun:"created_at"`
	LastSeenAt    time.Time `bun:"last_seen_at"`
}

// SessionByHash loads the session whose token hashes to hash (ErrNotFound when none). Expiry
// is the caller's rule: the row is returned as stored.
func (s *Store) SessionByHash(ctx context.Context, hash string) (*Session, error) {
	r := new(Session)
	err := s.DB.NewSelect().Model(r).Where("token_hash = ?", hash).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return r, err
}

// SaveSession writes a session's data, expiry and last use, creating the row when its token
// is new. The owner (user, workspace, device, address) is written only when r.UserID is set
// (a login): a later save of the same token never changes or clears it, and a save of a
// token whose row was deleted (revoked) creates an anonymous row, never a logged-in one.
// Inside WithTx it joins the transaction (an invite's acceptance signs its new account in).
func (s *Store) SaveSession(ctx context.Context, r *Session) error {
	r.Expiry, r.LastSeenAt = r.Expiry.UTC(), r.LastSeenAt.UTC()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = r.LastSeenAt
	}
	q := s.conn(ctx).NewInsert().Model(r).ExcludeColumn("id").
		On("CONFLICT (token_hash) DO UPDATE").
		Set("data = EXCLUDED.data").Set("expiry = EXCLUDED.expiry").Set("last_seen_at = EXCLUDED.last_seen_at")
	if r.UserID != nil {
		q = q.Set("user_id = EXCLUDED.user_id").Set("workspace_id = EXCLUDED.workspace_id").
			Set("user_agent = EXCLUDED.user_agent").Set("client_ip = EXCLUDED.client_ip")
	}
	_, err := q.Exec(ctx)
	return err
}

// TouchSession records a session's last use, from the client address and device given.
func (s *Store) TouchSession(ctx context.Context, id int64, at time.Time, clientIP, userAgent string) error {
	_, err := s.DB.NewUpdate().Model((*Session)(nil)).
		Set("last_seen_at = ?", at.UTC()).Set("client_ip = ?", clientIP).Set("user_agent = ?", userAgent).
		Where("id = ?", id).Exec(ctx)
	return err
}

// DeleteSessionByHash removes the session of a token hash (nothing when there is none);
// inside WithTx it joins the transaction.
func (s *Store) DeleteSessionByHash(ctx context.Context, hash string) error {
	_, err := s.conn(ctx).NewDelete().Model((*Session)(nil)).Where("token_hash = ?", hash).Exec(ctx)
	return err
}

// UserSessions lists a user's sessions (in whichever workspace each works) that have not
// expired at now and were used after seenAfter, most recently used first. Data is not read.
// Sessions belong to the person, not to a workspace.
func (s *Store) UserSessions(ctx context.Context, userID int64, now, seenAfter time.Time) ([]Session, error) {
	var rows []Session
	err := s.DB.NewSelect().Model(&rows).ExcludeColumn("data").
		Where("user_id = ?", userID).
		Where("expiry > ?", now.UTC()).Where("last_seen_at > ?", seenAfter.UTC()).
		OrderExpr("last_seen_at DESC, id DESC").Scan(ctx)
	return rows, err
}

// DeleteUserSession removes one session of a user; ErrNotFound when the user has no session
// with that id (another user's, or gone).
func (s *Store) DeleteUserSession(ctx context.Context, userID, id int64) error {
	res, err := s.DB.NewDelete().Model((*Session)(nil)).
		Where("id = ?", id).Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteUserSessions removes every session of a user and says how many.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int64, error) {
	res, err := s.DB.NewDelete().Model((*Session)(nil)).
		Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SetSessionWorkspace makes the user's session id work in workspace wsID.
func (s *Store) SetSessionWorkspace(ctx context.Context, id, userID, wsID int64) error {
	res, err := s.DB.NewUpdate().Model((*Session)(nil)).Set("workspace_id = ?", wsID).
		Where("id = ?", id).Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// PruneSessions removes the sessions that expired at now, were last used at or before
// seenBefore, or have no user and were last used at or before anonSeenBefore, and says how
// many. Inside WithTx it joins the transaction (a login there may prune).
func (s *Store) PruneSessions(ctx context.Context, now, seenBefore, anonSeenBefore time.Time) (int64, error) {
	res, err := s.conn(ctx).NewDelete().Model((*Session)(nil)).
		Where("expiry <= ? OR last_seen_at <= ? OR (user_id IS NULL AND last_seen_at <= ?)", now.UTC(), seenBefore.UTC(), anonSeenBefore.UTC()).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
