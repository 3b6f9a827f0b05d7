package web_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/routenames"
)

// TestRouteTable checks that the route table and the mounted server agree: every named route
// the surfaces register is in the table with the same method and path, and every table entry
// is registered, so URL can never build a path that does not exist.
func TestRouteTable(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	srv := web.New(a)
	t.Cleanup(srv.Close)
	registered := map[string]string{}
	for _, r := range srv.Echo().Routes() {
		if r.Name == "" || strings.Contains(r.Name, "/") {
			continue // unnamed: Echo names them after the handler (the /api/* 404, the groups' not-found routes)
		}
		registered[r.Name] = r.Method + " " + r.Path
	}
	var missing []string
	for _, r := range routenames.All() {
		got, ok := registered[r.Name]
		if !ok {
			missing = append(missing, r.Name)
			continue
		}
		if want := r.Method + " " + r.Path; got != want {
			t.Errorf("route %s: registered as %s, table says %s", r.Name, got, want)
		}
		delete(registered, r.Name)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("in the table but not registered: %v", missing)
	}
	for name, r := range registered {
		t.Errorf("registered but not in the table: %s (%s)", name, r)
	}
	for _, c := range []struct{ got, want string }{
		{routenames.URL(routenames.Conversation, int64(42)), "/conversations/42"},
		{routenames.URL(routenames.TestChatReply, int64(7), int64(9)), "/test-chat/7/reply/9"},
		{routenames.URL(routenames.Queue, "a b/c"), "/queues/a%20b%2Fc"},
		{routenames.URL(routenames.WidgetPage, "pa_x"), "/widget/pa_x"},
		{routenames.URL(routenames.Queues), "/queues"},
	} {
		if c.got != c.want {
			t.Errorf("URL: %q, want %q", c.got, c.want)
		}
	}
}
