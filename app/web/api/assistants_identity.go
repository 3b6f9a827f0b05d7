package api

import (
	"encoding/json"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/jsonbody"
)

// apiIdentity is the widget's visitor identity verification of an assistant, as the API
// shows it: the switch, for every key; the secret, only to an admin's key (omitted otherwise).
// The secret is rotated in the dashboard, never written through the API.
type apiIdentity struct {
	IdentityRequired bool    `json:"identity_required"`
	IdentitySecret   *string `json:"identity_secret,omitempty"`
}

func toAPIIdentity(a *model.Assistant, admin bool) apiIdentity {
	out := apiIdentity{IdentityRequired: a.IdentityRequired}
	if admin {
		secret := a.IdentitySecret
		out.IdentitySecret = &secret
	}
	return out
}

func decodeIdentityRequired(v json.RawMessage) (*bool, error) {
	var b bool
	if jsonbody.IsNull(v) || json.Unmarshal(v, &b) != nil {
		return nil, apierr.InvalidField("identity_required", "must be true or false")
	}
	return &b, nil
}

// apiAdmin reports whether the request's API key acts for an admin: a key holds the role of
// the user who created it, read at each request (an admin who is no longer one, or no longer
// exists, takes the key's admin rights along). A key made on the command line has no creator
// and is not an admin's.
func (s *Handler) apiAdmin(c echo.Context) bool {
	p := apiPrincipal(c)
	if p == nil || p.Key == nil || p.Key.CreatedBy == nil {
		return false
	}
	m, err := s.Store.MembershipOf(c.Request().Context(), p.WorkspaceID, *p.Key.CreatedBy)
	if err != nil { // not a member (any more), or the database did not answer: not shown
		return false
	}
	return m.Role.AtLeast(model.MemberAdmin)
}
