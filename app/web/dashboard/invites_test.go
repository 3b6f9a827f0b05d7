package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/web/webtest"
)

// inviteVia invites email with role from Settings → Members as c (csrf its token) and
// returns the answer's status, page and the link shown ("" when none).
func (e *env) inviteVia(c *http.Client, csrf, email, role string) (int, *goquery.Document, string) {
	e.T.Helper()
	res := e.PostForm(c, "/settings/invites", url.Values{"_csrf": {csrf}, "email": {email}, "role": {role}})
	status := res.StatusCode
	doc := webtest.Doc(e.T, res)
	link, _ := doc.Find("[data-invite-url]").Attr("value")
	return status, doc, link
}

// inviteToken is the token of an invite link, checked to be PARLEY_BASE_URL/invite/TOKEN.
func (e *env) inviteToken(link string) string {
	e.T.Helper()
	prefix := e.App.Config.BaseURL + "/invite/"
	if !strings.HasPrefix(link, prefix) || len(link) <= len(prefix) {
		e.T.Fatalf("invite link %q, want %s…", link, prefix)
	}
	return strings.TrimPrefix(link, prefix)
}

func (e *env) inviteID(email string) int64 {
	e.T.Helper()
	var id int64
	if err := e.App.Store.DB.NewRaw("SELECT id FROM invites WHERE email = ? AND accepted_at IS NULL AND revoked_at IS NULL", email).Scan(context.Background(), &id); err != nil {
		e.T.Fatalf("invite of %s: %v", email, err)
	}
	return id
}

// gone checks the 404 page of a link that does not work (never a login redirect).
func (e *env) gone(t *testing.T, res *http.Response, what string) {
	t.Helper()
	body := webtest.Body(t, res)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "This invite link does not work") || res.Header.Get("Location") != "" {
		t.Errorf("%s: %d %q %.200s", what, res.StatusCode, res.Header.Get("Location"), body)
	}
}

func TestInviteFromMembersAndAcceptWithNewAccount(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	wsA := e.User("owner@a.test", "correct-horse")
	owner := e.Client()
	e.Login(owner, "owner@a.test", "correct-horse")
	csrf := e.CSRF(owner, "/settings/members")

	// Refusals name the field; nothing is stored.
	for _, tc := range []struct {
		email, role string
		status      int
		want        string
	}{
		{"not-an-email", "agent", 422, "Email "},
		{"x@y.test", "chief", 422, "Role must be one of"},
		{"OWNER@a.test", "agent", 409, "OWNER@a.test is already a member"},
	} {
		status, doc, link := e.inviteVia(owner, csrf, tc.email, tc.role)
		if status != tc.status || !strings.Contains(doc.Find("#members .error").Text(), tc.want) || link != "" {
			t.Errorf("invite %q as %q: %d %q", tc.email, tc.role, status, doc.Find("#members .error").Text())
		}
	}

	status, doc, link := e.inviteVia(owner, csrf, "agent@x.test", "agent")
	if status != 200 || doc.Find("[data-emailed]").Length() != 0 || doc.Find("[data-invite]").Length() != 1 ||
		!strings.Contains(doc.Find("[data-invite]").Text(), "agent@x.test") || !strings.Contains(doc.Find("[data-invite]").Text(), "owner@a.test") {
		t.Fatalf("invite: %d %q", status, doc.Find("#members").Text())
	}
	token := e.inviteToken(link)
	// The link is shown once: the members page does not show it again.
	if d := webtest.Doc(t, e.Get(owner, "/settings/members")); d.Find("[data-invite-url]").Length() != 0 || strings.Contains(d.Text(), token) {
		t.Error("the members page shows the link again")
	}

	// The visitor's page: workspace and role, a form for name and password.
	visitor := e.Client()
	res := e.Get(visitor, "/invite/"+token)
	page := webtest.Doc(t, res)
	if res.StatusCode != 200 || !strings.Contains(page.Find("h1").Text(), wsA.Name) || page.Find("[data-role=agent]").Length() != 1 ||
		page.Find(`input[name="password"]`).Length() != 1 {
		t.Fatalf("invite page: %d %q", res.StatusCode, page.Text())
	}
	vcsrf, _ := page.Find(`input[name="_csrf"]`).Attr("value")
	if res := e.PostForm(visitor, "/invite/"+token, url.Values{"name": {"Agnes"}, "password": {"long-enough"}}); res.StatusCode != 403 {
		t.Errorf("accept without CSRF: %d", res.StatusCode)
	}
	res = e.PostForm(visitor, "/invite/"+token, url.Values{"_csrf": {vcsrf}, "name": {"Agnes"}, "password": {"short"}})
	if d := webtest.Doc(t, res); res.StatusCode != 422 || !strings.Contains(d.Find(".field, label").Parent().Text(), "Password must be at least 8") {
		t.Errorf("short password: %d %q", res.StatusCode, d.Text())
	}
	if _, err := e.App.Store.UserByEmail(ctx, "agent@x.test"); err == nil {
		t.Fatal("a refused accept created the account")
	}
	res = e.PostForm(visitor, "/invite/"+token, url.Values{"_csrf": {vcsrf}, "name": {"Agnes"}, "password": {"long-enough"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/conversations" {
		t.Fatalf("accept: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// Signed in, in A, as an agent: the conversations open, the members page does not.
	if res := e.Get(visitor, "/conversations"); res.StatusCode != 200 || !strings.Contains(webtest.Body(t, res), wsA.Name) {
		t.Errorf("the new member's conversations: %d", res.StatusCode)
	}
	if res := e.Get(visitor, "/settings/members"); res.StatusCode != 403 {
		t.Errorf("an agent on the members page: %d", res.StatusCode)
	}
	u, err := e.App.Store.UserByEmail(ctx, "agent@x.test")
	if err != nil || u.Name != "Agnes" || u.Role != "member" {
		t.Fatalf("the account: %+v %v", u, err)
	}
	// Reuse: 404 for the page and for accepting, whoever asks.
	e.gone(t, e.Get(e.Client(), "/invite/"+token), "used link")
	e.gone(t, e.Get(visitor, "/invite/"+token), "used link, by its user")
	other := e.Client()
	ocsrf := e.CSRF(other, "/login")
	e.gone(t, e.PostForm(other, "/invite/"+token, url.Values{"_csrf": {ocsrf}, "name": {"Eve"}, "password": {"long-enough"}}), "reusing the link")
	e.gone(t, e.Get(other, "/invite/"+strings.Repeat("A", 26)), "an unknown link")
	if d := webtest.Doc(t, e.Get(owner, "/settings/members")); d.Find("[data-invite]").Length() != 0 || !strings.Contains(d.Text(), "Agnes") {
		t.Errorf("after accepting, the members page: %q", d.Find("#members").Text())
	}
}

func TestInviteExpiryRevocationAndOtherWorkspace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.User("owner@a.test", "correct-horse")
	e.User("owner@b.test", "correct-horse")
	a, b := e.Client(), e.Client()
	e.Login(a, "owner@a.test", "correct-horse")
	e.Login(b, "owner@b.test", "correct-horse")
	csrfA, csrfB := e.CSRF(a, "/settings/members"), e.CSRF(b, "/settings/members")

	// Expired.
	_, _, link := e.inviteVia(a, csrfA, "late@x.test", "viewer")
	token := e.inviteToken(link)
	if err := e.App.Store.SetInviteExpiry(ctx, e.inviteID("late@x.test"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	e.gone(t, e.Get(e.Client(), "/invite/"+token), "expired link")

	// Revoked: B's owner cannot revoke A's invite (404, still open); A's owner can.
	_, _, link = e.inviteVia(a, csrfA, "gone@x.test", "agent")
	token = e.inviteToken(link)
	id := e.inviteID("gone@x.test")
	res := e.PostForm(b, "/settings/invites/"+webtest.Itoa(id)+"/revoke", url.Values{"_csrf": {csrfB}})
	if res.StatusCode != 404 || strings.Contains(webtest.Body(t, res), "gone@x.test") {
		t.Errorf("B revoking A's invite: %d", res.StatusCode)
	}
	if res := e.Get(e.Client(), "/invite/"+token); res.StatusCode != 200 {
		t.Fatalf("after B's attempt: %d", res.StatusCode)
	}
	res = e.PostForm(a, "/settings/invites/"+webtest.Itoa(id)+"/revoke", url.Values{"_csrf": {csrfA}}, "HX-Request", "true")
	if d := webtest.Doc(t, res); res.StatusCode != 200 || !strings.Contains(d.Text(), "gone@x.test was revoked") || d.Find("[data-invite]").Length() != 0 {
		t.Errorf("revoke: %d %q", res.StatusCode, d.Text())
	}
	e.gone(t, e.Get(e.Client(), "/invite/"+token), "revoked link")
	res = e.PostForm(a, "/settings/invites/"+webtest.Itoa(id)+"/revoke", url.Values{"_csrf": {csrfA}})
	if res.StatusCode != 404 {
		t.Errorf("revoking twice: %d", res.StatusCode)
	}
	res.Body.Close()

	// B's owner is invited to A: the page asks to log in (with a way back), and once logged
	// in they join A and work there; B stays theirs.
	_, _, link = e.inviteVia(a, csrfA, "Owner@B.test", "admin")
	token = e.inviteToken(link)
	visitor := e.Client()
	d := webtest.Doc(t, e.Get(visitor, "/invite/"+token))
	href, _ := d.Find(`a:contains("Log in to accept")`).Attr("href")
	if href != "/login?next=/invite/"+token || d.Find(`input[name="password"]`).Length() != 0 {
		t.Fatalf("the page of an email with an account: %q %q", href, d.Text())
	}
	tok := e.CSRF(visitor, "/login?next=/invite/"+token)
	res = e.PostForm(visitor, "/login", url.Values{"_csrf": {tok}, "email": {"owner@b.test"}, "password": {"correct-horse"}, "next": {"/invite/" + token}})
	res.Body.Close()
	if res.StatusCode != 303 || res.Header.Get("Location") != "/invite/"+token {
		t.Fatalf("login back to the invite: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	d = webtest.Doc(t, e.Get(visitor, "/invite/"+token))
	vcsrf, _ := d.Find(`form[action="/invite/` + token + `"] input[name="_csrf"]`).Attr("value")
	if !strings.Contains(d.Text(), "Join as owner@b.test") || vcsrf == "" {
		t.Fatalf("signed in: %q", d.Text())
	}
	res = e.PostForm(visitor, "/invite/"+token, url.Values{"_csrf": {vcsrf}})
	res.Body.Close()
	if res.StatusCode != 303 || res.Header.Get("Location") != "/conversations" {
		t.Fatalf("accept as: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if body := webtest.Body(t, e.Get(visitor, "/settings/members")); !strings.Contains(body, "Members of WS owner@a.test") {
		t.Errorf("after accepting, the session works in A as an admin: %.300s", body)
	}
	bOwner, _ := e.App.Store.UserByEmail(ctx, "owner@b.test")
	if ws, err := e.App.Store.UserWorkspaces(ctx, bOwner.ID); err != nil || len(ws) != 2 {
		t.Errorf("B's owner's workspaces: %+v %v", ws, err)
	}

	// Another signed-in account: 403 naming the invited email; nothing written.
	_, _, link = e.inviteVia(a, csrfA, "zed@x.test", "viewer")
	token = e.inviteToken(link)
	d = webtest.Doc(t, e.Get(b, "/invite/"+token))
	if !strings.Contains(d.Text(), "this invite is for zed@x.test") {
		t.Errorf("another account's page: %q", d.Find("#invite").Text())
	}
	res = e.PostForm(b, "/invite/"+token, url.Values{"_csrf": {csrfB}})
	if body := webtest.Body(t, res); res.StatusCode != 403 || !strings.Contains(body, "This invite is for zed@x.test") {
		t.Errorf("accepting with another account: %d %.300s", res.StatusCode, body)
	}
	if res := e.Get(e.Client(), "/invite/"+token); res.StatusCode != 200 {
		t.Errorf("the link after a refused accept: %d", res.StatusCode)
	}
}

// TestOnlyOwnersInviteOwners: an admin's form offers no owner role, and posting it is 403.
func TestOnlyOwnersInviteOwners(t *testing.T) {
	e := newEnv(t)
	ws := e.User("owner@a.test", "correct-horse")
	h, _ := auth.HashPassword("correct-horse")
	if _, err := e.App.Store.CreateMemberUser(context.Background(), ws.ID, "admin@a.test", "", h, "member", "admin"); err != nil {
		t.Fatal(err)
	}
	admin := e.Client()
	e.Login(admin, "admin@a.test", "correct-horse")
	d := webtest.Doc(t, e.Get(admin, "/settings/members"))
	if d.Find(`#invite-role option[value="owner"]`).Length() != 0 || d.Find(`#invite-role option[value="admin"]`).Length() != 1 {
		t.Errorf("an admin's invite roles: %q", d.Find("#invite-role").Text())
	}
	csrf, _ := d.Find(`input[name="_csrf"]`).Attr("value")
	status, doc, link := e.inviteVia(admin, csrf, "boss@x.test", "owner")
	if status != 403 || link != "" || !strings.Contains(doc.Text(), "Only an owner invites an owner") {
		t.Errorf("an admin inviting an owner: %d %q", status, link)
	}
	var n int
	if err := e.App.Store.DB.NewRaw("SELECT count(*) FROM invites").Scan(context.Background(), &n); err != nil || n != 0 {
		t.Errorf("%d invites stored (%v)", n, err)
	}
}

var inviteLinkRe = regexp.MustCompile(`(https?://[^\s"<>]+)(/invite/[A-Z2-7]{26})`)

// TestInviteEmailedWhenMailIsConfigured: with PARLEY_SMTP_URL the page says "emailed", and a
// real SMTP server receives the invite with the same link, which works.
func TestInviteEmailedWhenMailIsConfigured(t *testing.T) {
	e, srv := mailEnv(t)
	e.User("owner@a.test", "correct-horse")
	owner := e.Client()
	e.Login(owner, "owner@a.test", "correct-horse")
	status, doc, link := e.inviteVia(owner, e.CSRF(owner, "/settings/members"), "mailme@x.test", "viewer")
	if status != 200 || doc.Find("[data-emailed]").Length() != 1 {
		t.Fatalf("emailed invite: %d %q", status, doc.Find("#members").Text())
	}
	token := e.inviteToken(link)
	if n := runMail(t, e); n != 1 {
		t.Fatalf("%d mail tasks, want 1", n)
	}
	msgs := srv.Wait(t, 1, 5*time.Second)
	if len(msgs) != 1 || msgs[0].To[0] != "mailme@x.test" || msgs[0].From != "parley@example.test" {
		t.Fatalf("messages: %+v", msgs)
	}
	m := inviteLinkRe.FindSubmatch(msgs[0].Data)
	if m == nil || string(m[1]) != e.App.Config.BaseURL || string(m[2]) != "/invite/"+token {
		t.Fatalf("no invite link %s in the mail:\n%s", link, msgs[0].Data)
	}
	res := e.Get(e.Client(), string(m[2]))
	if res.StatusCode != 200 || res.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("the mailed link: %d %q", res.StatusCode, res.Header.Get("Referrer-Policy"))
	}
	res.Body.Close()
}
