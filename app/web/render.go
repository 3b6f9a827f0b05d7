package web

import (
	"bytes"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// isFragment is the one rule for partials: an htmx request that is neither boosted nor a
// history restore gets the fragment; everything else gets the full page.
func isFragment(c echo.Context) bool {
	h := c.Request().Header
	return h.Get("HX-Request") == "true" && h.Get("HX-Boosted") != "true" && h.Get("HX-History-Restore-Request") != "true"
}

// render writes a component with status, rendered into a buffer first so that a template
// error becomes a clean 500 instead of half a page.
func render(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// renderPage renders the fragment for htmx requests and the full page otherwise.
func renderPage(c echo.Context, full, fragment templ.Component) error {
	if isFragment(c) {
		return render(c, http.StatusOK, fragment)
	}
	return render(c, http.StatusOK, full)
}
