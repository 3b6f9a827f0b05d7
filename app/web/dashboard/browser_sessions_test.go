package dashboard_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// In a real browser, Settings lists the user's sessions with this one marked; "Log out" ends
// another device's session in place (htmx, the session's CSRF token), and "Log out
// everywhere" ends this one too and lands on the login page.
func TestBrowserYourSessions(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	phone := e.Client()
	e.loginAs(phone, "ana@example.com", uaAndroid)
	ctx := testkit.Browser(t)
	webtest.BrowserLogin(t, ctx, e.Env, "ana@example.com")

	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/settings"),
		chromedp.WaitVisible(chromedp.CSS(`#sessions`)),
	); err != nil {
		t.Fatal(err)
	}
	if n := webtest.EvalJS[int](t, ctx, `document.querySelectorAll("#sessions tbody tr").length`); n != 2 {
		t.Fatalf("two sessions listed, got %d", n)
	}
	cur := webtest.EvalJS[string](t, ctx, `document.querySelector("#sessions tr:has([data-current])").textContent`)
	if !strings.Contains(cur, "this device") || !strings.Contains(cur, "Chrome on Linux") {
		t.Fatalf("this device: %q", cur)
	}
	// Log out the phone.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#sessions tr:not(:has([data-current])) button`))); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, ctx, `document.querySelectorAll("#sessions tbody tr").length === 1 && document.querySelector("#sessions [role=status]") !== null`)
	if e.loggedIn(phone) {
		t.Fatal("the phone's session survived its revocation")
	}
	// Log out everywhere (confirmed): the login page, and the dashboard asks for it again.
	webtest.EvalJS[bool](t, ctx, `window.confirm = () => true; true`)
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#sessions button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.Navigate(e.URL+"/settings"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	); err != nil {
		t.Fatal(err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.Contains(loc, "/login") {
		t.Fatalf("after log out everywhere: %q %v", loc, err)
	}
}
