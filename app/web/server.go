// Package web is Parley's HTTP server: Echo's setup and the global middleware (request id,
// logging, metrics, recover, secure headers, Vary: HX-Request, gzip, body limit),
// the one error handler, /healthz, /readyz, /metrics and /static, and the mount of the
// surfaces, each a package with its own middleware stack and routes: dashboard, widget, api,
// webhooks. It is the only package that imports the surfaces; it holds no product handler and
// builds no service (the app container hands them over). Shared rules live in the kits
// (htmx, sse, jsonbody, routenames, apierr, convjson), never in a surface.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/logctx"
	"github.com/parleyhq/parley/app/metrics"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/api"
	"github.com/parleyhq/parley/app/web/dashboard"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/sse"
	"github.com/parleyhq/parley/app/web/webhooks"
	"github.com/parleyhq/parley/app/web/widget"
	"github.com/parleyhq/parley/config"
)

// Server is the Echo server with its surfaces mounted.
type Server struct {
	Config *config.Config
	Log    *slog.Logger
	Keys   *auth.Keys
	Ready  func(ctx context.Context) map[string]error
	// Metrics counts requests and webhook events and serves /metrics (metrics.go).
	Metrics     *metrics.Metrics
	metricsOnce sync.Once
	metricsHTTP http.Handler
	// the surfaces, each holding only what it needs
	webhooks  *webhooks.Handler
	api       *api.Handler
	widget    *widget.Handler
	dashboard *dashboard.Handler

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
	s := &Server{Config: a.Config, Log: a.Log, Keys: a.Keys, Ready: a.Ready, Metrics: a.Metrics}
	s.closing = make(chan struct{})
	s.webhooks = &webhooks.Handler{Config: a.Config, Log: a.Log, Tasks: a.Tasks, Metrics: a.Metrics, Inbound: store.NewInboundBatcher(a.Store)}
	s.widget = &widget.Handler{Config: a.Config, Log: a.Log, Store: a.Store, Keys: a.Keys, Redis: a.Redis, Conversations: a.Conversations, Chat: a.Chat, Limits: a.RateLimit}
	s.dashboard = &dashboard.Handler{Config: a.Config, Log: a.Log, Store: a.Store, Keys: a.Keys, Tasks: a.Tasks, Events: a.Events, Redis: a.Redis, Conversations: a.Conversations, Chat: a.Chat, Workspace: a.Workspace, WhatsApp: a.WhatsApp, Accounts: a.Accounts, Team: a.Team, Sessions: a.Sessions, Limits: a.RateLimit, Closing: s.closing, Audit: a.Audit, Reeval: a.Reeval, Review: a.Review}
	s.dashboard.TestSets = a.TestSets // issue 15: test sets
	s.api = &api.Handler{Config: a.Config, Log: a.Log, Store: a.Store, Keys: a.Keys, Conversations: a.Conversations, WhatsApp: a.WhatsApp, Team: a.Team, Audit: a.Audit, Reeval: a.Reeval, Review: a.Review}
	// issue 15: assistant versions
	s.dashboard.Versions, s.api.Versions = a.Versions, a.Versions
	// issue 15: replays
	s.api.Replays, s.dashboard.Replays = a.Replays, a.Replays
	s.api.TestSets = a.TestSets                                   // issue 15: test sets
	s.api.TestRuns, s.dashboard.TestRuns = a.TestRuns, a.TestRuns // issue 15: test set runs
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
	e.Use(acceptRequestID)
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
			attrs := []slog.Attr{slog.String("method", v.Method), slog.String("uri", logctx.RedactURI(v.URI)), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency), slog.String("request_id", v.RequestID)}
			if v.Error != nil && v.Status >= 500 {
				attrs = append(attrs, slog.String("err", v.Error.Error()))
			}
			s.Log.LogAttrs(c.Request().Context(), lvl, "request", attrs...)
			return nil
		},
	}))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		s.Log.Error("panic", "err", err, "uri", logctx.RedactURI(c.Request().RequestURI), "stack", string(stack))
		return err
	}}))
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		// The widget's iframe pages are framed by the assistant's allowed origins: they send
		// their own frame-ancestors and no X-Frame-Options (widget.go).
		Skipper:               widget.IsFrame,
		XSSProtection:         "0",
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		HSTSMaxAge:            hstsAge(s.Config),
		ReferrerPolicy:        "same-origin",
		ContentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
	}))
	e.Use(htmx.Vary)
	e.Use(noStore)
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{Skipper: noGzip, MinLength: 1024}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: s.Config.BodyLimit, Skipper: func(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, "/webhooks/") }})) // webhooks have their own limit
	// Sessions are the dashboard's alone: it loads them (from the database, app/session) on
	// its own routes, so that the widget, the API and webhooks never read a session.

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
	return sse.Wanted(c) || strings.HasSuffix(r.URL.Path, "/events")
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

// requestIDPattern is what a client's X-Request-Id may be: it is written into every log line
// and carried into jobs, so anything longer or with other characters (a log injection, a
// megabyte of header) is replaced by a fresh id.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// acceptRequestID drops a client's X-Request-Id that does not match requestIDPattern, so that
// the request id middleware after it generates one.
func acceptRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if v := h.Get(echo.HeaderXRequestID); v != "" && !requestIDPattern.MatchString(v) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}

// noStore makes every answer uncacheable (Cache-Control: no-store) unless its handler says
// otherwise: pages, fragments, exports and JSON answers carry a workspace's data, and a shared
// or back-button cache must not keep them. Static files set their own caching.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		return next(c)
	}
}
