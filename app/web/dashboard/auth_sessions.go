package dashboard

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/session"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// sessionsData fills Settings' "Your sessions": the user's own sessions only.
func (s *Handler) sessionsData(c echo.Context, d *pages.SettingsData) error {
	cur := current(c)
	list, err := s.Sessions.List(c.Request().Context(), cur.User.ID)
	if err != nil {
		return err
	}
	d.CSRF = csrfToken(c)
	d.SessionIdle, d.SessionMax = spellDuration(s.Sessions.Idle), spellDuration(s.Sessions.Max)
	d.Sessions = d.Sessions[:0]
	for _, r := range list {
		d.Sessions = append(d.Sessions, pages.SessionRow{ID: r.ID, Device: r.Device, Address: r.Address, Created: r.Created, LastSeen: r.LastSeen, Current: r.Current})
	}
	return nil
}

// spellDuration says a duration as a person would: "30 days", "12 hours", "90 minutes".
func spellDuration(d time.Duration) string {
	n, unit := int64(d/time.Minute), "minute"
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		n, unit = int64(d/(24*time.Hour)), "day"
	case d >= time.Hour && d%time.Hour == 0:
		n, unit = int64(d/time.Hour), "hour"
	}
	if n != 1 {
		unit += "s"
	}
	return strconv.FormatInt(n, 10) + " " + unit
}

// sessionRevoke ends one of the user's sessions (404 for anyone else's); ending this
// browser's own is a logout.
func (s *Handler) sessionRevoke(c echo.Context) error {
	id, ok := routenames.ParamID(c, "id")
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "No such session.")
	}
	cur := current(c)
	own, err := s.Sessions.Revoke(c.Request().Context(), cur.User.ID, id)
	if errors.Is(err, session.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such session.")
	}
	if err != nil {
		return err
	}
	if own {
		return s.toLogin(c)
	}
	if !htmx.IsFragment(c) {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Settings))
	}
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	d.SessionsFlash = "That session has ended: its browser must log in again."
	return s.renderSettings(c, http.StatusOK, d)
}

// sessionRevokeAll ends every session of the user, this one included, and goes to the login.
func (s *Handler) sessionRevokeAll(c echo.Context) error {
	cur := current(c)
	if err := s.Sessions.RevokeAll(c.Request().Context(), cur.User.ID); err != nil {
		return err
	}
	return s.toLogin(c)
}
