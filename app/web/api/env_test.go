package api_test

import (
	"testing"

	"github.com/parleyhq/parley/app/web/webtest"
)

// env is webtest's server.
type env = webtest.Env

func newEnv(t *testing.T) *env { return webtest.New(t) }
