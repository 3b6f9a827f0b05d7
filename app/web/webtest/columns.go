package webtest

import (
	"encoding/json"
	"testing"
)

// ColJSON is the JSON text a typed assistant column is stored as (the store writes the
// columns with encoding/json).
func ColJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FromJSON reads a typed assistant column from its stored JSON text.
func FromJSON[T any](t testing.TB, raw string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	return v
}
