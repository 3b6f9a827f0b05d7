package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// Bulk load: the statements app/seed (Bulk, and Demo's idempotency check) and app/bench use
// to write generated rows directly, with every stored list field precomputed by the caller.

// BulkBatch is one batch of generated rows with their ids already assigned (from
// ReserveBulkIDs on PostgreSQL, from NextBulkIDs inside WriteBulkSQLite's transaction on
// SQLite), and how many conversations of each type it adds to conversation_counts.
type BulkBatch struct {
	Convs  []Conversation
	Msgs   []Message
	Vars   []ConversationVariable
	ByType map[string]int64
}

// CountAssistantsWithPublicKeys counts the workspace's assistants whose public key is one of
// keys.
func (s *Store) CountAssistantsWithPublicKeys(ctx context.Context, workspaceID int64, keys []string) (int64, error) {
	return s.DB.NewSelect().Model((*Assistant)(nil)).
		Where("workspace_id = ? AND public_key IN (?)", workspaceID, bun.List(keys)).Count(ctx)
}

// ReserveBulkIDs (PostgreSQL) takes blocks of ids from the conversations and messages sequences. The tables are
// locked (EXCLUSIVE: reads go on, inserts wait) for the few milliseconds between nextval and
// setval, so that no concurrent insert can take an id inside a block.
func (s *Store) ReserveBulkIDs(ctx context.Context, nConv, nMsg int64) (convBase, msgBase int64, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "LOCK TABLE conversations, messages IN EXCLUSIVE MODE"); err != nil {
			return err
		}
		for _, r := range []struct {
			table string
			n     int64
			base  *int64
		}{{"conversations", nConv, &convBase}, {"messages", nMsg, &msgBase}} {
			if err := tx.NewRaw("SELECT nextval(pg_get_serial_sequence(?, 'id'))", r.table).Scan(ctx, r.base); err != nil {
				return err
			}
			if _, err := tx.NewRaw("SELECT setval(pg_get_serial_sequence(?, 'id'), ?)", r.table, *r.base+r.n-1).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	return convBase, msgBase, err
}

// nextSQLiteID is the next free id of an AUTOINCREMENT table, inside the caller's (write)
// transaction: past both the largest id and the largest id ever handed out.
func nextSQLiteID(ctx context.Context, tx bun.Tx, table string) (int64, error) {
	var seq, maxID sql.NullInt64
	if err := tx.NewRaw("SELECT seq FROM sqlite_sequence WHERE name = ?", table).Scan(ctx, &seq); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	if err := tx.NewRaw("SELECT MAX(id) FROM ?", bun.Ident(table)).Scan(ctx, &maxID); err != nil {
		return 0, err
	}
	return max(seq.Int64, maxID.Int64) + 1, nil
}

// WriteBulkSQLite runs one SQLite write transaction: it gives fill the next free
// conversation and message ids, then writes the batch fill made with multi-row INSERTs.
func (s *Store) WriteBulkSQLite(ctx context.Context, fill func(convBase, msgBase int64) *BulkBatch) error {
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		convBase, err := nextSQLiteID(ctx, tx, "conversations")
		if err != nil {
			return err
		}
		msgBase, err := nextSQLiteID(ctx, tx, "messages")
		if err != nil {
			return err
		}
		return writeSQLite(ctx, tx, fill(convBase, msgBase))
	})
}

// FinishBulkPG merges the search index's pending list (an error there is only reported:
// VACUUM messages does it later) and analyzes the bulk-loaded tables.
func (s *Store) FinishBulkPG(ctx context.Context) (mergeErr, analyzeErr error) {
	if _, err := s.DB.ExecContext(ctx, "SELECT gin_clean_pending_list('messages_search_idx'::regclass)"); err != nil {
		mergeErr = err
	}
	if _, err := s.DB.ExecContext(ctx, "ANALYZE conversations, messages, conversation_variables, conversation_counts"); err != nil {
		analyzeErr = err
	}
	return mergeErr, analyzeErr
}

var (
	convColumns = []string{"id", "workspace_id", "assistant_id", "type", "customer", "customer_name", "started_at",
		"last_message_at", "last_inbound_at", "last_message_preview", "last_message_role", "message_count",
		"user_message_count", "prompt_tokens", "cached_tokens", "completion_tokens", "cost_nanos", "charged",
		"variables", "window_expires_at", "window_closed_at", "ai_enabled", "last_error", "created_at", "updated_at"}
	msgColumns = []string{"id", "workspace_id", "conversation_id", "role", "content", "content_type", "created_at",
		"provider_message_id", "status", "status_error", "status_updated_at", "prompt_tokens", "cached_tokens",
		"completion_tokens", "cost_nanos"}
	varColumns = []string{"workspace_id", "conversation_id", "name", "value", "source", "message_id", "created_at", "updated_at"}
)

// WriteBulkPG writes a batch in one transaction on one pgx connection: COPY conversations,
// messages and variables, then add the batch to conversation_counts.
func (s *Store) WriteBulkPG(ctx context.Context, b *BulkBatch) error {
	conn, err := s.DB.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		return pgx.BeginFunc(ctx, pc, func(tx pgx.Tx) error {
			// A long GIN pending list merges the search index in big runs (cleaned at the end);
			// a batch that is lost in a crash is simply not there, with its counts.
			if _, err := tx.Exec(ctx, "SET LOCAL gin_pending_list_limit = '64MB'; SET LOCAL synchronous_commit = off"); err != nil {
				return err
			}
			row := make([]any, len(convColumns))
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"conversations"}, convColumns, pgx.CopyFromSlice(len(b.Convs), func(i int) ([]any, error) {
				c := &b.Convs[i]
				row[0], row[1], row[2], row[3], row[4], row[5], row[6] = c.ID, c.WorkspaceID, c.AssistantID, c.Type, c.Customer, c.CustomerName, c.StartedAt
				row[7], row[8], row[9], row[10], row[11] = c.LastMessageAt, c.LastInboundAt, c.LastMessagePreview, c.LastMessageRole, c.MessageCount
				row[12], row[13], row[14], row[15], row[16], row[17] = c.UserMessageCount, c.PromptTokens, c.CachedTokens, c.CompletionTokens, c.CostNanos, c.Charged
				row[18], row[19], row[20], row[21], row[22], row[23], row[24] = c.Variables, c.WindowExpiresAt, c.WindowClosedAt, c.AIEnabled, c.LastError, c.CreatedAt, c.UpdatedAt
				return row, nil
			})); err != nil {
				return fmt.Errorf("copy conversations: %w", err)
			}
			mrow := make([]any, len(msgColumns))
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"messages"}, msgColumns, pgx.CopyFromSlice(len(b.Msgs), func(i int) ([]any, error) {
				m := &b.Msgs[i]
				mrow[0], mrow[1], mrow[2], mrow[3], mrow[4], mrow[5], mrow[6] = m.ID, m.WorkspaceID, m.ConversationID, m.Role, m.Content, m.ContentType, m.CreatedAt
				mrow[7], mrow[8], mrow[9], mrow[10], mrow[11] = m.ProviderMessageID, m.Status, m.StatusError, m.StatusUpdatedAt, m.PromptTokens
				mrow[12], mrow[13], mrow[14] = m.CachedTokens, m.CompletionTokens, m.CostNanos
				return mrow, nil
			})); err != nil {
				return fmt.Errorf("copy messages: %w", err)
			}
			vrow := make([]any, len(varColumns))
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"conversation_variables"}, varColumns, pgx.CopyFromSlice(len(b.Vars), func(i int) ([]any, error) {
				v := &b.Vars[i]
				vrow[0], vrow[1], vrow[2], vrow[3], vrow[4], vrow[5], vrow[6], vrow[7] = v.WorkspaceID, v.ConversationID, v.Name, v.Value, v.Source, v.MessageID, v.CreatedAt, v.UpdatedAt
				return vrow, nil
			})); err != nil {
				return fmt.Errorf("copy variables: %w", err)
			}
			for _, typ := range model.Types { // always in the same order: no deadlock between writers
				if n := b.ByType[typ]; n > 0 {
					if _, err := tx.Exec(ctx, countsUpsertPG, b.Convs[0].WorkspaceID, typ, n); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
}

const countsUpsertPG = `INSERT INTO conversation_counts (workspace_id, type, count) VALUES ($1, $2, $3)
	ON CONFLICT (workspace_id, type) DO UPDATE SET count = conversation_counts.count + EXCLUDED.count`

// writeSQLite writes a batch with multi-row INSERTs inside the caller's transaction.
func writeSQLite(ctx context.Context, tx bun.Tx, b *BulkBatch) error {
	const chunk = 500
	for i := 0; i < len(b.Convs); i += chunk {
		part := b.Convs[i:min(i+chunk, len(b.Convs))]
		for j := range part {
			if part[j].ReviewStatus == "" {
				part[j].ReviewStatus = model.ReviewUnreviewed // the column's default (PostgreSQL's COPY leaves it to the column)
			}
		}
		if _, err := tx.NewInsert().Model(&part).ExcludeColumn("ended_at").Returning("NULL").Exec(ctx); err != nil {
			return fmt.Errorf("insert conversations: %w", err)
		}
	}
	for i := 0; i < len(b.Msgs); i += chunk {
		part := b.Msgs[i:min(i+chunk, len(b.Msgs))]
		if _, err := tx.NewInsert().Model(&part).Returning("NULL").Exec(ctx); err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
	}
	for i := 0; i < len(b.Vars); i += chunk {
		part := b.Vars[i:min(i+chunk, len(b.Vars))]
		if _, err := tx.NewInsert().Model(&part).ExcludeColumn("id").Returning("NULL").Exec(ctx); err != nil {
			return fmt.Errorf("insert variables: %w", err)
		}
	}
	for _, typ := range model.Types {
		if n := b.ByType[typ]; n > 0 {
			if _, err := tx.NewRaw(`INSERT INTO conversation_counts (workspace_id, type, count) VALUES (?, ?, ?)
				ON CONFLICT (workspace_id, type) DO UPDATE SET count = conversation_counts.count + EXCLUDED.count`,
				b.Convs[0].WorkspaceID, typ, n).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- app/bench: the probes and the query recorder of the load tools ----

// RecordedQuery is one statement a QueryRecorder saw and how long it took.
type RecordedQuery struct {
	SQL      string
	Duration time.Duration
}

// QueryRecorder records the statements the store runs while it is armed.
type QueryRecorder struct {
	mu      sync.Mutex
	armed   bool
	queries []RecordedQuery
}

// RecordQueries hooks a new QueryRecorder into s (every later query of s passes through it).
func (s *Store) RecordQueries() *QueryRecorder {
	rec := &QueryRecorder{}
	s.DB = s.DB.WithQueryHook(rec)
	return rec
}

// BeforeQuery implements bun.QueryHook.
func (r *QueryRecorder) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

// AfterQuery implements bun.QueryHook.
func (r *QueryRecorder) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.armed {
		r.queries = append(r.queries, RecordedQuery{SQL: e.Query, Duration: time.Since(e.StartTime)})
	}
}

// Arm starts a recording, forgetting the last one.
func (r *QueryRecorder) Arm() {
	r.mu.Lock()
	r.armed, r.queries = true, nil
	r.mu.Unlock()
}

// Disarm stops the recording and returns it.
func (r *QueryRecorder) Disarm() []RecordedQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed = false
	q := r.queries
	r.queries = nil
	return q
}

// Explain runs EXPLAIN (ANALYZE, BUFFERS) of a recorded statement (PostgreSQL).
func (s *Store) Explain(ctx context.Context, query string) (string, error) {
	rows, err := s.DB.DB.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+query)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String(), rows.Err()
}

// FirstCustomerOfType is the customer of the workspace's oldest conversation of type typ that
// has one (ErrNotFound when none has).
func (s *Store) FirstCustomerOfType(ctx context.Context, workspaceID int64, typ string) (string, error) {
	var c string
	err := s.DB.NewSelect().TableExpr("conversations").Column("customer").
		Where("workspace_id = ? AND type = ? AND customer <> ''", workspaceID, typ).OrderExpr("id ASC").Limit(1).Scan(ctx, &c)
	return c, notFound(err)
}

// LatestVariableValue is the value of the workspace's newest variable named name.
func (s *Store) LatestVariableValue(ctx context.Context, workspaceID int64, name string) (string, error) {
	var v string
	err := s.DB.NewSelect().TableExpr("conversation_variables").Column("value").
		Where("workspace_id = ? AND name = ?", workspaceID, name).OrderExpr("id DESC").Limit(1).Scan(ctx, &v)
	return v, notFound(err)
}

// OldestConversationID is the workspace's smallest conversation id.
func (s *Store) OldestConversationID(ctx context.Context, workspaceID int64) (int64, error) {
	var id int64
	err := s.DB.NewSelect().TableExpr("conversations").Column("id").Where("workspace_id = ?", workspaceID).
		OrderExpr("id ASC").Limit(1).Scan(ctx, &id)
	return id, notFound(err)
}

// CountByProviderID counts, for each of ids, the WhatsApp inbound events (events true) or the
// messages (events false) that carry it as their provider id.
func (s *Store) CountByProviderID(ctx context.Context, events bool, ids []string) (map[string]int, error) {
	table, col, extra := "messages", "provider_message_id", ""
	if events {
		table, col, extra = "inbound_events", "provider_id", "provider = 'whatsapp'"
	}
	seen := map[string]int{}
	for i := 0; i < len(ids); i += 1000 {
		j := min(i+1000, len(ids))
		var rows []struct {
			ID string `bun:"id"`
			N  int    `bun:"n"`
		}
		q := s.DB.NewSelect().TableExpr(table).ColumnExpr(col+" AS id").ColumnExpr("count(*) AS n").
			Where(col+" IN (?)", bun.List(ids[i:j])).GroupExpr(col)
		if extra != "" {
			q = q.Where(extra)
		}
		if err := q.Scan(ctx, &rows); err != nil {
			return nil, err
		}
		for _, r := range rows {
			seen[r.ID] += r.N
		}
	}
	return seen, nil
}
