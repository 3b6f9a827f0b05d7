package logctx_test

import (
	"testing"

	"github.com/parleyhq/parley/app/logctx"
)

func TestRedactURI(t *testing.T) {
	for in, want := range map[string]string{
		"/widget/pa_x":                                "/widget/pa_x",
		"/widget/pa_x?visitor=abc12345":               "/widget/pa_x?visitor=REDACTED",
		"/widget/pa_x?visitor=abc12345&token=pw1.a.b": "/widget/pa_x?visitor=REDACTED&token=REDACTED",
		"/widget/pa_x/reply/4?TOKEN=pw1.a.b&x=1":      "/widget/pa_x/reply/4?TOKEN=REDACTED&x=1",
		"/w?%74oken=pw1.a.b":                          "/w?%74oken=REDACTED",
		"/conversations?type=widget&q=hello":          "/conversations?type=widget&q=hello",
		"/api?visitor_hash=ff&visitor_id=c-1#frag":    "/api?visitor_hash=REDACTED&visitor_id=REDACTED#frag",
		"/x?token": "/x?token=REDACTED",
	} {
		if got := logctx.RedactURI(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// One-time link tokens in paths (password reset, invites) never reach a log line.
func TestRedactURIOneTimeLinkPaths(t *testing.T) {
	for in, want := range map[string]string{
		"/reset/ABCDEF123":          "/reset/REDACTED",
		"/reset/ABCDEF123?x=1":      "/reset/REDACTED?x=1",
		"/invite/tok/accept":        "/invite/REDACTED/accept",
		"/reset":                    "/reset",
		"/reset/":                   "/reset/",
		"/conversations/12":         "/conversations/12",
		"/reset/ABC?token=secret&a": "/reset/REDACTED?token=REDACTED&a",
	} {
		if got := logctx.RedactURI(in); got != want {
			t.Errorf("RedactURI(%q) = %q, want %q", in, got, want)
		}
	}
}
