package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// Invite is a one-time link that makes its holder a member of one workspace with one role
// (app/team decides who may invite whom and when a link is good; this file only stores).
// Only the SHA-256 of the link's token is kept.
type Invite struct {
	bun.BaseModel `bun:"table:invites"`
	ID            int64            `bun:"id,pk,autoincrement"`
	WorkspaceID   int64            `bun:"workspace_id"`
	Email         string           `bun:"email"`
	Role          model.MemberRole `bun:"role"`
	TokenHash     string           `bun:"token_hash"`
	InvitedBy     *int64           `bun:"invited_by"`
	CreatedAt     time.Time        `bun:"created_at"`
	ExpiresAt     time.Time        `bun:"expires_at"`
	AcceptedAt    *time.Time       `bun:"accepted_at"`
	AcceptedBy    *int64           `bun:"accepted_by"`
	RevokedAt     *time.Time       `bun:"revoked_at"`
}

// Open reports an invite neither accepted nor revoked (it may have expired).
func (i *Invite) Open() bool { return i.AcceptedAt == nil && i.RevokedAt == nil }

// CreateInvite stores an invite of the workspace, replacing (revoking) the open invite of
// the same email, case-insensitively, in the same transaction: a workspace has at most one
// open invite per email. inv.ID is set.
func (s *Store) CreateInvite(ctx context.Context, inv *Invite, entries ...*AuditEntry) error {
	inv.Email = strings.TrimSpace(inv.Email)
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewUpdate().Model((*Invite)(nil)).Set("revoked_at = ?", now()).
			Where("workspace_id = ?", inv.WorkspaceID).Where("lower(email) = lower(?)", inv.Email).
			Where("accepted_at IS NULL AND revoked_at IS NULL").Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewInsert().Model(inv).Returning("id").Exec(ctx)
		if IsUniqueViolation(err) {
			return ErrConflict // a concurrent invite of the same email
		}
		if err != nil {
			return err
		}
		fillAudit(entries, inv.WorkspaceID, inv.ID, nil)
		return insertAudit(ctx, tx, entries)
	})
}

// InviteByTokenHash is the invite whose token hashes to hash, whatever its state
// (ErrNotFound when none).
func (s *Store) InviteByTokenHash(ctx context.Context, hash string) (*Invite, error) {
	inv := new(Invite)
	err := s.DB.NewSelect().Model(inv).Where("token_hash = ?", hash).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return inv, err
}

// PendingInvite is an open invite as the members page lists it, with its inviter's email.
type PendingInvite struct {
	ID             int64            `bun:"id"`
	Email          string           `bun:"email"`
	Role           model.MemberRole `bun:"role"`
	InvitedByEmail *string          `bun:"invited_by_email"`
	CreatedAt      time.Time        `bun:"created_at"`
	ExpiresAt      time.Time        `bun:"expires_at"`
}

// PendingInvites lists the workspace's invites that are open and not expired at now, newest
// first.
func (s *Store) PendingInvites(ctx context.Context, workspaceID int64, now time.Time) ([]PendingInvite, error) {
	var out []PendingInvite
	err := s.DB.NewSelect().TableExpr("invites AS i").
		Join("LEFT JOIN users AS u ON u.id = i.invited_by").
		ColumnExpr("i.id, i.email, i.role, u.email AS invited_by_email, i.created_at, i.expires_at").
		Where("i.workspace_id = ?", workspaceID).
		Where("i.accepted_at IS NULL AND i.revoked_at IS NULL").
		Where("i.expires_at > ?", now.UTC()).
		OrderExpr("i.created_at DESC, i.id DESC").Scan(ctx, &out)
	return out, err
}

// RevokeInvite revokes an open invite of the workspace (ErrNotFound when the workspace has no
// open invite with that id: another workspace's, accepted, or revoked already).
func (s *Store) RevokeInvite(ctx context.Context, workspaceID, id int64, entries ...*AuditEntry) (*Invite, error) {
	inv := new(Invite)
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Invite)(nil)).Set("revoked_at = ?", now()).
			Where("id = ?", id).Where("workspace_id = ?", workspaceID).
			Where("accepted_at IS NULL AND revoked_at IS NULL").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if err := tx.NewSelect().Model(inv).Where("id = ?", id).Scan(ctx); err != nil {
			return err
		}
		return insertAudit(ctx, tx, entries)
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// SetInviteExpiry moves an invite's expiry (tests, and an operator extending a link).
func (s *Store) SetInviteExpiry(ctx context.Context, id int64, at time.Time) error {
	_, err := s.DB.NewUpdate().Model((*Invite)(nil)).Set("expires_at = ?", at.UTC()).Where("id = ?", id).Exec(ctx)
	return err
}

// claimInvite marks the open invite id of the workspace used by userID, in tx (ErrNotFound
// when it is no longer open: accepted or revoked meanwhile).
func claimInvite(ctx context.Context, tx bun.IDB, workspaceID, id, userID int64) error {
	res, err := tx.NewUpdate().Model((*Invite)(nil)).Set("accepted_at = ?", now()).Set("accepted_by = ?", userID).
		Where("id = ?", id).Where("workspace_id = ?", workspaceID).
		Where("accepted_at IS NULL AND revoked_at IS NULL").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// AcceptInviteNewUser accepts the invite with a new account, in one transaction (WithTx's:
// then runs in it, and the store calls it makes with its context join it): the account
// (installation role member, starting in the invite's workspace), its membership with the
// invite's role, the invite marked used by it, then then(ctx, user) (the login's session).
// ErrNotFound when the invite is no longer open; ErrConflict when the email has an account.
// Nothing is written unless all of it is.
func (s *Store) AcceptInviteNewUser(ctx context.Context, inv *Invite, name, passwordHash string, then func(ctx context.Context, u *User) error, entries ...*AuditEntry) (*User, error) {
	var u *User
	err := s.WithTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if u, err = createUser(ctx, tx, inv.WorkspaceID, inv.Email, passwordHash, model.UserRoleMember); err != nil {
			if IsUniqueViolation(err) {
				return ErrConflict
			}
			return err
		}
		if name != "" {
			u.Name = name
			if _, err := tx.NewUpdate().Model(u).Column("name").WherePK().Exec(ctx); err != nil {
				return err
			}
		}
		if err := addMember(ctx, tx, inv.WorkspaceID, u.ID, inv.Role); err != nil {
			return err
		}
		if err := claimInvite(ctx, tx, inv.WorkspaceID, inv.ID, u.ID); err != nil {
			return err
		}
		fillAudit(entries, inv.WorkspaceID, u.ID, u)
		if err := insertAudit(ctx, tx, entries); err != nil {
			return err
		}
		if then != nil {
			return then(ctx, u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// AcceptInviteMember accepts the invite for an existing account, in one transaction: its
// membership with the invite's role, the invite marked used, and the invite's workspace made
// the one its next login starts in. ErrNotFound when the invite is no longer open;
// ErrConflict, and nothing written, when the user is a member already.
func (s *Store) AcceptInviteMember(ctx context.Context, inv *Invite, userID int64, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := addMember(ctx, tx, inv.WorkspaceID, userID, inv.Role); err != nil {
			return err
		}
		if err := claimInvite(ctx, tx, inv.WorkspaceID, inv.ID, userID); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*User)(nil)).Set("workspace_id = ?", inv.WorkspaceID).Where("id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		return insertAudit(ctx, tx, entries)
	})
}
