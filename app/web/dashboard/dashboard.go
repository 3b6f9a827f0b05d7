// Package dashboard is the logged-in product: conversations (list, detail, live updates,
// exports, bulk deletion), Test Chat, assistants, analytics, settings (API keys, prices,
// retention, WhatsApp templates), the WhatsApp composer and the admins' queue pages, with the
// login and setup pages. It owns its routes and its middleware stack: the session user
// (requireLogin), CSRF on unsafe methods, requireAdmin for /queues. A handler file holds one
// action or a small family: bind, one call to the store or a feature service, render. It may
// not import another surface (widget, api, webhooks) or answer API keys.
package dashboard

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/account"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/sse"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/app/workspace"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/workers"
)

// Handler holds what the dashboard needs.
type Handler struct {
	Config        *config.Config
	Log           *slog.Logger
	Store         *store.Store
	Keys          *auth.Keys
	Tasks         *workers.Tasks
	Events        *events.Bus
	Redis         redis.UniversalClient
	Conversations *conversation.Service
	Chat          *chat.Responder
	// Workspace reads and atomically changes workspace settings.
	Workspace *workspace.Service
	// WhatsApp sends and receives WhatsApp messages (built once by the container).
	WhatsApp *whatsapp.Service
	// Accounts signs people in, with throttling.
	Accounts *account.Service
	// Closing is closed when the server shuts down: open event streams end.
	Closing <-chan struct{}

	// streams caps each user's open live streams (live.go).
	streams sse.Cap
}

// csrfMiddleware checks the token on every unsafe dashboard request (htmx sends it in the
// X-CSRF-Token header, plain forms in the _csrf field); a missing or wrong token is 403.
func (s *Handler) csrfMiddleware() echo.MiddlewareFunc {
	return middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "header:X-CSRF-Token,form:_csrf",
		CookieName:     "parley_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   s.Config.SecureCookies,
		CookieSameSite: http.SameSiteLaxMode,
		CookieMaxAge:   7 * 24 * 3600,
		ContextKey:     "csrf",
		ErrorHandler: func(err error, c echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden, "Missing or invalid CSRF token: reload the page and try again.")
		},
	})
}
