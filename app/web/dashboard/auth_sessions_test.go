package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app/session"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// Tests of issue 12, item 3: sessions live on the server.

const (
	uaFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
	uaAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Mobile Safari/537.36"
)

// sessionCookie is the client's session cookie ("" when it has none).
func (e *env) sessionCookie(c *http.Client) string {
	u, _ := url.Parse(e.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == session.CookieName {
			return ck.Value
		}
	}
	return ""
}

// withCookie is a new client holding only the given session cookie (a copied, replayed or
// planted cookie).
func (e *env) withCookie(token string) *http.Client {
	c := e.Client()
	u, _ := url.Parse(e.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: session.CookieName, Value: token, Path: "/"}})
	return c
}

// loggedIn reports whether c's session opens the dashboard (200), or is sent to the login.
func (e *env) loggedIn(c *http.Client) bool {
	e.T.Helper()
	res := e.Get(c, "/conversations")
	res.Body.Close()
	switch {
	case res.StatusCode == http.StatusOK:
		return true
	case res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/login"):
		return false
	}
	e.T.Fatalf("GET /conversations: %d %q", res.StatusCode, res.Header.Get("Location"))
	return false
}

// loginAs logs c in with a user agent.
func (e *env) loginAs(c *http.Client, email, ua string) *http.Response {
	e.T.Helper()
	tok := e.CSRF(c, "/login")
	res := e.PostForm(c, "/login", url.Values{"_csrf": {tok}, "email": {email}, "password": {"correct-horse"}}, "User-Agent", ua)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/conversations" {
		e.T.Fatalf("login: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	return res
}

// fakeClock drives the session manager's clock (the idle and absolute expiry).
type fakeClock struct {
	base time.Time
	off  atomic.Int64
}

func (e *env) clock() *fakeClock {
	k := &fakeClock{base: time.Now()}
	e.App.Sessions.SetClock(func() time.Time { return k.base.Add(time.Duration(k.off.Load())) })
	return k
}

func (k *fakeClock) advance(d time.Duration) { k.off.Add(int64(d)) }

// loggedInRows counts the rows of logged-in sessions, expired or not.
func (e *env) loggedInRows() int64 {
	e.T.Helper()
	n, err := e.App.Store.DB.NewSelect().Table("sessions").Where("user_id IS NOT NULL").Count(context.Background())
	if err != nil {
		e.T.Fatal(err)
	}
	return n
}

func TestLogoutEndsTheSessionOnTheServer(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	copied := e.sessionCookie(c)
	if copied == "" || !e.loggedIn(e.withCookie(copied)) {
		t.Fatal("a copy of the cookie is the session, until it ends")
	}
	d := webtest.Doc(t, e.Get(c, "/settings"))
	tok, _ := d.Find(`form[action="/logout"] input[name=_csrf]`).Attr("value")
	res := e.PostForm(c, "/logout", url.Values{"_csrf": {tok}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if sc := res.Header.Get("Set-Cookie"); !strings.Contains(sc, session.CookieName+"=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("logout clears the cookie: %q", sc)
	}
	// The old cookie, replayed, is refused: the session ended on the server.
	if e.loggedIn(e.withCookie(copied)) {
		t.Fatal("a replayed cookie still opens the dashboard after logout")
	}
	if e.loggedIn(c) {
		t.Fatal("logged out")
	}
}

func TestLoginRenewsTheSessionAndItsCSRFToken(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	e.User("bob@example.com", "correct-horse")
	c := e.Client()
	before := e.CSRF(c, "/login")
	planted := e.sessionCookie(c)
	if planted == "" {
		t.Fatal("the login page's CSRF token lives in a server-side session: its cookie is set")
	}
	res := e.PostForm(c, "/login", url.Values{"_csrf": {before}, "email": {"ana@example.com"}, "password": {"correct-horse"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	if sc := res.Header.Get("Set-Cookie"); !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") || strings.Contains(sc, "Secure") {
		t.Fatalf("session cookie over http: %q", sc)
	}
	if cc := res.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" {
		t.Fatalf("Cache-Control with a new cookie: %q", cc)
	}
	// Session fixation: the token someone knew (or planted) before the login opens nothing.
	if after := e.sessionCookie(c); after == "" || after == planted {
		t.Fatalf("the login must issue a new session token (%q, before %q)", after, planted)
	}
	if e.loggedIn(e.withCookie(planted)) {
		t.Fatal("the pre-login session token was promoted to a logged-in session")
	}
	// The CSRF token from before the login is refused after it; the new one works.
	res = e.PostForm(c, "/settings/api-keys", url.Values{"_csrf": {before}, "name": {"k"}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("pre-login CSRF token after the login: %d, want 403", res.StatusCode)
	}
	now := e.CSRF(c, "/settings")
	if now == before {
		t.Fatal("the login renews the CSRF token")
	}
	// Another session's token is refused, in the form and in the header.
	b := e.Client()
	e.Login(b, "bob@example.com", "correct-horse")
	bTok := e.CSRF(b, "/settings")
	res = e.PostForm(c, "/settings/api-keys", url.Values{"_csrf": {bTok}, "name": {"k"}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("another session's CSRF token: %d, want 403", res.StatusCode)
	}
	res = e.PostForm(b, "/settings/api-keys", url.Values{"name": {"k"}}, "X-CSRF-Token", now, "HX-Request", "true")
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("another session's CSRF header: %d, want 403", res.StatusCode)
	}
	res = e.PostForm(c, "/settings/api-keys", url.Values{"_csrf": {now}, "name": {"k"}})
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the session's own token: %d", res.StatusCode)
	}
}

func TestSecureSessionCookie(t *testing.T) {
	cfg := testkit.Config(t)
	cfg.SecureCookies = true // PARLEY_BASE_URL is https
	e := &env{webtest.NewWith(t, cfg)}
	e.User("ana@example.com", "correct-horse")
	c := e.Client()
	res := e.Get(c, "/login")
	res.Body.Close()
	if sc := res.Header.Get("Set-Cookie"); !strings.Contains(sc, session.CookieName+"=") || !strings.Contains(sc, "; Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("session cookie with https: %q", sc)
	}
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	k := e.clock()
	idle, lifetime := e.App.Config.SessionIdle, e.App.Config.SessionMax
	if idle != 12*time.Hour || lifetime != 30*24*time.Hour {
		t.Fatalf("defaults: %s %s", idle, lifetime)
	}

	// A login page's session (its CSRF token) lasts an hour without use.
	c := e.Client()
	tok := e.CSRF(c, "/login")
	k.advance(time.Hour)
	res := e.PostForm(c, "/login", url.Values{"_csrf": {tok}, "email": {"ana@example.com"}, "password": {"correct-horse"}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a login page left for an hour: %d, want 403", res.StatusCode)
	}

	// Idle: used every 11 hours it lives on; 12 hours without use end it.
	c = e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	for i := range 3 {
		k.advance(11 * time.Hour)
		if !e.loggedIn(c) {
			t.Fatalf("used after 11h (#%d): still logged in", i)
		}
	}
	k.advance(idle)
	if e.loggedIn(c) {
		t.Fatal("12 hours without use end the session")
	}

	// Absolute: a session used all the time still ends 30 days after its login.
	c = e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	step, elapsed := 10*time.Hour, time.Duration(0)
	for elapsed+step < lifetime {
		k.advance(step)
		elapsed += step
		if !e.loggedIn(c) {
			t.Fatalf("used every 10h, %s after the login: still logged in", elapsed)
		}
	}
	k.advance(lifetime - elapsed)
	if e.loggedIn(c) {
		t.Fatal("30 days after its login the session has ended, however active")
	}

	// Expired sessions are pruned (the idle one already was, by the second login's save): the
	// next session saved, a visitor's of the login page, deletes the row.
	if n := e.loggedInRows(); n != 1 {
		t.Fatalf("the expired row is there until pruned: %d", n)
	}
	k.advance(11 * time.Minute)
	_ = e.CSRF(e.Client(), "/login")
	if n := e.loggedInRows(); n != 0 {
		t.Fatalf("after pruning: %d rows of logged-in sessions", n)
	}
}

func TestSessionLastSeenIsThrottled(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	u, err := e.App.Store.UserByEmail(context.Background(), "ana@example.com")
	if err != nil {
		t.Fatal(err)
	}
	k := e.clock()
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	lastSeen := func() (time.Time, string) {
		t.Helper()
		now := k.base.Add(time.Duration(k.off.Load()))
		rows, err := e.App.Store.UserSessions(context.Background(), u.ID, now, now.Add(-time.Hour))
		if err != nil || len(rows) != 1 {
			t.Fatalf("sessions: %v %v", rows, err)
		}
		return rows[0].LastSeenAt, rows[0].UserAgent
	}
	first, _ := lastSeen()
	for range 5 {
		k.advance(10 * time.Second)
		if !e.loggedIn(c) {
			t.Fatal("logged in")
		}
	}
	if got, _ := lastSeen(); !got.Equal(first) {
		t.Fatalf("requests within a minute write no last use: %v, was %v", got, first)
	}
	k.advance(11 * time.Second)
	res := e.Get(c, "/conversations", "User-Agent", uaFirefox)
	res.Body.Close()
	got, ua := lastSeen()
	if !got.After(first.Add(time.Minute)) || ua != uaFirefox {
		t.Fatalf("a minute later the use is recorded, with the device: %v %q", got, ua)
	}
}

// sessionRowsOf is the "Your sessions" table of c's Settings page.
func (e *env) sessionRowsOf(c *http.Client) *goquery.Selection {
	e.T.Helper()
	res := e.Get(c, "/settings")
	if res.StatusCode != http.StatusOK {
		e.T.Fatalf("settings: %d", res.StatusCode)
	}
	return webtest.Doc(e.T, res).Find("#sessions tbody tr")
}

func sessionIDOf(rows *goquery.Selection, text string) string {
	id := ""
	rows.Each(func(_ int, r *goquery.Selection) {
		if strings.Contains(r.Text(), text) {
			id, _ = r.Attr("data-session")
		}
	})
	return id
}

func TestYourSessions(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	e.User("bob@example.com", "correct-horse")
	laptop, phone, other := e.Client(), e.Client(), e.Client()
	e.loginAs(laptop, "ana@example.com", uaFirefox)
	e.loginAs(phone, "ana@example.com", uaAndroid)
	e.Login(other, "ana@example.com", "correct-horse")
	bob := e.Client()
	e.loginAs(bob, "bob@example.com", "Bob's browser")

	rows := e.sessionRowsOf(laptop)
	if rows.Length() != 3 {
		t.Fatalf("Ana's three sessions, not Bob's: %d rows", rows.Length())
	}
	text := rows.Text()
	if p := rows.Parents().Filter("#sessions").Find("p.muted").Text(); !strings.Contains(p, "12 hours without use, 30 days after its login") {
		t.Errorf("the section says the configured expiry: %q", p)
	}
	for _, want := range []string{"Firefox on Linux", "Chrome on Android", "Go HTTP client", "127.0.0.1"} {
		if !strings.Contains(text, want) {
			t.Errorf("the sessions list lacks %q: %q", want, text)
		}
	}
	if strings.Contains(text, "Bob") {
		t.Error("another user's session is listed")
	}
	cur := rows.Has("[data-current]")
	if cur.Length() != 1 || !strings.Contains(cur.Text(), "Firefox on Linux") || !strings.Contains(cur.Text(), "this device") {
		t.Fatalf("this device: %q", cur.Text())
	}
	phoneID, otherID := sessionIDOf(rows, "Chrome on Android"), sessionIDOf(rows, "Go HTTP client")
	tok := e.CSRF(laptop, "/settings")

	// Without the token, nothing ends.
	res := e.PostForm(laptop, "/settings/sessions/"+phoneID+"/revoke", url.Values{})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !e.loggedIn(phone) {
		t.Fatalf("revoke without CSRF: %d", res.StatusCode)
	}
	// Log out the phone from the laptop (htmx): the section again, two sessions; the phone's
	// cookie opens nothing any more.
	res = e.PostForm(laptop, "/settings/sessions/"+phoneID+"/revoke", url.Values{}, "X-CSRF-Token", tok, "HX-Request", "true")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if d := webtest.Doc(t, res); d.Find("#sessions tbody tr").Length() != 2 || !strings.Contains(d.Find("#sessions").Text(), "ended") {
		t.Fatalf("after revoking: %q", d.Find("#sessions").Text())
	}
	if e.loggedIn(phone) {
		t.Fatal("the revoked session still works")
	}
	if !e.loggedIn(laptop) || !e.loggedIn(other) {
		t.Fatal("the other sessions live on")
	}
	// Only your own sessions: Bob cannot end Ana's (404), nor can anyone end one twice.
	bTok := e.CSRF(bob, "/settings")
	for _, id := range []string{otherID, phoneID, "999999", "abc"} {
		res = e.PostForm(bob, "/settings/sessions/"+id+"/revoke", url.Values{"_csrf": {bTok}})
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("Bob revoking session %s: %d, want 404", id, res.StatusCode)
		}
	}
	if !e.loggedIn(other) {
		t.Fatal("Bob ended Ana's session")
	}
	// Ending this device's own session is a logout.
	res = e.PostForm(other, "/settings/sessions/"+otherID+"/revoke", url.Values{"_csrf": {e.CSRF(other, "/settings")}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" || e.loggedIn(other) {
		t.Fatalf("revoking this device: %d %q", res.StatusCode, res.Header.Get("Location"))
	}

	// Log out everywhere: every session of Ana, this one included; Bob's lives on.
	tablet := e.Client()
	e.Login(tablet, "ana@example.com", "correct-horse")
	laptopCookie := e.sessionCookie(laptop)
	res = e.PostForm(laptop, "/settings/sessions/revoke-all", url.Values{"_csrf": {e.CSRF(laptop, "/settings")}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("log out everywhere: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	for name, c := range map[string]*http.Client{"laptop": laptop, "tablet": tablet, "laptop's copied cookie": e.withCookie(laptopCookie)} {
		if e.loggedIn(c) {
			t.Errorf("%s: still logged in after log out everywhere", name)
		}
	}
	if !e.loggedIn(bob) {
		t.Fatal("another user's session ended")
	}
	u, _ := e.App.Store.UserByEmail(context.Background(), "ana@example.com")
	if rows, _ := e.App.Store.UserSessions(context.Background(), u.ID, time.Now(), time.Now().Add(-time.Hour)); len(rows) != 0 {
		t.Fatalf("Ana's sessions left: %d", len(rows))
	}
}
