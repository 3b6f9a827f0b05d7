// Package widget is the surface of the web widget: the iframe pages a business's website
// frames (/widget/...) and the public widget API its own UI calls (/api/widget/v1/...). It
// owns their routes and their own middleware: visitor and session tokens (app/widget), CORS
// and Content-Security-Policy frame-ancestors from the assistant's allowed origins, the rate
// limits per client IP and assistant, and a smaller body limit. It may not import another
// surface (dashboard, api, webhooks), sessions, CSRF or API keys.
package widget

import (
	"log/slog"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/store"
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
}

// Mount registers the iframe pages on /widget and the public API on /api/widget/v1: public,
// outside CSRF and the API-key group; a signed token per visitor and conversation protects
// them. The iframe pages set their own frame-ancestors from the assistant's allowed origins;
// the API answers CORS for them.
func (s *Handler) Mount(e *echo.Echo) {
	wf := e.Group("/widget", widgetBodyLimit, widgetFrameHeaders)
	routenames.AddAll(wf, "/widget", []routenames.Named{
		{Name: routenames.WidgetPage, Handler: s.widgetPage},
		{Name: routenames.WidgetStart, Handler: s.widgetStart},
		{Name: routenames.WidgetSend, Handler: s.widgetSend},
		{Name: routenames.WidgetReply, Handler: s.widgetReply},
	}...)
	const api = "/api/widget/v1"
	wapi := e.Group(api, widgetBodyLimit)
	routenames.AddAll(wapi, api, []routenames.Named{
		{Name: routenames.APIWidgetAssistant, Handler: s.apiWidgetAssistant},
		{Name: routenames.APIWidgetAssistantPreflight, Handler: s.apiWidgetPreflight},
		{Name: routenames.APIWidgetSessionsCreate, Handler: s.apiWidgetSessionCreate},
		{Name: routenames.APIWidgetSessionsPreflight, Handler: s.apiWidgetPreflight},
		{Name: routenames.APIWidgetMessages, Handler: s.apiWidgetHistory},
		{Name: routenames.APIWidgetSend, Handler: s.apiWidgetSend},
		{Name: routenames.APIWidgetMessagesPreflight, Handler: s.apiWidgetPreflight},
	}...)
}
