// Package routenames names every route of Parley's HTTP surfaces and is the one place that
// turns a route name and its parameters into a URL. The table (table.go) holds each route's
// method, name and full path; the surfaces register their routes from it (Add), and handlers
// and views build URLs with URL, never by concatenating paths. It imports no surface, no
// store and no service; route names and paths are part of the product (bookmarks, the
// widget snippet, API clients) and do not change.
package routenames

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/model"
)

// Route is one named route.
type Route struct {
	Method string
	Name   string
	Path   string       // full path with :params (and * for static files)
	Access model.Access // what the route asks of its caller
}

var byName = func() map[string]Route {
	m := make(map[string]Route, len(table))
	for _, r := range table {
		if _, dup := m[r.Name]; dup {
			panic("routenames: duplicate route name " + r.Name)
		}
		m[r.Name] = r
	}
	return m
}()

// All is every named route, in the table's order.
func All() []Route { return append([]Route(nil), table...) }

// Lookup is the route of a name; it panics on an unknown name (a programming error).
func Lookup(name string) Route {
	r, ok := byName[name]
	if !ok {
		panic("routenames: unknown route " + name)
	}
	return r
}

// Path is the path pattern of a name (/conversations/:id).
func Path(name string) string { return Lookup(name).Path }

// URL is the path of a named route with its :params replaced, in order, by params (each
// path-escaped; an int64 or int is written in decimal). It panics when the count differs.
func URL(name string, params ...any) string {
	segs := strings.Split(Path(name), "/")
	n := 0
	for i, s := range segs {
		if !strings.HasPrefix(s, ":") {
			continue
		}
		if n >= len(params) {
			panic(fmt.Sprintf("routenames: %s needs more than %d parameters", name, len(params)))
		}
		segs[i] = url.PathEscape(param(params[n]))
		n++
	}
	if n != len(params) {
		panic(fmt.Sprintf("routenames: %s takes %d parameters, not %d", name, n, len(params)))
	}
	return strings.Join(segs, "/")
}

// URLQuery is URL with a query string appended (nothing when the query is empty).
func URLQuery(name string, q url.Values, params ...any) string {
	u := URL(name, params...)
	if e := q.Encode(); e != "" {
		u += "?" + e
	}
	return u
}

func param(p any) string {
	switch v := p.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	}
	return fmt.Sprint(p)
}

// Guard makes a surface's middleware that lets a request through to a route of access a
// and refuses (403) the others: the one place a surface turns the table's access into a check.
type Guard func(a model.Access) echo.MiddlewareFunc

// Add registers the named route on g, a group whose prefix is prefix (the table holds full
// paths), with its method from the table and guard's check of its access in front of h. A
// route that asks for a role or the installation admin cannot be added without a guard (it
// panics): no route of the dashboard is ever served without its check.
func Add(g *echo.Group, prefix string, guard Guard, name string, h echo.HandlerFunc) *echo.Route {
	r := Lookup(name)
	p, ok := strings.CutPrefix(r.Path, prefix)
	if !ok {
		panic("routenames: " + name + " (" + r.Path + ") is not under " + prefix)
	}
	var mw []echo.MiddlewareFunc
	switch {
	case guard != nil:
		mw = append(mw, guard(r.Access))
	case r.Access != model.AccessPublic && r.Access != model.AccessAPIKey:
		panic("routenames: " + name + " asks for " + string(r.Access) + " and is added without a guard")
	}
	rt := g.Add(r.Method, p, h, mw...)
	rt.Name = name
	return rt
}

// AddRoot registers the named route, a public one, on e itself.
func AddRoot(e *echo.Echo, name string, h echo.HandlerFunc) *echo.Route {
	r := Lookup(name)
	if r.Access != model.AccessPublic {
		panic("routenames: " + name + " is not public: add it with a guard")
	}
	rt := e.Add(r.Method, r.Path, h)
	rt.Name = name
	return rt
}

// ParamID reads a path parameter that is a row id: anything but a positive integer is false
// (a row that does not exist).
func ParamID(c echo.Context, name string) (int64, bool) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	return id, err == nil && id > 0
}

// Named pairs a route name with its handler.
type Named struct {
	Name    string
	Handler echo.HandlerFunc
}

// AddAll registers the named routes on g (prefix and guard as in Add), in order.
func AddAll(g *echo.Group, prefix string, guard Guard, routes ...Named) {
	for _, r := range routes {
		Add(g, prefix, guard, r.Name, r.Handler)
	}
}
