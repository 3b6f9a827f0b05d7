package webtest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BrowserLogin logs a chromedp tab in through the login form.
func BrowserLogin(t *testing.T, ctx context.Context, e *Env, email string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct-horse"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#results`)),
	); err != nil {
		t.Fatal(err)
	}
}

// EvalJS evaluates js in the tab.
func EvalJS[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// WaitJS polls a boolean expression until it holds.
func WaitJS(t *testing.T, ctx context.Context, js string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", js)
}
