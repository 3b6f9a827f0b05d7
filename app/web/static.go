package web

import (
	"io/fs"
	"mime"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/static"
)

// static serves embedded assets: the hashed path for a year (immutable), the plain path for
// five minutes (the widget snippet points there).
func (s *Server) static(c echo.Context) error {
	name, immutable, ok := static.Lookup(c.Param("*"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "No such file.")
	}
	b, err := fs.ReadFile(static.FS(), name)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such file.")
	}
	h := c.Response().Header()
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return c.Blob(http.StatusOK, ct, b)
}
