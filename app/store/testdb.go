package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"
)

// Databases for tests (app/testkit): creating and dropping whole PostgreSQL databases is SQL
// too, so it lives here. name and tpl are identifiers the caller made (letters, digits, _).

// PingPostgres checks that the PostgreSQL server at base answers within 5 seconds.
func PingPostgres(ctx context.Context, base string) error {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return err
	}
	defer admin.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return admin.PingContext(pctx)
}

// EnsureMigratedTemplate creates the database tpl on the server at base, migrated up, unless
// it exists. One creator across every process: a session-level advisory lock.
func EnsureMigratedTemplate(ctx context.Context, base, tpl string) error {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return err
	}
	defer admin.Close()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(4242002)`); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(4242002)`) //nolint:errcheck
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tpl).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	tmp := tpl + "_build"
	_, _ = conn.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, tmp))
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s`, tmp)); err != nil {
		return err
	}
	s, err := OpenPostgres(ctx, WithDatabaseName(base, tmp))
	if err != nil {
		return err
	}
	_, merr := s.MigrateUp(ctx)
	s.Close()
	if merr != nil {
		return merr
	}
	_, err = conn.ExecContext(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, tmp, tpl))
	return err
}

// CreateDatabaseFromTemplate creates the database name on the server at base as a copy of tpl.
func CreateDatabaseFromTemplate(ctx context.Context, base, name, tpl string) error {
	return adminExec(ctx, base, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tpl))
}

// DropDatabase drops the database name on the server at base, disconnecting its sessions.
func DropDatabase(ctx context.Context, base, name string) error {
	return adminExec(ctx, base, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
}

func adminExec(ctx context.Context, base, stmt string) error {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err = admin.ExecContext(ctx, stmt)
	return err
}

// WithDatabaseName is the PostgreSQL URL base pointed at the database name.
func WithDatabaseName(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}
