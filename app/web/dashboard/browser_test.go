package dashboard_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/app/testkit"
)

// A person opens Parley, is sent to the login page, logs in through the real form and sees
// the Conversations page with its navigation badge.
func TestBrowserLoginShowsConversations(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	ctx := testkit.Browser(t)

	err := chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/conversations"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.Contains(loc, "/login?next=%2Fconversations") {
		t.Fatalf("first visit lands on %q (%v)", loc, err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#email`), "ana@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct-horse"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#conversations-empty`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return s
	}
	if h := text(`main h1`); h != "Conversations" {
		t.Fatalf("heading %q", h)
	}
	if b := text(`#nav-count`); b != "0" {
		t.Fatalf("badge %q", b)
	}
	if empty := text(`#conversations-empty`); !strings.Contains(empty, "Test Chat") || !strings.Contains(empty, "WhatsApp") {
		t.Fatalf("empty state: %q", empty)
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.htmx ? htmx.version : ""`))
	if err != nil || v != "2.0.11" {
		t.Fatalf("vendored htmx did not load: %q %v", v, err)
	}
}
