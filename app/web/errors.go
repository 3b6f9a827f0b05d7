package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/views"
)

// APIError is the JSON error body of the API: {"error": {"code": "...", "message": "..."}}.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func apiErr(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func isAPI(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/webhooks/")
}

var statusCodes = map[int]string{
	http.StatusBadRequest:            "bad_request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "body_too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusTooManyRequests:       "rate_limited",
	http.StatusServiceUnavailable:    "unavailable",
}

func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, code, msg := http.StatusInternalServerError, "internal", "Something went wrong on our side; it has been logged."
	var ae *APIError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		status, code, msg = ae.Status, ae.Code, ae.Message
	case errors.As(err, &he):
		status = he.Code
		code = statusCodes[status]
		if code == "" {
			code = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
		}
		msg = fmt.Sprint(he.Message)
		if status == http.StatusRequestEntityTooLarge {
			msg = "The request body is larger than this route accepts."
		}
	default:
		s.Log.Error("handler error", "err", err, "uri", c.Request().RequestURI, "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if isAPI(c) || strings.Contains(c.Request().Header.Get("Accept"), "application/json") && !strings.Contains(c.Request().Header.Get("Accept"), "text/html") {
		_ = c.JSON(status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
		return
	}
	if isFragment(c) {
		// htmx does not swap error responses by default; say what went wrong where it is seen.
		c.Response().Header().Set("HX-Reswap", "none")
		_ = c.String(status, msg)
		return
	}
	_ = render(c, status, views.ErrorPage(status, msg))
}
