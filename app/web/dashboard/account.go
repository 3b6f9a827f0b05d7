package dashboard

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/account"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// Settings → Account: the person's own name, email and password (app/account decides).

func (s *Handler) renderAccount(c echo.Context, status int, d pages.AccountData) error {
	p, err := s.page(c, "Your account", "settings")
	if err != nil {
		return err
	}
	d.CSRF = csrfToken(c)
	return htmx.Render(c, status, pages.Account(p, d))
}

// accountPage shows the forms; ?saved=profile|password (and ended=N) after a change.
func (s *Handler) accountPage(c echo.Context) error {
	u := current(c).User
	d := pages.AccountData{Name: u.Name, Email: u.Email}
	switch c.QueryParam("saved") {
	case "profile", "password":
		d.Saved = c.QueryParam("saved")
		d.Ended, _ = strconv.ParseInt(c.QueryParam("ended"), 10, 64)
	}
	return s.renderAccount(c, http.StatusOK, d)
}

// accountUpdate saves name and email: 422 naming the wrong field, 409 naming email when
// another account has it; nothing is saved on either.
func (s *Handler) accountUpdate(c echo.Context) error {
	u := current(c).User
	name, email := strings.TrimSpace(c.FormValue("name")), strings.TrimSpace(c.FormValue("email"))
	err := s.Accounts.UpdateProfile(c.Request().Context(), u.ID, name, email)
	d := pages.AccountData{Name: name, Email: email}
	var invalid *account.InvalidError
	switch {
	case errors.As(err, &invalid):
		d.Errors = invalid.Fields
		return s.renderAccount(c, http.StatusUnprocessableEntity, d)
	case errors.Is(err, account.ErrEmailTaken):
		d.Errors = map[string]string{"email": "Another account uses this email."}
		return s.renderAccount(c, http.StatusConflict, d)
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.SettingsAccount)+"?saved=profile")
}

// accountPassword changes the password (the current one required) and ends the user's other
// sessions; this one stays.
func (s *Handler) accountPassword(c echo.Context) error {
	u := current(c).User
	ctx := c.Request().Context()
	ended, err := s.Accounts.ChangePassword(ctx, u, c.FormValue("current_password"), c.FormValue("new_password"), c.FormValue("new_password_confirm"), s.Sessions.ID(ctx))
	d := pages.AccountData{Name: u.Name, Email: u.Email}
	var invalid *account.InvalidError
	var throttled *account.ThrottledError
	switch {
	case errors.As(err, &throttled):
		c.Response().Header().Set("Retry-After", strconv.Itoa(throttled.RetryAfterSeconds()))
		d.Errors = map[string]string{"current_password": "Too many wrong passwords for this account. Try again in " + throttled.Minutes() + "."}
		return s.renderAccount(c, http.StatusTooManyRequests, d)
	case errors.Is(err, account.ErrWrongPassword):
		d.Errors = map[string]string{"current_password": "This is not your current password."}
		return s.renderAccount(c, http.StatusUnprocessableEntity, d)
	case errors.As(err, &invalid):
		d.Errors = invalid.Fields
		return s.renderAccount(c, http.StatusUnprocessableEntity, d)
	case err != nil:
		return err
	}
	s.Log.InfoContext(ctx, "password changed", "user_id", u.ID, "sessions_ended", ended)
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.SettingsAccount)+"?saved=password&ended="+strconv.FormatInt(ended, 10))
}
