package web

import (
	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/web/routenames"
)

// routes mounts the server's own routes and the surfaces, in this order (the order of the
// groups decides which middleware answers an unknown path). Every route is named and its
// path comes from the route table (app/web/routenames).
func (s *Server) routes(e *echo.Echo) {
	routenames.AddRoot(e, routenames.Healthz, s.healthz)
	routenames.AddRoot(e, routenames.Readyz, s.readyz)
	routenames.AddRoot(e, routenames.Metrics, s.metricsEndpoint) // bearer PARLEY_METRICS_TOKEN; 404 without one (metrics.go)
	routenames.AddRoot(e, routenames.Static, s.static)
	s.webhooks.Mount(e)  // /webhooks/...: provider signatures
	s.widget.Mount(e)    // /widget/..., /api/widget/v1/...: visitor tokens, CORS, frame-ancestors
	s.dashboard.Mount(e) // everything else: session, CSRF, login, admin
	s.api.Mount(e)       // /api/v1/...: API keys; JSON 404 for /api/*
}
