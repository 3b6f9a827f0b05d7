package dashboard

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// Invites: made and revoked on Settings → Members (admins), accepted at the link's page
// (public: a visitor makes an account there; a signed-in person joins). app/team decides.

// inviteLink is the full URL of an invite token: PARLEY_BASE_URL and the invite's route.
func (s *Handler) inviteLink(token string) string {
	return s.Config.BaseURL + routenames.URL(routenames.Invite, token)
}

// pendingInvites adds the workspace's open invites to d.
func (s *Handler) pendingInvites(c echo.Context, d *pages.MembersData) error {
	list, err := s.Team.Pending(c.Request().Context(), current(c).Workspace.ID)
	if err != nil {
		return err
	}
	for _, i := range list {
		row := pages.InviteRow{ID: i.ID, Email: i.Email, Role: i.Role, ExpiresAt: i.ExpiresAt}
		if i.InvitedByEmail != nil {
			row.InvitedBy = *i.InvitedByEmail
		}
		d.Invites = append(d.Invites, row)
	}
	return nil
}

// inviteCreate invites the form's email with the form's role; the members section shows the
// link once. Refusals: 422 naming the field, 403 for a role the viewer may not grant, 409 for
// a member already.
func (s *Handler) inviteCreate(c echo.Context) error {
	cur := current(c)
	email, role := c.FormValue("email"), model.MemberRole(c.FormValue("role"))
	inv, err := s.Team.Invite(c.Request().Context(), cur.Workspace, s.actor(c), email, role, s.inviteLink)
	status, msg := http.StatusOK, ""
	var fe *team.FieldError
	var me *team.MemberExistsError
	switch {
	case err == nil:
	case errors.Is(err, team.ErrForbidden):
		status, msg = http.StatusForbidden, "Only an owner invites an owner."
	case errors.As(err, &me):
		status, msg = http.StatusConflict, me.Email+" is already a member of "+cur.Workspace.Name+"."
	case errors.As(err, &fe):
		status, msg = http.StatusUnprocessableEntity, fieldLabel(fe.Field)+" "+fe.Message+"."
	default:
		return err
	}
	d, err := s.membersData(c)
	if err != nil {
		return err
	}
	if msg != "" {
		d.InviteError, d.InviteEmail, d.InviteRole = msg, email, role
	} else {
		d.NewInvite = &pages.NewInvite{Email: inv.Invite.Email, URL: inv.URL, Emailed: inv.Emailed, MailFailed: inv.MailErr != nil}
		if inv.MailErr != nil {
			s.Log.WarnContext(c.Request().Context(), "emailing an invite", "invite", inv.Invite.ID, "err", inv.MailErr)
		}
	}
	return s.renderMembers(c, status, d)
}

func fieldLabel(field string) string {
	switch field {
	case "email":
		return "Email"
	case "role":
		return "Role"
	case "name":
		return "Name"
	case "password":
		return "Password"
	}
	return field
}

// inviteRevoke revokes an open invite of the workspace (404 for any other).
func (s *Handler) inviteRevoke(c echo.Context) error {
	id, ok := routenames.ParamID(c, "id")
	var inv *store.Invite
	err := team.ErrInviteNotFound
	if ok {
		inv, err = s.Team.Revoke(c.Request().Context(), current(c).Workspace.ID, s.actor(c), id)
	}
	status, msg := http.StatusOK, ""
	switch {
	case err == nil:
	case errors.Is(err, team.ErrInviteNotFound):
		status, msg = http.StatusNotFound, "That invite is not open in this workspace (used, revoked or unknown)."
	case errors.Is(err, team.ErrForbidden):
		status, msg = http.StatusForbidden, "Only admins revoke invites."
	default:
		return err
	}
	d, err := s.membersData(c)
	if err != nil {
		return err
	}
	if msg != "" {
		d.Error = msg
	} else {
		d.Flash = "The invite of " + inv.Email + " was revoked; its link no longer works."
	}
	return s.renderMembers(c, status, d)
}

// signedIn is the session's user on a public page (nil when nobody is signed in).
func (s *Handler) signedIn(ctx context.Context) (*store.User, error) {
	uid := s.Sessions.User(ctx)
	if uid <= 0 {
		return nil, nil
	}
	u, err := s.Store.UserByID(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// inviteGone answers 404 with the page that says the link does not work (never a login
// redirect).
func inviteGone(c echo.Context) error {
	return htmx.Render(c, http.StatusNotFound, pages.InviteGone())
}

// inviteData is the page of a valid invite as the visitor sees it.
func (s *Handler) inviteData(c echo.Context, token string, v *team.InviteView, u *store.User) pages.InviteData {
	d := pages.InviteData{CSRF: csrfToken(c), Token: token, WorkspaceName: v.Workspace.Name, Role: v.Invite.Role, Email: v.Invite.Email, Errors: map[string]string{}}
	switch {
	case u != nil:
		d.SignedInAs = u.Email
		d.State = pages.InviteAccept
		if v.CheckAccount(u) != nil {
			d.State = pages.InviteWrongAs
		}
	case v.HasAccount:
		d.State = pages.InviteSignIn
	default:
		d.State = pages.InviteNew
	}
	return d
}

// invitePage shows the workspace and role of an invite link, and how to accept it.
func (s *Handler) invitePage(c echo.Context) error {
	noReferrer(c) // the link's token is in the URL
	ctx := c.Request().Context()
	token := c.Param("token")
	v, err := s.Team.Lookup(ctx, token)
	if errors.Is(err, team.ErrInviteNotFound) {
		return inviteGone(c)
	} else if err != nil {
		return err
	}
	u, err := s.signedIn(ctx)
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.Invite(s.inviteData(c, token, v, u)))
}

// inviteAccept accepts an invite link: a signed-in person of the invited email joins the
// workspace and works in it; a visitor makes an account (name, password) and is signed in,
// in the same transaction.
func (s *Handler) inviteAccept(c echo.Context) error {
	noReferrer(c)
	ctx := c.Request().Context()
	token := c.Param("token")
	u, err := s.signedIn(ctx)
	if err != nil {
		return err
	}
	if u != nil {
		v, err := s.Team.AcceptAs(ctx, token, u)
		var wa *team.WrongAccountError
		var me *team.MemberExistsError
		switch {
		case errors.Is(err, team.ErrInviteNotFound):
			return inviteGone(c)
		case errors.As(err, &wa):
			d := s.inviteData(c, token, v, u)
			d.Error = "This invite is for " + wa.Invited + "; you are signed in as " + u.Email + "."
			return htmx.Render(c, http.StatusForbidden, pages.Invite(d))
		case errors.As(err, &me):
			d := s.inviteData(c, token, v, u)
			d.Error = "You are already a member of " + v.Workspace.Name + "."
			return htmx.Render(c, http.StatusConflict, pages.Invite(d))
		case err != nil:
			return err
		}
		if err := s.Sessions.SwitchWorkspace(ctx, v.Workspace.ID); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversations))
	}
	name := c.FormValue("name")
	_, v, err := s.Team.AcceptNew(ctx, token, name, c.FormValue("password"), s.Sessions.Login)
	var fe *team.FieldError
	switch {
	case errors.Is(err, team.ErrInviteNotFound):
		return inviteGone(c)
	case errors.Is(err, team.ErrSignInToAccept):
		d := s.inviteData(c, token, v, nil)
		d.State = pages.InviteSignIn
		d.Error = "An account with " + v.Invite.Email + " exists: log in to accept."
		return htmx.Render(c, http.StatusConflict, pages.Invite(d))
	case errors.As(err, &fe):
		d := s.inviteData(c, token, v, nil)
		d.Name = name
		d.Errors[fe.Field] = fieldLabel(fe.Field) + " " + fe.Message + "."
		return htmx.Render(c, http.StatusUnprocessableEntity, pages.Invite(d))
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversations))
}
