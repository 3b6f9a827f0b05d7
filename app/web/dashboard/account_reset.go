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

// Password reset pages (no login): /reset asks for a link by email, /reset/{token} sets the
// password with it. app/account decides (tokens, expiry, limits); these pages translate.

// noReferrer keeps a reset link's token out of the Referer of anything the page links to.
func noReferrer(c echo.Context) { c.Response().Header().Set("Referrer-Policy", "no-referrer") }

// resetPage asks for the email to send a link to (or says mail is not configured).
func (s *Handler) resetPage(c echo.Context) error {
	return htmx.Render(c, http.StatusOK, pages.ResetRequest(pages.ResetRequestForm{CSRF: csrfToken(c), MailEnabled: s.Accounts.MailEnabled()}))
}

// resetRequest emails a link when an account has the email, and answers the same page either
// way ("if an account exists, we sent a link"); 429 when this client asked too often.
func (s *Handler) resetRequest(c echo.Context) error {
	f := pages.ResetRequestForm{CSRF: csrfToken(c), Email: strings.TrimSpace(c.FormValue("email")), MailEnabled: s.Accounts.MailEnabled()}
	if !f.MailEnabled {
		return htmx.Render(c, http.StatusOK, pages.ResetRequest(f))
	}
	if f.Email == "" {
		f.Error = "Enter your email."
		return htmx.Render(c, http.StatusUnprocessableEntity, pages.ResetRequest(f))
	}
	err := s.Accounts.RequestReset(c.Request().Context(), f.Email, c.RealIP())
	var throttled *account.ThrottledError
	switch {
	case errors.As(err, &throttled):
		c.Response().Header().Set("Retry-After", strconv.Itoa(throttled.RetryAfterSeconds()))
		f.Error = "Too many requests from your network. Try again in " + throttled.Minutes() + "."
		return htmx.Render(c, http.StatusTooManyRequests, pages.ResetRequest(f))
	case err != nil:
		return err
	}
	f.Sent = true
	return htmx.Render(c, http.StatusOK, pages.ResetRequest(f))
}

// resetInvalid is the answer to a link that is unknown, used or expired: a 404 page that says
// so (never a login redirect).
func (s *Handler) resetInvalid(c echo.Context) error {
	return htmx.Render(c, http.StatusNotFound, pages.ResetInvalid(s.Accounts.MailEnabled()))
}

// resetTokenPage shows the set-a-new-password form of a working link.
func (s *Handler) resetTokenPage(c echo.Context) error {
	noReferrer(c)
	token := c.Param("token")
	u, err := s.Accounts.CheckReset(c.Request().Context(), token)
	if errors.Is(err, account.ErrResetInvalid) {
		return s.resetInvalid(c)
	}
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.ResetPassword(pages.ResetPasswordForm{CSRF: csrfToken(c), Token: token, Email: u.Email}))
}

// resetTokenSubmit sets the password with the link (once), ends all of the user's sessions
// and sends the browser to the login page.
func (s *Handler) resetTokenSubmit(c echo.Context) error {
	noReferrer(c)
	ctx := c.Request().Context()
	token := c.Param("token")
	u, err := s.Accounts.Reset(ctx, token, c.FormValue("new_password"), c.FormValue("new_password_confirm"))
	var invalid *account.InvalidError
	switch {
	case errors.Is(err, account.ErrResetInvalid):
		return s.resetInvalid(c)
	case errors.As(err, &invalid):
		cu, cerr := s.Accounts.CheckReset(ctx, token)
		if cerr != nil {
			return s.resetInvalid(c)
		}
		return htmx.Render(c, http.StatusUnprocessableEntity, pages.ResetPassword(pages.ResetPasswordForm{CSRF: csrfToken(c), Token: token, Email: cu.Email, Errors: invalid.Fields}))
	case err != nil:
		return err
	}
	s.Log.InfoContext(ctx, "password set with a reset link", "user_id", u.ID)
	// This browser may hold a session of the user too: the store deleted it with the others.
	if err := s.Sessions.Logout(ctx); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Login)+"?reset=done")
}
