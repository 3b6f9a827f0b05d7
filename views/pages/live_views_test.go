package pages_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/views/layouts"
	"github.com/parleyhq/parley/views/pages"
)

// The list's live update carries the saved views' counts as an out-of-band swap of
// #nav-views when it has them, and leaves the navigation alone when it has none (a new
// message changes no view).
func TestListViewsUpdate(t *testing.T) {
	render := func(views []layouts.NavView) string {
		var b bytes.Buffer
		if err := pages.ListViewsUpdate(nil, 0, false, 0, false, views).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	got := render([]layouts.NavView{{ID: 3, Name: "Needs <review>", Query: "needs_review=1", Count: "1,000+"}})
	for _, want := range []string{`id="nav-views"`, `hx-swap-oob="true"`, `href="/conversations?needs_review=1"`, "1,000+", "Needs &lt;review&gt;"} {
		if !strings.Contains(got, want) {
			t.Errorf("update %s lacks %s", got, want)
		}
	}
	if got := render(nil); strings.Contains(got, "nav-views") {
		t.Errorf("an update without views touches the navigation: %s", got)
	}
}
