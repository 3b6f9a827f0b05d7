package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// `parley apikey create --name NAME [--scope read|write]`: the key is printed alone on one
// line, as before scopes; write is the default; a wrong scope is a usage error naming --scope
// that creates nothing.
func TestAPIKeyCreateScopes(t *testing.T) {
	db := testkit.NewDB(t)
	env := map[string]string{"DATABASE_URL": db.DatabaseURL, "PARLEY_SECRET_KEY": strings.Repeat("s", 32)}
	if db.Dialect != store.Postgres {
		env["DATABASE_URL"] = "sqlite://" + db.SQLitePath
	}
	s := db.Open(t)
	ctx := context.Background()
	ws, _, err := s.CreateWorkspaceWithUser(ctx, "one", "a@x.test", "h")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args        []string
		name, scope string
	}{
		{[]string{"--name", "default"}, "default", model.ScopeWrite},
		{[]string{"--name", "reader", "--scope", "read"}, "reader", model.ScopeRead},
		{[]string{"--scope=write", "--name", "writer"}, "writer", model.ScopeWrite},
		{[]string{"--name", "reader 2", "--scope", "read", "--workspace", itoa(ws.ID)}, "reader 2", model.ScopeRead},
	} {
		code, out, stderr := run(t, env, append([]string{"apikey", "create"}, tc.args...)...)
		key := strings.TrimSuffix(out, "\n")
		if code != 0 || stderr != "" || strings.ContainsAny(key, " \n") || !strings.HasPrefix(key, auth.APIKeyPrefix) {
			t.Fatalf("%v: %d %q %q", tc.args, code, out, stderr)
		}
		k, err := s.APIKeyByHash(ctx, auth.HashAPIKey(key))
		if err != nil || k.Scope != tc.scope || k.WorkspaceID != ws.ID || k.Name != tc.name {
			t.Fatalf("%v: stored %+v %v", tc.args, k, err)
		}
	}
	for _, bad := range []string{"admin", "READ", "", "read,write"} {
		code, out, stderr := run(t, env, "apikey", "create", "--name", "bad", "--scope", bad)
		if code != 2 || out != "" || !strings.Contains(stderr, "--scope") || !strings.Contains(stderr, "read or write") {
			t.Errorf("--scope %q: %d %q %q", bad, code, out, stderr)
		}
	}
	keys, err := s.APIKeys(ctx, ws.ID)
	if err != nil || len(keys) != 4 {
		t.Fatalf("a wrong scope creates nothing: %d keys %v", len(keys), err)
	}
	if code, out, _ := run(t, nil, "apikey", "--help"); code != 0 || !strings.Contains(out, "--scope read|write") {
		t.Errorf("apikey --help: %d %q", code, out)
	}
}
