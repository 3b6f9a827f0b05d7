package store

import (
	"context"
	"fmt"
)

// Read-only queries for `parley doctor`: none of them writes, creates a table or takes a lock.

// ServerVersion is the database server's version ("16.4", or SQLite's "3.46.1").
func (s *Store) ServerVersion(ctx context.Context) (string, error) {
	q := "SELECT sqlite_version()"
	if s.Dialect == Postgres {
		q = "SHOW server_version"
	}
	var v string
	err := s.DB.QueryRowContext(ctx, q).Scan(&v)
	return v, err
}

// InspectMigrations lists every known migration with whether it is applied, like
// MigrationStatuses, but without creating the migration tables when they do not exist yet
// (then every migration is pending).
func (s *Store) InspectMigrations(ctx context.Context) ([]MigrationStatus, error) {
	ok, err := s.migrationTablesExist(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		return s.MigrationStatuses(ctx)
	}
	ms, err := s.migrations()
	if err != nil {
		return nil, err
	}
	var out []MigrationStatus
	for _, m := range ms.Sorted() {
		out = append(out, MigrationStatus{Name: m.Name, Comment: m.Comment})
	}
	return out, nil
}

// migrationTablesExist reports whether bun's migration tables (bun_migrations and
// bun_migration_locks) both exist.
func (s *Store) migrationTablesExist(ctx context.Context) (bool, error) {
	var n int
	var err error
	if s.Dialect == Postgres {
		err = s.DB.QueryRowContext(ctx, "SELECT (to_regclass('bun_migrations') IS NOT NULL)::int + (to_regclass('bun_migration_locks') IS NOT NULL)::int").Scan(&n)
	} else {
		err = s.DB.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('bun_migrations', 'bun_migration_locks')").Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("look for the migration tables: %w", err)
	}
	return n == 2, nil
}

// WhatsAppAssistants lists the assistants of every workspace that have a WhatsApp phone
// number id, by workspace and id.
func (s *Store) WhatsAppAssistants(ctx context.Context) ([]Assistant, error) {
	var as []Assistant
	err := s.DB.NewSelect().Model(&as).
		Where("whatsapp_phone_number_id IS NOT NULL AND whatsapp_phone_number_id <> ''").
		Order("workspace_id", "id").Scan(ctx)
	return as, err
}

// AssistantModels lists the distinct models that assistants of every workspace name.
func (s *Store) AssistantModels(ctx context.Context) ([]string, error) {
	var ms []string
	err := s.DB.NewSelect().Model((*Assistant)(nil)).ColumnExpr("DISTINCT model").
		Where("model <> ''").Order("model").Scan(ctx, &ms)
	return ms, err
}
