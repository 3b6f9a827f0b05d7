// Package htmx is the one fragment rule of Parley's HTML surfaces and the rendering of templ
// components: an htmx request that is neither boosted nor a history restore gets the
// fragment, everything else the full page, and every response varies on HX-Request. It owns
// the HX-* request and response headers; it imports no surface, no store and no service.
package htmx

import (
	"bytes"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// Request and response headers of htmx.
const (
	HeaderRequest        = "HX-Request"
	HeaderBoosted        = "HX-Boosted"
	HeaderHistoryRestore = "HX-History-Restore-Request"
	HeaderRedirect       = "HX-Redirect"
	HeaderPushURL        = "HX-Push-Url"
	HeaderReswap         = "HX-Reswap"
	HeaderRetarget       = "HX-Retarget"
	HeaderTrigger        = "HX-Trigger"
)

// IsRequest reports a request made by htmx (boosted or not).
func IsRequest(c echo.Context) bool { return c.Request().Header.Get(HeaderRequest) == "true" }

// IsFragment is the one rule for partials: an htmx request that is neither boosted nor a
// history restore gets the fragment; everything else gets the full page.
func IsFragment(c echo.Context) bool {
	h := c.Request().Header
	return h.Get(HeaderRequest) == "true" && h.Get(HeaderBoosted) != "true" && h.Get(HeaderHistoryRestore) != "true"
}

// Vary sets Vary: HX-Request on every response: the same URL answers a fragment to htmx
// and a full page otherwise, and caches must keep them apart.
func Vary(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Add("Vary", HeaderRequest)
		return next(c)
	}
}

// Render writes a component with status, rendered into a buffer first so that a template
// error becomes a clean 500 instead of half a page.
func Render(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// RenderPage renders the fragment for htmx requests and the full page otherwise.
func RenderPage(c echo.Context, full, fragment templ.Component) error {
	if IsFragment(c) {
		return Render(c, http.StatusOK, fragment)
	}
	return Render(c, http.StatusOK, full)
}

// Redirect sends the browser to target after a form post: 303 See Other, or for an htmx
// request HX-Redirect (with 200: htmx would follow a 303 and swap the next page in).
func Redirect(c echo.Context, target string) error {
	if IsRequest(c) {
		c.Response().Header().Set(HeaderRedirect, target)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, target)
}
