// Package testkit gives each test real parts: a fresh database (a SQLite file in t.TempDir(),
// or with DATABASE_URL a new PostgreSQL database cloned from a migrated template) and a Redis
// (miniredis, or with REDIS_URL the real server on a database index of its own).
// With PARLEY_REQUIRE_SERVICES=1 a missing server fails the test instead of skipping it.
//
// It also holds the one fake Graph API (graph.go) and the one fake OpenAI-compatible server
// (llm.go) that every test uses, and the headless browser (browser.go). Only tests import it;
// it builds no SQL of its own (app/store's testdb.go creates and drops test databases).
package testkit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
)

// RequireServices reports PARLEY_REQUIRE_SERVICES=1.
func RequireServices() bool { return os.Getenv("PARLEY_REQUIRE_SERVICES") == "1" }

// unavailable skips, or fails when services are required.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if RequireServices() {
		t.Fatalf("PARLEY_REQUIRE_SERVICES=1: "+format, args...)
	}
	t.Skipf(format+" (PARLEY_REQUIRE_SERVICES=1 turns this into a failure)", args...)
}

// PostgresURL is DATABASE_URL when it points at PostgreSQL.
func PostgresURL() string {
	u := os.Getenv("DATABASE_URL")
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		return u
	}
	return ""
}

// DB is a fresh database for one test.
type DB struct {
	Dialect     store.Dialect
	DatabaseURL string // postgres URL, or "" for SQLite
	SQLitePath  string
}

// NewDB makes a fresh, migrated database of the suite's dialect (PostgreSQL when DATABASE_URL
// is set, SQLite otherwise).
func NewDB(t testing.TB) DB {
	t.Helper()
	if PostgresURL() != "" {
		return NewPostgresDB(t)
	}
	if RequireServices() {
		t.Fatal("PARLEY_REQUIRE_SERVICES=1 but DATABASE_URL is not a postgres:// URL")
	}
	return NewSQLiteDB(t)
}

// NewSQLiteDB makes a fresh migrated SQLite file.
func NewSQLiteDB(t testing.TB) DB {
	t.Helper()
	p := filepath.Join(t.TempDir(), "parley.db")
	s, err := store.OpenSQLite(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	return DB{Dialect: store.SQLite, SQLitePath: p}
}

var tplOnce sync.Map // template name -> error

// NewPostgresDB clones a fresh database from a template migrated once per migration set.
func NewPostgresDB(t testing.TB) DB {
	t.Helper()
	base := PostgresURL()
	if base == "" {
		unavailable(t, "DATABASE_URL is not set to a postgres:// URL")
	}
	ctx := context.Background()
	if err := store.PingPostgres(ctx, base); err != nil {
		unavailable(t, "PostgreSQL at DATABASE_URL does not answer: %v", err)
	}
	tpl, err := ensureTemplate(ctx, base)
	if err != nil {
		t.Fatalf("postgres template: %v", err)
	}
	name := "parley_t_" + randHex(8)
	if err := store.CreateDatabaseFromTemplate(ctx, base, name, tpl); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { _ = store.DropDatabase(context.Background(), base, name) })
	return DB{Dialect: store.Postgres, DatabaseURL: store.WithDatabaseName(base, name)}
}

func ensureTemplate(ctx context.Context, base string) (string, error) {
	h := sha256.New()
	_ = fs.WalkDir(store.MigrationFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(store.MigrationFS(), p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	tpl := "parley_tpl_" + hex.EncodeToString(h.Sum(nil))[:12]
	if v, ok := tplOnce.Load(tpl); ok {
		if v == nil {
			return tpl, nil
		}
	}
	if err := store.EnsureMigratedTemplate(ctx, base, tpl); err != nil {
		return "", err
	}
	tplOnce.Store(tpl, nil)
	return tpl, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Open opens a store on the test database.
func (d DB) Open(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), d.DatabaseURL, d.SQLitePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Store is a fresh migrated store of the suite's dialect.
func Store(t testing.TB) *store.Store {
	t.Helper()
	return NewDB(t).Open(t)
}

// EachDialect runs fn on SQLite, and on PostgreSQL as well when DATABASE_URL is set: the store
// must pass the same tests on both.
func EachDialect(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, NewSQLiteDB(t).Open(t)) })
	if PostgresURL() != "" || RequireServices() {
		t.Run("postgres", func(t *testing.T) { fn(t, NewPostgresDB(t).Open(t)) })
	}
}

// RedisURL returns a Redis for one test: with REDIS_URL, the real server on a database index
// locked for this test and flushed before and after; otherwise a fresh miniredis.
func RedisURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("REDIS_URL")
	if base == "" {
		if RequireServices() {
			t.Fatal("PARLEY_REQUIRE_SERVICES=1 but REDIS_URL is not set")
		}
		m := miniredis.RunT(t)
		return "redis://" + m.Addr() + "/0"
	}
	opts, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	ctl := redis.NewClient(opts)
	defer ctl.Close()
	ctx := context.Background()
	if err := ctl.Ping(ctx).Err(); err != nil {
		unavailable(t, "Redis at REDIS_URL does not answer: %v", err)
	}
	token := randHex(8)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		for idx := 1; idx <= 15; idx++ {
			key := fmt.Sprintf("parley:testlock:%d", idx)
			ok, err := ctl.SetNX(ctx, key, token, 10*time.Minute).Result()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				continue
			}
			o := *opts
			o.DB = idx
			c := redis.NewClient(&o)
			c.FlushDB(ctx)
			c.Close()
			t.Cleanup(func() {
				c := redis.NewClient(&o)
				c.FlushDB(context.Background())
				c.Close()
				l := redis.NewClient(opts)
				if v, _ := l.Get(context.Background(), key).Result(); v == token {
					l.Del(context.Background(), key)
				}
				l.Close()
			})
			u, _ := url.Parse(base)
			u.Path = fmt.Sprintf("/%d", idx)
			return u.String()
		}
		if time.Now().After(deadline) {
			t.Fatal("no free Redis database index for this test (15 in use)")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Config is a valid configuration on a fresh database and Redis.
func Config(t testing.TB) *config.Config {
	t.Helper()
	db := NewDB(t)
	return ConfigFor(t, db, RedisURL(t))
}

// ConfigFor builds a configuration on the given database and Redis.
func ConfigFor(t testing.TB, db DB, redisURL string) *config.Config {
	t.Helper()
	return ConfigForEnv(t, db, redisURL, nil)
}

// ConfigWith is Config with more variables (PARLEY_SMTP_URL, ...) set.
func ConfigWith(t testing.TB, extra map[string]string) *config.Config {
	t.Helper()
	return ConfigForEnv(t, NewDB(t), RedisURL(t), extra)
}

// ConfigForEnv builds a configuration on the given database and Redis, with the variables of
// extra set as well.
func ConfigForEnv(t testing.TB, db DB, redisURL string, extra map[string]string) *config.Config {
	t.Helper()
	env := map[string]string{
		"PARLEY_SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
		"PARLEY_BASE_URL":   "http://127.0.0.1:8080",
		"PARLEY_LOG_LEVEL":  "warn",
		"REDIS_URL":         redisURL,
	}
	if db.Dialect == store.Postgres {
		env["DATABASE_URL"] = db.DatabaseURL
	} else {
		env["DATABASE_URL"] = "sqlite://" + db.SQLitePath
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// App opens an App on cfg and closes it at the end of the test.
func App(t testing.TB, cfg *config.Config) *app.App {
	t.Helper()
	a, err := app.Open(context.Background(), cfg, app.Options{Logger: Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// Logger discards logs unless PARLEY_TEST_LOG=1.
func Logger(t testing.TB) *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
