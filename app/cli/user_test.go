package cli_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// `parley user reset-password EMAIL` prints a one-time link on PARLEY_BASE_URL that sets the
// password on the running server; an unknown email is an error naming it.
func TestUserResetPassword(t *testing.T) {
	e := webtest.New(t)
	e.User("ann@example.test", "old password")
	env := map[string]string{"PARLEY_BASE_URL": e.URL, "PARLEY_SECRET_KEY": e.App.Config.SecretKey}
	if pg := testkit.PostgresURL(); pg != "" {
		env["DATABASE_URL"] = e.App.Config.DatabaseURL
	} else {
		env["DATABASE_URL"] = "sqlite://" + e.App.Config.SQLitePath
	}
	session := e.Client()
	e.Login(session, "ann@example.test", "old password")

	code, out, stderr := run(t, env, "user", "reset-password", "ANN@example.test")
	link := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(link, e.URL+"/reset/") || strings.Count(out, "\n") != 1 {
		t.Fatalf("reset-password: %d %q %q", code, out, stderr)
	}
	c := e.Client()
	res := e.Get(c, strings.TrimPrefix(link, e.URL))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the link: %d", res.StatusCode)
	}
	tok, _ := webtest.Doc(t, res).Find(`input[name="_csrf"]`).Attr("value")
	res = e.PostForm(c, strings.TrimPrefix(link, e.URL), url.Values{"_csrf": {tok}, "new_password": {"set by link"}, "new_password_confirm": {"set by link"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("setting the password: %d", res.StatusCode)
	}
	e.Login(e.Client(), "ann@example.test", "set by link")
	if res := e.Get(session, "/conversations"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the session from before the reset: %d", res.StatusCode)
	}
	// Once only.
	if res := e.Get(e.Client(), strings.TrimPrefix(link, e.URL)); res.StatusCode != http.StatusNotFound {
		t.Fatalf("the used link: %d", res.StatusCode)
	}

	code, out, stderr = run(t, env, "user", "reset-password", "nobody@example.test")
	if code != 1 || out != "" || !strings.Contains(stderr, `"nobody@example.test"`) {
		t.Fatalf("unknown email: %d %q %q", code, out, stderr)
	}
	for _, args := range [][]string{{"user"}, {"user", "reset-password"}, {"user", "reset-password", "a@b.test", "c@d.test"}, {"user", "frobnicate"}} {
		if code, _, stderr := run(t, env, args...); code != 2 || !strings.Contains(stderr, "usage: parley user") {
			t.Errorf("%v: %d %q", args, code, stderr)
		}
	}
}
