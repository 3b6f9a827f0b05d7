package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

const doctorSecret = "doctor-secret-key-0123456789abcdef0123456789"

// fakeLLM is testkit's OpenAI-compatible server: GET /v1/models with the right key lists
// models; any other key gets OpenAI's 401 error body.
func fakeLLM(t *testing.T, key string, models ...string) *testkit.FakeLLM {
	t.Helper()
	l := testkit.NewFakeLLM(t)
	l.Key, l.Models = key, models
	return l
}

// fakeGraph is testkit's Graph API knowing one number: the good token reads it; any other
// gets the 190 OAuthException.
type fakeGraph struct{ *testkit.FakeGraph }

func (g *fakeGraph) calls() int { return len(g.Requests()) }

func newDoctorGraph(t *testing.T, pid, token string) *fakeGraph {
	t.Helper()
	g := testkit.NewFakeGraph(t)
	g.Token = token
	g.Numbers = map[string]testkit.FakeNumber{pid: {DisplayPhoneNumber: "+1 555-0100", VerifiedName: "Shop & Co"}}
	return &fakeGraph{g}
}

type doctorCase struct {
	db    testkit.DB
	env   map[string]string
	graph *fakeGraph
}

// healthyDoctor is a migrated database with one WhatsApp assistant whose token works, a
// Redis, and an LLM that serves the default model.
func healthyDoctor(t *testing.T) *doctorCase {
	t.Helper()
	db := testkit.NewDB(t)
	const pid, token = "1098765432", "EAAG-good-token"
	g := newDoctorGraph(t, pid, token)
	llm := fakeLLM(t, "sk-good", "gpt-4o-mini", "gpt-4o")
	env := map[string]string{
		"PARLEY_SECRET_KEY":            doctorSecret,
		"PARLEY_BASE_URL":              "http://127.0.0.1:8080",
		"REDIS_URL":                    testkit.RedisURL(t),
		"PARLEY_LLM_BASE_URL":          llm.URL + "/v1",
		"PARLEY_LLM_API_KEY":           "sk-good",
		"PARLEY_WHATSAPP_GRAPH_URL":    g.URL + "/v21.0",
		"PARLEY_WHATSAPP_APP_SECRET":   "app-secret",
		"PARLEY_WHATSAPP_VERIFY_TOKEN": "verify-me",
	}
	if db.Dialect == store.Postgres {
		env["DATABASE_URL"] = db.DatabaseURL
	} else {
		env["DATABASE_URL"] = "sqlite://" + db.SQLitePath
	}
	s := db.Open(t)
	ctx := context.Background()
	h, _ := auth.HashPassword("password-123")
	ws, _, err := s.CreateWorkspaceWithUser(ctx, "WS", "a@example.com", h)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.DeriveKeys(doctorSecret)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := keys.Encrypt(token)
	if err != nil {
		t.Fatal(err)
	}
	p := pid
	if err := s.CreateAssistant(ctx, &store.Assistant{WorkspaceID: ws.ID, Name: "Shop", WhatsAppPhoneNumberID: &p, WhatsAppAccessTokenEnc: enc}); err != nil {
		t.Fatal(err)
	}
	return &doctorCase{db: db, env: env, graph: g}
}

// lines maps each check name to its printed line.
func doctorLines(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || (f[0] != "OK" && f[0] != "WARN" && f[0] != "FAIL") {
			continue
		}
		name := strings.TrimSpace(l[6:min(len(l), 27)])
		m[name] = l
	}
	return m
}

func expectLine(t *testing.T, lines map[string]string, name, status string, contains ...string) {
	t.Helper()
	l, ok := lines[name]
	if !ok {
		t.Errorf("no %q line in %v", name, lines)
		return
	}
	if !strings.HasPrefix(l, status+" ") {
		t.Errorf("%s: want %s: %s", name, status, l)
	}
	for _, c := range contains {
		if !strings.Contains(l, c) {
			t.Errorf("%s: want %q in: %s", name, c, l)
		}
	}
}

func TestDoctorHealthy(t *testing.T) {
	c := healthyDoctor(t)
	code, out, stderr := run(t, c.env, "doctor")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	lines := doctorLines(t, out)
	order := []string{"configuration", "secret key", "base URL", "embedded mode", "database", "migrations", "redis", "queues", "llm", "whatsapp", "whatsapp 1098765432"}
	var got []string
	for _, l := range strings.Split(out, "\n") {
		for _, n := range order {
			if len(l) > 6 && strings.TrimSpace(l[6:min(len(l), 27)]) == n {
				got = append(got, n)
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(order, ",") {
		t.Fatalf("checks in order %v, want %v\n%s", got, order, out)
	}
	expectLine(t, lines, "configuration", "OK")
	expectLine(t, lines, "secret key", "OK", "PARLEY_SECRET_KEY is set (44 characters)")
	dialect := "PostgreSQL"
	if c.db.Dialect == store.SQLite {
		dialect = "SQLite"
		expectLine(t, lines, "embedded mode", "WARN", "SQLite file")
	} else {
		expectLine(t, lines, "embedded mode", "OK")
	}
	expectLine(t, lines, "database", "OK", dialect, "dialect: "+string(c.db.Dialect))
	expectLine(t, lines, "migrations", "OK", "applied")
	expectLine(t, lines, "redis", "OK", "answers")
	expectLine(t, lines, "queues", "OK", "0 pending, 0 waiting for a retry, 0 archived")
	expectLine(t, lines, "llm", "OK", "lists 2 model(s), including gpt-4o-mini")
	expectLine(t, lines, "whatsapp", "OK", "are set")
	expectLine(t, lines, "whatsapp 1098765432", "OK", `assistant "Shop"`, "the token works for +1 555-0100 (Shop & Co)")
	if strings.Contains(out, "FAIL") || stderr != "" {
		t.Fatalf("healthy run: %s %s", out, stderr)
	}

	// --json: the same checks, machine-readable.
	code, out, _ = run(t, c.env, "doctor", "--json")
	var rep struct {
		OK     bool `json:"ok"`
		Checks []struct{ Name, Status, Message string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.OK || len(rep.Checks) != len(order) {
		t.Fatalf("json: exit %d, %v, %+v", code, err, rep)
	}
}

func TestDoctorProviderErrors(t *testing.T) {
	c := healthyDoctor(t)
	c.env["PARLEY_LLM_API_KEY"] = "sk-bad"
	// The assistant's token is revoked on Meta's side: the fake only accepts another one.
	g := newDoctorGraph(t, "1098765432", "EAAG-some-other-token")
	c.env["PARLEY_WHATSAPP_GRAPH_URL"] = g.URL + "/v21.0"
	code, out, stderr := run(t, c.env, "doctor")
	if code != 1 || !strings.Contains(stderr, "2 check(s) failed") {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, out)
	}
	lines := doctorLines(t, out)
	expectLine(t, lines, "llm", "FAIL", "HTTP 401", "Incorrect API key provided", "invalid_request_error", "invalid_api_key", "PARLEY_LLM_API_KEY")
	expectLine(t, lines, "whatsapp 1098765432", "FAIL", "HTTP 401, code 190: Invalid OAuth access token.", "invalid or has expired", "system-user token")
	if strings.Contains(out, "EAAG") || strings.Contains(out, "sk-bad") {
		t.Fatal("a secret is printed")
	}
	if g.calls() != 1 {
		t.Fatalf("graph calls: %d", g.calls())
	}

	// The default model missing from the list, and an archived task: warnings, exit 0.
	c = healthyDoctor(t)
	c.env["PARLEY_LLM_MODEL"] = "llama3.1:8b"
	rc := redisClient(t, c.env["REDIS_URL"])
	ti, err := asynq.NewClientFromRedisClient(rc).Enqueue(asynq.NewTask("test:dead", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := asynq.NewInspectorFromRedisClient(rc).ArchiveTask("default", ti.ID); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, c.env, "doctor")
	lines = doctorLines(t, out)
	if code != 0 {
		t.Fatalf("warnings only: exit %d\n%s", code, out)
	}
	expectLine(t, lines, "llm", "WARN", "not among them: llama3.1:8b", "PARLEY_LLM_MODEL")
	expectLine(t, lines, "queues", "WARN", "1 archived", "failed for good", "Queues page")
}

func redisClient(t *testing.T, u string) redis.UniversalClient {
	t.Helper()
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDoctorPendingMigration(t *testing.T) {
	c := healthyDoctor(t)
	s := c.db.Open(t)
	ctx := context.Background()
	st, err := s.MigrationStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := st[len(st)-1]
	if _, err := s.DB.NewDelete().Table("bun_migrations").Where("name = ?", last.Name).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, c.env, "doctor")
	lines := doctorLines(t, out)
	name := last.Name + "_" + last.Comment
	if c.db.Dialect == store.Postgres {
		if code != 1 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		expectLine(t, lines, "migrations", "FAIL", fmt.Sprintf("1 of %d pending: %s", len(st), name), "parley migrate up")
	} else {
		if code != 0 { // SQLite migrates itself at start: a warning
			t.Fatalf("exit %d\n%s", code, out)
		}
		expectLine(t, lines, "migrations", "WARN", fmt.Sprintf("1 of %d pending: %s", len(st), name))
	}
	expectLine(t, lines, "whatsapp numbers", "WARN", "not checked: the migrations are not all applied")
	if n, _ := s.Pending(ctx); n != 1 {
		t.Fatalf("doctor applied a migration: %d pending", n)
	}

	// An empty database: every migration pending, and doctor creates no table.
	p := filepath.Join(t.TempDir(), "empty.db")
	es, err := store.OpenSQLite(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	es.Close()
	env := map[string]string{"DATABASE_URL": "sqlite://" + p, "PARLEY_SECRET_KEY": doctorSecret}
	code, out, _ = run(t, env, "doctor")
	expectLine(t, doctorLines(t, out), "migrations", "WARN", fmt.Sprintf("%d of %d pending: %s", len(st), len(st), st[0].Name+"_"+st[0].Comment))
	if code != 0 {
		t.Fatalf("empty sqlite: exit %d\n%s", code, out)
	}
	es, err = store.OpenSQLite(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	var tables int
	if err := es.DB.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table'").Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("doctor created %d table(s) (%v)", tables, err)
	}
	// No secret key file written either, with no key set.
	env = map[string]string{"DATABASE_URL": "sqlite://" + p}
	code, out, _ = run(t, env, "doctor")
	expectLine(t, doctorLines(t, out), "secret key", "WARN", "does not exist yet")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if matches, _ := filepath.Glob(p + ".secret"); len(matches) != 0 {
		t.Fatal("doctor wrote a secret key file")
	}
}

func TestDoctorRedisUnreachable(t *testing.T) {
	c := healthyDoctor(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // a closed port: connection refused
	c.env["REDIS_URL"] = "redis://" + addr + "/0"
	code, out, stderr := run(t, c.env, "doctor")
	if code != 1 || !strings.Contains(stderr, "1 check(s) failed") {
		t.Fatalf("exit %d %q\n%s", code, stderr, out)
	}
	lines := doctorLines(t, out)
	expectLine(t, lines, "redis", "FAIL", "Redis at "+addr+" does not answer", "refused", "Start Redis")
	expectLine(t, lines, "queues", "WARN", "not checked: Redis does not answer")
	expectLine(t, lines, "database", "OK")
}

func TestDoctorBadConfiguration(t *testing.T) {
	code, out, stderr := run(t, map[string]string{"PARLEY_SECRET_KEY": "short", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "x.db")}, "doctor")
	if code != 2 || !strings.Contains(stderr, "configuration error: PARLEY_SECRET_KEY") {
		t.Fatalf("exit %d %q", code, stderr)
	}
	expectLine(t, doctorLines(t, out), "configuration", "FAIL", "at least 32 characters", "Correct PARLEY_SECRET_KEY")
	code, _, stderr = run(t, map[string]string{}, "doctor", "extra")
	if code != 2 || !strings.Contains(stderr, "unexpected argument") {
		t.Fatalf("extra argument: exit %d %q", code, stderr)
	}
	code, out, _ = run(t, nil, "doctor", "--help")
	if code != 0 || !strings.Contains(out, "changes nothing") {
		t.Fatalf("--help: %d %s", code, out)
	}
}
