// Package store is the only package that builds SQL. It opens PostgreSQL (pgx through bun's
// pgdialect) or SQLite (bun's sqliteshim, pure Go), runs the embedded migrations, and keeps the
// differences between the two dialects in this package.
//
// It owns every statement: one file per aggregate (accounts, workspace, assistants,
// conversations and their list query, messages, variables, inbound events, the usage ledger,
// the rollups, templates, the audit log: audit.go, whose entries the mutations take and write
// in their own transaction) plus the bulk load of app/seed and app/bench (bulk.go) and the test
// databases of app/testkit (testdb.go). JSON columns are decoded here, once, into app/model
// types (assistant_json.go, workspace.go). layout_test.go fails when a non-test file outside
// this package imports a SQL package or calls a SQL method.
//
// It may import app/model and nothing else of Parley: no feature package, no web, no workers.
// Rules (the window, the status rank, money) live in app/model; the store only writes them
// in SQL where a query needs them.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations
var migrationFiles embed.FS

// Dialect names the database behind a Store.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// ErrNotFound is returned when a row does not exist in the caller's workspace.
var ErrNotFound = errors.New("not found")

// Store wraps the bun database.
type Store struct {
	DB      *bun.DB
	Dialect Dialect
	// URL is the connection string (postgres) or file path (sqlite) the store was opened with.
	URL string
}

// Open connects to databaseURL: a postgres:// URL, or a SQLite file path (sqliteFile) when
// databaseURL is empty.
func Open(ctx context.Context, databaseURL, sqliteFile string) (*Store, error) {
	if databaseURL != "" && !strings.HasPrefix(databaseURL, "sqlite://") {
		return OpenPostgres(ctx, databaseURL)
	}
	if sqliteFile == "" {
		sqliteFile = strings.TrimPrefix(databaseURL, "sqlite://")
	}
	return OpenSQLite(ctx, sqliteFile)
}

// postgresMaxConns bounds one process's pool, so that a few web and worker processes stay
// within PostgreSQL's default max_connections (100).
const postgresMaxConns = 20

// OpenPostgres opens a PostgreSQL pool.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// bun writes every argument into the SQL text, so no two statements share a text and pgx's
	// default (prepare each new text, cache it, deallocate the oldest) cost an extra round trip
	// and a server-side plan per query. The simple protocol sends the text once.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	sqldb := stdlib.OpenDB(*cfg)
	// As many idle connections as open ones: with fewer, every burst past the idle limit closes
	// connections on release and opens new ones (a PostgreSQL backend fork each) on the next
	// request; under webhook load that churn took most of the database's CPU.
	sqldb.SetMaxOpenConns(postgresMaxConns)
	sqldb.SetMaxIdleConns(postgresMaxConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	db := bun.NewDB(sqldb, pgdialect.New())
	s := &Store{DB: db, Dialect: Postgres, URL: dsn}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return s, nil
}

// OpenSQLite opens (creating if needed) a SQLite file with WAL, a busy timeout and foreign
// keys, on a single connection so that writes from web and workers in one process are
// serialised and no request sees "database is locked".
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// The file holds every customer's messages: only this user may read it. SQLite gives its
	// -wal and -shm files the database file's mode, so creating it 0600 covers all three; an
	// existing file made by an older version is narrowed too.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	for _, side := range []string{path + "-wal", path + "-shm"} {
		if err := os.Chmod(side, 0o600); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("open sqlite %s: %w", side, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Deleted rows are overwritten with zeros, not left in free pages (erasure, see Scrub).
	q.Add("_pragma", "secure_delete(1)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	sqldb, err := sql.Open(sqliteshim.ShimName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	sqldb.SetMaxOpenConns(1)
	sqldb.SetMaxIdleConns(1)
	sqldb.SetConnMaxLifetime(0)
	sqldb.SetConnMaxIdleTime(0)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	s := &Store{DB: db, Dialect: SQLite, URL: path}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() error { return s.DB.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.DB.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Tx runs fn in a transaction, committing when it returns nil.
func (s *Store) Tx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx) })
}

// txKey holds, in the context given to a WithTx callback, its transaction.
type txKey struct{}

// WithTx runs fn in one transaction that the store's methods called with fn's context join
// (conn): a feature can then make a store call of another package (a login's session row)
// part of its own change. Only the methods that use conn join; the others would wait for the
// transaction (SQLite has one connection), so WithTx callers call only those.
func (s *Store) WithTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	if tx, ok := ctx.Value(txKey{}).(bun.Tx); ok {
		return fn(ctx, tx)
	}
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return fn(context.WithValue(ctx, txKey{}, tx), tx)
	})
}

// conn is the transaction of ctx (WithTx's) when there is one, else the database.
func (s *Store) conn(ctx context.Context) bun.IDB {
	if tx, ok := ctx.Value(txKey{}).(bun.Tx); ok {
		return tx
	}
	return s.DB
}

// IsUniqueViolation reports whether err is a unique-constraint violation on either dialect.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// now is the store's clock: UTC, truncated to microseconds (what both databases keep), so that
// values read back compare equal to the values written and keyset cursors are exact.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Now is exported for domain code that needs the same truncation.
func Now() time.Time { return now() }

// ---- migrations ----

// migrations are the embedded migrations of the store's dialect.
func (s *Store) migrations() (*migrate.Migrations, error) {
	sub, err := fs.Sub(migrationFiles, "migrations/"+s.dialectDir())
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, err
	}
	return ms, nil
}

func (s *Store) migrator() (*migrate.Migrator, error) {
	ms, err := s.migrations()
	if err != nil {
		return nil, err
	}
	return migrate.NewMigrator(s.DB, ms, migrate.WithMarkAppliedOnSuccess(true)), nil
}

func (s *Store) dialectDir() string {
	if s.Dialect == Postgres {
		return "pg"
	}
	return "sqlite"
}

// MigrationStatus is one line of `parley migrate status`.
type MigrationStatus struct {
	Name      string
	Comment   string
	Applied   bool
	GroupID   int64
	AppliedAt time.Time
}

// withLock initialises the migration tables and runs fn under the migrator's lock, waiting up
// to lockWait for another process that holds it.
func (s *Store) withLock(ctx context.Context, fn func(m *migrate.Migrator) error) error {
	m, err := s.migrator()
	if err != nil {
		return err
	}
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("migrate init: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := m.Lock(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w; if no other process is migrating, a crashed one left the lock: run `DELETE FROM bun_migration_locks`", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	defer m.Unlock(context.WithoutCancel(ctx)) //nolint:errcheck
	return fn(m)
}

var lockWait = 2 * time.Minute

// MigrateUp applies every pending migration and returns the names applied.
func (s *Store) MigrateUp(ctx context.Context) ([]string, error) {
	var names []string
	err := s.withLock(ctx, func(m *migrate.Migrator) error {
		g, err := m.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		for _, mg := range g.Migrations {
			names = append(names, mg.Name+"_"+mg.Comment)
		}
		return nil
	})
	return names, err
}

// MigrateDown rolls back the last group of migrations and returns the names rolled back.
func (s *Store) MigrateDown(ctx context.Context) ([]string, error) {
	var names []string
	err := s.withLock(ctx, func(m *migrate.Migrator) error {
		g, err := m.Rollback(ctx)
		if err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		for _, mg := range g.Migrations {
			names = append(names, mg.Name+"_"+mg.Comment)
		}
		return nil
	})
	return names, err
}

// MigrationStatuses lists every known migration with whether it is applied.
func (s *Store) MigrationStatuses(ctx context.Context) ([]MigrationStatus, error) {
	m, err := s.migrator()
	if err != nil {
		return nil, err
	}
	if err := m.Init(ctx); err != nil {
		return nil, err
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MigrationStatus, 0, len(ms))
	for _, mg := range ms {
		out = append(out, MigrationStatus{Name: mg.Name, Comment: mg.Comment, Applied: mg.IsApplied(), GroupID: mg.GroupID, AppliedAt: mg.MigratedAt})
	}
	return out, nil
}

// Pending reports how many migrations are not applied.
func (s *Store) Pending(ctx context.Context) (int, error) {
	st, err := s.MigrationStatuses(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range st {
		if !m.Applied {
			n++
		}
	}
	return n, nil
}

var _ = stdlib.GetDefaultDriver // registers the "pgx" database/sql driver

// MigrationFS is the embedded migration files (for tests that fingerprint them).
func MigrationFS() fs.FS { return migrationFiles }
