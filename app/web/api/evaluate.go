package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/convjson"
)

// apiConversationEvaluate asks for a new evaluation of a conversation of the key's workspace
// (its current end): 202 with the run's number, pending. A write (write scope).
func (s *Handler) apiConversationEvaluate(c echo.Context) error {
	id, err := apiConversationID(c)
	if err != nil {
		return err
	}
	run, err := s.Reeval.Again(c.Request().Context(), apiPrincipal(c).WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return convjson.ErrNotFound()
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, struct {
		Run    int    `json:"run"`
		Status string `json:"status"`
	}{run.Run, run.Status})
}
