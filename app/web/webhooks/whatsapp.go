package webhooks

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/metrics"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/whatsapp"
)

// webhookEnqueueTimeout bounds the enqueues of one delivery: with Redis down the events are
// stored already, and the sweep enqueues them later; Meta must not wait.
var webhookEnqueueTimeout = 2 * time.Second

// whatsappVerify answers Meta's webhook handshake: hub.mode=subscribe and the configured
// verify token give 200 with hub.challenge; anything else 403.
func (s *Handler) whatsappVerify(c echo.Context) error {
	q := c.QueryParams()
	token := s.Config.WhatsAppVerifyToken
	if token == "" || q.Get("hub.mode") != "subscribe" ||
		subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(token)) != 1 {
		return echo.NewHTTPError(http.StatusForbidden, "The verify token does not match PARLEY_WHATSAPP_VERIFY_TOKEN.")
	}
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(q.Get("hub.challenge")))
}

// whatsappWebhook stores a delivery of Meta's webhook and acknowledges it. The raw body is
// read (3 MB at most: 413), its X-Hub-Signature-256 checked before anything is parsed (401,
// nothing stored), then every message, status and other change becomes a raw inbound event,
// all stored by one statement, shared with the deliveries that arrive meanwhile (database
// down: 503, so Meta delivers again). The new events are then enqueued for processing; a
// failed enqueue is logged and still acknowledged, since the sweep enqueues what is left. No
// per-message work happens here.
func (s *Handler) whatsappWebhook(c echo.Context) error {
	r := c.Request()
	reject := func(reason string, err error) error {
		s.Metrics.WebhookRejected(whatsapp.Provider, reason)
		return err
	}
	if r.ContentLength > whatsapp.MaxBodyBytes {
		return reject(metrics.RejectTooLarge, echo.NewHTTPError(http.StatusRequestEntityTooLarge))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, whatsapp.MaxBodyBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return reject(metrics.RejectTooLarge, echo.NewHTTPError(http.StatusRequestEntityTooLarge))
		}
		return reject(metrics.RejectMalformed, echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read."))
	}
	if len(body) > whatsapp.MaxBodyBytes {
		return reject(metrics.RejectTooLarge, echo.NewHTTPError(http.StatusRequestEntityTooLarge))
	}
	if s.Config.WhatsAppAppSecret == "" {
		s.Log.ErrorContext(r.Context(), "WhatsApp webhook refused: PARLEY_WHATSAPP_APP_SECRET is not set")
		return reject(metrics.RejectNotConfigured, apierr.New(http.StatusServiceUnavailable, "not_configured", "WhatsApp webhooks are not configured on this server."))
	}
	if err := whatsapp.VerifySignature(s.Config.WhatsAppAppSecret, body, r.Header.Get(whatsapp.SignatureHeader)); err != nil {
		return reject(metrics.RejectBadSignature, apierr.New(http.StatusUnauthorized, "bad_signature", "Missing or invalid X-Hub-Signature-256."))
	}
	evs, err := whatsapp.Split(body)
	if err != nil {
		return reject(metrics.RejectMalformed, apierr.New(http.StatusBadRequest, "malformed", "The body is not a WhatsApp webhook JSON object."))
	}
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	rows := make([]*store.InboundEvent, len(evs))
	for i, ev := range evs {
		rows[i] = &store.InboundEvent{Provider: whatsapp.Provider, ProviderID: ev.ProviderID, Kind: ev.Kind, Payload: string(ev.Payload), RequestID: reqID}
	}
	ctx := r.Context()
	inserted, err := s.Inbound.Insert(ctx, rows)
	if err != nil {
		s.Log.Error("WhatsApp webhook not stored: answering 503 so that Meta delivers it again", "err", err, "request_id", reqID, "events", len(rows))
		return reject(metrics.RejectDatabaseDown, apierr.New(http.StatusServiceUnavailable, "unavailable", "The event could not be stored; deliver it again later."))
	}
	s.Metrics.Webhook(whatsapp.Provider, metrics.WebhookReceived, len(rows))
	s.Metrics.Webhook(whatsapp.Provider, metrics.WebhookStored, len(inserted))
	s.Metrics.Webhook(whatsapp.Provider, metrics.WebhookDuplicated, len(rows)-len(inserted))
	if len(inserted) > 0 {
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), webhookEnqueueTimeout)
		defer cancel()
		for _, ev := range inserted {
			t, err := s.Tasks.InboundProcess(ev.ID, ev.ReceivedAt, reqID)
			if err == nil {
				err = s.Tasks.Enqueue(ectx, t)
			}
			if err != nil {
				// Redis is not answering: the rest would fail the same way; the sweep enqueues them.
				s.Log.Warn("WhatsApp events stored but not enqueued: the sweep will enqueue them", "event_id", ev.ID, "events", len(inserted), "err", err, "request_id", reqID)
				break
			}
		}
	}
	return c.NoContent(http.StatusOK)
}
