package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/convjson"
)

// apiDefaultLimit is the page size of GET /api/v1/conversations without a limit parameter.
const apiDefaultLimit = 20

// apiConversations lists the key's workspace's conversations, newest activity first (or by
// cost), one keyset page at a time.
func (s *Handler) apiConversations(c echo.Context) error {
	v := c.QueryParams()
	q, f, err := conversation.ParseQuery(v, time.Now())
	if err != nil {
		return apiParamErr(err)
	}
	limit := q.Limit
	if strings.TrimSpace(v.Get("limit")) == "" {
		limit = apiDefaultLimit
	}
	rows, next, err := s.Conversations.List(c.Request().Context(), apiPrincipal(c).WorkspaceID, f, q.Cursor, limit)
	if errors.Is(err, store.ErrBadCursor) {
		return apiParamErr(&conversation.FieldError{Param: "cursor", Msg: "is not a cursor of this list (start again without it)"})
	}
	if err != nil {
		return apiParamErr(err)
	}
	now := time.Now()
	// The page's tags and assignees: one query each (issue 14: review).
	rp, err := s.Review.PageOf(c.Request().Context(), apiPrincipal(c).WorkspaceID, rows)
	if err != nil {
		return err
	}
	data := make([]convjson.Conversation, len(rows))
	for i := range rows {
		data[i] = convjson.ToConversation(&rows[i], now)
		data[i].SetReview(rp.Tags[rows[i].ID], rp.Assignee(&rows[i]))
	}
	var nextCursor *string
	if next != "" {
		nextCursor = &next
	}
	return c.JSON(http.StatusOK, struct {
		Data       []convjson.Conversation `json:"data"`
		NextCursor *string                 `json:"next_cursor"`
	}{data, nextCursor})
}

func apiParamErr(err error) error {
	var fe *conversation.FieldError
	if errors.As(err, &fe) {
		return apierr.New(http.StatusBadRequest, "invalid_parameter", "%s", fe.Error())
	}
	return err
}

// apiConversationID reads the {id} of the path; anything but a positive integer is a
// conversation that does not exist.
func apiConversationID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, convjson.ErrNotFound()
	}
	return id, nil
}

// apiConversation answers one conversation with its variables and every message, oldest
// first.
func (s *Handler) apiConversation(c echo.Context) error {
	id, err := apiConversationID(c)
	if err != nil {
		return err
	}
	return convjson.Write(c, s.Store, s.Log, apiPrincipal(c).WorkspaceID, id)
}

// apiConversationDelete deletes a conversation of the key's workspace and tells the open
// dashboards.
func (s *Handler) apiConversationDelete(c echo.Context) error {
	id, err := apiConversationID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ws := apiPrincipal(c).WorkspaceID
	// The service tells the dashboards even if the client has gone away meanwhile.
	err = s.Conversations.Delete(ctx, ws, id)
	if errors.Is(err, store.ErrNotFound) {
		return convjson.ErrNotFound()
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
