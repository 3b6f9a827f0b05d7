// Package webhooks is the surface of inbound provider webhooks (today WhatsApp: Meta's
// verification handshake and its signed deliveries). It owns the routes under /webhooks/,
// their signature check and their answers; it stores deliveries as raw inbound events
// through the store's InboundBatcher and enqueues their processing, and does no
// per-message work. It may not import another surface (dashboard, widget, api), sessions,
// CSRF or API keys: a webhook is authenticated by its provider's signature only.
package webhooks

import (
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/metrics"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/workers"
)

// Handler holds what the webhooks need.
type Handler struct {
	Config  *config.Config
	Log     *slog.Logger
	Tasks   *workers.Tasks
	Metrics *metrics.Metrics
	// Inbound stores deliveries, many in one statement under load.
	Inbound *store.InboundBatcher
}

// Mount registers the webhook routes. They have their own body limit (3 MB, checked by the
// handler) instead of the server's, and their answers are never compressed.
func (s *Handler) Mount(e *echo.Echo) {
	routenames.AddRoot(e, routenames.WebhooksWhatsAppVerify, s.whatsappVerify)
	routenames.AddRoot(e, routenames.WebhooksWhatsApp, s.whatsappWebhook)
}
