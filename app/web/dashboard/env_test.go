package dashboard_test

import (
	"testing"

	"github.com/parleyhq/parley/app/web/webtest"
)

// env is webtest's server with this package's own helper methods.
type env struct{ *webtest.Env }

// newEnv is a server whose fake Graph API confirms the numbers the tests connect
// (knownNumber, and "42").
func newEnv(t *testing.T) *env {
	e := &env{webtest.New(t)}
	e.Graph.Know(knownNumber, knownDisplay, knownName)
	e.Graph.Know("42", "", "Other Shop")
	return e
}

// The number Meta confirms in these tests, as Meta shows it.
const (
	knownNumber  = "1234567890"
	knownDisplay = "+1 555-012-3456"
	knownName    = "Sales Bot Inc"
)
