package session

import "strings"

// Device shortens a user agent to what a person recognises: "Firefox on Linux",
// "Chrome on Android", or, for a client it does not know, the agent's first 40 characters
// ("unknown device" when there is none).
func Device(ua string) string {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return "unknown device"
	}
	browser := firstMatch(ua, []pair{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"}, {"CriOS/", "Chrome"}, {"FxiOS/", "Firefox"}, {"Safari/", "Safari"},
		{"curl/", "curl"}, {"Go-http-client/", "Go HTTP client"},
	})
	os := firstMatch(ua, []pair{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	})
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	case os != "":
		return "a browser on " + os
	}
	if r := []rune(ua); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return ua
}

type pair struct{ token, name string }

func firstMatch(ua string, ps []pair) string {
	for _, p := range ps {
		if strings.Contains(ua, p.token) {
			return p.name
		}
	}
	return ""
}
