package dashboard

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/views/pages"
)

// The identity part of an assistant's page: the switch identity_required (a field of the
// assistant's form) and the identity secret (shown to admins, rotated by them).

// parseIdentity reads the form's identity_required switch (an unchecked box sends nothing).
func parseIdentity(form url.Values, u *assistants.Update) {
	u.IdentityRequired = form.Get("identity_required") != ""
}

// identityView is the secret's card for the current user: the secret only for an admin.
func identityView(c echo.Context, row *store.Assistant) pages.AssistantIdentity {
	if !current(c).Role.AtLeast(model.MemberAdmin) {
		return pages.AssistantIdentity{}
	}
	return pages.AssistantIdentity{Admin: true, Secret: row.IdentitySecret}
}

// assistantIdentityRotate gives the assistant a new identity secret (admins: the route
// table's access); the hashes made with the old one stop verifying at once.
func (s *Handler) assistantIdentityRotate(c echo.Context) error {
	id, ok := assistantID(c)
	if !ok {
		return errAssistantNotFound()
	}
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	_, err := s.Store.RotateIdentitySecret(ctx, ws, id, audit.New(ctx, ws, audit.AssistantIdentityRotate, audit.On(audit.TargetAssistant, id), nil))
	if errors.Is(err, store.ErrNotFound) {
		return errAssistantNotFound()
	}
	if err != nil {
		return err
	}
	if !htmx.IsFragment(c) {
		return c.Redirect(http.StatusSeeOther, pages.AssistantURL(id)+"?rotated=1")
	}
	row, err := s.Store.AssistantByID(ctx, ws, id)
	if err != nil {
		return err
	}
	f, err := s.editForm(c, row)
	if err != nil {
		return err
	}
	f.Identity.Rotated = true
	return s.renderAssistant(c, http.StatusOK, f)
}
