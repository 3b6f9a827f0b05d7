package model

import (
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	for in, want := range map[string]string{"": ScopeWrite, "read": ScopeRead, "write": ScopeWrite} {
		if got, err := ParseScope(in); err != nil || got != want {
			t.Errorf("ParseScope(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"READ", " read", "admin", "readwrite", "r"} {
		got, err := ParseScope(in)
		if err == nil || got != "" || !strings.Contains(err.Error(), `"read" or "write"`) {
			t.Errorf("ParseScope(%q) = %q, %v; want an error naming the scopes", in, got, err)
		}
	}
}

func TestScopeAllows(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "OPTIONS"} {
		if !ScopeAllows(ScopeRead, m) || !ScopeAllows(ScopeWrite, m) {
			t.Errorf("%s must be allowed to both scopes", m)
		}
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT", "PROPFIND", "get", ""} {
		if ScopeAllows(ScopeRead, m) {
			t.Errorf("a read key must not %s", m)
		}
		if !ScopeAllows(ScopeWrite, m) {
			t.Errorf("a write key may %s", m)
		}
	}
	for _, s := range []string{"", "admin", "READ"} {
		if ScopeAllows(s, "GET") {
			t.Errorf("the unknown scope %q may do nothing", s)
		}
	}
}
