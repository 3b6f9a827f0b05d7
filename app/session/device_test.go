package session

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDevice(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0":                                                    "Firefox on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 Edg/129.0": "Edge on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15":        "Safari on macOS",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/129.0 Mobile/15E148": "Chrome on iOS",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Mobile Safari/537.36":     "Chrome on Android",
		"curl/8.5.0":            "curl",
		"":                      "unknown device",
		"SomeBot":               "SomeBot",
		strings.Repeat("x", 60): strings.Repeat("x", 40) + "…",
	} {
		if got := Device(ua); got != want {
			t.Errorf("Device(%.40q) = %q, want %q", ua, got, want)
		}
	}
}

func TestCleanUserAgent(t *testing.T) {
	got := cleanUserAgent("a\x00b\nc\xffd" + strings.Repeat("é", 300))
	if !strings.HasPrefix(got, "abcd") || len(got) > maxUserAgent || !utf8.ValidString(got) {
		t.Fatalf("%q (%d bytes)", got, len(got))
	}
}
