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

// Usage tallying: the usage ledger (one row per LLM call) is the truth; usage_daily holds
// per-day rollups of it per workspace, assistant and conversation type, for the analytics page.
//
// The ledger columns of a rollup (llm_calls, tokens, cost) are maintained incrementally by
// TallyUsage: one transaction claims untallied ledger rows (sets tallied_at; on PostgreSQL with
// FOR UPDATE SKIP LOCKED, so two concurrent tallies take disjoint rows) and adds them to the
// rollups. A rollup therefore always equals the sum of the tallied ledger rows of its key: a
// crash or an error rolls both back, a rerun finds nothing left to claim, and a row is never
// counted twice. LedgerRollupDrift and RepairLedgerRollups compare rollups with the ledger and
// repair them.
//
// The activity columns (conversations, messages, required and complete conversations,
// WhatsApp windows closed without a reply) describe rows that keep changing after their day
// (a conversation gets its variables later, a window closes), so they are recomputed for a
// range of days by RefreshActivityRollups: absolute values, idempotent by nature.

// RollupTypeReplay is the rollup bucket (usage_daily.type) of the calls of replays and test
// set runs (purpose replay): they belong to no conversation, so to no conversation type, and
// are real spend, kept apart under their own purpose.
const RollupTypeReplay = PurposeReplay

// rollupTypeExpr is THE rule for a ledger row's rollup bucket (usage_daily.type), used by the
// tally and by the reconciliation alike: the conversation's type, or RollupTypeReplay for a
// replay's call (which has no conversation).
const rollupTypeExpr = `CASE WHEN purpose = '` + PurposeReplay + `' THEN '` + RollupTypeReplay + `' ELSE conversation_type END`

// DayLayout is how rollup days are written (UTC).
const DayLayout = "2006-01-02"

// Day is the rollup day of a time (its UTC date).
func Day(t time.Time) string { return t.UTC().Format(DayLayout) }

// dayExpr is the dialect's SQL for the UTC day (YYYY-MM-DD text) of a timestamp column.
func (s *Store) dayExpr(col string) string {
	if s.Dialect == Postgres {
		return "to_char(" + col + " AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
	}
	return "substr(" + col + ", 1, 10)" // stored as 'YYYY-MM-DD HH:MM:SS...+00:00' in UTC
}

// dayColumn reads usage_daily.day as YYYY-MM-DD text.
func (s *Store) dayColumn(alias string) string {
	col := "day"
	if alias != "" {
		col = alias + ".day"
	}
	if s.Dialect == Postgres {
		return "to_char(" + col + ", 'YYYY-MM-DD')"
	}
	return col
}

// dayBounds turns [fromDay, toDay) into times.
func dayBounds(fromDay, toDay string) (time.Time, time.Time, error) {
	from, err := time.Parse(DayLayout, fromDay)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("rollup day %q: %w", fromDay, err)
	}
	to, err := time.Parse(DayLayout, toDay)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("rollup day %q: %w", toDay, err)
	}
	return from.UTC(), to.UTC(), nil
}

// UsageDaily is one rollup row of usage_daily.
type UsageDaily struct {
	WorkspaceID int64  `bun:"workspace_id"`
	Day         string `bun:"day"`          // YYYY-MM-DD, UTC
	AssistantID int64  `bun:"assistant_id"` // 0: no assistant
	Type        string `bun:"type"`         // conversation type, or RollupTypeReplay for replays' calls
	// Activity (recomputed by RefreshActivityRollups).
	Conversations           int64 `bun:"conversations"`             // started that day
	Messages                int64 `bun:"messages"`                  // written that day
	RequiredConversations   int64 `bun:"required_conversations"`    // started that day, their assistant declares required variables
	CompleteConversations   int64 `bun:"complete_conversations"`    // of those, every required variable collected
	WindowsClosedUnanswered int64 `bun:"windows_closed_unanswered"` // WhatsApp windows closed that day with the customer's last message unanswered
	// Ledger (maintained by TallyUsage).
	LLMCalls         int64 `bun:"llm_calls"`
	PromptTokens     int64 `bun:"prompt_tokens"`
	CachedTokens     int64 `bun:"cached_tokens"`
	CompletionTokens int64 `bun:"completion_tokens"`
	CostNanos        int64 `bun:"cost_nanos"`
}

// Key is the row's rollup key.
func (u UsageDaily) Key() RollupKey {
	return RollupKey{WorkspaceID: u.WorkspaceID, Day: u.Day, AssistantID: u.AssistantID, Type: u.Type}
}

// Ledger is the row's ledger columns.
func (u UsageDaily) Ledger() LedgerTotals {
	return LedgerTotals{Calls: u.LLMCalls, PromptTokens: u.PromptTokens, CachedTokens: u.CachedTokens, CompletionTokens: u.CompletionTokens, CostNanos: u.CostNanos}
}

// RollupKey identifies a rollup row.
type RollupKey struct {
	WorkspaceID int64  `bun:"workspace_id"`
	Day         string `bun:"day"`
	AssistantID int64  `bun:"assistant_id"`
	Type        string `bun:"type"`
}

func (k RollupKey) String() string {
	return fmt.Sprintf("workspace %d, %s, assistant %d, type %q", k.WorkspaceID, k.Day, k.AssistantID, k.Type)
}

func (k RollupKey) less(o RollupKey) bool {
	if k.WorkspaceID != o.WorkspaceID {
		return k.WorkspaceID < o.WorkspaceID
	}
	if k.Day != o.Day {
		return k.Day < o.Day
	}
	if k.AssistantID != o.AssistantID {
		return k.AssistantID < o.AssistantID
	}
	return k.Type < o.Type
}

func sortKeys(keys []RollupKey) {
	sort.Slice(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
}

// LedgerTotals are sums of ledger rows.
type LedgerTotals struct {
	Calls            int64 `bun:"llm_calls"`
	PromptTokens     int64 `bun:"prompt_tokens"`
	CachedTokens     int64 `bun:"cached_tokens"`
	CompletionTokens int64 `bun:"completion_tokens"`
	CostNanos        int64 `bun:"cost_nanos"`
}

func (t *LedgerTotals) add(o LedgerTotals) {
	t.Calls += o.Calls
	t.PromptTokens += o.PromptTokens
	t.CachedTokens += o.CachedTokens
	t.CompletionTokens += o.CompletionTokens
	t.CostNanos += o.CostNanos
}

// TallyOptions tune one TallyUsage batch.
type TallyOptions struct {
	// Batch is how many ledger rows one transaction claims (default 500).
	Batch int
	// BeforeCommit, when set, runs inside the transaction after the rollups were updated and
	// before the commit; an error rolls the whole batch back (tests inject failures with it).
	BeforeCommit func(ctx context.Context) error
}

// TallyResult is what one batch did.
type TallyResult struct {
	Rows int // ledger rows claimed and added
	Keys int // rollup rows touched
	// Conversations are the conversations of the claimed rows (to verify their totals).
	Conversations []int64
}

type tallyRow struct {
	ID               int64  `bun:"id"`
	WorkspaceID      int64  `bun:"workspace_id"`
	ConversationID   *int64 `bun:"conversation_id"`
	AssistantID      int64  `bun:"assistant_id"`
	ConversationType string `bun:"conversation_type"` // the rollup bucket (rollupTypeExpr)
	Day              string `bun:"day"`
	PromptTokens     int64  `bun:"prompt_tokens"`
	CachedTokens     int64  `bun:"cached_tokens"`
	CompletionTokens int64  `bun:"completion_tokens"`
	CostNanos        int64  `bun:"cost_nanos"`
}

// TallyUsage claims up to a batch of untallied ledger rows and adds them to the daily rollups,
// in one transaction. It returns Rows 0 when nothing is left.
func (s *Store) TallyUsage(ctx context.Context, opt TallyOptions) (TallyResult, error) {
	batch := opt.Batch
	if batch <= 0 {
		batch = 500
	}
	lock := ""
	if s.Dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	claim := `UPDATE usage_ledger SET tallied_at = ?
		WHERE tallied_at IS NULL AND id IN (SELECT id FROM usage_ledger WHERE tallied_at IS NULL ORDER BY created_at, id LIMIT ?` + lock + `)
		RETURNING id, workspace_id, conversation_id, COALESCE(assistant_id, 0) AS assistant_id, ` + rollupTypeExpr + ` AS conversation_type, ` +
		s.dayExpr("created_at") + ` AS day, prompt_tokens, cached_tokens, completion_tokens, cost_nanos`
	var res TallyResult
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res = TallyResult{}
		var rows []tallyRow
		if err := tx.NewRaw(claim, now(), batch).Scan(ctx, &rows); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("claim ledger rows: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		sums := map[RollupKey]*LedgerTotals{}
		convs := map[int64]bool{}
		for _, r := range rows {
			k := RollupKey{WorkspaceID: r.WorkspaceID, Day: r.Day, AssistantID: r.AssistantID, Type: r.ConversationType}
			t := sums[k]
			if t == nil {
				t = &LedgerTotals{}
				sums[k] = t
			}
			t.add(LedgerTotals{Calls: 1, PromptTokens: r.PromptTokens, CachedTokens: r.CachedTokens, CompletionTokens: r.CompletionTokens, CostNanos: r.CostNanos})
			if r.ConversationID != nil {
				convs[*r.ConversationID] = true
			}
		}
		if err := s.upsertLedgerRollups(ctx, tx, sums, true); err != nil {
			return err
		}
		if opt.BeforeCommit != nil {
			if err := opt.BeforeCommit(ctx); err != nil {
				return err
			}
		}
		res.Rows, res.Keys = len(rows), len(sums)
		for id := range convs {
			res.Conversations = append(res.Conversations, id)
		}
		sort.Slice(res.Conversations, func(i, j int) bool { return res.Conversations[i] < res.Conversations[j] })
		return nil
	})
	if err != nil {
		return TallyResult{}, err
	}
	return res, nil
}

// upsertLedgerRollups writes the ledger columns of rollup rows, in key order (so that
// concurrent transactions lock rows in the same order): added to the stored values (add) or
// replacing them.
func (s *Store) upsertLedgerRollups(ctx context.Context, tx bun.IDB, sums map[RollupKey]*LedgerTotals, add bool) error {
	keys := make([]RollupKey, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sortKeys(keys)
	set := func(col string) string {
		if add {
			return col + " = usage_daily." + col + " + EXCLUDED." + col
		}
		return col + " = EXCLUDED." + col
	}
	const chunk = 200
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(start+chunk, len(keys))]
		var b strings.Builder
		b.WriteString("INSERT INTO usage_daily (workspace_id, day, assistant_id, type, llm_calls, prompt_tokens, cached_tokens, completion_tokens, cost_nanos) VALUES ")
		args := make([]any, 0, len(part)*9)
		for i, k := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			t := sums[k]
			args = append(args, k.WorkspaceID, k.Day, k.AssistantID, k.Type, t.Calls, t.PromptTokens, t.CachedTokens, t.CompletionTokens, t.CostNanos)
		}
		b.WriteString(" ON CONFLICT (workspace_id, day, assistant_id, type) DO UPDATE SET ")
		b.WriteString(strings.Join([]string{set("llm_calls"), set("prompt_tokens"), set("cached_tokens"), set("completion_tokens"), set("cost_nanos")}, ", "))
		if _, err := tx.NewRaw(b.String(), args...).Exec(ctx); err != nil {
			return fmt.Errorf("update rollups: %w", err)
		}
	}
	return nil
}

// UntalliedUsage counts the ledger rows not tallied yet.
func (s *Store) UntalliedUsage(ctx context.Context) (int64, error) {
	n, err := s.DB.NewSelect().Model((*UsageEntry)(nil)).Where("tallied_at IS NULL").Count(ctx)
	return int64(n), err
}

// ---- reconciliation of the ledger columns ----

// RollupFix is a difference between a rollup and the ledger (found, or repaired).
type RollupFix struct {
	Key  RollupKey
	Had  LedgerTotals // what the rollup said
	Want LedgerTotals // what the tallied ledger rows add up to
}

func (f RollupFix) String() string {
	return fmt.Sprintf("%s: calls %d→%d, prompt %d→%d, cached %d→%d, completion %d→%d, cost %d→%d nano-dollars",
		f.Key, f.Had.Calls, f.Want.Calls, f.Had.PromptTokens, f.Want.PromptTokens, f.Had.CachedTokens, f.Want.CachedTokens,
		f.Had.CompletionTokens, f.Want.CompletionTokens, f.Had.CostNanos, f.Want.CostNanos)
}

type keyedTotals struct {
	RollupKey
	LedgerTotals
}

// ledgerSums adds up the tallied ledger rows created in [from, to) per rollup key.
func (s *Store) ledgerSums(ctx context.Context, db bun.IDB, from, to time.Time) (map[RollupKey]LedgerTotals, error) {
	day := s.dayExpr("created_at")
	var rows []keyedTotals
	err := db.NewRaw(`SELECT workspace_id, `+day+` AS day, COALESCE(assistant_id, 0) AS assistant_id, `+rollupTypeExpr+` AS type,
			COUNT(*) AS llm_calls, COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens, COALESCE(SUM(cached_tokens), 0) AS cached_tokens,
			COALESCE(SUM(completion_tokens), 0) AS completion_tokens, COALESCE(SUM(cost_nanos), 0) AS cost_nanos
		FROM usage_ledger WHERE tallied_at IS NOT NULL AND created_at >= ? AND created_at < ?
		GROUP BY workspace_id, `+day+`, COALESCE(assistant_id, 0), `+rollupTypeExpr, from, to).Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	out := make(map[RollupKey]LedgerTotals, len(rows))
	for _, r := range rows {
		out[r.RollupKey] = r.LedgerTotals
	}
	return out, nil
}

// rollupLedgerColumns reads the ledger columns of the rollups of [fromDay, toDay).
func (s *Store) rollupLedgerColumns(ctx context.Context, db bun.IDB, fromDay, toDay string) (map[RollupKey]LedgerTotals, error) {
	var rows []keyedTotals
	err := db.NewRaw(`SELECT workspace_id, `+s.dayColumn("")+` AS day, assistant_id, type, llm_calls, prompt_tokens, cached_tokens, completion_tokens, cost_nanos
		FROM usage_daily WHERE day >= ? AND day < ?`, fromDay, toDay).Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	out := make(map[RollupKey]LedgerTotals, len(rows))
	for _, r := range rows {
		out[r.RollupKey] = r.LedgerTotals
	}
	return out, nil
}

func ledgerDiff(have, want map[RollupKey]LedgerTotals) []RollupFix {
	var fixes []RollupFix
	for k, w := range want {
		if h := have[k]; h != w {
			fixes = append(fixes, RollupFix{Key: k, Had: h, Want: w})
		}
	}
	for k, h := range have {
		if _, ok := want[k]; !ok && h != (LedgerTotals{}) {
			fixes = append(fixes, RollupFix{Key: k, Had: h})
		}
	}
	sort.Slice(fixes, func(i, j int) bool { return fixes[i].Key.less(fixes[j].Key) })
	return fixes
}

// LedgerRollupDrift compares the ledger columns of the rollups of the days [fromDay, toDay)
// with the tallied ledger rows of those days, for every workspace. A difference read while a
// tally commits may be transient: RepairLedgerRollups checks again under a lock.
func (s *Store) LedgerRollupDrift(ctx context.Context, fromDay, toDay string) ([]RollupFix, error) {
	from, to, err := dayBounds(fromDay, toDay)
	if err != nil {
		return nil, err
	}
	want, err := s.ledgerSums(ctx, s.DB, from, to)
	if err != nil {
		return nil, err
	}
	have, err := s.rollupLedgerColumns(ctx, s.DB, fromDay, toDay)
	if err != nil {
		return nil, err
	}
	return ledgerDiff(have, want), nil
}

// RepairLedgerRollups sets the ledger columns of the rollups of [fromDay, toDay) to the sums
// of the tallied ledger rows, and returns what it changed. On PostgreSQL it holds a lock on
// usage_daily that excludes concurrent tallies while it reads and writes, so a tally that has
// claimed rows but not yet added them adds them after the repair, to the repaired values.
func (s *Store) RepairLedgerRollups(ctx context.Context, fromDay, toDay string) ([]RollupFix, error) {
	from, to, err := dayBounds(fromDay, toDay)
	if err != nil {
		return nil, err
	}
	var fixes []RollupFix
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		fixes = nil
		if s.Dialect == Postgres {
			if _, err := tx.ExecContext(ctx, "LOCK TABLE usage_daily IN SHARE ROW EXCLUSIVE MODE"); err != nil {
				return err
			}
		}
		want, err := s.ledgerSums(ctx, tx, from, to)
		if err != nil {
			return err
		}
		have, err := s.rollupLedgerColumns(ctx, tx, fromDay, toDay)
		if err != nil {
			return err
		}
		fixes = ledgerDiff(have, want)
		if len(fixes) == 0 {
			return nil
		}
		set := make(map[RollupKey]*LedgerTotals, len(fixes))
		for _, f := range fixes {
			w := f.Want
			set[f.Key] = &w
		}
		return s.upsertLedgerRollups(ctx, tx, set, false)
	})
	if err != nil {
		return nil, err
	}
	return fixes, nil
}

// ---- conversation totals ----

// Totals are a conversation's token and cost totals.
type Totals struct {
	PromptTokens     int64 `bun:"prompt_tokens"`
	CachedTokens     int64 `bun:"cached_tokens"`
	CompletionTokens int64 `bun:"completion_tokens"`
	CostNanos        int64 `bun:"cost_nanos"`
}

// TotalsDrift is a conversation whose stored totals differ from what its messages and its
// extraction calls add up to.
type TotalsDrift struct {
	ConversationID int64
	WorkspaceID    int64
	Have, Want     Totals
}

func (d TotalsDrift) String() string {
	return fmt.Sprintf("conversation %d (workspace %d): prompt %d→%d, cached %d→%d, completion %d→%d, cost %d→%d nano-dollars",
		d.ConversationID, d.WorkspaceID, d.Have.PromptTokens, d.Want.PromptTokens, d.Have.CachedTokens, d.Want.CachedTokens,
		d.Have.CompletionTokens, d.Want.CompletionTokens, d.Have.CostNanos, d.Want.CostNanos)
}

type totalsRow struct {
	ID          int64 `bun:"id"`
	WorkspaceID int64 `bun:"workspace_id"`
	HP          int64 `bun:"hp"`
	HCa         int64 `bun:"hca"`
	HCo         int64 `bun:"hco"`
	HN          int64 `bun:"hn"`
	WP          int64 `bun:"wp"`
	WCa         int64 `bun:"wca"`
	WCo         int64 `bun:"wco"`
	WN          int64 `bun:"wn"`
}

// conversationTotalsSQL computes, in one statement (one snapshot), each conversation's stored
// totals and what they should be: its messages' tokens and cost (a reply carries the usage of
// its ledger row, written in the same transaction) plus its extraction and evaluation calls in
// the ledger (added to the conversation's totals, carried by no message).
const conversationTotalsSQL = `SELECT c.id, c.workspace_id,
		c.prompt_tokens AS hp, c.cached_tokens AS hca, c.completion_tokens AS hco, c.cost_nanos AS hn,
		COALESCE(m.p, 0) + COALESCE(l.p, 0) AS wp, COALESCE(m.ca, 0) + COALESCE(l.ca, 0) AS wca,
		COALESCE(m.co, 0) + COALESCE(l.co, 0) AS wco, COALESCE(m.n, 0) + COALESCE(l.n, 0) AS wn
	FROM conversations AS c
	LEFT JOIN (SELECT conversation_id, SUM(prompt_tokens) AS p, SUM(cached_tokens) AS ca, SUM(completion_tokens) AS co, SUM(cost_nanos) AS n
		FROM messages WHERE conversation_id IN (?) GROUP BY conversation_id) AS m ON m.conversation_id = c.id
	LEFT JOIN (SELECT conversation_id, SUM(prompt_tokens) AS p, SUM(cached_tokens) AS ca, SUM(completion_tokens) AS co, SUM(cost_nanos) AS n
		FROM usage_ledger WHERE purpose IN ('extraction', 'evaluation') AND conversation_id IN (?) GROUP BY conversation_id) AS l ON l.conversation_id = c.id
	WHERE c.id IN (?)`

func (s *Store) totalsDrift(ctx context.Context, db bun.IDB, ids []int64) ([]TotalsDrift, error) {
	var out []TotalsDrift
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := bun.List(ids[start:min(start+chunk, len(ids))])
		var rows []totalsRow
		if err := db.NewRaw(conversationTotalsSQL, part, part, part).Scan(ctx, &rows); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		for _, r := range rows {
			have := Totals{r.HP, r.HCa, r.HCo, r.HN}
			want := Totals{r.WP, r.WCa, r.WCo, r.WN}
			if have != want {
				out = append(out, TotalsDrift{ConversationID: r.ID, WorkspaceID: r.WorkspaceID, Have: have, Want: want})
			}
		}
	}
	return out, nil
}

// ConversationTotalsDrift lists the conversations among ids whose stored totals differ from
// their messages plus their extraction calls.
func (s *Store) ConversationTotalsDrift(ctx context.Context, ids []int64) ([]TotalsDrift, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return s.totalsDrift(ctx, s.DB, ids)
}

// RepairConversationTotals checks one conversation again with its row locked (so that no
// message or extraction call is being added meanwhile) and sets its totals to what its
// messages and extraction calls add up to. It returns the drift it repaired, or nil.
func (s *Store) RepairConversationTotals(ctx context.Context, id int64) (*TotalsDrift, error) {
	var fixed *TotalsDrift
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		fixed = nil
		sel := tx.NewSelect().Model((*Conversation)(nil)).Column("id").Where("id = ?", id)
		if s.Dialect == Postgres {
			sel = sel.For("UPDATE")
		}
		var got int64
		if err := sel.Scan(ctx, &got); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil // deleted meanwhile
			}
			return err
		}
		drift, err := s.totalsDrift(ctx, tx, []int64{id})
		if err != nil || len(drift) == 0 {
			return err
		}
		d := drift[0]
		if _, err := tx.NewUpdate().Model((*Conversation)(nil)).
			Set("prompt_tokens = ?", d.Want.PromptTokens).Set("cached_tokens = ?", d.Want.CachedTokens).
			Set("completion_tokens = ?", d.Want.CompletionTokens).Set("cost_nanos = ?", d.Want.CostNanos).
			Set("updated_at = ?", now()).Where("id = ?", id).Exec(ctx); err != nil {
			return err
		}
		fixed = &d
		return nil
	})
	return fixed, err
}
