package model

import "fmt"

// The scopes of an API key: what a key may do with the JSON API.
const (
	// ScopeRead may only read: the safe methods (GET, HEAD, OPTIONS).
	ScopeRead = "read"
	// ScopeWrite may do everything the API offers (every key was one before scopes existed).
	ScopeWrite = "write"
)

// DefaultScope is the scope of a key created without naming one.
const DefaultScope = ScopeWrite

// Scopes are the valid scopes, in the order a form lists them.
var Scopes = []string{ScopeRead, ScopeWrite}

// ParseScope returns the scope s names; "" is DefaultScope. Anything else is an error that
// names the valid scopes (the caller names its field or flag).
func ParseScope(s string) (string, error) {
	switch s {
	case "":
		return DefaultScope, nil
	case ScopeRead, ScopeWrite:
		return s, nil
	}
	return "", fmt.Errorf("must be %q or %q, not %q", ScopeRead, ScopeWrite, s)
}

// ScopeAllows reports whether a key of scope may make a request with the HTTP method
// (upper case, as in net/http): a write key may use every method, a read key only the safe
// ones. An unknown scope may do nothing.
func ScopeAllows(scope, method string) bool {
	switch scope {
	case ScopeWrite:
		return true
	case ScopeRead:
		return SafeMethod(method)
	}
	return false
}

// SafeMethod reports an HTTP method that only reads (RFC 9110 9.2.1, less TRACE, which no
// route serves).
func SafeMethod(method string) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS":
		return true
	}
	return false
}
