package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/ratelimit"
	"github.com/parleyhq/parley/app/session"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/layouts"
)

// Current is the logged-in user of a dashboard request, the workspace they work in and
// their role there.
type Current struct {
	User      *store.User
	Workspace *store.Workspace
	Role      model.MemberRole
}

func current(c echo.Context) *Current {
	cur, _ := c.Get("current").(*Current)
	return cur
}

// publicRule bounds the requests of one client (an IPv6 client by its /64) to the pages
// without a login: each first visit to /login creates a session row (its CSRF token), so a
// client looping on it could otherwise fill the sessions table. A person signing in makes a
// handful; failed sign-ins have their own, stricter throttle (app/account).
var publicRule = ratelimit.PerMinute("dashboard:public", 120)

// limitPublic answers 429 with Retry-After to a client over publicRule, before any session is
// loaded or created.
func (s *Handler) limitPublic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.Limits == nil {
			return next(c)
		}
		d := s.Limits.Allow(c.Request().Context(), publicRule, ratelimit.ClientKey(c.RealIP()))
		if !d.Allowed {
			c.Response().Header().Set("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
			return echo.NewHTTPError(http.StatusTooManyRequests, "Too many requests from your network. Try again in "+strconv.Itoa(d.RetryAfterSeconds())+" seconds.")
		}
		return next(c)
	}
}

// loadSession reads the request's server-side session (app/session: the cookie holds a
// token, the database the session) and saves it, when it changed, just before the answer's
// header is written, setting or clearing the cookie.
func (s *Handler) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		ctx, err := s.Sessions.Load(r, session.Client{IP: c.RealIP(), UserAgent: r.UserAgent()})
		if err != nil {
			return err
		}
		c.SetRequest(r.WithContext(ctx))
		c.Set(sessionsKey, s.Sessions)
		res := c.Response()
		res.Header().Add(echo.HeaderVary, echo.HeaderCookie)
		res.Before(func() {
			if err := s.Sessions.Save(ctx, res); err != nil {
				s.Log.ErrorContext(ctx, "saving the session", "err", err)
			}
			// scs adds Cache-Control: no-cache="Set-Cookie" with a cookie; no-store says more.
			if h := res.Header(); len(h.Values(echo.HeaderCacheControl)) > 1 && h.Get(echo.HeaderCacheControl) == "no-store" {
				h.Set(echo.HeaderCacheControl, "no-store")
			}
		})
		return next(c)
	}
}

// csrfMiddleware checks the token on every unsafe dashboard request (htmx sends it in the
// X-CSRF-Token header, plain forms in the _csrf field) against the one kept in the session:
// a missing token, another session's, or this browser's from before it logged in (the login
// draws a new one) is 403.
func (s *Handler) csrfMiddleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			switch c.Request().Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
				return next(c)
			}
			ctx := c.Request().Context()
			if !s.Sessions.ValidCSRF(ctx, c.Request().Header.Get("X-CSRF-Token")) && !s.Sessions.ValidCSRF(ctx, c.FormValue("_csrf")) {
				return echo.NewHTTPError(http.StatusForbidden, "Missing or invalid CSRF token: reload the page and try again.")
			}
			return next(c)
		}
	}
}

// requireLogin loads the session's user and the workspace they work in (the session's, or
// their first when they were removed from it); without a user it redirects to /login (htmx
// requests get HX-Redirect, since a 302 would be followed and swapped into the page).
func (s *Handler) requireLogin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if uid := s.Sessions.User(ctx); uid > 0 {
			u, err := s.Store.UserByID(ctx, uid)
			if err == nil {
				seat, switched, err := s.Team.Seat(ctx, u.ID, s.Sessions.Workspace(ctx))
				if errors.Is(err, team.ErrNoWorkspace) {
					_ = s.Sessions.Logout(ctx)
					return echo.NewHTTPError(http.StatusForbidden, "You are not a member of any workspace any more. Ask an admin for an invite.")
				}
				if err != nil {
					return err
				}
				if switched {
					if err := s.Sessions.SwitchWorkspace(ctx, seat.Workspace.ID); err != nil {
						return err
					}
				}
				c.Set("current", &Current{User: u, Workspace: seat.Workspace, Role: seat.Role})
				// What the request changes is recorded as this user's doing (app/audit).
				c.SetRequest(c.Request().WithContext(audit.WithActor(ctx, audit.UserActor(u))))
				return next(c)
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		target := routenames.URL(routenames.Login)
		if c.Request().Method == http.MethodGet && !htmx.IsFragment(c) {
			target += "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
		}
		if c.Request().Header.Get("HX-Request") == "true" {
			c.Response().Header().Set(htmx.HeaderRedirect, target)
			return c.NoContent(http.StatusUnauthorized)
		}
		return c.Redirect(http.StatusSeeOther, target)
	}
}

// guard is the dashboard's check of a route's access (routenames.Guard): public routes pass;
// a workspace role needs the request's user to have it (or a higher one) in the workspace they
// work in; the installation's routes need an installation admin. Others get 403 and nothing
// runs. It runs after requireLogin on every logged-in route.
func (s *Handler) guard(a model.Access) echo.MiddlewareFunc {
	if a == model.AccessPublic {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	need := a.Role()
	if need == "" && a != model.AccessInstallation {
		panic("dashboard: a route asks for " + string(a) + ", which the dashboard does not grant")
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			cur := current(c)
			if cur == nil {
				return echo.NewHTTPError(http.StatusForbidden, "You are not signed in.")
			}
			if a == model.AccessInstallation {
				if !model.IsAdmin(cur.User.Role) {
					return echo.NewHTTPError(http.StatusForbidden, "This page is for admins only: the installation's admins, who run every workspace's background jobs.")
				}
				return next(c)
			}
			if !cur.Role.AtLeast(need) {
				return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("This needs the %s role in %s; yours is %s. Ask an admin of the workspace.", need.Label(), cur.Workspace.Name, cur.Role.Label()))
			}
			return next(c)
		}
	}
}

// page builds the layout model of a dashboard request.
func (s *Handler) page(c echo.Context, title, active string) (layouts.Page, error) {
	cur := current(c)
	counts, err := s.Store.ConversationCounts(c.Request().Context(), cur.Workspace.ID)
	if err != nil {
		return layouts.Page{}, err
	}
	views, err := s.navViews(c.Request().Context(), cur.Workspace.ID, cur.User.ID)
	if err != nil {
		return layouts.Page{}, err
	}
	return layouts.Page{
		Title: title, Active: active, CSRF: csrfToken(c),
		UserEmail: cur.User.Email, WorkspaceName: cur.Workspace.Name, TotalConversations: counts.Total,
		Admin: model.IsAdmin(cur.User.Role), Role: cur.Role, Workspaces: s.workspaceMenu(c), Views: views,
	}, nil
}

// sessionsKey holds the request's session manager, for csrfToken.
const sessionsKey = "sessions"

// csrfToken is the session's CSRF token for a form (drawn, and saved with the session, on
// first use); "" outside a loaded session.
func csrfToken(c echo.Context) string {
	m, _ := c.Get(sessionsKey).(*session.Manager)
	if m == nil {
		return ""
	}
	return m.CSRFToken(c.Request().Context())
}
