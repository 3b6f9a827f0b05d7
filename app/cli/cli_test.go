package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/cli"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(args, &cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

func TestConfigErrorsExitTwoNamingTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"DATABASE_URL": "mysql://x"}, []string{"migrate", "status"}, "DATABASE_URL"},
		{map[string]string{"PARLEY_ADDR": "nope"}, []string{"web"}, "PARLEY_ADDR"},
		{map[string]string{"REDIS_URL": "localhost:6379"}, []string{"worker"}, "REDIS_URL"},
		{map[string]string{"PARLEY_METRICS_ADDR": "localhost"}, []string{"worker"}, "PARLEY_METRICS_ADDR"},
		{map[string]string{"PARLEY_ADMIN_EMAIL": "a@b.co"}, nil, "PARLEY_ADMIN_PASSWORD"},
	} {
		code, _, stderr := run(t, tc.env, tc.args...)
		if code != 2 || !strings.Contains(stderr, "configuration error: "+tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr)
		}
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // the embedded default database lives in the working directory
	code, out, _ := run(t, nil, "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{"web", "worker", "scheduler", "migrate", "apikey", "PARLEY_SECRET_KEY", "DATABASE_URL", "REDIS_URL"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	for _, cmd := range []string{"web", "worker", "scheduler", "migrate", "apikey"} {
		code, out, _ := run(t, nil, cmd, "--help")
		if code != 0 || !strings.Contains(out, "usage: parley "+cmd) {
			t.Errorf("%s --help: %d %q", cmd, code, out)
		}
	}
	if code, out, _ := run(t, nil, "bench", "--help"); code != 0 || !strings.Contains(out, "conversations") || !strings.Contains(out, "whatsapp --url") {
		t.Errorf("bench --help names both load tools: %d %q", code, out)
	}
	if code, _, _ := run(t, nil, "--help"); code != 0 {
		t.Fatal("no-argument --help")
	}
	code, _, stderr := run(t, nil, "fly")
	if code != 2 || !strings.Contains(stderr, `unknown command "fly"`) {
		t.Fatalf("unknown command: %d %q", code, stderr)
	}
	code, _, stderr = run(t, nil, "migrate", "sideways")
	if code != 2 || !strings.Contains(stderr, "unknown migrate action") {
		t.Fatalf("bad migrate action: %d %q", code, stderr)
	}
	// Usage errors and --help touch no database: no SQLite file appears.
	if _, err := os.Stat(filepath.Join(dir, "parley.db")); !os.IsNotExist(err) {
		t.Fatalf("a usage error created the database file: %v", err)
	}
}

func TestMigrateAndAPIKeyCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	env := map[string]string{"DATABASE_URL": "sqlite://" + db}
	if pg := testkit.PostgresURL(); pg != "" {
		d := testkit.NewPostgresDB(t)
		env = map[string]string{"DATABASE_URL": d.DatabaseURL, "PARLEY_SECRET_KEY": strings.Repeat("s", 32)}
		// the template is migrated already: roll back to test `up` for real
		if code, out, stderr := run(t, env, "migrate", "down"); code != 0 || !strings.Contains(out, "rolled back") {
			t.Fatalf("migrate down: %d %q %q", code, out, stderr)
		}
	}
	code, out, stderr := run(t, env, "migrate", "status")
	if code != 0 || !strings.Contains(out, "pending") {
		t.Fatalf("status before: %d %q %q", code, out, stderr)
	}
	if testkit.PostgresURL() == "" {
		// status reads: on a new database it creates not even bun's migration tables.
		st, err := store.Open(context.Background(), "", db)
		if err != nil {
			t.Fatal(err)
		}
		n, err := st.DB.NewSelect().TableExpr("sqlite_master").Where("name LIKE 'bun_migration%'").Count(context.Background())
		st.Close()
		if err != nil || n != 0 {
			t.Fatalf("migrate status created %d migration tables (%v)", n, err)
		}
	}
	code, out, _ = run(t, env, "migrate", "up")
	if code != 0 || !strings.Contains(out, "applied 20261125000001_schema") {
		t.Fatalf("up: %d %q", code, out)
	}
	code, out, _ = run(t, env, "migrate", "up")
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("second up: %d %q", code, out)
	}
	code, out, _ = run(t, env, "migrate", "status")
	if code != 0 || !strings.Contains(out, "applied 20") {
		t.Fatalf("status after: %d %q", code, out)
	}

	code, _, stderr = run(t, env, "apikey", "create", "--name", "ci")
	if code != 1 || !strings.Contains(stderr, "no workspace exists yet") {
		t.Fatalf("apikey without workspace: %d %q", code, stderr)
	}
	s, err := store.Open(context.Background(), env["DATABASE_URL"], strings.TrimPrefix(env["DATABASE_URL"], "sqlite://"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ws1, _, err := s.CreateWorkspaceWithUser(context.Background(), "one", "a@x.test", "h")
	if err != nil {
		t.Fatal(err)
	}
	ws2, _, _ := s.CreateWorkspaceWithUser(context.Background(), "two", "b@x.test", "h")
	if code, _, stderr = run(t, env, "apikey", "create"); code != 2 || !strings.Contains(stderr, "--name is required") {
		t.Fatalf("apikey without name: %d %q", code, stderr)
	}
	for _, tc := range []struct {
		args []string
		ws   int64
	}{{[]string{"apikey", "create", "--name", "ci"}, ws1.ID}, {[]string{"apikey", "create", "--name", "other", "--workspace", itoa(ws2.ID)}, ws2.ID}} {
		code, out, stderr = run(t, env, tc.args...)
		key := strings.TrimSpace(out)
		if code != 0 || !strings.HasPrefix(key, auth.APIKeyPrefix) {
			t.Fatalf("%v: %d %q %q", tc.args, code, out, stderr)
		}
		k, err := s.APIKeyByHash(context.Background(), auth.HashAPIKey(key))
		if err != nil || k.WorkspaceID != tc.ws {
			t.Fatalf("%v: stored key %+v %v", tc.args, k, err)
		}
	}
	if code, _, stderr = run(t, env, "apikey", "create", "--name", "x", "--workspace", "999"); code != 1 || !strings.Contains(stderr, "workspace 999 does not exist") {
		t.Fatalf("unknown workspace: %d %q", code, stderr)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
