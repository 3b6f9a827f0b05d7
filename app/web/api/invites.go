package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
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

// apiActor is who an API key acts as in team rules: an admin of its workspace (keys are made
// by admins, or by the installation's operator on the command line), an owner when the
// member who made it is one.
func (s *Handler) apiActor(c echo.Context) team.Actor {
	p := apiPrincipal(c)
	a := team.Actor{Role: model.MemberAdmin}
	if p.Key != nil && p.Key.CreatedBy != nil {
		a.UserID = *p.Key.CreatedBy
		if m, err := s.Store.MembershipOf(c.Request().Context(), p.WorkspaceID, a.UserID); err == nil && m.Role == model.MemberOwner {
			a.Role = model.MemberOwner
		}
	}
	return a
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
// "expires_at"}; 422 naming the field of a wrong value; 403 for an owner invite by a key
// that is not an owner's; 409 for a member already.
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
	link := func(token string) string { return s.Config.BaseURL + routenames.URL(routenames.Invite, token) }
	inv, err := s.Team.Invite(ctx, ws, s.apiActor(c), email, model.MemberRole(role), link)
	var fe *team.FieldError
	var me *team.MemberExistsError
	switch {
	case errors.As(err, &fe):
		return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_field", assistants.Errors{{Field: fe.Field, Msg: fe.Message}})
	case errors.As(err, &me):
		return apierr.New(http.StatusConflict, "already_member", "email: %s is already a member of this workspace.", me.Email)
	case errors.Is(err, team.ErrForbidden):
		return apierr.New(http.StatusForbidden, "forbidden", "role: only an owner's key invites an owner.")
	case err != nil:
		return err
	}
	if inv.MailErr != nil {
		s.Log.WarnContext(ctx, "emailing an invite", "invite", inv.Invite.ID, "err", inv.MailErr)
	}
	return c.JSON(http.StatusCreated, apiInvite{ID: inv.Invite.ID, URL: inv.URL, ExpiresAt: convjson.Time(inv.Invite.ExpiresAt)})
}
