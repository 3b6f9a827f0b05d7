package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/logctx"
	"github.com/parleyhq/parley/app/web/apierr"
)

// observe puts the request id Echo assigned into the request's context, so that log lines
// written with it and the jobs the request enqueues carry it (app/logctx), and counts the
// request in parley_http_requests_total and parley_http_request_duration_seconds by route
// template (c.Path(), never the raw URL: /conversations/:id, not /conversations/42).
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
			c.SetRequest(r.WithContext(logctx.WithRequestID(r.Context(), id)))
		}
		start := time.Now()
		err := next(c)
		code := c.Response().Status
		if err != nil && !c.Response().Committed {
			// Not written yet: the error handler answers after the middleware returns.
			code = http.StatusInternalServerError
			var he *echo.HTTPError
			var ae *apierr.Error
			switch {
			case errors.As(err, &he):
				code = he.Code
			case errors.As(err, &ae):
				code = ae.Status
			}
		}
		s.Metrics.HTTPRequest(c.Path(), r.Method, code, time.Since(start))
		return err
	}
}

// metricsEndpoint serves the Prometheus metrics on the web address to a scraper that sends
// Authorization: Bearer PARLEY_METRICS_TOKEN (401 otherwise). Without a token configured the
// route does not exist (404): use PARLEY_METRICS_ADDR, a separate listener, instead.
func (s *Server) metricsEndpoint(c echo.Context) error {
	token := s.Config.MetricsToken
	if token == "" || s.Metrics == nil {
		return echo.ErrNotFound
	}
	got, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) != 1 {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
		return apierr.New(http.StatusUnauthorized, "unauthorized", "Send Authorization: Bearer <PARLEY_METRICS_TOKEN>.")
	}
	// The server's gzip middleware compresses; promhttp must not compress again.
	s.metricsOnce.Do(func() { s.metricsHTTP = s.Metrics.Handler(s.Log, false) })
	s.metricsHTTP.ServeHTTP(c.Response(), c.Request())
	return nil
}
