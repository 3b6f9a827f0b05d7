package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiMe answers the key's workspace, and the key (its scope included).
func (s *Handler) apiMe(c echo.Context) error {
	p := apiPrincipal(c)
	ws, err := s.Store.WorkspaceByID(c.Request().Context(), p.WorkspaceID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"workspace": map[string]any{"id": ws.ID, "name": ws.Name, "created_at": ws.CreatedAt},
		"api_key":   map[string]any{"id": p.Key.ID, "name": p.Key.Name, "prefix": p.Key.Prefix, "scope": p.Key.Scope},
	})
}
