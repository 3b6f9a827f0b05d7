package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// Membership is one person's place in one workspace, with exactly one role (app/team decides
// who may give which; this file only stores, and keeps the one rule a concurrent change could
// break: a workspace never loses its last owner).
type Membership struct {
	bun.BaseModel `bun:"table:memberships"`
	WorkspaceID   int64            `bun:"workspace_id,pk"`
	UserID        int64            `bun:"user_id,pk"`
	Role          model.MemberRole `bun:"role"`
	CreatedAt     time.Time        `bun:"created_at"`
}

// ErrConflict is a row that already exists: a member added twice, an email already taken.
var ErrConflict = errors.New("already exists")

// ErrLastOwner refuses a change that would leave a workspace without an owner.
var ErrLastOwner = errors.New("the workspace's last owner cannot leave or stop being an owner")

// MembershipOf is the user's membership of the workspace (ErrNotFound when none).
func (s *Store) MembershipOf(ctx context.Context, workspaceID, userID int64) (*Membership, error) {
	m := new(Membership)
	err := s.DB.NewSelect().Model(m).Where("workspace_id = ?", workspaceID).Where("user_id = ?", userID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return m, err
}

// UserWorkspace is a workspace a person belongs to, with their role in it.
type UserWorkspace struct {
	ID   int64            `bun:"id"`
	Name string           `bun:"name"`
	Role model.MemberRole `bun:"role"`
}

// UserWorkspaces lists the workspaces the user belongs to, by name then id.
func (s *Store) UserWorkspaces(ctx context.Context, userID int64) ([]UserWorkspace, error) {
	var out []UserWorkspace
	err := s.DB.NewSelect().TableExpr("memberships AS m").
		Join("JOIN workspaces AS w ON w.id = m.workspace_id").
		ColumnExpr("w.id, w.name, m.role").
		Where("m.user_id = ?", userID).
		OrderExpr("lower(w.name), w.id").Scan(ctx, &out)
	return out, err
}

// Member is a person of a workspace as its members list shows them.
type Member struct {
	UserID      int64            `bun:"user_id"`
	Email       string           `bun:"email"`
	Name        string           `bun:"name"`
	Role        model.MemberRole `bun:"role"`
	JoinedAt    time.Time        `bun:"joined_at"`
	LastLoginAt *time.Time       `bun:"last_login_at"`
}

// membersQuery selects the members of a workspace (as Member).
func (s *Store) membersQuery(workspaceID int64) *bun.SelectQuery {
	return s.DB.NewSelect().TableExpr("memberships AS m").
		Join("JOIN users AS u ON u.id = m.user_id").
		ColumnExpr("u.id AS user_id, u.email, u.name, m.role, m.created_at AS joined_at, u.last_login_at").
		Where("m.workspace_id = ?", workspaceID)
}

// Members lists a workspace's members, owners first, then by email.
func (s *Store) Members(ctx context.Context, workspaceID int64) ([]Member, error) {
	var out []Member
	err := s.membersQuery(workspaceID).
		OrderExpr("CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'agent' THEN 2 ELSE 3 END, lower(u.email)").
		Scan(ctx, &out)
	return out, err
}

// Member is one member of the workspace (ErrNotFound when the user is not one).
func (s *Store) Member(ctx context.Context, workspaceID, userID int64) (*Member, error) {
	var out []Member
	err := s.membersQuery(workspaceID).Where("m.user_id = ?", userID).
		Scan(ctx, &out)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return &out[0], nil
}

// AddMember makes the user a member of the workspace with role, in db (the store or a
// transaction). A user already a member keeps the role they have: ErrConflict.
func addMember(ctx context.Context, db bun.IDB, workspaceID, userID int64, role model.MemberRole) error {
	m := &Membership{WorkspaceID: workspaceID, UserID: userID, Role: role, CreatedAt: now()}
	res, err := db.NewInsert().Model(m).On("CONFLICT (workspace_id, user_id) DO NOTHING").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrConflict
	}
	return nil
}

// AddMember makes the user a member of the workspace with role; ErrConflict when they are one.
func (s *Store) AddMember(ctx context.Context, workspaceID, userID int64, role model.MemberRole) error {
	return addMember(ctx, s.DB, workspaceID, userID, role)
}

// ownersLeft fails with ErrLastOwner when the workspace has no owner (inside the transaction
// that made the change, which is then rolled back). On PostgreSQL the owners' rows are locked
// first (lockOwners), so that two owners demoting each other at once cannot both succeed.
func ownersLeft(ctx context.Context, tx bun.Tx, workspaceID int64) error {
	n, err := tx.NewSelect().Model((*Membership)(nil)).
		Where("workspace_id = ?", workspaceID).Where("role = ?", model.MemberOwner).Count(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrLastOwner
	}
	return nil
}

// lockOwners takes the workspace's row lock on PostgreSQL (SQLite has one writer), which
// every change of owners takes first: the check in ownersLeft then sees the others' commits.
func (s *Store) lockOwners(ctx context.Context, tx bun.Tx, workspaceID int64) error {
	if s.Dialect != Postgres {
		return nil
	}
	_, err := tx.NewSelect().Model((*Workspace)(nil)).Column("id").Where("id = ?", workspaceID).For("UPDATE").Exec(ctx)
	return err
}

// SetMemberRole changes a member's role (ErrNotFound when the user is not a member;
// ErrLastOwner, and nothing changed, when it would leave the workspace without an owner).
func (s *Store) SetMemberRole(ctx context.Context, workspaceID, userID int64, role model.MemberRole, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockOwners(ctx, tx, workspaceID); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model((*Membership)(nil)).Set("role = ?", role).
			Where("workspace_id = ?", workspaceID).Where("user_id = ?", userID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if err := ownersLeft(ctx, tx, workspaceID); err != nil {
			return err
		}
		return insertAudit(ctx, tx, entries)
	})
}

// RemoveMember takes the user out of the workspace and, in the same transaction, ends every
// session they have (a removed person's open browser is logged out at its next request) and
// moves the workspace they start in to another of theirs. ErrNotFound when they are not a
// member; ErrLastOwner, and nothing changed, for the last owner.
func (s *Store) RemoveMember(ctx context.Context, workspaceID, userID int64, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockOwners(ctx, tx, workspaceID); err != nil {
			return err
		}
		res, err := tx.NewDelete().Model((*Membership)(nil)).
			Where("workspace_id = ?", workspaceID).Where("user_id = ?", userID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if err := ownersLeft(ctx, tx, workspaceID); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*Session)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		if _, err = tx.NewUpdate().Model((*User)(nil)).
			Set("workspace_id = (SELECT min(m.workspace_id) FROM memberships AS m WHERE m.user_id = ?)", userID).
			Where("id = ?", userID).Where("workspace_id = ?", workspaceID).
			Where("EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = ?)", userID).Exec(ctx); err != nil {
			return err
		}
		return insertAudit(ctx, tx, entries)
	})
}

// SetLastWorkspace records the workspace the user works in now: their next login starts there.
func (s *Store) SetLastWorkspace(ctx context.Context, userID, workspaceID int64) error {
	_, err := s.DB.NewUpdate().Model((*User)(nil)).Set("workspace_id = ?", workspaceID).Where("id = ?", userID).Exec(ctx)
	return err
}

// CreateWorkspaceOwnedBy creates a workspace whose owner is the user, in one transaction.
func (s *Store) CreateWorkspaceOwnedBy(ctx context.Context, name string, ownerID int64, entries ...*AuditEntry) (*Workspace, error) {
	var ws *Workspace
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if ws, err = createWorkspace(ctx, tx, strings.TrimSpace(name)); err != nil {
			return err
		}
		if err := addMember(ctx, tx, ws.ID, ownerID, model.MemberOwner); err != nil {
			return err
		}
		fillAudit(entries, ws.ID, ws.ID, nil)
		return insertAudit(ctx, tx, entries)
	})
	return ws, err
}

// CreateMemberUser creates an account that starts in the workspace with role, in one
// transaction (ErrConflict when the email is taken). installationRole is users.role.
func (s *Store) CreateMemberUser(ctx context.Context, workspaceID int64, email, name, passwordHash, installationRole string, role model.MemberRole) (*User, error) {
	var u *User
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if u, err = createUser(ctx, tx, workspaceID, email, passwordHash, installationRole); err != nil {
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
		return addMember(ctx, tx, workspaceID, u.ID, role)
	})
	return u, err
}

// CreateWorkspace creates a workspace without members (the command line's, filled by an
// invite or `parley user create`).
func (s *Store) CreateWorkspace(ctx context.Context, name string) (*Workspace, error) {
	return createWorkspace(ctx, s.DB, strings.TrimSpace(name))
}

// ErrAdminWithoutWorkspace refuses deleting the only workspace of an installation admin.
var ErrAdminWithoutWorkspace = errors.New("an installation admin would be left without a workspace")

// Orphans lists the members of the workspace who belong to no other workspace: their accounts
// go with it when it is deleted.
func (s *Store) Orphans(ctx context.Context, workspaceID int64) ([]Member, error) {
	var out []Member
	err := s.membersQuery(workspaceID).
		Where("NOT EXISTS (SELECT 1 FROM memberships AS o WHERE o.user_id = m.user_id AND o.workspace_id <> ?)", workspaceID).
		OrderExpr("lower(u.email)").Scan(ctx, &out)
	return out, err
}

// DeleteWorkspace deletes the workspace and everything in it (its assistants, conversations,
// keys, templates, sessions and memberships, by the schema's cascades) in one transaction.
// Members who belong to other workspaces start in one of those from now on; the accounts of
// members who belong to no other are deleted with it, unless one is an installation admin:
// then nothing is deleted (ErrAdminWithoutWorkspace).
func (s *Store) DeleteWorkspace(ctx context.Context, workspaceID int64) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewUpdate().TableExpr("users AS u").
			Set("workspace_id = (SELECT min(m.workspace_id) FROM memberships AS m WHERE m.user_id = u.id AND m.workspace_id <> ?)", workspaceID).
			Where("u.workspace_id = ?", workspaceID).
			Where("EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = u.id AND m.workspace_id <> ?)", workspaceID).Exec(ctx); err != nil {
			return err
		}
		// Members who belong to no other workspace, whose account points elsewhere (a
		// workspace they left): their account goes too, pointed here.
		if _, err := tx.NewUpdate().TableExpr("users AS u").Set("workspace_id = ?", workspaceID).
			Where("EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = u.id AND m.workspace_id = ?)", workspaceID).
			Where("NOT EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = u.id AND m.workspace_id <> ?)", workspaceID).Exec(ctx); err != nil {
			return err
		}
		n, err := tx.NewSelect().TableExpr("users AS u").Where("u.workspace_id = ?", workspaceID).Where("u.role = ?", model.UserRoleAdmin).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrAdminWithoutWorkspace
		}
		res, err := tx.NewDelete().Model((*Workspace)(nil)).Where("id = ?", workspaceID).Exec(ctx)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// fillAudit completes entries made before their rows existed: a workspace of 0 becomes
// workspaceID, an empty target id targetID, and, when u is given (an account created by the
// change, acting on its own), an empty user actor becomes u.
func fillAudit(entries []*AuditEntry, workspaceID, targetID int64, u *User) {
	for _, e := range entries {
		if e == nil {
			continue
		}
		if e.WorkspaceID == 0 {
			e.WorkspaceID = workspaceID
		}
		if e.TargetID == "" {
			e.TargetID = strconv.FormatInt(targetID, 10)
		}
		if u != nil && e.ActorType == "user" && e.ActorID == "" {
			e.ActorID, e.ActorName = strconv.FormatInt(u.ID, 10), model.PersonName(u.Name, u.Email)
		}
	}
}
