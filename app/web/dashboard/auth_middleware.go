package dashboard

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo-contrib/session"
	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/layouts"
)

const sessionName = "parley_session"

// Current is the logged-in user and workspace of a dashboard request.
type Current struct {
	User      *store.User
	Workspace *store.Workspace
}

func current(c echo.Context) *Current {
	cur, _ := c.Get("current").(*Current)
	return cur
}

func getSession(c echo.Context) *sessions.Session {
	// A cookie that does not decode (another key, tampered) yields a new, empty session.
	sess, _ := session.Get(sessionName, c)
	if sess == nil {
		sess = sessions.NewSession(nil, sessionName)
		sess.Options = &sessions.Options{Path: "/"}
	}
	return sess
}

// requireLogin loads the session's user; without one, it redirects to /login (htmx requests
// get HX-Redirect, since a 302 would be followed and swapped into the page).
func (s *Handler) requireLogin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess := getSession(c)
		uid, _ := sess.Values["uid"].(int64)
		if uid > 0 {
			u, err := s.Store.UserByID(c.Request().Context(), uid)
			if err == nil {
				ws, err := s.Store.WorkspaceByID(c.Request().Context(), u.WorkspaceID)
				if err != nil {
					return err
				}
				c.Set("current", &Current{User: u, Workspace: ws})
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

// page builds the layout model of a dashboard request.
func (s *Handler) page(c echo.Context, title, active string) (layouts.Page, error) {
	cur := current(c)
	counts, err := s.Store.ConversationCounts(c.Request().Context(), cur.Workspace.ID)
	if err != nil {
		return layouts.Page{}, err
	}
	return layouts.Page{
		Title: title, Active: active, CSRF: csrfToken(c),
		UserEmail: cur.User.Email, WorkspaceName: cur.Workspace.Name, TotalConversations: counts.Total,
		Admin: s.isOperator(c),
	}, nil
}

func csrfToken(c echo.Context) string {
	t, _ := c.Get("csrf").(string)
	return t
}
