package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/logctx"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/views/pages"
)

func isAPI(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/webhooks/")
}

func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, code, msg := http.StatusInternalServerError, "internal", "Something went wrong on our side; it has been logged."
	var ae *apierr.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		status, code, msg = ae.Status, ae.Code, ae.Message
	case errors.As(err, &he):
		status = he.Code
		code = apierr.CodeOf(status)
		msg = fmt.Sprint(he.Message)
		if status == http.StatusRequestEntityTooLarge {
			msg = "The request body is larger than this route accepts."
		}
	default:
		s.Log.Error("handler error", "err", err, "uri", logctx.RedactURI(c.Request().RequestURI), "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if isAPI(c) || strings.Contains(c.Request().Header.Get("Accept"), "application/json") && !strings.Contains(c.Request().Header.Get("Accept"), "text/html") {
		_ = c.JSON(status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
		return
	}
	if htmx.IsFragment(c) {
		// The message as plain text, swapped nowhere: the page's script shows it (the
		// dashboard's alert #flash, the widget's error line), as text. A handler that answers
		// its own error fragment (a 422 form) is swapped into its target instead.
		c.Response().Header().Set(htmx.HeaderReswap, "none")
		_ = c.String(status, msg)
		return
	}
	_ = htmx.Render(c, status, pages.ErrorPage(status, msg))
}
