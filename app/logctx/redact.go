package logctx

import (
	"net/url"
	"strings"
)

// redactedParams are the query parameters whose values never reach a log line: the widget's
// session and reply tokens, its visitor ids and their hashes, and anything named like a
// credential.
var redactedParams = map[string]bool{
	"token": true, "visitor": true, "visitor_id": true, "visitor_hash": true,
	"access_token": true, "password": true, "secret": true, "key": true,
}

// redactedPaths are the path prefixes whose next segment is a one-time credential (a password
// reset link's token, an invite's): it never reaches a log line either.
var redactedPaths = []string{"/reset/", "/invite/"}

// Redacted stands in for a value that is not logged.
const Redacted = "REDACTED"

// RedactURI is a request URI as a log line may show it: the values of the query parameters
// that identify a visitor or carry a credential (token, visitor, visitor_hash, ...) are
// replaced by REDACTED, whatever their case or escaping; everything else is kept as sent.
func RedactURI(uri string) string {
	path, query, ok := strings.Cut(uri, "?")
	path = redactPath(path)
	if !ok {
		return path
	}
	query, frag, hasFrag := strings.Cut(query, "#")
	parts := strings.Split(query, "&")
	for i, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		n, err := url.QueryUnescape(name)
		if err != nil {
			n = name
		}
		if redactedParams[strings.ToLower(strings.TrimSpace(n))] {
			parts[i] = name + "=" + Redacted
		}
	}
	out := path + "?" + strings.Join(parts, "&")
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// redactPath replaces the token segment of a one-time link's path (/reset/<token>,
// /invite/<token>) by REDACTED, keeping what follows it.
func redactPath(path string) string {
	for _, p := range redactedPaths {
		rest, ok := strings.CutPrefix(path, p)
		if !ok || rest == "" {
			continue
		}
		_, tail, _ := strings.Cut(rest, "/")
		if strings.Contains(rest, "/") {
			tail = "/" + tail
		}
		return p + Redacted + tail
	}
	return path
}
