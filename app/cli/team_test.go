package cli_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/cli"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/testkit"
)

// runIn runs the command with stdin.
func runIn(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(args, &cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

// teamEnv is a migrated database of the suite's dialect and the environment naming it.
func teamEnv(t *testing.T) (map[string]string, *store.Store) {
	t.Helper()
	if testkit.PostgresURL() != "" {
		d := testkit.NewPostgresDB(t)
		return map[string]string{"DATABASE_URL": d.DatabaseURL, "PARLEY_SECRET_KEY": strings.Repeat("s", 32), "PARLEY_BASE_URL": "https://parley.example.com"}, d.Open(t)
	}
	db := filepath.Join(t.TempDir(), "p.db")
	env := map[string]string{"DATABASE_URL": "sqlite://" + db, "PARLEY_BASE_URL": "https://parley.example.com"}
	if code, _, stderr := run(t, env, "migrate", "up"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	s, err := store.Open(context.Background(), "", db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return env, s
}

func TestWorkspaceCreate(t *testing.T) {
	env, s := teamEnv(t)
	ctx := context.Background()
	code, out, stderr := run(t, env, "workspace", "create", "--name", "  Acme  ")
	id, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if code != 0 || err != nil {
		t.Fatalf("create: %d %q %q", code, out, stderr)
	}
	if ws, err := s.WorkspaceByID(ctx, id); err != nil || ws.Name != "Acme" {
		t.Fatalf("workspace: %+v %v", ws, err)
	}
	if m, err := s.Members(ctx, id); err != nil || len(m) != 0 {
		t.Fatalf("members of an ownerless workspace: %+v %v", m, err)
	}
	if _, _, err := s.CreateWorkspaceWithUser(ctx, "Home", "boss@x.test", "h"); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = run(t, env, "workspace", "create", "--name", "Owned", "--owner-email", "BOSS@x.test")
	id, _ = strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if code != 0 {
		t.Fatalf("create with owner: %d %q", code, stderr)
	}
	if m, err := s.Members(ctx, id); err != nil || len(m) != 1 || m[0].Email != "boss@x.test" || m[0].Role != model.MemberOwner {
		t.Fatalf("owner: %+v %v", m, err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"workspace"}, 2, "say create"},
		{[]string{"workspace", "create"}, 2, "--name is required"},
		{[]string{"workspace", "create", "--name", strings.Repeat("n", 101)}, 2, "--name is longer than 100"},
		{[]string{"workspace", "create", "--name", "X", "--owner-email", "ghost@x.test"}, 2, `--owner-email no account has the email "ghost@x.test"`},
		{[]string{"workspace", "create", "--name", "X", "extra"}, 2, `unexpected argument "extra"`},
	} {
		if code, out, stderr := run(t, env, tc.args...); code != tc.code || out != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: %d %q %q", tc.args, code, out, stderr)
		}
	}
}

func TestUserCreate(t *testing.T) {
	env, s := teamEnv(t)
	ctx := context.Background()
	if code, _, stderr := run(t, env, "user", "create", "--email", "a@x.test", "--role", "agent"); code != 1 || !strings.Contains(stderr, "no workspace exists yet") {
		t.Fatalf("without a workspace: %d %q", code, stderr)
	}
	first, _, err := s.CreateWorkspaceWithUser(ctx, "First", "boss@x.test", "h")
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.CreateWorkspace(ctx, "Second")
	if err != nil {
		t.Fatal(err)
	}

	// With a password from stdin: the account exists at once, in the first workspace.
	code, out, stderr := runIn(t, env, "long-enough-pw\n", "user", "create", "--email", "Agent@x.test", "--role", "agent", "--password-stdin")
	id, _ := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if code != 0 || id == 0 {
		t.Fatalf("create: %d %q %q", code, out, stderr)
	}
	u, err := s.UserByID(ctx, id)
	if err != nil || u.Email != "Agent@x.test" || u.Role != model.UserRoleMember || !auth.CheckPassword(u.PasswordHash, "long-enough-pw") {
		t.Fatalf("user: %+v %v", u, err)
	}
	if m, err := s.MembershipOf(ctx, first.ID, id); err != nil || m.Role != model.MemberAgent {
		t.Fatalf("membership: %+v %v", m, err)
	}

	// Without: a one-time link to the invite page, for the workspace named; the account is
	// made when it is used.
	code, out, stderr = run(t, env, "user", "create", "--email", "owner2@x.test", "--role", "owner", "--workspace", itoa(second.ID))
	link := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(link, "https://parley.example.com/invite/") {
		t.Fatalf("link: %d %q %q", code, out, stderr)
	}
	if _, err := s.UserByEmail(ctx, "owner2@x.test"); err == nil {
		t.Fatal("the account exists before the link is used")
	}
	tm := &team.Service{Store: s}
	v, err := tm.Lookup(ctx, strings.TrimPrefix(link, "https://parley.example.com/invite/"))
	if err != nil || v.Workspace.ID != second.ID || v.Invite.Role != model.MemberOwner || v.Invite.Email != "owner2@x.test" {
		t.Fatalf("the link's invite: %+v %v", v, err)
	}
	if _, _, err := tm.AcceptNew(ctx, strings.TrimPrefix(link, "https://parley.example.com/invite/"), "Second Owner", "long-enough", nil); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Members(ctx, second.ID); err != nil || len(m) != 1 || m[0].Role != model.MemberOwner {
		t.Fatalf("second's members: %+v %v", m, err)
	}

	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"user", "create", "--role", "agent"}, 2, "--email is required"},
		{"", []string{"user", "create", "--email", "n@x.test"}, 2, `--role must be one of owner, admin, agent, viewer (got "")`},
		{"", []string{"user", "create", "--email", "n@x.test", "--role", "chief"}, 2, `(got "chief")`},
		{"", []string{"user", "create", "--email", "bad", "--role", "agent"}, 2, `--email "bad" is not an email address`},
		{"short\n", []string{"user", "create", "--email", "n@x.test", "--role", "agent", "--password-stdin"}, 2, "--password-stdin must be at least 8 characters"},
		{"", []string{"user", "create", "--email", "n@x.test", "--role", "agent", "--password-stdin"}, 2, "--password-stdin must be at least 8 characters"},
		{"long-enough\n", []string{"user", "create", "--email", "agent@X.test", "--role", "viewer", "--password-stdin"}, 2, "--email agent@X.test has an account already"},
		{"", []string{"user", "create", "--email", "agent@x.test", "--role", "viewer"}, 2, "--email agent@x.test has an account already"},
		{"", []string{"user", "create", "--email", "n@x.test", "--role", "agent", "--workspace", "999"}, 1, "workspace 999 does not exist"},
		{"", []string{"user", "delete"}, 2, `unknown subcommand "delete"`},
		{"", []string{"user"}, 2, "say create or reset-password EMAIL"},
	} {
		if code, out, stderr := runIn(t, env, tc.stdin, tc.args...); code != tc.code || out != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: %d %q %q", tc.args, code, out, stderr)
		}
	}
	if _, err := s.UserByEmail(ctx, "n@x.test"); err == nil {
		t.Error("a refused command created an account")
	}
	// The usage names both commands.
	if _, out, _ := run(t, env, "--help"); !strings.Contains(out, "workspace") || !strings.Contains(out, "user") {
		t.Errorf("usage: %q", out)
	}
	if code, out, _ := run(t, env, "user", "--help"); code != 0 || !strings.Contains(out, "--password-stdin") {
		t.Errorf("user --help: %d %q", code, out)
	}
}
