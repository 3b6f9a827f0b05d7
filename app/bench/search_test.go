package bench_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/seed"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// TestSearchPagesMatchTheReference pages through searches with the list's search query and
// compares every page sequence with a plain reference query (the IN (...) form CountMatching
// uses, sorted in full). On PostgreSQL the search is found either by walking the list or from
// the index's matches (store.SearchWindowRows); a tiny window forces the second way for every
// word that does not fill a page within it, the default window the first way for the common ones.
func TestSearchPagesMatchTheReference(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ws, _, err := s.CreateWorkspaceWithUser(ctx, "Search", fmt.Sprintf("search-%d@example.com", time.Now().UnixNano()), "x")
		if err != nil {
			t.Fatal(err)
		}
		other, _, err := s.CreateWorkspaceWithUser(ctx, "Other", fmt.Sprintf("other-%d@example.com", time.Now().UnixNano()), "x")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []int64{other.ID, ws.ID} {
			if _, err := seed.Bulk(ctx, s, seed.BulkOptions{WorkspaceID: w, Conversations: 300, MessagesPerConversation: 4, Batch: 300}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if s.Dialect == store.Postgres {
			if _, err := s.DB.ExecContext(ctx, "ANALYZE conversations, messages"); err != nil {
				t.Fatal(err)
			}
		}
		defer func(r int, m int64, d, fb float64) {
			store.SearchWindowRows, store.SearchWindowMessages, store.SearchDirectFactor, store.SearchFallbackMatches = r, m, d, fb
		}(store.SearchWindowRows, store.SearchWindowMessages, store.SearchDirectFactor, store.SearchFallbackMatches)

		from := time.Now().AddDate(0, 0, -30)
		filters := []store.Filter{
			{Query: "zanzibar"},            // 0.1%: 3 conversations
			{Query: "kilimanjaro"},         // 1%
			{Query: "Lisbon"},              // a few percent
			{Query: "order"},               // common
			{Query: "order", Sort: "cost"}, // common, by cost
			{Query: "kilimanjaro", Sort: "cost"},
			{Query: "kilimanjaro", Type: model.TypeWidget},
			{Query: "order", Type: model.TypeTest, From: &from},
			{Query: "order", Customer: "sess_0"},
			{Query: "zanzibar lisbon"}, // two words: none
			{Query: "nosuchwordanywhere"},
		}
		wants := make([][]int64, len(filters))
		for i, f := range filters {
			wants[i] = reference(t, s, ws.ID, f)
		}
		// The default strategy; the walk for every word, with a window that holds the list, a
		// tiny one (falling back to matches first, or to the IN form) and a middling one; and
		// matches first for every word.
		for _, win := range []struct {
			rows     int
			msgs     int64
			direct   float64
			fallback float64
		}{
			{5000, 50000, 2, 100_000},
			{2000, 20000, 0, 100_000},
			{5, 20, 0, 100_000},
			{5, 20, 0, 0},
			{40, 1000, 0, 100_000},
			{5000, 50000, 1e12, 100_000},
		} {
			store.SearchWindowRows, store.SearchWindowMessages = win.rows, win.msgs
			store.SearchDirectFactor, store.SearchFallbackMatches = win.direct, win.fallback
			for i, f := range filters {
				want := wants[i]
				for _, limit := range []int{7, 50} {
					var got []int64
					cursor := ""
					for pages := 0; ; pages++ {
						if pages > 1000 {
							t.Fatal("too many pages")
						}
						rows, next, err := s.ListConversations(ctx, ws.ID, f, cursor, limit)
						if err != nil {
							t.Fatalf("%+v: %v", f, err)
						}
						if len(rows) > limit || (next != "" && len(rows) != limit) {
							t.Fatalf("%+v: page of %d rows (limit %d), next %q", f, len(rows), limit, next)
						}
						for _, r := range rows {
							if r.WorkspaceID != ws.ID {
								t.Fatalf("row %d of workspace %d", r.ID, r.WorkspaceID)
							}
							got = append(got, r.ID)
						}
						if next == "" {
							break
						}
						cursor = next
					}
					if !slices.Equal(got, want) {
						t.Errorf("strategy %+v, limit %d, %+v: %d rows, want %d (%v... vs %v...)",
							win, limit, f, len(got), len(want), head(got), head(want))
					}
					n, err := s.CountMatching(ctx, ws.ID, f)
					if err != nil || n != int64(len(want)) {
						t.Errorf("%+v: CountMatching %d %v, want %d", f, n, err, len(want))
					}
				}
			}
		}
	})
}

func head(ids []int64) []int64 { return ids[:min(len(ids), 5)] }

// reference lists the ids a search filter matches, in list order, with the conditions written
// out plainly (every matching conversation sorted in full).
func reference(t *testing.T, s *store.Store, wsID int64, f store.Filter) []int64 {
	t.Helper()
	q := s.DB.NewSelect().TableExpr("conversations AS c").Column("c.id").Where("c.workspace_id = ?", wsID)
	if s.Dialect == store.Postgres {
		q = q.Where("c.id IN (SELECT m.conversation_id FROM messages AS m WHERE m.workspace_id = ? AND m.search @@ plainto_tsquery('simple', ?))", wsID, f.Query)
	} else {
		q = q.Where("c.id IN (SELECT m.conversation_id FROM messages_fts JOIN messages AS m ON m.id = messages_fts.rowid WHERE messages_fts MATCH ? AND m.workspace_id = ?)", store.FTS5Query(f.Query), wsID)
	}
	if f.Type != "" {
		q = q.Where("c.type = ?", f.Type)
	}
	if f.From != nil {
		q = q.Where("c.last_message_at >= ?", f.From.UTC())
	}
	if f.Customer != "" {
		q = q.Where("substr(c.customer, 1, ?) = ?", len(f.Customer), f.Customer)
	}
	if f.Sort == "cost" {
		q = q.OrderExpr("c.cost_nanos DESC, c.id DESC")
	} else {
		q = q.OrderExpr("c.last_message_at DESC, c.id DESC")
	}
	var ids []int64
	if err := q.Scan(context.Background(), &ids); err != nil {
		t.Fatal(err)
	}
	return ids
}
