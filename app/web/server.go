// Package web is Parley's HTTP layer: Echo handlers (one file per resource), middleware, the
// htmx helpers and the route table. Handlers bind and validate, call the store or a domain
// package, and render a templ component into a buffer before writing anything.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo-contrib/session"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/metrics"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/app/workspace"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/workers"
)

// Server holds what the handlers need.
type Server struct {
	Config *config.Config
	Log    *slog.Logger
	Store  *store.Store
	Keys   *auth.Keys
	Queue  workers.Enqueuer
	Events *events.Bus
	Redis  redis.UniversalClient
	Ready  func(ctx context.Context) map[string]error
	// Conversations changes conversations and publishes live updates.
	Conversations *conversation.Service
	// Chat produces assistant replies.
	Chat *chat.Responder
	// Workspace reads and atomically changes workspace settings.
	Workspace *workspace.Service
	// WhatsApp sends and receives WhatsApp messages (built once by the container).
	WhatsApp *whatsapp.Service
	// Metrics counts requests and webhook events and serves /metrics (metrics.go).
	Metrics     *metrics.Metrics
	metricsOnce sync.Once
	metricsHTTP http.Handler
	// inbound stores webhook deliveries, many in one statement under load (webhooks.go).
	inbound *store.InboundBatcher

	echo *echo.Echo
	// closing ends long-lived responses (event streams) when the server shuts down, since
	// http.Server.Shutdown waits for them without cancelling their requests.
	closing   chan struct{}
	closeOnce sync.Once
}

// Close ends every open event stream; call it before shutting the HTTP server down.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closing) }) }

// New builds the Echo server of an App.
func New(a *app.App) *Server {
	s := &Server{Config: a.Config, Log: a.Log, Store: a.Store, Keys: a.Keys, Queue: a.Queue, Events: a.Events, Redis: a.Redis, Ready: a.Ready, Conversations: a.Conversations, Chat: a.Chat, Workspace: a.Workspace, WhatsApp: a.WhatsApp, Metrics: a.Metrics}
	s.closing = make(chan struct{})
	s.inbound = store.NewInboundBatcher(a.Store)
	s.echo = s.build()
	return s
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo exposes the router (route names, reverse URLs).
func (s *Server) Echo() *echo.Echo { return s.echo }

// Serve listens on the configured address until ctx ends, then shuts down gracefully,
// letting in-flight requests finish.
func (s *Server) Serve(ctx context.Context) error {
	srv := &http.Server{
		Addr:              s.Config.Addr,
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	s.Log.Info("web server listening", "addr", s.Config.Addr, "base_url", s.Config.BaseURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) build() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = clientIP(s.Config.TrustedProxies)

	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{RedirectCode: http.StatusMovedPermanently}))
	e.Use(middleware.RequestID())
	e.Use(s.observe) // request id into the context for the logs and jobs; HTTP metrics (metrics.go)
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURI: true, LogMethod: true, LogLatency: true, LogRequestID: true, LogError: true, HandleError: true,
		Skipper: func(c echo.Context) bool {
			p := c.Path()
			return p == "/healthz" || strings.HasPrefix(c.Request().URL.Path, "/static/")
		},
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			lvl := slog.LevelInfo
			if v.Status >= 500 {
				lvl = slog.LevelError
			}
			attrs := []slog.Attr{slog.String("method", v.Method), slog.String("uri", v.URI), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency), slog.String("request_id", v.RequestID)}
			if v.Error != nil && v.Status >= 500 {
				attrs = append(attrs, slog.String("err", v.Error.Error()))
			}
			s.Log.LogAttrs(c.Request().Context(), lvl, "request", attrs...)
			return nil
		},
	}))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		s.Log.Error("panic", "err", err, "uri", c.Request().RequestURI, "stack", string(stack))
		return err
	}}))
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		// The widget's iframe pages are framed by the assistant's allowed origins: they send
		// their own frame-ancestors and no X-Frame-Options (widget.go).
		Skipper:               isWidgetFrame,
		XSSProtection:         "0",
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		HSTSMaxAge:            hstsAge(s.Config),
		ReferrerPolicy:        "same-origin",
		ContentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
	}))
	e.Use(varyHX)
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{Skipper: noGzip, MinLength: 1024}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: s.Config.BodyLimit, Skipper: func(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, "/webhooks/") }})) // webhooks have their own limit

	cookies := sessions.NewCookieStore(s.Keys.SessionHash, s.Keys.SessionBlock)
	cookies.Options = &sessions.Options{Path: "/", MaxAge: 30 * 24 * 3600, HttpOnly: true, Secure: s.Config.SecureCookies, SameSite: http.SameSiteLaxMode}
	e.Use(session.Middleware(cookies))

	s.routes(e)
	return e
}

func hstsAge(c *config.Config) int {
	if c.SecureCookies {
		return 31536000
	}
	return 0
}

// noGzip skips compression for streams and for webhooks: a webhook's answer is empty, and
// preparing a gzip writer for it (two resets of the compressor's tables) was the costliest
// step of an acknowledgement.
func noGzip(c echo.Context) bool {
	return isStreaming(c) || strings.HasPrefix(c.Request().URL.Path, "/webhooks/")
}

// isStreaming reports routes that must not be buffered (server-sent events, streamed exports).
func isStreaming(c echo.Context) bool {
	r := c.Request()
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream") || strings.HasSuffix(r.URL.Path, "/events")
}

// varyHX sets Vary: HX-Request on every response: the same URL answers a fragment to htmx
// and a full page otherwise, and caches must keep them apart.
func varyHX(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Add("Vary", "HX-Request")
		return next(c)
	}
}

// csrfMiddleware checks the token on every unsafe dashboard request (htmx sends it in the
// X-CSRF-Token header, plain forms in the _csrf field); a missing or wrong token is 403.
func (s *Server) csrfMiddleware() echo.MiddlewareFunc {
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

// clientIP says who the client is (c.RealIP: widget rate limits, logs). Without trusted proxies
// it is the connection's peer: X-Forwarded-For and X-Real-IP are ignored, since anyone can send
// them. With PARLEY_TRUSTED_PROXIES, X-Forwarded-For is read from the right, skipping those
// proxies, and only when the connection comes from one of them.
func clientIP(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
