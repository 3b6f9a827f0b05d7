package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// healthz answers 200 while the process lives.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when the database and Redis both answer, else 503 naming which failed.
func (s *Server) readyz(c echo.Context) error {
	res := s.Ready(c.Request().Context())
	body := map[string]any{}
	checks := map[string]string{}
	ok := true
	for name, err := range res {
		if err != nil {
			// The part is named; its error (addresses, user names, driver text) goes to the log.
			ok = false
			checks[name] = "failed"
			s.Log.WarnContext(c.Request().Context(), "readiness check failed", "check", name, "err", err)
		} else {
			checks[name] = "ok"
		}
	}
	body["checks"] = checks
	if !ok {
		body["status"] = "unavailable"
		return c.JSON(http.StatusServiceUnavailable, body)
	}
	body["status"] = "ok"
	return c.JSON(http.StatusOK, body)
}
