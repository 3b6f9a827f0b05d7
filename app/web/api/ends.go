package api

import (
	"errors"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/convjson"
)

// apiConversationEnd ends a conversation of the key's workspace (reason "api") and answers it
// as GET /api/v1/conversations/{id} does; an ended conversation is answered as it is (200,
// nothing changes).
func (s *Handler) apiConversationEnd(c echo.Context) error {
	id, err := apiConversationID(c)
	if err != nil {
		return err
	}
	ws := apiPrincipal(c).WorkspaceID
	_, err = s.Conversations.End(c.Request().Context(), ws, id, model.EndAPI, time.Time{})
	if errors.Is(err, store.ErrNotFound) {
		return convjson.ErrNotFound()
	}
	if err != nil {
		return err
	}
	return convjson.Write(c, s.Store, s.Log, ws, id)
}
