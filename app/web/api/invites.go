package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/convjson"
	"github.com/parleyhq/parley/app/web/jsonbody"
	"github.com/parleyhq/parley/app/web/routenames"
)

// apiInvite is a new invite as the API answers it: the link is shown this once.
type apiInvite struct {
	ID        int64  `json:"id"`
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
}

// apiActor is who an API key acts as in team rules: its creator with their current role in
// the key's workspace (none when they left it), as the other admin-only answers do; a key made
// on the command line (no creator, made by whoever runs the installation) acts as an admin.
func (s *Handler) apiActor(c echo.Context) (team.Actor, error) {
	p := apiPrincipal(c)
	if p.Key == nil || p.Key.CreatedBy == nil {
		return team.Actor{Role: model.MemberAdmin}, nil
	}
	a := team.Actor{UserID: *p.Key.CreatedBy}
	m, err := s.Store.MembershipOf(c.Request().Context(), p.WorkspaceID, a.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return a, nil // no role: refused
	} else if err != nil {
		return a, err
	}
	a.Role = m.Role
	return a, nil
}

// unprocessable turns the decoder's 400 about one field into the 422 of a validation error.
func unprocessable(err error) error {
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Code == "invalid_field" {
		ae.Status = http.StatusUnprocessableEntity
	}
	return err
}

// apiInviteCreate invites {"email", "role"} to the key's workspace: 201 {"id", "url",
// "expires_at"}; 422 naming the field of a wrong value; 403 for a role the key's creator may
// not invite as; 409 for a member already.
func (s *Handler) apiInviteCreate(c echo.Context) error {
	obj, err := jsonbody.Object(c, true)
	if err != nil {
		return err
	}
	if err := jsonbody.Only(obj, "email", "role"); err != nil {
		return unprocessable(err)
	}
	var email, role string
	for _, f := range []struct {
		name string
		to   *string
	}{{"email", &email}, {"role", &role}} {
		raw, ok := obj[f.name]
		if !ok {
			return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_field", assistants.Errors{{Field: f.name, Msg: "is required"}})
		}
		v, err := jsonbody.String(f.name, raw)
		if err != nil {
			return unprocessable(err)
		}
		*f.to = *v
	}
	ctx := c.Request().Context()
	ws, err := s.Store.WorkspaceByID(ctx, apiPrincipal(c).WorkspaceID)
	if err != nil {
		return err
	}
	by, err := s.apiActor(c)
	if err != nil {
		return err
	}
	link := func(token string) string { return s.Config.BaseURL + routenames.URL(routenames.Invite, token) }
	inv, err := s.Team.Invite(ctx, ws, by, email, model.MemberRole(role), link)
	var fe *team.FieldError
	var me *team.MemberExistsError
	switch {
	case errors.As(err, &fe):
		return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_field", assistants.Errors{{Field: fe.Field, Msg: fe.Message}})
	case errors.As(err, &me):
		return apierr.New(http.StatusConflict, "already_member", "email: %s is already a member of this workspace.", me.Email)
	case errors.Is(err, team.ErrForbidden):
		return apierr.New(http.StatusForbidden, "forbidden", "role: this key's creator may not invite as %s (admins invite admins, agents and viewers; only owners invite owners).", role)
	case err != nil:
		return err
	}
	if inv.MailErr != nil {
		s.Log.WarnContext(ctx, "emailing an invite", "invite", inv.Invite.ID, "err", inv.MailErr)
	}
	return c.JSON(http.StatusCreated, apiInvite{ID: inv.Invite.ID, URL: inv.URL, ExpiresAt: convjson.Time(inv.Invite.ExpiresAt)})
}
