// Package team owns who works in which workspace and with what rights: memberships and their
// roles (model.MemberRole), the rules of changing them (only an owner makes or unmakes an
// owner; the last owner stays), the workspace a person works in, and who may create a
// workspace. The dashboard, the API and the command line translate its errors; only
// app/store writes the rows. It may import the store and app/model; never app/web, views or
// workers.
package team

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Errors of the team rules. A *FieldError names the field of a wrong value.
var (
	// ErrNotMember: the user is not a member of the workspace (or it does not exist).
	ErrNotMember = errors.New("not a member of this workspace")
	// ErrForbidden: the caller's role does not allow the change.
	ErrForbidden = errors.New("your role does not allow this")
	// ErrLastOwner: the change would leave the workspace without an owner.
	ErrLastOwner = errors.New("a workspace keeps at least one owner: make someone else an owner first")
	// ErrNoWorkspace: the person belongs to no workspace any more.
	ErrNoWorkspace = errors.New("you are not a member of any workspace")
)

// FieldError is a wrong value of one field.
type FieldError struct{ Field, Message string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Service applies the team rules.
type Service struct {
	Store *store.Store
	// OpenSignup (PARLEY_OPEN_SIGNUP) lets every signed-in person create workspaces, not only
	// the installation's admins.
	OpenSignup bool
	// Mailer emails invite links (nil: they are only shown to copy).
	Mailer Mailer
	// Now is the clock of invite expiry (nil: the system's).
	Now func() time.Time
}

// Seat is the workspace a signed-in person works in, with their role there.
type Seat struct {
	Workspace *store.Workspace
	Role      model.MemberRole
}

// Seat is where user works when their session says workspaceID: that workspace when they are
// still a member, else the first of theirs (switched says so: the caller records it), else
// ErrNoWorkspace.
func (s *Service) Seat(ctx context.Context, userID, workspaceID int64) (seat Seat, switched bool, err error) {
	m, err := s.Store.MembershipOf(ctx, workspaceID, userID)
	if errors.Is(err, store.ErrNotFound) {
		list, lerr := s.Store.UserWorkspaces(ctx, userID)
		if lerr != nil {
			return Seat{}, false, lerr
		}
		if len(list) == 0 {
			return Seat{}, false, ErrNoWorkspace
		}
		workspaceID, switched = list[0].ID, true
		m = &store.Membership{WorkspaceID: list[0].ID, UserID: userID, Role: list[0].Role}
	} else if err != nil {
		return Seat{}, false, err
	}
	ws, err := s.Store.WorkspaceByID(ctx, workspaceID)
	if err != nil {
		return Seat{}, false, err
	}
	return Seat{Workspace: ws, Role: m.Role}, switched, nil
}

// Workspaces lists the workspaces user belongs to, with their role in each.
func (s *Service) Workspaces(ctx context.Context, userID int64) ([]store.UserWorkspace, error) {
	return s.Store.UserWorkspaces(ctx, userID)
}

// Switch checks that user may work in workspace id (ErrNotMember otherwise) and records it as
// where their next login starts.
func (s *Service) Switch(ctx context.Context, userID, id int64) (*store.Workspace, error) {
	if _, err := s.Store.MembershipOf(ctx, id, userID); errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotMember
	} else if err != nil {
		return nil, err
	}
	if err := s.Store.SetLastWorkspace(ctx, userID, id); err != nil {
		return nil, err
	}
	return s.Store.WorkspaceByID(ctx, id)
}

// Members lists the workspace's members.
func (s *Service) Members(ctx context.Context, workspaceID int64) ([]store.Member, error) {
	return s.Store.Members(ctx, workspaceID)
}

// Actor is who asks for a change: a member and their role in the workspace.
type Actor struct {
	UserID int64
	Role   model.MemberRole
}

// ChangeRole gives member userID of the workspace the role. An admin manages admins, agents
// and viewers; only an owner makes someone an owner or changes an owner's role (their own
// included). The last owner stays one (ErrLastOwner).
func (s *Service) ChangeRole(ctx context.Context, workspaceID int64, by Actor, userID int64, role model.MemberRole) (*store.Member, error) {
	if !role.Valid() {
		return nil, &FieldError{Field: "role", Message: fmt.Sprintf("must be one of owner, admin, agent, viewer (got %q)", role)}
	}
	if !by.Role.AtLeast(model.MemberAdmin) {
		return nil, ErrForbidden
	}
	m, err := s.member(ctx, workspaceID, userID)
	if err != nil {
		return nil, err
	}
	if (role == model.MemberOwner || m.Role == model.MemberOwner) && by.Role != model.MemberOwner {
		return nil, ErrForbidden
	}
	if m.Role == role {
		return m, nil
	}
	entry := audit.New(ctx, workspaceID, audit.MemberRoleChange, audit.On(audit.TargetUser, userID),
		map[string]any{"email": m.Email, "from": m.Role, "to": role})
	if err := s.Store.SetMemberRole(ctx, workspaceID, userID, role, entry); err != nil {
		return nil, storeErr(err)
	}
	m.Role = role
	return m, nil
}

// Remove takes member userID out of the workspace and ends their sessions. An admin removes
// admins, agents and viewers; only an owner removes an owner; the last owner stays. A member
// leaving (userID == by.UserID) needs no rights beyond being one.
func (s *Service) Remove(ctx context.Context, workspaceID int64, by Actor, userID int64) (*store.Member, error) {
	m, err := s.member(ctx, workspaceID, userID)
	if err != nil {
		return nil, err
	}
	if userID != by.UserID {
		if !by.Role.AtLeast(model.MemberAdmin) || (m.Role == model.MemberOwner && by.Role != model.MemberOwner) {
			return nil, ErrForbidden
		}
	}
	entry := audit.New(ctx, workspaceID, audit.MemberRemove, audit.On(audit.TargetUser, userID),
		map[string]any{"email": m.Email, "role": m.Role, "left": userID == by.UserID})
	if err := s.Store.RemoveMember(ctx, workspaceID, userID, entry); err != nil {
		return nil, storeErr(err)
	}
	return m, nil
}

func (s *Service) member(ctx context.Context, workspaceID, userID int64) (*store.Member, error) {
	m, err := s.Store.Member(ctx, workspaceID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotMember
	}
	return m, err
}

func storeErr(err error) error {
	switch {
	case errors.Is(err, store.ErrLastOwner):
		return ErrLastOwner
	case errors.Is(err, store.ErrNotFound):
		return ErrNotMember
	}
	return err
}

// MaxWorkspaceName is the longest workspace name, in characters.
const MaxWorkspaceName = 100

// WorkspaceName checks and trims a workspace name.
func WorkspaceName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", &FieldError{Field: "name", Message: "is required"}
	case utf8.RuneCountInString(name) > MaxWorkspaceName:
		return "", &FieldError{Field: "name", Message: fmt.Sprintf("is longer than %d characters", MaxWorkspaceName)}
	}
	return name, nil
}

// CanCreateWorkspace reports whether a person of installation role may create workspaces:
// the installation's admins, and everyone when signup is open.
func (s *Service) CanCreateWorkspace(installationRole string) bool {
	return s.OpenSignup || model.IsAdmin(installationRole)
}

// CreateWorkspace creates a workspace owned by user (whose installation role is
// installationRole): ErrForbidden unless CanCreateWorkspace.
func (s *Service) CreateWorkspace(ctx context.Context, userID int64, installationRole, name string) (*store.Workspace, error) {
	if !s.CanCreateWorkspace(installationRole) {
		return nil, ErrForbidden
	}
	name, err := WorkspaceName(name)
	if err != nil {
		return nil, err
	}
	return s.Store.CreateWorkspaceOwnedBy(ctx, name, userID, audit.New(ctx, 0, audit.WorkspaceCreate, audit.On(audit.TargetWorkspace, 0), map[string]any{"name": name}))
}

// CreateWorkspaceForScript creates a workspace from the command line (whoever runs it runs the
// installation), owned by the account of ownerEmail when given (ErrNotMember-free: an unknown
// email is a FieldError on owner-email). A workspace without an owner is one an invite
// (app/team invites) or `parley user create` fills.
func (s *Service) CreateWorkspaceForScript(ctx context.Context, name, ownerEmail string) (*store.Workspace, error) {
	name, err := WorkspaceName(name)
	if err != nil {
		return nil, err
	}
	if ownerEmail == "" {
		return s.Store.CreateWorkspace(ctx, name)
	}
	u, err := s.Store.UserByEmail(ctx, ownerEmail)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &FieldError{Field: "owner-email", Message: fmt.Sprintf("no account has the email %q", ownerEmail)}
	} else if err != nil {
		return nil, err
	}
	return s.Store.CreateWorkspaceOwnedBy(ctx, name, u.ID, audit.New(ctx, 0, audit.WorkspaceCreate, audit.On(audit.TargetWorkspace, 0), map[string]any{"name": name, "owner": u.Email}))
}

// ErrAdminWithoutWorkspace: deleting the workspace would leave an installation admin with none.
var ErrAdminWithoutWorkspace = errors.New("an installation admin belongs to no other workspace: give them another one first")

// Orphans lists the members whose accounts would be deleted with the workspace (they belong
// to no other).
func (s *Service) Orphans(ctx context.Context, workspaceID int64) ([]store.Member, error) {
	return s.Store.Orphans(ctx, workspaceID)
}

// DeleteWorkspace deletes the workspace with everything in it; only an owner may, and only by
// typing its name (confirm, compared after trimming; a FieldError on confirm otherwise).
func (s *Service) DeleteWorkspace(ctx context.Context, ws *store.Workspace, by Actor, confirm string) error {
	if by.Role != model.MemberOwner {
		return ErrForbidden
	}
	if strings.TrimSpace(confirm) != strings.TrimSpace(ws.Name) {
		return &FieldError{Field: "confirm", Message: "type the workspace's name exactly to delete it"}
	}
	switch err := s.Store.DeleteWorkspace(ctx, ws.ID); {
	case errors.Is(err, store.ErrAdminWithoutWorkspace):
		return ErrAdminWithoutWorkspace
	case errors.Is(err, store.ErrNotFound):
		return ErrNotMember
	default:
		return err
	}
}

// ErrSignupClosed: sign-up is not open (PARLEY_OPEN_SIGNUP is false).
var ErrSignupClosed = errors.New("sign-up is closed: ask an admin of a workspace for an invite")

// SignUp creates an account and the workspace it owns (open sign-up only: ErrSignupClosed
// otherwise), in one transaction. The caller has checked the email and password; an email
// that has an account is a FieldError on email.
func (s *Service) SignUp(ctx context.Context, workspaceName, email, passwordHash string) (*store.Workspace, *store.User, error) {
	if !s.OpenSignup {
		return nil, nil, ErrSignupClosed
	}
	name, err := WorkspaceName(workspaceName)
	if err != nil {
		return nil, nil, &FieldError{Field: "workspace", Message: err.(*FieldError).Message}
	}
	ws, u, err := s.Store.CreateWorkspaceWithUser(ctx, name, email, passwordHash)
	if store.IsUniqueViolation(err) {
		return nil, nil, &FieldError{Field: "email", Message: "has an account already: log in, or reset its password"}
	}
	return ws, u, err
}
