package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// CountUsers returns how many users exist in all workspaces (used to decide on first-run setup).
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	return s.DB.NewSelect().Model((*User)(nil)).Count(ctx)
}

// ErrSetupDone is returned by CreateFirstAdmin when a user already exists.
var ErrSetupDone = errors.New("setup already done: a user exists")

// CreateFirstAdmin creates a workspace and its admin user, only when no user exists yet. The
// check and the inserts share one transaction; on PostgreSQL the transaction takes an advisory
// lock so that two concurrent setups cannot both succeed.
func (s *Store) CreateFirstAdmin(ctx context.Context, workspaceName, email, passwordHash string) (*Workspace, *User, error) {
	var ws *Workspace
	var u *User
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if s.Dialect == Postgres {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(4242001)"); err != nil {
				return err
			}
		}
		n, err := tx.NewSelect().Model((*User)(nil)).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrSetupDone
		}
		ws, err = createWorkspace(ctx, tx, workspaceName)
		if err != nil {
			return err
		}
		if u, err = createUser(ctx, tx, ws.ID, email, passwordHash, model.UserRoleAdmin); err != nil {
			return err
		}
		return addMember(ctx, tx, ws.ID, u.ID, model.MemberOwner)
	})
	if err != nil {
		return nil, nil, err
	}
	return ws, u, nil
}

// CreateWorkspaceWithUser creates a workspace and its owner, a new account, in one
// transaction. The installation's first account is an installation admin, as at setup;
// later ones are not.
func (s *Store) CreateWorkspaceWithUser(ctx context.Context, workspaceName, email, passwordHash string) (*Workspace, *User, error) {
	var ws *Workspace
	var u *User
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		ws, err = createWorkspace(ctx, tx, workspaceName)
		if err != nil {
			return err
		}
		role := model.UserRoleMember
		if n, err := tx.NewSelect().Model((*User)(nil)).Count(ctx); err != nil {
			return err
		} else if n == 0 {
			role = model.UserRoleAdmin
		}
		if u, err = createUser(ctx, tx, ws.ID, email, passwordHash, role); err != nil {
			return err
		}
		return addMember(ctx, tx, ws.ID, u.ID, model.MemberOwner)
	})
	return ws, u, err
}

func createWorkspace(ctx context.Context, db bun.IDB, name string) (*Workspace, error) {
	t := now()
	ws := &Workspace{Name: name, Settings: "{}", CreatedAt: t, UpdatedAt: t}
	if _, err := db.NewInsert().Model(ws).Returning("id").Exec(ctx); err != nil {
		return nil, err
	}
	return ws, nil
}

func createUser(ctx context.Context, db bun.IDB, workspaceID int64, email, hash, role string) (*User, error) {
	u := &User{WorkspaceID: workspaceID, Email: strings.TrimSpace(email), PasswordHash: hash, Role: role, CreatedAt: now()}
	if _, err := db.NewInsert().Model(u).Returning("id").Exec(ctx); err != nil {
		return nil, err
	}
	return u, nil
}

// UserByEmail finds a user by email, case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	u := new(User)
	err := s.DB.NewSelect().Model(u).Where("lower(email) = lower(?)", strings.TrimSpace(email)).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return u, err
}

// UserByID loads a user.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	u := new(User)
	err := s.DB.NewSelect().Model(u).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return u, err
}

// TouchLogin records a successful login, and the audit entries given in the same transaction.
func (s *Store) TouchLogin(ctx context.Context, userID int64, audit ...*AuditEntry) error {
	return s.withAudit(ctx, audit, func(ctx context.Context, db bun.IDB) error {
		_, err := db.NewUpdate().Model((*User)(nil)).Set("last_login_at = ?", now()).Where("id = ?", userID).Exec(ctx)
		return err
	})
}

// WorkspaceByID loads a workspace.
func (s *Store) WorkspaceByID(ctx context.Context, id int64) (*Workspace, error) {
	ws := new(Workspace)
	err := s.DB.NewSelect().Model(ws).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return ws, err
}

// FirstWorkspace returns the oldest workspace.
func (s *Store) FirstWorkspace(ctx context.Context) (*Workspace, error) {
	ws := new(Workspace)
	err := s.DB.NewSelect().Model(ws).Order("id ASC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return ws, err
}

// ---- API keys ----

// CreateAPIKey stores a write key's hash and its display prefix, and the audit entries given
// (their empty target ids become the key's) in the same transaction.
func (s *Store) CreateAPIKey(ctx context.Context, workspaceID int64, name, prefix, hash string, createdBy *int64, audit ...*AuditEntry) (*APIKey, error) {
	k := &APIKey{WorkspaceID: workspaceID, Name: name, Prefix: prefix, KeyHash: hash, Scope: model.ScopeWrite, CreatedBy: createdBy}
	if err := s.InsertAPIKey(ctx, k, audit...); err != nil {
		return nil, err
	}
	return k, nil
}

// InsertAPIKey stores the key k describes (its scope already checked with model.ParseScope;
// the database refuses any other); k.ID and k.CreatedAt are set. The audit entries given
// (their empty target ids become the key's) are written in the same transaction.
func (s *Store) InsertAPIKey(ctx context.Context, k *APIKey, audit ...*AuditEntry) error {
	k.ID, k.CreatedAt = 0, now()
	return s.withAudit(ctx, audit, func(ctx context.Context, db bun.IDB) error {
		if _, err := db.NewInsert().Model(k).Returning("id").Exec(ctx); err != nil {
			return err
		}
		fillTarget(audit, k.ID)
		return nil
	})
}

// APIKeys lists a workspace's keys, newest first, each with its creator's name and email.
func (s *Store) APIKeys(ctx context.Context, workspaceID int64) ([]APIKey, error) {
	var ks []APIKey
	err := s.DB.NewSelect().Model(&ks).
		ColumnExpr("k.*").
		ColumnExpr("COALESCE(u.name, '') AS creator_name").ColumnExpr("COALESCE(u.email, '') AS creator_email").
		ModelTableExpr("api_keys AS k").
		Join("LEFT JOIN users AS u ON u.id = k.created_by").
		Where("k.workspace_id = ?", workspaceID).Order("k.created_at DESC", "k.id DESC").Scan(ctx)
	return ks, err
}

// APIKeyByHash finds an active (not revoked) key by its hash.
func (s *Store) APIKeyByHash(ctx context.Context, hash string) (*APIKey, error) {
	k := new(APIKey)
	err := s.DB.NewSelect().Model(k).Where("key_hash = ?", hash).Where("revoked_at IS NULL").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return k, err
}

// TouchAPIKey records the key's last use.
func (s *Store) TouchAPIKey(ctx context.Context, id int64) error {
	_, err := s.DB.NewUpdate().Model((*APIKey)(nil)).Set("last_used_at = ?", now()).Where("id = ?", id).Exec(ctx)
	return err
}

// RevokeAPIKey revokes a key of the workspace, with the audit entries given in the same
// transaction; ErrNotFound if it is not there or already revoked (nothing written).
func (s *Store) RevokeAPIKey(ctx context.Context, workspaceID, id int64, audit ...*AuditEntry) error {
	return s.withAudit(ctx, audit, func(ctx context.Context, db bun.IDB) error {
		res, err := db.NewUpdate().Model((*APIKey)(nil)).Set("revoked_at = ?", now()).
			Where("id = ? AND workspace_id = ? AND revoked_at IS NULL", id, workspaceID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// CreateUser inserts a user as it is, a member of u.WorkspaceID with role (the load tools'
// throwaway login); u.ID is set.
func (s *Store) CreateUser(ctx context.Context, u *User, role model.MemberRole) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(u).Returning("id").Exec(ctx); err != nil {
			return err
		}
		return addMember(ctx, tx, u.WorkspaceID, u.ID, role)
	})
}

// DeleteUser deletes a user.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	_, err := s.DB.NewDelete().TableExpr("users").Where("id = ?", id).Exec(ctx)
	return err
}
