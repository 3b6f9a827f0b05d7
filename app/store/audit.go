package store

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/uptrace/bun"
)

// AuditEntry is one row of the audit log: who (actor) did what (action) to what (target),
// when, with details (a JSON object as text). app/audit builds entries; the store writes them
// in the transaction of the change they record (insertAudit), so that an entry exists exactly
// when its change does. TargetID "" on an entry handed to a create method (CreateAPIKey,
// CreateAssistant) is filled with the new row's id.
type AuditEntry struct {
	bun.BaseModel `bun:"table:audit_log"`
	ID            int64     `bun:"id,pk,autoincrement"`
	WorkspaceID   int64     `bun:"workspace_id"`
	At            time.Time `bun:"at"`
	ActorType     string    `bun:"actor_type"`
	ActorID       string    `bun:"actor_id"`
	ActorName     string    `bun:"actor_name"`
	Action        string    `bun:"action"`
	TargetType    string    `bun:"target_type"`
	TargetID      string    `bun:"target_id"`
	Details       string    `bun:"details"`
}

// insertAudit writes entries (nil ones are skipped) with db, the caller's transaction. An
// entry without a time gets the store's clock; without details, "{}".
func insertAudit(ctx context.Context, db bun.IDB, entries []*AuditEntry) error {
	for _, e := range entries {
		if e == nil {
			continue
		}
		if e.WorkspaceID <= 0 || e.Action == "" || e.ActorType == "" {
			return errors.New("audit entry without workspace, action or actor")
		}
		if e.At.IsZero() {
			e.At = now()
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		if e.Details == "" {
			e.Details = "{}"
		}
		e.ID = 0
		if _, err := db.NewInsert().Model(e).ExcludeColumn("id").Returning("id").Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// withAudit runs fn and writes entries in one transaction (fn's changes and the entries
// commit together or not at all). Without entries fn runs on the database directly, as it
// did before the audit log.
func (s *Store) withAudit(ctx context.Context, entries []*AuditEntry, fn func(ctx context.Context, db bun.IDB) error) error {
	if !hasEntries(entries) {
		return fn(ctx, s.DB)
	}
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return insertAudit(ctx, tx, entries)
	})
}

func hasEntries(entries []*AuditEntry) bool {
	for _, e := range entries {
		if e != nil {
			return true
		}
	}
	return false
}

// fillTarget gives the entries without a target id the id of the row just created.
func fillTarget(entries []*AuditEntry, id int64) {
	for _, e := range entries {
		if e != nil && e.TargetID == "" {
			e.TargetID = strconv.FormatInt(id, 10)
		}
	}
}

// RecordAudit writes entries that record no change of their own (an export, a bulk deletion
// asked for, a sign-in): one transaction.
func (s *Store) RecordAudit(ctx context.Context, entries ...*AuditEntry) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error { return insertAudit(ctx, tx, entries) })
}

// AuditFilter narrows the audit log: an exact action, an actor (type and id).
type AuditFilter struct {
	Action    string
	ActorType string
	ActorID   string
}

// AuditLog lists a workspace's entries, newest first, limit at a time after cursor ("" for the
// first page), and the cursor of the next page ("" after the last).
func (s *Store) AuditLog(ctx context.Context, workspaceID int64, f AuditFilter, cursor string, limit int) ([]AuditEntry, string, error) {
	if limit <= 0 {
		limit = 50
	}
	q := s.DB.NewSelect().Model((*AuditEntry)(nil)).Where("workspace_id = ?", workspaceID)
	if cursor != "" {
		id, err := DecodeAuditCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("id < ?", id)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.ActorType != "" {
		q = q.Where("actor_type = ?", f.ActorType)
	}
	if f.ActorID != "" {
		q = q.Where("actor_id = ?", f.ActorID)
	}
	var rows []AuditEntry
	if err := q.Order("id DESC").Limit(int64(limit)+1).Scan(ctx, &rows); err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = EncodeAuditCursor(rows[limit-1].ID)
	}
	return rows, next, nil
}

// AuditActors lists the distinct actors of a workspace's log (type, id and the latest name),
// for the filter's choices.
func (s *Store) AuditActors(ctx context.Context, workspaceID int64) ([]AuditEntry, error) {
	var rows []AuditEntry
	err := s.DB.NewSelect().Model((*AuditEntry)(nil)).
		ColumnExpr("actor_type, actor_id, MAX(actor_name) AS actor_name").
		Where("workspace_id = ?", workspaceID).
		Group("actor_type", "actor_id").Order("actor_type", "actor_id").Limit(500).Scan(ctx, &rows)
	return rows, err
}

// PruneAudit deletes up to limit entries (of every workspace) older than before, oldest
// first, and says how many.
func (s *Store) PruneAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	ids := s.DB.NewSelect().Model((*AuditEntry)(nil)).Column("id").
		Where("at < ?", before.UTC()).Order("at ASC", "id ASC").Limit(int64(limit))
	res, err := s.DB.NewDelete().Model((*AuditEntry)(nil)).Where("id IN (?)", ids).Exec(ctx)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// EncodeAuditCursor is the opaque position after the entry id.
func EncodeAuditCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("audit." + strconv.FormatInt(id, 10)))
}

// DecodeAuditCursor reads what EncodeAuditCursor gives; anything else is ErrBadCursor.
func DecodeAuditCursor(s string) (int64, error) {
	if s == "" || len(s) > 64 {
		return 0, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 7 || string(raw[:6]) != "audit." {
		return 0, ErrBadCursor
	}
	id, err := strconv.ParseInt(string(raw[6:]), 10, 64)
	if err != nil || id <= 0 || EncodeAuditCursor(id) != s {
		return 0, ErrBadCursor
	}
	return id, nil
}
