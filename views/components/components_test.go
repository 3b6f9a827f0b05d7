package components

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
)

// render draws c with children (nil for none).
func render(t *testing.T, c, children templ.Component) string {
	t.Helper()
	ctx := context.Background()
	if children != nil {
		ctx = templ.WithChildren(ctx, children)
	}
	var b bytes.Buffer
	if err := c.Render(ctx, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestComponentsMarkup(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	input := templ.Raw(`<input id="x">`)
	for _, tc := range []struct {
		name     string
		c        templ.Component
		children templ.Component
		want     string
	}{
		{"field with a name, a note and an error",
			Field(FieldProps{Name: "email", ID: "x", Label: "Email", Note: templ.Raw(`<b>*</b>`), Error: "bad <value>"}), input,
			`<div class="field" data-field="email"><label for="x">Email <b>*</b></label> <input id="x"><div class="field-error" role="alert">bad &lt;value&gt;</div></div>`},
		{"bare field without an error", Field(FieldProps{ID: "x", Label: "Email"}), input, `<label for="x">Email</label> <input id="x">`},
		{"no error, no markup", FieldError(""), nil, ``},
		{"time in UTC", Time(at, MinuteUTC), nil, `<time datetime="2026-03-04T04:06:07Z">2026-03-04 04:06 UTC</time>`},
		{"money with the exact figure on hover", MoneyCell("$0.01", "0.005000000"), nil, `<td class="num" title="$0.005000000">$0.01</td>`},
		{"type badge", TypeBadge("widget", "Web widget"), nil, `<span class="badge widget" data-type="widget">Web widget</span>`},
		{"window of another type", WindowBadge(WindowView{}), nil, ``},
		{"window closed", WindowBadge(WindowView{Applies: true, Known: true}), nil, `<span class="window closed" data-window="closed">Closed</span>`},
		{"widget message", WidgetMessage(WidgetMsg{ID: 4, Role: "user", Label: "You", Content: "<b>hi</b>", CreatedAt: at}), nil,
			`<li id="msg-4" class="msg user" data-role="user"><div class="bubble">&lt;b&gt;hi&lt;/b&gt;</div><div class="meta"><span class="who">You</span> · <time datetime="2026-03-04T04:06:07Z">04:06</time></div></li>`},
	} {
		if got := render(t, tc.c, tc.children); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// TestViewsLayering: components import no other views package, layouts import only
// components, and nothing under views imports a feature service, the store or a web surface.
func TestViewsLayering(t *testing.T) {
	const mod = "github.com/parleyhq/parley/"
	allowed := map[string][]string{
		"components": nil,
		"layouts":    {"views/components"},
		"pages":      {"views/components", "views/layouts"},
	}
	for dir, ok := range allowed {
		files, err := filepath.Glob(filepath.Join("..", dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				rel, inModule := strings.CutPrefix(p, mod)
				if !inModule {
					continue
				}
				switch {
				case strings.HasPrefix(rel, "views/"):
					if !slices.Contains(ok, rel) {
						t.Errorf("%s imports %s", path, p)
					}
				case rel == "app/web/routenames" || rel == "static" || rel == "app/analytics" || rel == "app/model":
					// route names, asset paths, the chart layout and the domain vocabulary (types
					// such as a member's role, with their labels; it imports nothing of ours) are
					// what views may use
				default:
					t.Errorf("%s imports %s: views draw view models, they call nothing", path, p)
				}
			}
		}
	}
}
