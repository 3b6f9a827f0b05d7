package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// activityRow is one key's recomputed activity columns.
type activityRow struct {
	RollupKey
	Conversations           int64 `bun:"conversations"`
	Messages                int64 `bun:"messages"`
	RequiredConversations   int64 `bun:"required_conversations"`
	CompleteConversations   int64 `bun:"complete_conversations"`
	WindowsClosedUnanswered int64 `bun:"windows_closed_unanswered"`
}

func (a activityRow) values() [5]int64 {
	return [5]int64{a.Conversations, a.Messages, a.RequiredConversations, a.CompleteConversations, a.WindowsClosedUnanswered}
}

// unansweredClosedSQL holds for a WhatsApp conversation whose window is closed and whose
// customer's last message got no reply (from the assistant or a person, not failed) before
// the window closed.
const unansweredClosedSQL = `c.window_closed_at IS NOT NULL AND c.last_inbound_at IS NOT NULL AND c.last_inbound_at <= c.window_closed_at
	AND NOT EXISTS (SELECT 1 FROM messages AS rm WHERE rm.conversation_id = c.id AND rm.role IN ('assistant', 'human')
		AND rm.status <> 'failed' AND rm.created_at > c.last_inbound_at AND rm.created_at <= c.window_closed_at)`

// activity recomputes the activity columns of a workspace's rollups of [from, to).
func (s *Store) activity(ctx context.Context, db bun.IDB, workspaceID int64, from, to time.Time) (map[RollupKey]*activityRow, error) {
	out := map[RollupKey]*activityRow{}
	get := func(k RollupKey) *activityRow {
		r := out[k]
		if r == nil {
			r = &activityRow{RollupKey: k}
			out[k] = r
		}
		return r
	}
	scan := func(q string, args []any, fn func(r activityRow)) error {
		var rows []activityRow
		if err := db.NewRaw(q, args...).Scan(ctx, &rows); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		for _, r := range rows {
			fn(r)
		}
		return nil
	}
	started := s.dayExpr("c.started_at")
	err := scan(`SELECT c.workspace_id, `+started+` AS day, COALESCE(c.assistant_id, 0) AS assistant_id, c.type,
			COUNT(*) AS conversations,
			SUM(CASE WHEN `+s.hasRequiredSQL()+` THEN 1 ELSE 0 END) AS required_conversations,
			SUM(CASE WHEN `+s.hasRequiredSQL()+` AND NOT `+s.missingRequiredSQL()+` THEN 1 ELSE 0 END) AS complete_conversations
		FROM conversations AS c WHERE c.workspace_id = ? AND c.started_at >= ? AND c.started_at < ?
		GROUP BY c.workspace_id, `+started+`, COALESCE(c.assistant_id, 0), c.type`,
		[]any{workspaceID, from, to}, func(r activityRow) {
			a := get(r.RollupKey)
			a.Conversations, a.RequiredConversations, a.CompleteConversations = r.Conversations, r.RequiredConversations, r.CompleteConversations
		})
	if err != nil {
		return nil, fmt.Errorf("count conversations: %w", err)
	}
	written := s.dayExpr("m.created_at")
	err = scan(`SELECT m.workspace_id, `+written+` AS day, COALESCE(c.assistant_id, 0) AS assistant_id, c.type, COUNT(*) AS messages
		FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id
		WHERE m.workspace_id = ? AND m.created_at >= ? AND m.created_at < ?
			AND c.workspace_id = ? AND c.last_message_at >= ?
		GROUP BY m.workspace_id, `+written+`, COALESCE(c.assistant_id, 0), c.type`,
		// A conversation with a message in the range was active since its start: the
		// (workspace_id, last_message_at) index narrows the join to the recent ones.
		[]any{workspaceID, from, to, workspaceID, from}, func(r activityRow) { get(r.RollupKey).Messages = r.Messages })
	if err != nil {
		return nil, fmt.Errorf("count messages: %w", err)
	}
	closed := s.dayExpr("c.window_closed_at")
	err = scan(`SELECT c.workspace_id, `+closed+` AS day, COALESCE(c.assistant_id, 0) AS assistant_id, c.type, COUNT(*) AS windows_closed_unanswered
		FROM conversations AS c
		WHERE c.workspace_id = ? AND c.window_closed_at >= ? AND c.window_closed_at < ? AND `+unansweredClosedSQL+`
		GROUP BY c.workspace_id, `+closed+`, COALESCE(c.assistant_id, 0), c.type`,
		[]any{workspaceID, from, to}, func(r activityRow) { get(r.RollupKey).WindowsClosedUnanswered = r.WindowsClosedUnanswered })
	if err != nil {
		return nil, fmt.Errorf("count closed windows: %w", err)
	}
	return out, nil
}

// RefreshActivityRollups recomputes the activity columns (conversations, messages, required
// and complete conversations, windows closed without a reply) of a workspace's rollups for
// the days [fromDay, toDay) from the conversations and messages, and returns how many rollup
// rows changed. The ledger columns are left alone.
func (s *Store) RefreshActivityRollups(ctx context.Context, workspaceID int64, fromDay, toDay string) (int, error) {
	from, to, err := dayBounds(fromDay, toDay)
	if err != nil {
		return 0, err
	}
	changed := 0
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		changed = 0
		if s.Dialect == Postgres { // one refresher per workspace at a time: the last one to write has the newest counts
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7007, ?)", int32(workspaceID)); err != nil {
				return err
			}
		}
		want, err := s.activity(ctx, tx, workspaceID, from, to)
		if err != nil {
			return err
		}
		var have []activityRow
		if err := tx.NewRaw(`SELECT workspace_id, `+s.dayColumn("")+` AS day, assistant_id, type, conversations, messages,
				required_conversations, complete_conversations, windows_closed_unanswered
			FROM usage_daily WHERE workspace_id = ? AND day >= ? AND day < ?`, workspaceID, fromDay, toDay).Scan(ctx, &have); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var writes []activityRow
		seen := map[RollupKey]bool{}
		for _, h := range have {
			seen[h.RollupKey] = true
			w := want[h.RollupKey]
			if w == nil {
				w = &activityRow{RollupKey: h.RollupKey}
			}
			if w.values() != h.values() {
				writes = append(writes, *w)
			}
		}
		for k, w := range want {
			if !seen[k] && w.values() != ([5]int64{}) {
				writes = append(writes, *w)
			}
		}
		sort.Slice(writes, func(i, j int) bool { return writes[i].RollupKey.less(writes[j].RollupKey) })
		const chunk = 200
		for start := 0; start < len(writes); start += chunk {
			part := writes[start:min(start+chunk, len(writes))]
			var b strings.Builder
			b.WriteString(`INSERT INTO usage_daily (workspace_id, day, assistant_id, type, conversations, messages,
				required_conversations, complete_conversations, windows_closed_unanswered) VALUES `)
			args := make([]any, 0, len(part)*9)
			for i, w := range part {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, w.WorkspaceID, w.Day, w.AssistantID, w.Type, w.Conversations, w.Messages,
					w.RequiredConversations, w.CompleteConversations, w.WindowsClosedUnanswered)
			}
			b.WriteString(` ON CONFLICT (workspace_id, day, assistant_id, type) DO UPDATE SET conversations = EXCLUDED.conversations,
				messages = EXCLUDED.messages, required_conversations = EXCLUDED.required_conversations,
				complete_conversations = EXCLUDED.complete_conversations, windows_closed_unanswered = EXCLUDED.windows_closed_unanswered`)
			if _, err := tx.NewRaw(b.String(), args...).Exec(ctx); err != nil {
				return err
			}
		}
		changed = len(writes)
		return nil
	})
	return changed, err
}

// Rollups reads a workspace's rollup rows of the days [fromDay, toDay), ordered by day: one
// range scan of usage_daily's primary key.
func (s *Store) Rollups(ctx context.Context, workspaceID int64, fromDay, toDay string) ([]UsageDaily, error) {
	var rows []UsageDaily
	err := s.DB.NewRaw(`SELECT workspace_id, `+s.dayColumn("")+` AS day, assistant_id, type, conversations, messages,
			required_conversations, complete_conversations, windows_closed_unanswered,
			llm_calls, prompt_tokens, cached_tokens, completion_tokens, cost_nanos
		FROM usage_daily WHERE workspace_id = ? AND day >= ? AND day < ?
		ORDER BY day, assistant_id, type`, workspaceID, fromDay, toDay).Scan(ctx, &rows)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return rows, err
}

// InsertRollups writes rollup rows as given, replacing existing ones (seeding benchmarks and
// fixtures; production rollups come from TallyUsage and RefreshActivityRollups).
func (s *Store) InsertRollups(ctx context.Context, rows []UsageDaily) error {
	const chunk = 500
	return s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		for start := 0; start < len(rows); start += chunk {
			part := rows[start:min(start+chunk, len(rows))]
			var b strings.Builder
			b.WriteString(`INSERT INTO usage_daily (workspace_id, day, assistant_id, type, conversations, messages,
				required_conversations, complete_conversations, windows_closed_unanswered,
				llm_calls, prompt_tokens, cached_tokens, completion_tokens, cost_nanos) VALUES `)
			args := make([]any, 0, len(part)*14)
			for i, r := range part {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, r.WorkspaceID, r.Day, r.AssistantID, r.Type, r.Conversations, r.Messages,
					r.RequiredConversations, r.CompleteConversations, r.WindowsClosedUnanswered,
					r.LLMCalls, r.PromptTokens, r.CachedTokens, r.CompletionTokens, r.CostNanos)
			}
			b.WriteString(` ON CONFLICT (workspace_id, day, assistant_id, type) DO UPDATE SET conversations = EXCLUDED.conversations,
				messages = EXCLUDED.messages, required_conversations = EXCLUDED.required_conversations,
				complete_conversations = EXCLUDED.complete_conversations, windows_closed_unanswered = EXCLUDED.windows_closed_unanswered,
				llm_calls = EXCLUDED.llm_calls, prompt_tokens = EXCLUDED.prompt_tokens, cached_tokens = EXCLUDED.cached_tokens,
				completion_tokens = EXCLUDED.completion_tokens, cost_nanos = EXCLUDED.cost_nanos`)
			if _, err := tx.NewRaw(b.String(), args...).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// TopConversationsByCost lists the workspace's most expensive conversations active since a
// time, most expensive first: a walk of the (workspace_id, cost_nanos DESC, id DESC) index.
func (s *Store) TopConversationsByCost(ctx context.Context, workspaceID int64, since time.Time, limit int) ([]Conversation, error) {
	var rows []Conversation
	err := s.DB.NewSelect().Model(&rows).ModelTableExpr("conversations AS c").
		ColumnExpr("c.*").ColumnExpr("COALESCE(a.name, '') AS assistant_name").
		Join("LEFT JOIN assistants AS a ON a.id = c.assistant_id AND a.workspace_id = c.workspace_id").
		Where("c.workspace_id = ? AND c.cost_nanos > 0 AND c.last_message_at >= ?", workspaceID, since.UTC()).
		OrderExpr("c.cost_nanos DESC, c.id DESC").Limit(int64(limit)).Scan(ctx)
	return rows, err
}
