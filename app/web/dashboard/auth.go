package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/account"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/views/pages"
)

func (s *Handler) home(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversations))
}

// safeNext keeps only a path on this site, so ?next= cannot send a user to another one. A
// browser reads "//evil", "/\\evil" and "/<tab>/evil" (it drops tabs and newlines and turns
// backslashes into slashes) as another host, and a percent-encoded copy of those may be decoded
// on the way: anything with a backslash or a control character, before or after decoding, or
// that is not a plain path, falls back to the conversations.
func safeNext(next string) string {
	fallback := routenames.URL(routenames.Conversations)
	if !localPath(next, false) {
		return fallback
	}
	if dec, err := url.PathUnescape(next); err != nil || !localPath(dec, true) {
		return fallback
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return fallback
	}
	return next
}

// localPath reports a string that every browser reads as a path on the current host: no
// backslash, no control character, and no white space unless decoded (a %20 in a query).
func localPath(p string, decoded bool) bool {
	if len(p) > 2048 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	for _, r := range p {
		if r == '\\' || r < 0x20 || r == 0x7f || (!decoded && unicode.IsSpace(r)) {
			return false
		}
	}
	return true
}

func (s *Handler) needsSetup(c echo.Context) (bool, error) {
	n, err := s.Store.CountUsers(c.Request().Context())
	return n == 0, err
}

func (s *Handler) loginPage(c echo.Context) error {
	if setup, err := s.needsSetup(c); err != nil {
		return err
	} else if setup {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Setup))
	}
	f := pages.LoginForm{CSRF: csrfToken(c), Next: c.QueryParam("next"), ForgotLink: s.Accounts.MailEnabled(), SignupLink: s.Team.OpenSignup}
	if c.QueryParam("reset") == "done" {
		f.Notice = "Your password is set. Log in with it."
	}
	return htmx.Render(c, http.StatusOK, pages.Login(f))
}

// login checks form fields email and password.
func (s *Handler) login(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("email"))
	pw := c.FormValue("password")
	next := c.FormValue("next")
	fail := func(msg string) error {
		return htmx.Render(c, http.StatusUnauthorized, pages.Login(pages.LoginForm{CSRF: csrfToken(c), Email: email, Next: next, Error: msg, ForgotLink: s.Accounts.MailEnabled(), SignupLink: s.Team.OpenSignup}))
	}
	if email == "" || pw == "" {
		return htmx.Render(c, http.StatusBadRequest, pages.Login(pages.LoginForm{CSRF: csrfToken(c), Email: email, Next: next, Error: "Enter your email and password."}))
	}
	u, err := s.Accounts.SignIn(c.Request().Context(), email, pw, c.RealIP())
	var throttled *account.ThrottledError
	switch {
	case errors.As(err, &throttled):
		c.Response().Header().Set("Retry-After", strconv.Itoa(throttled.RetryAfterSeconds()))
		msg := "Too many failed sign-ins for this account or from your network. Try again in " + throttled.Minutes() + "."
		return htmx.Render(c, http.StatusTooManyRequests, pages.Login(pages.LoginForm{CSRF: csrfToken(c), Email: email, Next: next, Error: msg}))
	case errors.Is(err, account.ErrWrongCredentials):
		return fail("Wrong email or password.")
	case err != nil:
		return err
	}
	if err := s.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, safeNext(next))
}

// startSession gives the request's session to u: a new session token and CSRF token (the
// old ones, which someone may have planted, are deleted), owner, device and address stored.
func (s *Handler) startSession(c echo.Context, u *store.User) error {
	return s.Sessions.Login(c.Request().Context(), u)
}

// logout ends the session on the server: its row is deleted, so the cookie, replayed, opens
// nothing.
func (s *Handler) logout(c echo.Context) error {
	if err := s.Sessions.Logout(c.Request().Context()); err != nil {
		return err
	}
	return s.toLogin(c)
}

// toLogin sends the browser to the login page (HX-Redirect for htmx requests).
func (s *Handler) toLogin(c echo.Context) error {
	return htmx.Redirect(c, routenames.URL(routenames.Login))
}

func (s *Handler) setupPage(c echo.Context) error {
	if setup, err := s.needsSetup(c); err != nil {
		return err
	} else if !setup {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Login))
	}
	return htmx.Render(c, http.StatusOK, pages.Setup(pages.SetupForm{CSRF: csrfToken(c), Workspace: "My workspace"}))
}

// setup creates the first admin; it works once, while no user exists.
func (s *Handler) setup(c echo.Context) error {
	f, hash, err := s.newAccountForm(c, "setup attempts")
	if err != nil {
		return err
	}
	if len(f.Errors) > 0 {
		return htmx.Render(c, http.StatusBadRequest, pages.Setup(f))
	}
	_, u, err := s.Store.CreateFirstAdmin(c.Request().Context(), f.Workspace, f.Email, hash)
	if errors.Is(err, store.ErrSetupDone) {
		return echo.NewHTTPError(http.StatusConflict, "Setup is already done: log in instead.")
	}
	if err != nil {
		return err
	}
	s.Log.Info("first admin created through setup", "email", u.Email)
	if err := s.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversations))
}

// signupPage is the open sign-up form (404 while sign-up is closed; /setup while nobody
// exists yet).
func (s *Handler) signupPage(c echo.Context) error {
	if !s.Team.OpenSignup {
		return errSignupClosed()
	}
	if setup, err := s.needsSetup(c); err != nil {
		return err
	} else if setup {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Setup))
	}
	return htmx.Render(c, http.StatusOK, pages.Signup(pages.SetupForm{CSRF: csrfToken(c), Errors: map[string]string{}}))
}

func errSignupClosed() error {
	return echo.NewHTTPError(http.StatusNotFound, "Sign-up is closed here. Ask an admin of a workspace for an invite.")
}

// signup creates an account and the workspace it owns, and signs it in: 422 naming the
// field of a wrong value, 409 for an email that has an account; throttled per client like
// the setup.
func (s *Handler) signup(c echo.Context) error {
	if !s.Team.OpenSignup {
		return errSignupClosed()
	}
	f, hash, err := s.newAccountForm(c, "sign-ups")
	if err != nil {
		return err
	}
	if len(f.Errors) > 0 {
		return htmx.Render(c, http.StatusUnprocessableEntity, pages.Signup(f))
	}
	_, u, err := s.Team.SignUp(c.Request().Context(), f.Workspace, f.Email, hash)
	var fe *team.FieldError
	switch {
	case errors.Is(err, team.ErrSignupClosed):
		return errSignupClosed()
	case errors.As(err, &fe):
		f.Errors[fe.Field] = "The name " + fe.Message + "."
		status := http.StatusUnprocessableEntity
		if fe.Field == "email" {
			f.Errors[fe.Field] = "This email " + fe.Message + "."
			status = http.StatusConflict
		}
		return htmx.Render(c, status, pages.Signup(f))
	case err != nil:
		return err
	}
	if err := s.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Assistants))
}

// newAccountForm reads and checks the form of a new account with its workspace (the setup's
// and the sign-up's): workspace, email, password and password_confirm. It counts the attempt
// against the client's setup throttle (a 429 error past it, what names the attempts in its
// message); wrong fields are in f.Errors, and otherwise hash is the password's.
func (s *Handler) newAccountForm(c echo.Context, what string) (f pages.SetupForm, hash string, err error) {
	f = pages.SetupForm{
		CSRF:      csrfToken(c),
		Workspace: strings.TrimSpace(c.FormValue("workspace")),
		Email:     strings.TrimSpace(c.FormValue("email")),
		Errors:    map[string]string{},
	}
	pw, pw2 := c.FormValue("password"), c.FormValue("password_confirm")
	var throttled *account.ThrottledError
	if err := s.Accounts.AttemptSetup(c.Request().Context(), c.RealIP()); errors.As(err, &throttled) {
		c.Response().Header().Set("Retry-After", strconv.Itoa(throttled.RetryAfterSeconds()))
		return f, "", echo.NewHTTPError(http.StatusTooManyRequests, "Too many "+what+" from your network. Try again in "+throttled.Minutes()+".")
	}
	if _, err := team.WorkspaceName(f.Workspace); err != nil {
		f.Errors["workspace"] = fmt.Sprintf("Name the workspace (at most %d characters).", team.MaxWorkspaceName)
	}
	if !config.LooksLikeEmail(f.Email) {
		f.Errors["email"] = "Enter a valid email address."
	}
	if p := account.PasswordProblem(pw); p != "" {
		f.Errors["password"] = p
	}
	if pw != pw2 {
		f.Errors["password_confirm"] = "The two passwords differ."
	}
	if len(f.Errors) > 0 {
		return f, "", nil
	}
	hash, err = auth.HashPassword(pw)
	return f, hash, err
}
