// Package apierr is the JSON error of Parley's HTTP surfaces: {"error": {"code", "message"}}
// with its status. It owns that error type and the code names of statuses; the one error
// handler that writes it lives in app/web. It imports no surface and no store.
package apierr

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
)

// Error is the JSON error body of the API: {"error": {"code": "...", "message": "..."}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New is an error answered with status, code and a formatted message.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidField is the 400 of one field of a JSON body: "field: what is wrong".
func InvalidField(field, format string, args ...any) *Error {
	return New(http.StatusBadRequest, "invalid_field", "%s: %s", field, fmt.Sprintf(format, args...))
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

// CodeOf is the error code of an HTTP status without an Error of its own.
func CodeOf(status int) string {
	if code := statusCodes[status]; code != "" {
		return code
	}
	return strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
}

// Fields answers 400 invalid_field: the message names the first invalid field, and
// "fields" lists every one.
func Fields(c echo.Context, es assistants.Errors) error {
	return FieldsStatus(c, http.StatusBadRequest, "invalid_field", es)
}

// FieldsStatus answers status with code in the shape of Fields: the message names the first
// field, and "fields" lists every one.
func FieldsStatus(c echo.Context, status int, code string, es assistants.Errors) error {
	type fe struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	}
	fields := make([]fe, len(es))
	for i, e := range es {
		fields[i] = fe{e.Field, e.Msg}
	}
	return c.JSON(status, map[string]any{"error": map[string]any{
		"code": code, "message": es[0].Error(), "fields": fields,
	}})
}
