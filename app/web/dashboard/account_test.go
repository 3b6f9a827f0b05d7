package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/workers"
)

// loggedOut reports whether c's session is gone: the dashboard sends it to the login page.
func loggedOut(t *testing.T, e *env, c *http.Client) bool {
	t.Helper()
	res := e.Get(c, "/conversations")
	res.Body.Close()
	switch {
	case res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/login"):
		return true
	case res.StatusCode == http.StatusOK:
		return false
	}
	t.Fatalf("GET /conversations: %d %q", res.StatusCode, res.Header.Get("Location"))
	return false
}

// fieldError is the error shown under a form field.
func fieldError(t *testing.T, res *http.Response, field string) string {
	t.Helper()
	return strings.TrimSpace(webtest.Doc(t, res).Find(`[data-field="` + field + `"] .error, [data-field="` + field + `"] [role="alert"]`).Text())
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	e := newEnv(t)
	e.User("ann@example.test", "old password")
	e.User("bob@example.test", "bob password")
	here, laptop, bob := e.Client(), e.Client(), e.Client()
	e.Login(here, "ann@example.test", "old password")
	e.Login(laptop, "ann@example.test", "old password")
	e.Login(bob, "bob@example.test", "bob password")
	tok := e.CSRF(here, "/settings/account")

	// A wrong current password: 422 naming the field, nothing changes.
	res := e.PostForm(here, "/settings/account/password", url.Values{"_csrf": {tok}, "current_password": {"guess"}, "new_password": {"new password"}, "new_password_confirm": {"new password"}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("wrong current password: %d", res.StatusCode)
	}
	if msg := fieldError(t, res, "current_password"); !strings.Contains(msg, "not your current password") {
		t.Fatalf("the error: %q", msg)
	}
	res = e.PostForm(here, "/settings/account/password", url.Values{"_csrf": {tok}, "current_password": {"old password"}, "new_password": {"short"}, "new_password_confirm": {"short"}})
	if res.StatusCode != http.StatusUnprocessableEntity || fieldError(t, res, "new_password") == "" {
		t.Fatalf("short password: %d", res.StatusCode)
	}
	if loggedOut(t, e, laptop) {
		t.Fatal("a refused change ended a session")
	}

	res = e.PostForm(here, "/settings/account/password", url.Values{"_csrf": {tok}, "current_password": {"old password"}, "new_password": {"new password"}, "new_password_confirm": {"new password"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/account?saved=password&ended=1" {
		t.Fatalf("change: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if loggedOut(t, e, here) {
		t.Fatal("the session that changed the password ended")
	}
	if !loggedOut(t, e, laptop) {
		t.Fatal("another session of the user survived the password change")
	}
	if loggedOut(t, e, bob) {
		t.Fatal("another user's session ended")
	}
	if page := webtest.Body(t, e.Get(here, "/settings/account?saved=password&ended=1")); !strings.Contains(page, "1 other session has ended") {
		t.Fatalf("no confirmation on the page")
	}
	// One session row left for the user.
	var n int
	if err := e.App.Store.DB.NewRaw("SELECT count(*) FROM sessions AS s JOIN users AS u ON u.id = s.user_id WHERE u.email = ?", "ann@example.test").Scan(context.Background(), &n); err != nil || n != 1 {
		t.Fatalf("session rows of the user: %d %v", n, err)
	}
	e.Login(e.Client(), "ann@example.test", "new password")
}

func TestChangeNameAndEmail(t *testing.T) {
	e := newEnv(t)
	e.User("ann@example.test", "ann password")
	e.User("bob@example.test", "bob password")
	c := e.Client()
	e.Login(c, "ann@example.test", "ann password")
	tok := e.CSRF(c, "/settings/account")
	post := func(name, email string) *http.Response {
		return e.PostForm(c, "/settings/account", url.Values{"_csrf": {tok}, "name": {name}, "email": {email}})
	}
	res := post("Ann", "BOB@Example.test")
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("another account's email: %d", res.StatusCode)
	}
	if msg := fieldError(t, res, "email"); !strings.Contains(msg, "Another account uses this email") {
		t.Fatalf("the error: %q", msg)
	}
	res = post("Ann", "not-an-email")
	if res.StatusCode != http.StatusUnprocessableEntity || fieldError(t, res, "email") == "" {
		t.Fatalf("bad email: %d", res.StatusCode)
	}
	res = post(strings.Repeat("a", 101), "ann@example.test")
	if res.StatusCode != http.StatusUnprocessableEntity || fieldError(t, res, "name") == "" {
		t.Fatalf("long name: %d", res.StatusCode)
	}
	if u, _ := e.App.Store.UserByEmail(context.Background(), "ann@example.test"); u == nil || u.Name != "" {
		t.Fatalf("refused changes wrote: %+v", u)
	}
	res = post("Ann <b>Lee</b>", "ann.lee@example.test")
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/account?saved=profile" {
		t.Fatalf("save: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	doc := webtest.Doc(t, e.Get(c, "/settings/account?saved=profile"))
	if v, _ := doc.Find(`input[name="name"]`).Attr("value"); v != "Ann <b>Lee</b>" {
		t.Fatalf("name shown: %q", v)
	}
	if doc.Find("b").Length() != 0 {
		t.Fatal("the name is not escaped")
	}
	if v, _ := doc.Find(`input[name="email"]`).Attr("value"); v != "ann.lee@example.test" {
		t.Fatalf("email shown: %q", v)
	}
	e.Login(e.Client(), "ann.lee@example.test", "ann password")
}

// mailEnv is a server whose mail goes to a fake SMTP server.
func mailEnv(t *testing.T) (*env, *testkit.FakeSMTP) {
	t.Helper()
	srv := testkit.NewFakeSMTP(t)
	cfg := testkit.ConfigWith(t, map[string]string{"PARLEY_SMTP_URL": srv.URL, "PARLEY_MAIL_FROM": "Parley <parley@example.test>"})
	return &env{webtest.NewWith(t, cfg)}, srv
}

// runMail runs the queued mail:send tasks as a worker would.
func runMail(t *testing.T, e *env) int {
	t.Helper()
	infos, err := asynq.NewInspectorFromRedisClient(e.App.Redis).ListPendingTasks(workers.QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	mux := workers.NewMux(workers.Handlers{Mail: &workers.Mail{Mail: e.App.Mail, Store: e.App.Store, Tasks: e.App.Tasks}, Tasks: e.App.Tasks})
	n := 0
	for _, ti := range infos {
		if ti.Type != workers.TypeMailSend {
			continue
		}
		if err := mux.ProcessTask(context.Background(), asynq.NewTask(ti.Type, ti.Payload)); err != nil {
			t.Fatal(err)
		}
		_ = asynq.NewInspectorFromRedisClient(e.App.Redis).DeleteTask(workers.QueueDefault, ti.ID)
		n++
	}
	return n
}

var resetLinkRe = regexp.MustCompile(`(https?://[^\s"<>]+)(/reset/[A-Z2-7]{26})`)

func TestPasswordResetByEmail(t *testing.T) {
	e, srv := mailEnv(t)
	e.User("ann@example.test", "old password")
	other := e.Client()
	e.Login(other, "ann@example.test", "old password")

	c := e.Client()
	if doc := webtest.Doc(t, e.Get(c, "/login")); doc.Find(`a#forgot-password[href="/reset"]`).Length() != 1 {
		t.Fatal("no Forgot password? link with mail configured")
	}
	tok := e.CSRF(c, "/reset")
	ask := func(email string) string {
		res := e.PostForm(c, "/reset", url.Values{"_csrf": {tok}, "email": {email}})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("reset request for %s: %d", email, res.StatusCode)
		}
		return webtest.Doc(t, res).Find("#reset-sent").Text()
	}
	known, unknown := ask("Ann@Example.test"), ask("nobody@example.test")
	if !strings.Contains(known, "If an account exists") || strings.ReplaceAll(known, "Ann@Example.test", "X") != strings.ReplaceAll(unknown, "nobody@example.test", "X") {
		t.Fatalf("the answers differ:\n%q\n%q", known, unknown)
	}
	if n := runMail(t, e); n != 1 {
		t.Fatalf("%d mail tasks, want 1 (none for the unknown email)", n)
	}
	msgs := srv.Wait(t, 1, 5*time.Second)
	if len(msgs) != 1 || msgs[0].To[0] != "ann@example.test" || msgs[0].From != "parley@example.test" {
		t.Fatalf("messages: %+v", msgs)
	}
	m := resetLinkRe.FindSubmatch(msgs[0].Data)
	if m == nil || string(m[1]) != e.App.Config.BaseURL {
		t.Fatalf("no reset link on %s in the mail:\n%s", e.App.Config.BaseURL, msgs[0].Data)
	}
	path := string(m[2])
	if rows, _ := e.App.Store.MailTo(context.Background(), "ann@example.test"); len(rows) != 1 || strings.Contains(rows[0].TextBody+rows[0].HTMLBody, path) {
		t.Fatal("the sent mail's body (with its link) is still stored")
	}

	res := e.Get(c, path)
	if res.StatusCode != http.StatusOK || res.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("the link: %d %q", res.StatusCode, res.Header.Get("Referrer-Policy"))
	}
	tok = ""
	doc := webtest.Doc(t, res)
	tok, _ = doc.Find(`input[name="_csrf"]`).Attr("value")
	if action, _ := doc.Find("form").Attr("action"); action != path {
		t.Fatalf("the form posts to %q", action)
	}
	res = e.PostForm(c, path, url.Values{"_csrf": {tok}, "new_password": {"brand new pw"}, "new_password_confirm": {"brand new px"}})
	if res.StatusCode != http.StatusUnprocessableEntity || fieldError(t, res, "new_password_confirm") == "" {
		t.Fatalf("mismatch: %d", res.StatusCode)
	}
	res = e.PostForm(c, path, url.Values{"_csrf": {tok}, "new_password": {"brand new pw"}, "new_password_confirm": {"brand new pw"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?reset=done" {
		t.Fatalf("set: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if !loggedOut(t, e, other) {
		t.Fatal("a session survived the reset")
	}
	if page := webtest.Body(t, e.Get(e.Client(), "/login?reset=done")); !strings.Contains(page, "Your password is set") {
		t.Fatal("no notice on the login page")
	}
	e.Login(e.Client(), "ann@example.test", "brand new pw")

	// Used: a 404 page that says so, never a login redirect; the password stays.
	for _, p := range []string{path, "/reset/AAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		res = e.Get(e.Client(), p)
		if res.StatusCode != http.StatusNotFound || res.Header.Get("Location") != "" {
			t.Fatalf("%s: %d %q", p, res.StatusCode, res.Header.Get("Location"))
		}
		if txt := webtest.Doc(t, res).Find("#reset-invalid").Text(); !strings.Contains(txt, "unknown, already used or expired") {
			t.Fatalf("%s: %q", p, txt)
		}
	}
	c2 := e.Client()
	tok2 := e.CSRF(c2, "/login")
	res = e.PostForm(c2, path, url.Values{"_csrf": {tok2}, "new_password": {"hijacked pw"}, "new_password_confirm": {"hijacked pw"}})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("reuse: %d", res.StatusCode)
	}
	e.Login(e.Client(), "ann@example.test", "brand new pw")
}

func TestResetLinkExpires(t *testing.T) {
	e, _ := mailEnv(t)
	e.User("ann@example.test", "old password")
	u, _ := e.App.Store.UserByEmail(context.Background(), "ann@example.test")
	token, err := e.App.Accounts.IssueReset(context.Background(), u.ID, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	res := e.Get(e.Client(), "/reset/"+token)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(webtest.Body(t, res), "reset-invalid") {
		t.Fatalf("expired link: %d", res.StatusCode)
	}
}

func TestResetWithoutMail(t *testing.T) {
	e := newEnv(t)
	e.User("ann@example.test", "old password")
	c := e.Client()
	if doc := webtest.Doc(t, e.Get(c, "/login")); doc.Find(`a[href="/reset"]`).Length() != 0 {
		t.Fatal("Forgot password? is offered without mail")
	}
	page := webtest.Body(t, e.Get(c, "/reset"))
	if !strings.Contains(page, "cannot send email") || !strings.Contains(page, "parley user reset-password") {
		t.Fatal("the page does not say mail is off")
	}
	res := e.PostForm(c, "/reset", url.Values{"_csrf": {e.CSRF(c, "/login")}, "email": {"ann@example.test"}})
	res.Body.Close()
	var n int
	if err := e.App.Store.DB.NewRaw("SELECT count(*) FROM password_resets").Scan(context.Background(), &n); err != nil || n != 0 || res.StatusCode != http.StatusOK {
		t.Fatalf("a request without mail: %d, %d links", res.StatusCode, n)
	}
}
