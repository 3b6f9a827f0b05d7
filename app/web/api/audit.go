package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
)

// auditDefaultLimit is the page size of GET /api/v1/audit-log without a limit.
const auditDefaultLimit = 50

// AuditEntry is one entry of GET /api/v1/audit-log.
type AuditEntry struct {
	ID      int64           `json:"id"`
	At      string          `json:"at"`
	Actor   AuditActor      `json:"actor"`
	Action  string          `json:"action"`
	Target  AuditTarget     `json:"target"`
	Details json.RawMessage `json:"details"`
}

// AuditActor is who did it: type "user", "api_key" or "system"; id null for the system.
type AuditActor struct {
	Type string  `json:"type"`
	ID   *string `json:"id"`
	Name string  `json:"name"`
}

// AuditTarget is what it was done to; null type and id when the action has none.
type AuditTarget struct {
	Type *string `json:"type"`
	ID   *string `json:"id"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toAuditEntry(e *store.AuditEntry) AuditEntry {
	details := json.RawMessage(e.Details)
	if !json.Valid(details) {
		details = json.RawMessage("{}")
	}
	return AuditEntry{
		ID: e.ID, At: e.At.UTC().Format(time.RFC3339Nano),
		Actor:  AuditActor{Type: e.ActorType, ID: orNull(e.ActorID), Name: e.ActorName},
		Action: e.Action, Target: AuditTarget{Type: orNull(e.TargetType), ID: orNull(e.TargetID)},
		Details: details,
	}
}

// apiAuditLog pages the key's workspace's audit log, newest first: ?cursor= (the previous
// page's next_cursor) and ?limit= (1 to 200, 50 by default); a bad one is 422 naming it.
func (s *Handler) apiAuditLog(c echo.Context) error {
	// The audit log is the admins': a key acts with its creator's current role (apiActor).
	if a, err := s.apiActor(c); err != nil {
		return err
	} else if !a.Role.AtLeast(model.MemberAdmin) {
		return apierr.New(http.StatusForbidden, "forbidden", "The audit log is for admins: use a key created by an admin (or owner) of the workspace.")
	}
	limit := auditDefaultLimit
	if v := strings.TrimSpace(c.QueryParam("limit")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > audit.MaxLimit {
			return auditParamErr(c, "limit", "must be a whole number from 1 to "+strconv.Itoa(audit.MaxLimit))
		}
		limit = n
	}
	cursor := c.QueryParam("cursor")
	if _, err := store.DecodeAuditCursor(cursor); cursor != "" && err != nil {
		return auditParamErr(c, "cursor", "is not a cursor of this list (start again without it)")
	}
	rows, next, err := s.Audit.List(c.Request().Context(), apiPrincipal(c).WorkspaceID, audit.Filter{}, cursor, limit)
	if errors.Is(err, store.ErrBadCursor) {
		return auditParamErr(c, "cursor", "is not a cursor of this list (start again without it)")
	}
	if err != nil {
		return err
	}
	data := make([]AuditEntry, len(rows))
	for i := range rows {
		data[i] = toAuditEntry(&rows[i])
	}
	return c.JSON(http.StatusOK, struct {
		Data       []AuditEntry `json:"data"`
		NextCursor *string      `json:"next_cursor"`
	}{data, orNull(next)})
}

func auditParamErr(c echo.Context, field, msg string) error {
	return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_parameter", assistants.Errors{{Field: field, Msg: msg}})
}
