package dashboard

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/layouts"
	"github.com/parleyhq/parley/views/pages"
)

// Workspaces and members: the navigation's switcher, a new workspace, Settings → Members.
// app/team decides; these handlers translate.

// workspaceMenu is the navigation's switcher: the user's workspaces (an error leaves it
// empty: the page still renders).
func (s *Handler) workspaceMenu(c echo.Context) layouts.WorkspaceMenu {
	cur := current(c)
	m := layouts.WorkspaceMenu{Current: cur.Workspace.ID, CanCreate: s.Team.CanCreateWorkspace(cur.User.Role)}
	list, err := s.Team.Workspaces(c.Request().Context(), cur.User.ID)
	if err != nil {
		s.Log.WarnContext(c.Request().Context(), "listing the user's workspaces", "err", err)
		return m
	}
	for _, w := range list {
		m.List = append(m.List, layouts.WorkspaceItem{ID: w.ID, Name: w.Name, Role: w.Role})
	}
	return m
}

// workspaceSwitch makes the session work in the workspace of the form's workspace_id, one of
// the user's (404 for any other: whether it exists is not told).
func (s *Handler) workspaceSwitch(c echo.Context) error {
	id, err := strconv.ParseInt(c.FormValue("workspace_id"), 10, 64)
	if err != nil || id <= 0 {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "workspace_id: choose one of your workspaces.")
	}
	ctx := c.Request().Context()
	if _, err := s.Team.Switch(ctx, current(c).User.ID, id); errors.Is(err, team.ErrNotMember) {
		return echo.NewHTTPError(http.StatusNotFound, "You are not a member of that workspace.")
	} else if err != nil {
		return err
	}
	if err := s.Sessions.SwitchWorkspace(ctx, id); err != nil {
		return err
	}
	return htmx.Redirect(c, routenames.URL(routenames.Conversations))
}

// workspaceNew shows the new-workspace form to those who may create one (403 otherwise).
func (s *Handler) workspaceNew(c echo.Context) error {
	if !s.Team.CanCreateWorkspace(current(c).User.Role) {
		return errNoNewWorkspace()
	}
	return s.renderNewWorkspace(c, http.StatusOK, "", "")
}

func errNoNewWorkspace() error {
	return echo.NewHTTPError(http.StatusForbidden, "Only the installation's admins create workspaces here. Ask one of them, or for an invite.")
}

func (s *Handler) renderNewWorkspace(c echo.Context, status int, name, nameErr string) error {
	p, err := s.page(c, "New workspace", "settings")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.NewWorkspace(p, csrfToken(c), name, nameErr))
}

// workspaceCreate creates a workspace the user owns and switches to it.
func (s *Handler) workspaceCreate(c echo.Context) error {
	cur := current(c)
	ctx := c.Request().Context()
	name := c.FormValue("name")
	ws, err := s.Team.CreateWorkspace(ctx, cur.User.ID, cur.User.Role, name)
	var fe *team.FieldError
	switch {
	case errors.Is(err, team.ErrForbidden):
		return errNoNewWorkspace()
	case errors.As(err, &fe):
		return s.renderNewWorkspace(c, http.StatusUnprocessableEntity, name, "Name "+fe.Message+".")
	case err != nil:
		return err
	}
	if _, err := s.Team.Switch(ctx, cur.User.ID, ws.ID); err != nil {
		return err
	}
	if err := s.Sessions.SwitchWorkspace(ctx, ws.ID); err != nil {
		return err
	}
	return htmx.Redirect(c, routenames.URL(routenames.Assistants))
}

// membersData fills Settings → Members.
func (s *Handler) membersData(c echo.Context) (pages.MembersData, error) {
	cur := current(c)
	d := pages.MembersData{WorkspaceName: cur.Workspace.Name, CSRF: csrfToken(c), Me: cur.User.ID, MyRole: cur.Role}
	list, err := s.Team.Members(c.Request().Context(), cur.Workspace.ID)
	if err != nil {
		return d, err
	}
	for _, m := range list {
		d.Members = append(d.Members, pages.MemberRow{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: m.Role, JoinedAt: m.JoinedAt, LastLoginAt: m.LastLoginAt})
	}
	return d, s.pendingInvites(c, &d)
}

func (s *Handler) membersPage(c echo.Context) error {
	d, err := s.membersData(c)
	if err != nil {
		return err
	}
	return s.renderMembers(c, http.StatusOK, d)
}

func (s *Handler) renderMembers(c echo.Context, status int, d pages.MembersData) error {
	if htmx.IsFragment(c) {
		// htmx swaps only 2xx answers: a refusal is shown in the section, with its status
		// in a header for scripts.
		if status >= 400 {
			c.Response().Header().Set("X-Parley-Status", strconv.Itoa(status))
			status = http.StatusOK
		}
		return htmx.Render(c, status, pages.MembersSection(d))
	}
	p, err := s.page(c, "Members", "settings")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.Members(p, d))
}

// memberAnswer renders the members section after a change, with its outcome: a flash, or the
// refusal (403 for a role that may not, 409 for the last owner, 404 for a non-member).
func (s *Handler) memberAnswer(c echo.Context, flash string, err error) error {
	status, msg := http.StatusOK, ""
	var fe *team.FieldError
	switch {
	case err == nil:
	case errors.Is(err, team.ErrForbidden):
		status, msg = http.StatusForbidden, "Only an owner makes someone an owner, or changes or removes an owner."
	case errors.Is(err, team.ErrLastOwner):
		status, msg = http.StatusConflict, team.ErrLastOwner.Error()
	case errors.Is(err, team.ErrNotMember):
		status, msg = http.StatusNotFound, "That person is not a member of this workspace."
	case errors.As(err, &fe):
		status, msg = http.StatusUnprocessableEntity, "The role "+fe.Message+"."
	default:
		return err
	}
	d, derr := s.membersData(c)
	if derr != nil {
		return derr
	}
	if msg != "" {
		d.Error = msg
	} else {
		d.Flash = flash
	}
	return s.renderMembers(c, status, d)
}

func (s *Handler) actor(c echo.Context) team.Actor {
	cur := current(c)
	return team.Actor{UserID: cur.User.ID, Role: cur.Role}
}

// memberRole changes a member's role (the form's role).
func (s *Handler) memberRole(c echo.Context) error {
	id, ok := routenames.ParamID(c, "id")
	if !ok {
		return s.memberAnswer(c, "", team.ErrNotMember)
	}
	m, err := s.Team.ChangeRole(c.Request().Context(), current(c).Workspace.ID, s.actor(c), id, model.MemberRole(c.FormValue("role")))
	if err != nil {
		return s.memberAnswer(c, "", err)
	}
	return s.memberAnswer(c, m.Email+" is now "+m.Role.Label()+".", nil)
}

// memberRemove takes a member out of the workspace; their sessions end.
func (s *Handler) memberRemove(c echo.Context) error {
	id, ok := routenames.ParamID(c, "id")
	if !ok {
		return s.memberAnswer(c, "", team.ErrNotMember)
	}
	if id == current(c).User.ID {
		return s.memberAnswer(c, "", team.ErrForbidden)
	}
	m, err := s.Team.Remove(c.Request().Context(), current(c).Workspace.ID, s.actor(c), id)
	if err != nil {
		return s.memberAnswer(c, "", err)
	}
	return s.memberAnswer(c, m.Email+" was removed; their sessions have ended.", nil)
}

// memberLeave takes the user out of the workspace they work in (the last owner is refused:
// 409). Their sessions end with it, this one included: they sign in again to another.
func (s *Handler) memberLeave(c echo.Context) error {
	cur := current(c)
	_, err := s.Team.Remove(c.Request().Context(), cur.Workspace.ID, s.actor(c), cur.User.ID)
	if errors.Is(err, team.ErrLastOwner) {
		return echo.NewHTTPError(http.StatusConflict, team.ErrLastOwner.Error())
	}
	if err != nil {
		return err
	}
	_ = s.Sessions.Logout(c.Request().Context())
	return htmx.Redirect(c, routenames.URL(routenames.Login))
}

// workspaceDelete deletes the workspace the owner works in, once its name is typed (422
// otherwise, nothing deleted); the owner lands in another of theirs, or at the login.
func (s *Handler) workspaceDelete(c echo.Context) error {
	cur := current(c)
	ctx := c.Request().Context()
	err := s.Team.DeleteWorkspace(ctx, cur.Workspace, s.actor(c), c.FormValue("confirm"))
	var fe *team.FieldError
	switch {
	case errors.As(err, &fe):
		d, derr := s.settingsData(c)
		if derr != nil {
			return derr
		}
		d.DeleteErr = "To delete it, type the workspace's name exactly: " + cur.Workspace.Name
		return s.renderSettings(c, http.StatusUnprocessableEntity, d)
	case errors.Is(err, team.ErrAdminWithoutWorkspace):
		return echo.NewHTTPError(http.StatusConflict, "This is the only workspace of an installation admin (perhaps you): create or join another workspace first.")
	case errors.Is(err, team.ErrForbidden):
		return echo.NewHTTPError(http.StatusForbidden, "Only an owner deletes the workspace.")
	case err != nil:
		return err
	}
	list, err := s.Team.Workspaces(ctx, cur.User.ID)
	if err != nil || len(list) == 0 {
		_ = s.Sessions.Logout(ctx)
		return htmx.Redirect(c, routenames.URL(routenames.Login))
	}
	if _, err := s.Team.Switch(ctx, cur.User.ID, list[0].ID); err != nil {
		return err
	}
	if err := s.Sessions.SwitchWorkspace(ctx, list[0].ID); err != nil {
		// the session worked in the deleted workspace and went with it: sign in again
		_ = s.Sessions.Logout(ctx)
		return htmx.Redirect(c, routenames.URL(routenames.Login))
	}
	return htmx.Redirect(c, routenames.URL(routenames.Conversations))
}
