package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/web/apierr"
)

// apiMe answers the key's workspace.
func (s *Server) apiMe(c echo.Context) error {
	p := apiPrincipal(c)
	ws, err := s.Store.WorkspaceByID(c.Request().Context(), p.WorkspaceID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"workspace": map[string]any{"id": ws.ID, "name": ws.Name, "created_at": ws.CreatedAt},
		"api_key":   map[string]any{"id": p.Key.ID, "name": p.Key.Name, "prefix": p.Key.Prefix},
	})
}

func (s *Server) apiNotFound(c echo.Context) error {
	return apierr.New(http.StatusNotFound, "not_found", "No API route %s %s.", c.Request().Method, c.Request().URL.Path)
}
