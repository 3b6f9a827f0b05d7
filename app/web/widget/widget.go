// Package widget is the surface of the web widget: the iframe pages a business's website
// frames (/widget/...) and the public widget API its own UI calls (/api/widget/v1/...). It
// owns their routes and their own middleware: visitor and session tokens (app/widget), CORS
// and Content-Security-Policy frame-ancestors from the assistant's allowed origins, the rate
// limits per client IP and assistant, and a smaller body limit. It may not import another
// surface (dashboard, api, webhooks), sessions, CSRF or API keys.
package widget

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/ratelimit"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/config"
)

// Handler holds what the widget needs.
type Handler struct {
	Config        *config.Config
	Log           *slog.Logger
	Store         *store.Store
	Keys          *auth.Keys
	Redis         redis.UniversalClient
	Conversations *conversation.Service
	Chat          *chat.Responder
	// Limits counts visitors' requests, chats and messages per client (ratelimit).
	Limits *ratelimit.Limiter
}

// The widget's rate rules: new chats and messages per client and assistant (their numbers
// come from the configuration), and every request of a client to the iframe pages and the
// public API.
const (
	ruleSessions = "widget:sessions"
	ruleMessages = "widget:messages"
)

// requestRule bounds every request of one client (an IPv6 client by its /64) to the widget's
// pages and public API, whatever the assistant: a page load, a history read and a stream
// reconnect all count. A person chatting makes a few a minute.
var requestRule = ratelimit.PerMinute("widget:requests", 240)

// limitRequests answers 429 with Retry-After to a client over requestRule.
func (s *Handler) limitRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodOptions {
			return next(c) // CORS preflights are the browser's, not the visitor's
		}
		d := s.Limits.Allow(c.Request().Context(), requestRule, ratelimit.ClientKey(c.RealIP()))
		if !d.Allowed {
			c.Response().Header().Set("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
			return apierr.New(http.StatusTooManyRequests, "rate_limited", "Too many requests from your network. Try again in %d seconds.", d.RetryAfterSeconds())
		}
		return next(c)
	}
}

// Mount registers the iframe pages on /widget and the public API on /api/widget/v1: public,
// outside CSRF and the API-key group; a signed token per visitor and conversation protects
// them. The iframe pages set their own frame-ancestors from the assistant's allowed origins;
// the API answers CORS for them.
func (s *Handler) Mount(e *echo.Echo) {
	wf := e.Group("/widget", s.limitRequests, widgetBodyLimit, widgetFrameHeaders)
	routenames.AddAll(wf, "/widget", nil, []routenames.Named{
		{Name: routenames.WidgetPage, Handler: s.widgetPage},
		{Name: routenames.WidgetStart, Handler: s.widgetStart},
		{Name: routenames.WidgetSend, Handler: s.widgetSend},
		{Name: routenames.WidgetReply, Handler: s.widgetReply},
		{Name: routenames.WidgetEnd, Handler: s.widgetEndFrame},
		{Name: routenames.WidgetFeedback, Handler: s.widgetFeedbackFrame},
		{Name: routenames.WidgetCSAT, Handler: s.widgetCSATFrame},
	}...)
	const api = "/api/widget/v1"
	wapi := e.Group(api, s.limitRequests, widgetBodyLimit)
	routenames.AddAll(wapi, api, nil, []routenames.Named{
		{Name: routenames.APIWidgetAssistant, Handler: s.apiWidgetAssistant},
		{Name: routenames.APIWidgetAssistantPreflight, Handler: s.apiWidgetPreflight},
		{Name: routenames.APIWidgetSessionsCreate, Handler: s.apiWidgetSessionCreate},
		{Name: routenames.APIWidgetSessionsPreflight, Handler: s.apiWidgetPreflight},
		{Name: routenames.APIWidgetMessages, Handler: s.apiWidgetHistory},
		{Name: routenames.APIWidgetSend, Handler: s.apiWidgetSend},
		{Name: routenames.APIWidgetMessagesPreflight, Handler: s.apiWidgetPreflight},
		{Name: routenames.APIWidgetEnd, Handler: s.apiWidgetEnd},
		{Name: routenames.APIWidgetEndPreflight, Handler: s.apiWidgetPreflight},
		{Name: routenames.APIWidgetFeedback, Handler: s.apiWidgetFeedback},
		{Name: routenames.APIWidgetFeedbackPreflight, Handler: s.apiWidgetPreflight},
		{Name: routenames.APIWidgetCSAT, Handler: s.apiWidgetCSAT},
		{Name: routenames.APIWidgetCSATPreflight, Handler: s.apiWidgetPreflight},
	}...)
}
