package dashboard_test

import (
	"testing"

	"github.com/parleyhq/parley/app/web/webtest"
)

// env is webtest's server with this package's own helper methods.
type env struct{ *webtest.Env }

func newEnv(t *testing.T) *env { return &env{webtest.New(t)} }
