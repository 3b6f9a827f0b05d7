package team

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
)

// Invites (issue 13, item 2): a one-time link, valid InviteTTL and revocable, that makes its
// holder a member of one workspace with one role. The link's token is drawn here and shown
// once; only its SHA-256 is stored. The rules:
//   - admins invite (admins, agents, viewers); only owners invite owners;
//   - an email that is a member already is refused (MemberExistsError, 409);
//   - inviting an email that has an open invite replaces it: the old link stops working;
//   - a link is bound to its workspace and used once; an unknown, used, revoked or expired
//     link is ErrInviteNotFound, whichever it is;
//   - it is accepted by a visitor without an account (creating it) or by the signed-in
//     account of the invited email (case-insensitive); another signed-in account is refused
//     (WrongAccountError), and a visitor whose email has an account signs in first
//     (ErrSignInToAccept).

// InviteTTL is how long an invite link stays valid.
const InviteTTL = 7 * 24 * time.Hour

// Errors of invites.
var (
	// ErrInviteNotFound: the link is unknown, used, revoked or expired (or another
	// workspace's, for a revocation).
	ErrInviteNotFound = errors.New("this invite link is unknown, used, revoked or expired")
	// ErrSignInToAccept: the invited email has an account; its owner signs in to accept.
	ErrSignInToAccept = errors.New("the invited email has an account: sign in to accept")
)

// MemberExistsError refuses an invite of an email that is a member of the workspace already.
type MemberExistsError struct{ Email string }

func (e *MemberExistsError) Error() string {
	return fmt.Sprintf("email: %s is already a member of this workspace", e.Email)
}

// WrongAccountError refuses an invite accepted by a signed-in account of another email.
type WrongAccountError struct{ Invited string }

func (e *WrongAccountError) Error() string {
	return fmt.Sprintf("this invite is for %s: sign in with that account to accept it", e.Invited)
}

// Mailer sends email: Enqueue queues one message (app/mail stores and sends it). A nil
// Mailer, or one not Enabled, sends nothing: the link is only shown to copy.
type Mailer interface {
	Enabled() bool
	Enqueue(ctx context.Context, to, subject, text, html string) error
}

// LinkFunc is the full URL of an invite's token (the caller's base URL and route).
type LinkFunc func(token string) string

// Invitation is a new invite: its row, the link (shown once: the token is not kept) and
// whether it was emailed (MailErr says why not, when sending was tried and failed).
type Invitation struct {
	Invite  *store.Invite
	URL     string
	Emailed bool
	MailErr error
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func hashInviteToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// InviteEmail checks and trims an invited email.
func InviteEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", &FieldError{Field: "email", Message: "is required"}
	}
	if !config.LooksLikeEmail(email) {
		return "", &FieldError{Field: "email", Message: fmt.Sprintf("%q is not an email address", email)}
	}
	return email, nil
}

// CanInvite reports whether a member of role may invite someone as want: admins invite
// admins, agents and viewers; owners everyone.
func CanInvite(role, want model.MemberRole) bool {
	if want == model.MemberOwner {
		return role == model.MemberOwner
	}
	return role.AtLeast(model.MemberAdmin)
}

// Invite invites email to the workspace ws with role, on behalf of by (by.UserID 0: nobody in
// particular, an API key or the command line). It replaces the email's open invite, and
// emails the link when a Mailer is enabled. link builds the URL of the token.
func (s *Service) Invite(ctx context.Context, ws *store.Workspace, by Actor, email string, role model.MemberRole, link LinkFunc) (*Invitation, error) {
	email, err := InviteEmail(email)
	if err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, &FieldError{Field: "role", Message: fmt.Sprintf("must be one of owner, admin, agent, viewer (got %q)", role)}
	}
	if !CanInvite(by.Role, role) {
		return nil, ErrForbidden
	}
	if u, err := s.Store.UserByEmail(ctx, email); err == nil {
		if _, err := s.Store.MembershipOf(ctx, ws.ID, u.ID); err == nil {
			return nil, &MemberExistsError{Email: email}
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	token := rand.Text()
	now := s.now().Truncate(time.Microsecond)
	inv := &store.Invite{WorkspaceID: ws.ID, Email: email, Role: role, TokenHash: hashInviteToken(token), CreatedAt: now, ExpiresAt: now.Add(InviteTTL)}
	if by.UserID > 0 {
		inv.InvitedBy = &by.UserID
	}
	entry := audit.New(ctx, ws.ID, audit.MemberInvite, audit.On(audit.TargetInvite, 0), map[string]any{"email": email, "role": role})
	if err := s.Store.CreateInvite(ctx, inv, entry); errors.Is(err, store.ErrConflict) {
		return nil, &FieldError{Field: "email", Message: "was invited by someone else at the same moment: try again"}
	} else if err != nil {
		return nil, err
	}
	out := &Invitation{Invite: inv, URL: link(token)}
	if s.Mailer != nil && s.Mailer.Enabled() {
		subject, text, body := inviteMail(ws.Name, s.inviterName(ctx, by.UserID), role, out.URL, inv.ExpiresAt)
		if out.MailErr = s.Mailer.Enqueue(ctx, email, subject, text, body); out.MailErr == nil {
			out.Emailed = true
		}
	}
	return out, nil
}

func (s *Service) inviterName(ctx context.Context, userID int64) string {
	if userID == 0 {
		return ""
	}
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return ""
	}
	return model.PersonName(u.Name, u.Email)
}

// inviteMail is the invite's email: subject, plain text and HTML (every value escaped).
func inviteMail(workspace, inviter string, role model.MemberRole, url string, expires time.Time) (subject, text, body string) {
	who := "You have"
	if inviter != "" {
		who = inviter + " has"
	}
	subject = "You are invited to " + workspace + " on Parley"
	when := expires.UTC().Format("2006-01-02 15:04 UTC")
	text = fmt.Sprintf("%s invited you to the workspace %s on Parley, as %s.\n\nAccept the invite: %s\n\nThe link works once and until %s.\n",
		who, workspace, role.Label(), url, when)
	body = fmt.Sprintf("<p>%s invited you to the workspace <strong>%s</strong> on Parley, as %s.</p><p><a href=\"%s\">Accept the invite</a></p><p>The link works once and until %s.</p>",
		html.EscapeString(who), html.EscapeString(workspace), html.EscapeString(role.Label()), html.EscapeString(url), html.EscapeString(when))
	return subject, text, body
}

// Revoke revokes an open invite of the workspace (ErrInviteNotFound for another workspace's,
// or one used or revoked already). Admins revoke; only owners revoke an owner's invite.
func (s *Service) Revoke(ctx context.Context, workspaceID int64, by Actor, id int64) (*store.Invite, error) {
	if !by.Role.AtLeast(model.MemberAdmin) {
		return nil, ErrForbidden
	}
	inv, err := s.Store.RevokeInvite(ctx, workspaceID, id, audit.New(ctx, workspaceID, audit.MemberInviteRevoke, audit.On(audit.TargetInvite, id), nil))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInviteNotFound
	}
	return inv, err
}

// Pending lists the workspace's open invites that have not expired, newest first.
func (s *Service) Pending(ctx context.Context, workspaceID int64) ([]store.PendingInvite, error) {
	return s.Store.PendingInvites(ctx, workspaceID, s.now())
}

// InviteView is a valid invite as its link's page shows it.
type InviteView struct {
	Invite    *store.Invite
	Workspace *store.Workspace
	// HasAccount: the invited email has an account (its owner signs in to accept).
	HasAccount bool
}

// Lookup is the open, unexpired invite of token (ErrInviteNotFound otherwise, whatever the
// reason).
func (s *Service) Lookup(ctx context.Context, token string) (*InviteView, error) {
	if token == "" || len(token) > 200 {
		return nil, ErrInviteNotFound
	}
	inv, err := s.Store.InviteByTokenHash(ctx, hashInviteToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInviteNotFound
	} else if err != nil {
		return nil, err
	}
	if !inv.Open() || !s.now().Before(inv.ExpiresAt) {
		return nil, ErrInviteNotFound
	}
	ws, err := s.Store.WorkspaceByID(ctx, inv.WorkspaceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInviteNotFound
	} else if err != nil {
		return nil, err
	}
	v := &InviteView{Invite: inv, Workspace: ws}
	if _, err := s.Store.UserByEmail(ctx, inv.Email); err == nil {
		v.HasAccount = true
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return v, nil
}

// CheckAccount refuses (WrongAccountError) an account whose email is not the invited one,
// compared case-insensitively.
func (v *InviteView) CheckAccount(u *store.User) error {
	if !strings.EqualFold(strings.TrimSpace(u.Email), strings.TrimSpace(v.Invite.Email)) {
		return &WrongAccountError{Invited: v.Invite.Email}
	}
	return nil
}

// MaxPersonName is the longest name of a person, in characters.
const MaxPersonName = 100

// NewAccount checks the name and password of an account made by accepting an invite.
func NewAccount(name, password string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", &FieldError{Field: "name", Message: "is required"}
	case utf8.RuneCountInString(name) > MaxPersonName:
		return "", &FieldError{Field: "name", Message: fmt.Sprintf("is longer than %d characters", MaxPersonName)}
	case len(password) < auth.MinPasswordLength:
		return "", &FieldError{Field: "password", Message: fmt.Sprintf("must be at least %d characters", auth.MinPasswordLength)}
	case len(password) > 72:
		return "", &FieldError{Field: "password", Message: "must be at most 72 bytes"}
	}
	return name, nil
}

// AcceptNew accepts the invite of token with a new account of the invited email (name and
// password checked by NewAccount): the account (installation role member), its membership,
// the invite marked used and login(ctx, user) (the caller's session) happen in one
// transaction, so that a failed login leaves no account behind. ErrSignInToAccept when the
// email has an account already.
func (s *Service) AcceptNew(ctx context.Context, token, name, password string, login func(ctx context.Context, u *store.User) error) (*store.User, *InviteView, error) {
	v, err := s.Lookup(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	if v.HasAccount {
		return nil, v, ErrSignInToAccept
	}
	if name, err = NewAccount(name, password); err != nil {
		return nil, v, err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return nil, v, err
	}
	// The new account joins, acting on its own (the store fills in its id and name).
	join := audit.NewBy(audit.Actor{Type: audit.ActorUser}, v.Invite.WorkspaceID, audit.MemberJoin, audit.On(audit.TargetUser, 0),
		map[string]any{"email": v.Invite.Email, "role": v.Invite.Role, "invite_id": v.Invite.ID})
	u, err := s.Store.AcceptInviteNewUser(ctx, v.Invite, name, hash, login, join)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, v, ErrInviteNotFound
	case errors.Is(err, store.ErrConflict):
		return nil, v, ErrSignInToAccept
	case err != nil:
		return nil, v, err
	}
	return u, v, nil
}

// AcceptAs accepts the invite of token for the signed-in user u, whose email must be the
// invited one (WrongAccountError otherwise); a member already gets MemberExistsError.
func (s *Service) AcceptAs(ctx context.Context, token string, u *store.User) (*InviteView, error) {
	v, err := s.Lookup(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := v.CheckAccount(u); err != nil {
		return v, err
	}
	join := audit.NewBy(audit.UserActor(u), v.Invite.WorkspaceID, audit.MemberJoin, audit.On(audit.TargetUser, u.ID),
		map[string]any{"email": u.Email, "role": v.Invite.Role, "invite_id": v.Invite.ID})
	err = s.Store.AcceptInviteMember(ctx, v.Invite, u.ID, join)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return v, ErrInviteNotFound
	case errors.Is(err, store.ErrConflict):
		return v, &MemberExistsError{Email: u.Email}
	}
	return v, err
}

// CreateMemberForScript creates, from the command line, an account of email with password
// (checked as NewAccount's) that is a member of the workspace with role (installation role
// member). An email that has an account is a FieldError on email: invite it instead.
func (s *Service) CreateMemberForScript(ctx context.Context, workspaceID int64, email string, role model.MemberRole, password string) (*store.User, error) {
	email, err := InviteEmail(email)
	if err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, &FieldError{Field: "role", Message: fmt.Sprintf("must be one of owner, admin, agent, viewer (got %q)", role)}
	}
	if _, err := NewAccount("-", password); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return nil, err
	}
	u, err := s.Store.CreateMemberUser(ctx, workspaceID, email, "", hash, model.UserRoleMember, role)
	if errors.Is(err, store.ErrConflict) {
		return nil, &FieldError{Field: "email", Message: fmt.Sprintf("%s has an account already (invite it from Settings → Members to add it to a workspace)", email)}
	}
	return u, err
}

// InviteForScript invites email to the workspace with role from the command line (whoever
// runs it runs the installation: any role may be given). The account is made when the link is
// used. An email that has an account is a FieldError on email, as in CreateMemberForScript.
func (s *Service) InviteForScript(ctx context.Context, ws *store.Workspace, email string, role model.MemberRole, link LinkFunc) (*Invitation, error) {
	if _, err := s.Store.UserByEmail(ctx, strings.TrimSpace(email)); err == nil {
		return nil, &FieldError{Field: "email", Message: fmt.Sprintf("%s has an account already (invite it from Settings → Members to add it to a workspace)", strings.TrimSpace(email))}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return s.Invite(ctx, ws, Actor{Role: model.MemberOwner}, email, role, link)
}
