package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// Filter selects conversations of one workspace. Zero fields do not filter.
type Filter struct {
	Type        string
	AssistantID int64
	Customer    string // prefix of the customer identifier
	From, To    *time.Time
	VarName     string
	VarValue    string // with VarName: equal; without: any value
	Query       string // full-text search over message content
	// WindowClosingWithin keeps WhatsApp conversations whose window is open and closes within it.
	WindowClosingWithin time.Duration
	Sort                string // "last" (default), "cost" or "csat" (the CSAT estimate, lowest first)
	IDs                 []int64
	// MissingRequired keeps conversations whose assistant declares a required variable that
	// has no value yet (see missingRequiredSQL in extract.go).
	MissingRequired bool

	// The judgement (issue 14): the latest evaluation's outcome and sentiment, the review
	// status, a tag (its name_key), the assignee (AssigneeID, or AssigneeNone for nobody),
	// the latest values of evaluators (each must hold), the customer's CSAT and the estimate
	// (inclusive bounds, 0 = none), and NeedsReview: flagged, or unresolved and unreviewed.
	Outcome, Sentiment, ReviewStatus string
	TagKey                           string
	AssigneeID                       int64
	AssigneeNone                     bool
	Evals                            []EvalFilter
	CSATMin, CSATMax                 int
	EstimateMin, EstimateMax         int
	NeedsReview                      bool
}

// EvalFilter keeps conversations whose latest value of the evaluator Name is Value.
type EvalFilter struct {
	Name, Value string
}

// SortKey normalises the sort.
func (f Filter) SortKey() string {
	switch f.Sort {
	case "cost", "csat":
		return f.Sort
	}
	return "last"
}

// csatKeySQL is the key of the "csat" sort over the conversations aliased as c: the
// dissatisfaction the estimate says (5 - estimate + 1: 5 for an estimate of 1, 1 for 5, 0
// without an estimate), sorted descending like every key of the list, so the least satisfied
// come first and the unevaluated last. The index conversations_ws_csat_sort_idx is on it.
const csatKeySQL = "(6 - COALESCE(c.csat_estimate, 6))"

// applyFilter adds the filter's conditions to a query over "conversations AS c".
func (s *Store) applyFilter(q *bun.SelectQuery, workspaceID int64, f Filter) *bun.SelectQuery {
	q = q.Where("c.workspace_id = ?", workspaceID)
	if f.Type != "" {
		q = q.Where("c.type = ?", f.Type)
	}
	if f.AssistantID > 0 {
		q = q.Where("c.assistant_id = ?", f.AssistantID)
	}
	if f.Customer != "" {
		// A prefix as a range, so the (workspace_id, customer, ...) index serves it.
		q = q.Where("c.customer >= ? AND c.customer < ?", f.Customer, f.Customer+"\U0010FFFF")
	}
	if f.From != nil {
		q = q.Where("c.last_message_at >= ?", f.From.UTC())
	}
	if f.To != nil {
		q = q.Where("c.last_message_at < ?", f.To.UTC())
	}
	if f.VarName != "" {
		if f.VarValue != "" {
			q = q.Where("c.id IN (SELECT v.conversation_id FROM conversation_variables AS v WHERE v.workspace_id = ? AND v.name = ? AND v.value = ?)", workspaceID, f.VarName, f.VarValue)
		} else {
			q = q.Where("c.id IN (SELECT v.conversation_id FROM conversation_variables AS v WHERE v.workspace_id = ? AND v.name = ?)", workspaceID, f.VarName)
		}
	}
	if f.WindowClosingWithin > 0 {
		t := now()
		q = q.Where("c.type = 'whatsapp' AND c.window_expires_at > ? AND c.window_expires_at <= ?", t, t.Add(f.WindowClosingWithin))
	}
	if f.MissingRequired {
		q = q.Where(s.missingRequiredSQL())
	}
	if len(f.IDs) > 0 {
		q = q.Where("c.id IN (?)", bun.List(f.IDs))
	}
	q = applyJudgement(q, workspaceID, f)
	if qs := strings.TrimSpace(f.Query); qs != "" {
		q = s.applySearch(q, workspaceID, qs)
	}
	return q
}

// applyJudgement adds the filters of the judgement (outcome, sentiment, review, tag, assignee,
// evaluators' values, CSAT) to a query over "conversations AS c". Each reads a column of the
// conversation (with its (workspace_id, column, last_message_at, id) index) or an indexed
// subquery (evaluation_values_filter_idx, conversation_tags_tag_idx).
func applyJudgement(q *bun.SelectQuery, workspaceID int64, f Filter) *bun.SelectQuery {
	if f.Outcome != "" {
		q = q.Where("c.outcome = ?", f.Outcome)
	}
	if f.Sentiment != "" {
		q = q.Where("c.sentiment = ?", f.Sentiment)
	}
	if f.ReviewStatus != "" {
		q = q.Where("c.review_status = ?", f.ReviewStatus)
	}
	if f.NeedsReview {
		q = q.Where("(c.review_status = ? OR (c.review_status = ? AND c.outcome = ?))",
			model.ReviewFlagged, model.ReviewUnreviewed, model.OutcomeUnresolved)
	}
	if f.AssigneeNone {
		q = q.Where("c.assignee_id IS NULL")
	} else if f.AssigneeID != 0 {
		q = q.Where("c.assignee_id = ?", f.AssigneeID)
	}
	if f.TagKey != "" {
		q = q.Where("c.id IN (SELECT ct.conversation_id FROM conversation_tags AS ct JOIN tags AS t ON t.id = ct.tag_id WHERE t.workspace_id = ? AND t.name_key = ? AND ct.workspace_id = ?)",
			workspaceID, f.TagKey, workspaceID)
	}
	for _, e := range f.Evals {
		q = q.Where("c.id IN (SELECT ev.conversation_id FROM evaluation_values AS ev WHERE ev.workspace_id = ? AND ev.name = ? AND ev.latest = TRUE AND ev.value = ?)",
			workspaceID, e.Name, e.Value)
	}
	if f.CSATMin > 0 {
		q = q.Where("c.csat_score >= ?", f.CSATMin)
	}
	if f.CSATMax > 0 {
		q = q.Where("c.csat_score <= ?", f.CSATMax)
	}
	if f.EstimateMin > 0 {
		q = q.Where("c.csat_estimate >= ?", f.EstimateMin)
	}
	if f.EstimateMax > 0 {
		q = q.Where("c.csat_estimate <= ?", f.EstimateMax)
	}
	return q
}

// applySearch is the one place where the dialects differ for search: a GIN-indexed tsvector
// on PostgreSQL, FTS5 on SQLite.
func (s *Store) applySearch(q *bun.SelectQuery, workspaceID int64, text string) *bun.SelectQuery {
	if s.Dialect == Postgres {
		return q.Where("c.id IN (SELECT m.conversation_id FROM messages AS m WHERE m.search @@ plainto_tsquery('simple', ?) AND m.workspace_id = ?)", text, workspaceID)
	}
	// The MATCH stands alone in its own subquery so that SQLite runs it once; written as a join
	// with messages it was run again for every message of the workspace (100 times slower).
	return q.Where("c.id IN (SELECT m.conversation_id FROM messages AS m WHERE m.workspace_id = ? AND m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?))", workspaceID, FTS5Query(text))
}

// FTS5Query turns user text into an FTS5 query of quoted terms (all must match), so that
// operators and quotes typed by the user are searched for, not interpreted.
func FTS5Query(text string) string {
	var terms []string
	for _, w := range strings.Fields(text) {
		terms = append(terms, `"`+strings.ReplaceAll(w, `"`, `""`)+`"`)
	}
	if len(terms) == 0 {
		return `""`
	}
	return strings.Join(terms, " ")
}

// ListConversations returns up to limit conversations after the cursor, in the filter's sort
// order (keyset pagination, never OFFSET), and the cursor of the next page ("" at the end).
func (s *Store) ListConversations(ctx context.Context, workspaceID int64, f Filter, cursor string, limit int) ([]Conversation, string, error) {
	sort := f.SortKey()
	var after *Cursor
	if cursor != "" {
		k, err := DecodeCursor(cursor)
		if err != nil || k.Sort != sort {
			return nil, "", ErrBadCursor
		}
		after = &k
	}
	var rows []Conversation
	var err error
	if s.Dialect == Postgres && strings.TrimSpace(f.Query) != "" {
		rows, err = s.searchPagePG(ctx, workspaceID, f, after, limit+1)
	} else {
		keys := keyset(s.applyFilter(pageKeys(s.DB, sort), workspaceID, f), "c", sort, after).Limit(int64(limit + 1))
		rows, err = s.pageRows(ctx, keys, sort)
	}
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		next = Cursor{Sort: sort, Time: last.LastMessageAt, Cost: last.CostNanos, Key: CSATSortKey(last.CSATEstimate), ID: last.ID}.Encode()
	}
	return rows, next, nil
}

// pageKeys starts the query of a page's keys: the ids and sort key of conversations AS c,
// and nothing else, so that where the filters name only columns of one of the list's indexes
// the page is found by an index-only scan. Without it, a customer prefix matching some
// thousands of conversations (0.5% of a million) read each of them from the table to sort
// them, or walked the list reading rows to test the prefix: 50 ms to 2 s instead of 4 ms.
func pageKeys(db bun.IDB, sort string) *bun.SelectQuery {
	if sort == "csat" {
		return db.NewSelect().ModelTableExpr("conversations AS c").ColumnExpr("c.id, c.last_message_at").ColumnExpr(csatKeySQL + " AS csat_key")
	}
	if sort == "cost" {
		return db.NewSelect().ModelTableExpr("conversations AS c").ColumnExpr("c.id, c.cost_nanos")
	}
	return db.NewSelect().ModelTableExpr("conversations AS c").ColumnExpr("c.id, c.last_message_at")
}

// pageRows reads the rows of a page whose keys (pageKeys, ordered and limited) are known.
func (s *Store) pageRows(ctx context.Context, keys *bun.SelectQuery, sort string) ([]Conversation, error) {
	var rows []Conversation
	q := s.DB.NewSelect().Model(&rows).ModelTableExpr("(?) AS w", keys).
		ColumnExpr("c.*").ColumnExpr("COALESCE(a.name, '') AS assistant_name").
		Join("JOIN conversations AS c ON c.id = w.id").
		Join("LEFT JOIN assistants AS a ON a.id = c.assistant_id AND a.workspace_id = c.workspace_id")
	err := keyset(q, "w", sort, nil).Scan(ctx)
	return rows, err
}

// keyset adds the cursor condition and the sort order of the list to a query over the
// conversations (or a derived table with their id and sort keys) aliased as alias.
func keyset(q *bun.SelectQuery, alias, sort string, after *Cursor) *bun.SelectQuery {
	if sort == "csat" {
		key := bun.Safe(csatKeySQL)
		if alias != "c" {
			key = bun.Safe(alias + ".csat_key")
		}
		if after != nil {
			q = q.Where("(?, ?.last_message_at, ?.id) < (?, ?, ?)", key, bun.Ident(alias), bun.Ident(alias), after.Key, after.Time, after.ID)
		}
		return q.OrderExpr("? DESC, ?.last_message_at DESC, ?.id DESC", key, bun.Ident(alias), bun.Ident(alias))
	}
	if sort == "cost" {
		if after != nil {
			q = q.Where("(?.cost_nanos, ?.id) < (?, ?)", bun.Ident(alias), bun.Ident(alias), after.Cost, after.ID)
		}
		return q.OrderExpr("?.cost_nanos DESC, ?.id DESC", bun.Ident(alias), bun.Ident(alias))
	}
	if after != nil {
		q = q.Where("(?.last_message_at, ?.id) < (?, ?)", bun.Ident(alias), bun.Ident(alias), after.Time, after.ID)
	}
	return q.OrderExpr("?.last_message_at DESC, ?.id DESC", bun.Ident(alias), bun.Ident(alias))
}

// The search page on PostgreSQL is found in one of two ways, whichever is cheap for the words:
//
//   - matches first: take every matching message from the GIN index, then only their
//     conversations, and sort those. Its cost grows with the number of matches: right for rare
//     words (a word in 0.1% of a million conversations: a few milliseconds).
//   - the walk: walk the list (filters, cursor and order as without search, on the list's
//     indexes) and test each conversation's own messages, stopping at the page's last row. Its
//     cost grows with the inverse of the words' frequency: right for common words, which fill
//     a page within a few dozen conversations.
//
// The planner's estimate of the matching messages picks the way (searchStrategyPG). The walk
// is bounded (SearchWindowRows conversations, SearchWindowMessages messages); when it ends
// without a full page and without reaching the end of the list (the words are rarer in this
// list than the estimate says), the page is found again matches first.
//
// Left to itself, the planner walks for every word, since it assumes that the matches are
// spread evenly and misjudges rare words; for a word in 0.1% of the conversations that walks
// hundreds of thousands of them (seconds at a million). Every way returns exactly the rows of
// the IN (...) form that CountMatching and DeleteMatching use.
//
// The knobs are variables for the tests, which turn them to force every way.
var (
	SearchWindowRows     = 5000
	SearchWindowMessages = int64(50000)
	// SearchDirectFactor is the 2 in matches² < 2·n·conversations (see searchStrategyPG).
	SearchDirectFactor = 2.0
	// SearchFallbackMatches: a walk that ends short falls back to matches first up to this
	// many estimated matches, to the planner's choice above.
	SearchFallbackMatches = 100_000.0
)

// searchStrategyPG returns the planner's estimate of the messages matching text (in every
// workspace: the GIN index does not know workspaces) and whether the matches-first way is the
// cheaper one for a page of n rows. Matches first reads about two pages per match (the message
// and its conversation); the walk tests about n/selectivity conversations of about four pages
// each, with selectivity about matches/conversations: matches first wins while
// matches² < 2·n·conversations (at a million conversations and 51 rows: about 10,000 matches).
func (s *Store) searchStrategyPG(ctx context.Context, text string, n int) (matches float64, direct bool, err error) {
	var plan string
	if err := s.DB.NewRaw("EXPLAIN (FORMAT JSON) SELECT 1 FROM messages WHERE search @@ plainto_tsquery('simple', ?)", text).Scan(ctx, &plan); err != nil {
		return 0, false, err
	}
	var p []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(plan), &p); err != nil || len(p) == 0 {
		return 0, false, fmt.Errorf("search estimate: unexpected plan %q", plan)
	}
	var convs float64
	if err := s.DB.NewRaw("SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = 'conversations'::regclass").Scan(ctx, &convs); err != nil {
		return 0, false, err
	}
	matches = p[0].Plan.Rows
	return matches, matches*matches < SearchDirectFactor*float64(n)*convs, nil
}

// searchPagePG returns up to n rows of a search page on PostgreSQL (see SearchWindowRows).
func (s *Store) searchPagePG(ctx context.Context, workspaceID int64, f Filter, after *Cursor, n int) ([]Conversation, error) {
	text := strings.TrimSpace(f.Query)
	rest := f
	rest.Query = ""
	sort := f.SortKey()
	matches, direct, err := s.searchStrategyPG(ctx, text, n)
	if err != nil {
		return nil, err
	}
	if direct {
		return s.searchMatchesFirstPG(ctx, workspaceID, rest, text, after, n)
	}
	window := max(SearchWindowRows, 2*n)
	budget := max(SearchWindowMessages, int64(window))

	// The walk. The window is a derived table in list order with a running count of messages;
	// the planner keeps its order, so the probes stop with the page. The probe calls
	// ts_match_vq (the function behind @@) so that it reads the conversation's messages through
	// messages_conversation_idx instead of the whole posting list of the GIN index for every
	// conversation, and OFFSET 0 keeps it a per-row probe rather than a join.
	order := "c.last_message_at DESC, c.id DESC"
	switch sort {
	case "cost":
		order = "c.cost_nanos DESC, c.id DESC"
	case "csat":
		order = csatKeySQL + " DESC, c.last_message_at DESC, c.id DESC"
	}
	win := s.DB.NewSelect().ModelTableExpr("conversations AS c").
		ColumnExpr("c.id, c.last_message_at, c.cost_nanos").ColumnExpr(csatKeySQL + " AS csat_key").
		ColumnExpr("sum(c.message_count) OVER (ORDER BY " + order + " ROWS UNBOUNDED PRECEDING) AS probe_messages")
	win = keyset(s.applyFilter(win, workspaceID, rest), "c", sort, after).Limit(int64(window))
	var rows []Conversation
	q := s.DB.NewSelect().Model(&rows).ModelTableExpr("(?) AS w", win).
		ColumnExpr("c.*").ColumnExpr("COALESCE(a.name, '') AS assistant_name").
		Join("JOIN conversations AS c ON c.id = w.id").
		Join("LEFT JOIN assistants AS a ON a.id = c.assistant_id AND a.workspace_id = c.workspace_id").
		Where("w.probe_messages <= ?", budget).
		Where("EXISTS (SELECT 1 FROM messages AS m WHERE m.conversation_id = w.id AND m.workspace_id = ? AND ts_match_vq(m.search, plainto_tsquery('simple', ?)) OFFSET 0)", workspaceID, text)
	if err := keyset(q, "w", sort, nil).Limit(int64(n)).Scan(ctx); err != nil {
		return nil, err
	}
	if len(rows) >= n {
		return rows, nil
	}
	// Did the walk test every conversation that is left in the list?
	var left struct {
		Rows     int   `bun:"rows"`
		Messages int64 `bun:"messages"`
	}
	rem := s.DB.NewSelect().ModelTableExpr("conversations AS c").ColumnExpr("c.message_count")
	rem = keyset(s.applyFilter(rem, workspaceID, rest), "c", sort, after).Limit(int64(window + 1))
	if err := s.DB.NewSelect().TableExpr("(?) AS r", rem).
		ColumnExpr("count(*) AS rows, COALESCE(sum(r.message_count), 0) AS messages").Scan(ctx, &left); err != nil {
		return nil, err
	}
	if left.Rows <= window && left.Messages <= budget {
		return rows, nil
	}
	// The words are rarer in this list than in the whole table. Matches first, unless there are
	// so many matches that the planner's own choice (the IN form) is the safer bet.
	if matches <= SearchFallbackMatches {
		return s.searchMatchesFirstPG(ctx, workspaceID, rest, text, after, n)
	}
	keys := keyset(s.applyFilter(pageKeys(s.DB, sort), workspaceID, f), "c", sort, after).Limit(int64(n))
	return s.pageRows(ctx, keys, sort)
}

// searchMatchesFirstPG returns up to n rows of a search page from the matching messages.
// ARRAY(...) is computed once, before the conversations are read, so the planner cannot turn
// it back into the walk; the page's ids and sort keys are found first (an index-only scan
// where the filters allow), then only the page's rows are read.
func (s *Store) searchMatchesFirstPG(ctx context.Context, workspaceID int64, rest Filter, text string, after *Cursor, n int) ([]Conversation, error) {
	sort := rest.SortKey()
	keys := s.applyFilter(pageKeys(s.DB, sort), workspaceID, rest).
		Where("c.id = ANY(ARRAY(SELECT m.conversation_id FROM messages AS m WHERE m.search @@ plainto_tsquery('simple', ?) AND m.workspace_id = ?))", text, workspaceID)
	return s.pageRows(ctx, keyset(keys, "c", sort, after).Limit(int64(n)), sort)
}

// EachConversation calls fn for every conversation matching the filter, in pages of batch
// rows, so that an export of any size holds one page in memory.
func (s *Store) EachConversation(ctx context.Context, workspaceID int64, f Filter, batch int, fn func(*Conversation) error) error {
	return s.EachConversationPage(ctx, workspaceID, f, batch, func(rows []Conversation) error {
		for i := range rows {
			if err := fn(&rows[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// EachConversationPage calls fn with every page of batch conversations matching the filter,
// so that what a page needs besides its rows (tags, evaluation values) is read once per page.
func (s *Store) EachConversationPage(ctx context.Context, workspaceID int64, f Filter, batch int, fn func([]Conversation) error) error {
	cursor := ""
	for {
		rows, next, err := s.ListConversations(ctx, workspaceID, f, cursor, batch)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			if err := fn(rows); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// TagNames returns the tag names of the conversations ids (one query), each list by name.
func (s *Store) TagNames(ctx context.Context, workspaceID int64, ids []int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ConversationID int64  `bun:"conversation_id"`
		Name           string `bun:"name"`
	}
	err := s.DB.NewSelect().TableExpr("conversation_tags AS ct").Join("JOIN tags AS t ON t.id = ct.tag_id").
		ColumnExpr("ct.conversation_id, t.name").
		Where("ct.workspace_id = ? AND ct.conversation_id IN (?)", workspaceID, bun.List(ids)).
		OrderExpr("ct.conversation_id, t.name_key").Scan(ctx, &rows)
	for _, r := range rows {
		out[r.ConversationID] = append(out[r.ConversationID], r.Name)
	}
	return out, err
}

// LatestEvaluationValues returns the latest values (evaluation_values.latest) of the
// conversations ids by evaluator name (one query); values without a value (failed) are left
// out.
func (s *Store) LatestEvaluationValues(ctx context.Context, workspaceID int64, ids []int64) (map[int64]map[string]string, error) {
	out := map[int64]map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []EvaluationValue
	err := s.DB.NewSelect().Model(&rows).Column("conversation_id", "name", "value").
		Where("workspace_id = ? AND conversation_id IN (?) AND latest = TRUE AND value IS NOT NULL", workspaceID, bun.List(ids)).
		Scan(ctx)
	for _, r := range rows {
		if out[r.ConversationID] == nil {
			out[r.ConversationID] = map[string]string{}
		}
		out[r.ConversationID][r.Name] = *r.Value
	}
	return out, err
}

// DeleteMatching deletes up to batch conversations matching the filter and keeps the counts
// right, in one transaction; it returns how many it deleted (0 when none are left).
func (s *Store) DeleteMatching(ctx context.Context, workspaceID int64, f Filter, batch int) (int, error) {
	deleted := 0
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var victims []struct {
			ID   int64  `bun:"id"`
			Type string `bun:"type"`
		}
		q := tx.NewSelect().ModelTableExpr("conversations AS c").ColumnExpr("c.id, c.type")
		q = s.applyFilter(q, workspaceID, f).OrderExpr("c.id ASC").Limit(int64(batch))
		if err := q.Scan(ctx, &victims); err != nil {
			return err
		}
		if len(victims) == 0 {
			return nil
		}
		ids := make([]int64, len(victims))
		byType := map[string]int64{}
		for i, v := range victims {
			ids[i] = v.ID
		}
		if err := deleteConversationReplays(ctx, tx, workspaceID, ids...); err != nil { // issue 15
			return err
		}
		var gone []struct {
			Type string `bun:"type"`
		}
		if err := tx.NewDelete().Model((*Conversation)(nil)).Where("workspace_id = ? AND id IN (?)", workspaceID, bun.List(ids)).
			Returning("type").Scan(ctx, &gone); err != nil {
			return err
		}
		for _, g := range gone {
			byType[g.Type]++
		}
		for typ, n := range byType {
			if err := s.bumpCount(ctx, tx, workspaceID, typ, -n); err != nil {
				return err
			}
		}
		deleted = len(gone)
		return nil
	})
	return deleted, err
}

// CountMatching counts the conversations matching a filter (for bulk-delete progress; not
// used by the list or the badge).
func (s *Store) CountMatching(ctx context.Context, workspaceID int64, f Filter) (int64, error) {
	q := s.DB.NewSelect().ModelTableExpr("conversations AS c")
	n, err := s.applyFilter(q, workspaceID, f).Count(ctx)
	return int64(n), err
}

// WorkspaceEvaluators returns the custom evaluators of every assistant of the workspace (one
// query; a name may repeat across assistants).
func (s *Store) WorkspaceEvaluators(ctx context.Context, workspaceID int64) ([]model.Evaluator, error) {
	var rows []Evaluators
	if err := s.DB.NewSelect().Table("assistants").Column("evaluators").
		Where("workspace_id = ?", workspaceID).OrderExpr("id").Scan(ctx, &rows); err != nil {
		return nil, err
	}
	var out []model.Evaluator
	for _, r := range rows {
		out = append(out, r...)
	}
	return out, nil
}
