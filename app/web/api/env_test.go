package api_test

import (
	"testing"

	"github.com/parleyhq/parley/app/web/webtest"
)

// env is webtest's server.
type env = webtest.Env

// newEnv is a server whose fake Graph API confirms the numbers the tests connect.
func newEnv(t *testing.T) *env {
	e := webtest.New(t)
	e.Graph.Know("1098765", "+1 555-010-9876", "Support Shop")
	e.Graph.Know("777", "", "Seven Shop")
	e.Graph.Know("778", "", "Seven Shop")
	return e
}
