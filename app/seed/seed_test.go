package seed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/cli"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/seed"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

func workspace(t *testing.T, s *store.Store) int64 {
	t.Helper()
	ws, password, err := seed.Workspace(context.Background(), s, 0)
	if err != nil || len(password) < 20 {
		t.Fatalf("workspace: %v, password %q", err, password)
	}
	u, err := s.UserByEmail(context.Background(), seed.DemoEmail)
	if err != nil || u.WorkspaceID != ws.ID {
		t.Fatalf("demo user: %v %+v", err, u)
	}
	if !auth.CheckPassword(u.PasswordHash, password) || auth.CheckPassword(u.PasswordHash, "parley-demo") {
		t.Fatal("the demo user signs in with the password returned, and no published one")
	}
	if ws2, pw2, err := seed.Workspace(context.Background(), s, 0); err != nil || pw2 != "" || ws2.ID != ws.ID {
		t.Fatalf("second Workspace: %v %q %v", ws2, pw2, err)
	}
	return ws.ID
}

// checkConsistency compares every stored list field and count with the rows they summarise.
func checkConsistency(t *testing.T, s *store.Store, wsID int64) (convs, msgs int64) {
	t.Helper()
	ctx := context.Background()
	var byType []struct {
		Type  string `bun:"type"`
		Count int64  `bun:"count"`
	}
	if err := s.DB.NewRaw("SELECT type, COUNT(*) AS count FROM conversations WHERE workspace_id = ? GROUP BY type", wsID).Scan(ctx, &byType); err != nil {
		t.Fatal(err)
	}
	counts, err := s.ConversationCounts(ctx, wsID)
	if err != nil {
		t.Fatal(err)
	}
	real := map[string]int64{}
	for _, r := range byType {
		real[r.Type] = r.Count
		convs += r.Count
	}
	for _, typ := range model.Types {
		if counts.ByType[typ] != real[typ] {
			t.Errorf("conversation_counts[%s] = %d, COUNT(*) = %d", typ, counts.ByType[typ], real[typ])
		}
	}
	// Fields that are sums over the messages.
	var bad []struct {
		ID int64 `bun:"id"`
	}
	err = s.DB.NewRaw(`SELECT c.id FROM conversations AS c
		LEFT JOIN (SELECT conversation_id, COUNT(*) AS n,
		       SUM(CASE WHEN role = 'user' THEN 1 ELSE 0 END) AS u,
		       SUM(prompt_tokens) AS p, SUM(completion_tokens) AS ct, SUM(cost_nanos) AS cost
		     FROM messages GROUP BY conversation_id) AS m ON m.conversation_id = c.id
		WHERE c.workspace_id = ? AND (m.n IS NULL OR c.message_count <> m.n OR c.user_message_count <> m.u
		   OR c.prompt_tokens <> m.p OR c.completion_tokens <> m.ct OR c.cost_nanos <> m.cost)`, wsID).Scan(ctx, &bad)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("%d conversations whose stored counts differ from their messages, e.g. %d", len(bad), bad[0].ID)
	}
	if err := s.DB.NewRaw("SELECT COUNT(*) FROM messages WHERE workspace_id = ?", wsID).Scan(ctx, &msgs); err != nil {
		t.Fatal(err)
	}
	// Assistant costs follow the gpt-4o-mini prices.
	var wrongCost int
	if err := s.DB.NewRaw("SELECT COUNT(*) FROM messages WHERE workspace_id = ? AND cost_nanos <> prompt_tokens * 150 + completion_tokens * 600", wsID).Scan(ctx, &wrongCost); err != nil {
		t.Fatal(err)
	}
	if wrongCost > 0 {
		t.Errorf("%d messages with a cost that is not prompt*150 + completion*600", wrongCost)
	}
	// Last message, preview, last inbound time and variables of a sample.
	var sample []store.Conversation
	if err := s.DB.NewSelect().Model(&sample).Where("workspace_id = ?", wsID).
		OrderExpr("id ASC").Limit(40).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range sample {
		var ms []store.Message
		if err := s.DB.NewSelect().Model(&ms).Where("conversation_id = ?", c.ID).Order("created_at ASC", "id ASC").Scan(ctx); err != nil {
			t.Fatal(err)
		}
		last := ms[len(ms)-1]
		if !c.LastMessageAt.Equal(last.CreatedAt) || c.LastMessagePreview != store.Preview(last.Content) || c.LastMessageRole != last.Role {
			t.Errorf("conversation %d: last message %v %q %s, stored %v %q %s", c.ID, last.CreatedAt, store.Preview(last.Content), last.Role,
				c.LastMessageAt, c.LastMessagePreview, c.LastMessageRole)
		}
		if !c.StartedAt.Equal(ms[0].CreatedAt) {
			t.Errorf("conversation %d: started %v, first message %v", c.ID, c.StartedAt, ms[0].CreatedAt)
		}
		var lastIn *time.Time
		for i := range ms {
			if ms[i].Role == "user" {
				lastIn = &ms[i].CreatedAt
			}
		}
		if (lastIn == nil) != (c.LastInboundAt == nil) || (lastIn != nil && !lastIn.Equal(*c.LastInboundAt)) {
			t.Errorf("conversation %d: last inbound %v, stored %v", c.ID, lastIn, c.LastInboundAt)
		}
		if c.Type == model.TypeWhatsApp {
			if c.WindowExpiresAt == nil || lastIn == nil || !c.WindowExpiresAt.Equal(lastIn.Add(24*time.Hour)) {
				t.Errorf("conversation %d: window %v, last inbound %v", c.ID, c.WindowExpiresAt, lastIn)
			}
			if !regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`).MatchString(c.Customer) {
				t.Errorf("conversation %d: WhatsApp customer %q is not E.164", c.ID, c.Customer)
			}
		}
		if c.Charged != (c.Type != model.TypeTest) {
			t.Errorf("conversation %d (%s): charged=%v", c.ID, c.Type, c.Charged)
		}
		vs, err := s.Variables(ctx, wsID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]string{}
		if err := json.Unmarshal([]byte(c.Variables), &stored); err != nil {
			t.Fatalf("conversation %d: variables %q: %v", c.ID, c.Variables, err)
		}
		if len(stored) != len(vs) {
			t.Errorf("conversation %d: variables %q, rows %v", c.ID, c.Variables, vs)
		}
		for _, v := range vs {
			if stored[v.Name] != v.Value {
				t.Errorf("conversation %d: variable %s=%q, stored %q", c.ID, v.Name, v.Value, stored[v.Name])
			}
			switch v.Source {
			case "extracted":
				if v.MessageID == nil {
					t.Errorf("conversation %d: extracted %s without a message", c.ID, v.Name)
					continue
				}
				m, err := s.MessageByID(ctx, wsID, *v.MessageID)
				if err != nil || m.ConversationID != c.ID || m.Role != "user" || !strings.Contains(m.Content, v.Value) {
					t.Errorf("conversation %d: %s=%q extracted from %+v (%v)", c.ID, v.Name, v.Value, m, err)
				}
			case "prechat":
				if c.Type != model.TypeWidget || v.MessageID != nil {
					t.Errorf("conversation %d (%s): pre-chat variable %+v", c.ID, c.Type, v)
				}
			default:
				t.Errorf("conversation %d: variable source %q", c.ID, v.Source)
			}
		}
	}
	return convs, msgs
}

func TestDemo(t *testing.T) {
	ctx := context.Background()
	s := testkit.NewDB(t).Open(t)
	wsID := workspace(t, s)
	now := time.Now()
	created, err := seed.Demo(ctx, s, wsID, now)
	if err != nil || !created {
		t.Fatalf("Demo: created=%v err=%v", created, err)
	}
	as, err := s.Assistants(ctx, wsID)
	if err != nil || len(as) != 2 {
		t.Fatalf("assistants: %v %v", as, err)
	}
	convs, msgs := checkConsistency(t, s, wsID)
	if convs < 55 || convs > 65 {
		t.Errorf("%d demo conversations, want 55-65", convs)
	}
	counts, _ := s.ConversationCounts(ctx, wsID)
	for _, typ := range model.Types {
		if counts.ByType[typ] == 0 {
			t.Errorf("no %s conversations", typ)
		}
	}
	var perConv []struct {
		N int `bun:"n"`
	}
	if err := s.DB.NewRaw("SELECT COUNT(*) AS n FROM messages WHERE workspace_id = ? GROUP BY conversation_id", wsID).Scan(ctx, &perConv); err != nil {
		t.Fatal(err)
	}
	for _, c := range perConv {
		if c.N < 2 || c.N > 20 {
			t.Errorf("a conversation with %d messages, want 2-20", c.N)
		}
	}
	// WhatsApp windows: some open, some closed, a few closed by the sweep; failed re-engagements.
	var open, closed, marked, failed int
	if err := s.DB.NewRaw("SELECT COUNT(*) FROM conversations WHERE workspace_id = ? AND type = 'whatsapp' AND window_expires_at > ?", wsID, now.UTC()).Scan(ctx, &open); err != nil {
		t.Fatal(err)
	}
	if err := s.DB.NewRaw("SELECT COUNT(*) FROM conversations WHERE workspace_id = ? AND type = 'whatsapp' AND window_expires_at <= ?", wsID, now.UTC()).Scan(ctx, &closed); err != nil {
		t.Fatal(err)
	}
	if err := s.DB.NewRaw("SELECT COUNT(*) FROM conversations WHERE workspace_id = ? AND window_closed_at IS NOT NULL", wsID).Scan(ctx, &marked); err != nil {
		t.Fatal(err)
	}
	if err := s.DB.NewRaw("SELECT COUNT(*) FROM messages WHERE workspace_id = ? AND status = 'failed' AND status_error = ? AND provider_message_id LIKE 'wamid.demo%'",
		wsID, seed.WhatsAppReengagementError).Scan(ctx, &failed); err != nil {
		t.Fatal(err)
	}
	if open == 0 || closed == 0 || marked == 0 || failed == 0 {
		t.Errorf("WhatsApp: %d open, %d closed, %d marked closed, %d failed messages", open, closed, marked, failed)
	}
	var prechat, extracted int
	_ = s.DB.NewRaw("SELECT COUNT(*) FROM conversation_variables WHERE workspace_id = ? AND source = 'prechat'", wsID).Scan(ctx, &prechat)
	_ = s.DB.NewRaw("SELECT COUNT(*) FROM conversation_variables WHERE workspace_id = ? AND source = 'extracted'", wsID).Scan(ctx, &extracted)
	if prechat == 0 || extracted == 0 {
		t.Errorf("variables: %d pre-chat, %d extracted", prechat, extracted)
	}
	// Over the last 90 days.
	var oldest time.Time
	if err := s.DB.NewSelect().Model((*store.Conversation)(nil)).ColumnExpr("MIN(started_at)").Where("workspace_id = ?", wsID).Scan(ctx, &oldest); err != nil {
		t.Fatal(err)
	}
	if oldest.Before(now.Add(-91 * 24 * time.Hour)) {
		t.Errorf("oldest conversation started %v", oldest)
	}

	// Every reply is an LLM call in the ledger, tallied into the rollups, which also count
	// every demo conversation: the Analytics page agrees with the conversations.
	var replies, ledger, untallied int
	var convCost, ledgerCost, rollupCost, rollupConvs int64
	for q, dst := range map[string]any{
		"SELECT COUNT(*) FROM messages WHERE workspace_id = ? AND role = 'assistant' AND (prompt_tokens > 0 OR completion_tokens > 0)": &replies,
		"SELECT COUNT(*) FROM usage_ledger WHERE workspace_id = ? AND purpose = 'reply'":                                               &ledger,
		"SELECT COUNT(*) FROM usage_ledger WHERE workspace_id = ? AND tallied_at IS NULL":                                              &untallied,
		"SELECT COALESCE(SUM(cost_nanos), 0) FROM conversations WHERE workspace_id = ?":                                                &convCost,
		"SELECT COALESCE(SUM(cost_nanos), 0) FROM usage_ledger WHERE workspace_id = ?":                                                 &ledgerCost,
		"SELECT COALESCE(SUM(cost_nanos), 0) FROM usage_daily WHERE workspace_id = ?":                                                  &rollupCost,
		"SELECT COALESCE(SUM(conversations), 0) FROM usage_daily WHERE workspace_id = ?":                                               &rollupConvs,
	} {
		if err := s.DB.NewRaw(q, wsID).Scan(ctx, dst); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if replies == 0 || ledger != replies || untallied != 0 {
		t.Errorf("ledger: %d reply rows for %d replies with tokens, %d untallied", ledger, replies, untallied)
	}
	if convCost == 0 || ledgerCost != convCost || rollupCost != convCost {
		t.Errorf("cost: conversations %d, ledger %d, rollups %d nano-dollars", convCost, ledgerCost, rollupCost)
	}
	if rollupConvs != int64(convs) {
		t.Errorf("rollups count %d conversations, want %d", rollupConvs, convs)
	}
	if drift, err := s.LedgerRollupDrift(ctx, store.Day(now.AddDate(0, 0, -100)), store.Day(now.AddDate(0, 0, 2))); err != nil || len(drift) != 0 {
		t.Errorf("ledger and rollups drift: %v %v", drift, err)
	}

	// A second run adds nothing.
	created, err = seed.Demo(ctx, s, wsID, now)
	if err != nil || created {
		t.Fatalf("second Demo: created=%v err=%v", created, err)
	}
	convs2, msgs2 := checkConsistency(t, s, wsID)
	if convs2 != convs || msgs2 != msgs {
		t.Errorf("second run: %d/%d conversations, %d/%d messages", convs2, convs, msgs2, msgs)
	}
	if as, _ := s.Assistants(ctx, wsID); len(as) != 2 {
		t.Errorf("second run: %d assistants", len(as))
	}
}

func searchIDs(t *testing.T, s *store.Store, wsID int64, word string) (found, want []int64) {
	t.Helper()
	ctx := context.Background()
	err := s.EachConversation(ctx, wsID, store.Filter{Query: word}, 100, func(c *store.Conversation) error {
		found = append(found, c.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB.NewRaw("SELECT DISTINCT conversation_id FROM messages WHERE workspace_id = ? AND lower(content) LIKE ? ORDER BY conversation_id",
		wsID, "%"+word+"%").Scan(ctx, &want); err != nil {
		t.Fatal(err)
	}
	sort.Slice(found, func(i, j int) bool { return found[i] < found[j] })
	return found, want
}

func TestBulk(t *testing.T) {
	ctx := context.Background()
	s := testkit.NewDB(t).Open(t)
	wsID := workspace(t, s)
	var progress bytes.Buffer
	res, err := seed.Bulk(ctx, s, seed.BulkOptions{WorkspaceID: wsID, Conversations: 500, MessagesPerConversation: 4, Batch: 120}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if res.Conversations != 500 || res.Messages != 2000 || res.Variables == 0 || res.RowsPerSecond() <= 0 {
		t.Fatalf("result %+v", res)
	}
	if strings.Count(progress.String(), "\n") < 5 || !strings.Contains(progress.String(), "500/500 conversations") {
		t.Errorf("progress: %q", progress.String())
	}
	convs, msgs := checkConsistency(t, s, wsID)
	if convs != 500 || msgs != 2000 {
		t.Fatalf("%d conversations, %d messages; want 500 and 2000", convs, msgs)
	}
	var nvars int64
	if err := s.DB.NewRaw("SELECT COUNT(*) FROM conversation_variables WHERE workspace_id = ?", wsID).Scan(ctx, &nvars); err != nil {
		t.Fatal(err)
	}
	if nvars != res.Variables {
		t.Errorf("%d variable rows, result says %d", nvars, res.Variables)
	}
	counts, _ := s.ConversationCounts(ctx, wsID)
	for _, typ := range model.Types {
		if counts.ByType[typ] < 50 {
			t.Errorf("only %d %s conversations", counts.ByType[typ], typ)
		}
	}

	// The list pages through all of them, newest first.
	seen := map[int64]bool{}
	cursor := ""
	var prev *store.Conversation
	for {
		rows, next, err := s.ListConversations(ctx, wsID, store.Filter{}, cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			c := rows[i]
			if seen[c.ID] || c.AssistantName == "" {
				t.Fatalf("row %d seen twice or without assistant", c.ID)
			}
			if prev != nil && c.LastMessageAt.After(prev.LastMessageAt) {
				t.Fatalf("not newest first: %v after %v", c.LastMessageAt, prev.LastMessageAt)
			}
			seen[c.ID], prev = true, &c
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 500 {
		t.Errorf("listed %d conversations", len(seen))
	}
	if rows, _, err := s.ListConversations(ctx, wsID, store.Filter{VarName: "email"}, "", 100); err != nil || len(rows) == 0 {
		t.Errorf("filter on email: %d rows, %v", len(rows), err)
	}

	// Full-text search finds exactly the conversations that contain the word.
	for _, tc := range []struct {
		word string
		want int
	}{{"zanzibar", 1}, {"kilimanjaro", 5}} {
		found, want := searchIDs(t, s, wsID, tc.word)
		if len(want) != tc.want || !equal(found, want) {
			t.Errorf("search %q: found %v, contained in %v (want %d)", tc.word, found, want, tc.want)
		}
	}
	if found, want := searchIDs(t, s, wsID, "order"); len(found) < 100 || !equal(found, want) {
		t.Errorf("search order: found %d, contained in %d", len(found), len(want))
	}

	// A second load adds to the first: fresh ids, no clash of WhatsApp threads, counts still right.
	res, err = seed.Bulk(ctx, s, seed.BulkOptions{WorkspaceID: wsID, Conversations: 300, MessagesPerConversation: 3, Batch: 1000, Workers: 3}, nil)
	if err != nil || res.Conversations != 300 || res.Messages != 900 {
		t.Fatalf("second bulk: %+v %v", res, err)
	}
	if convs, msgs := checkConsistency(t, s, wsID); convs != 800 || msgs != 2900 {
		t.Errorf("after second bulk: %d conversations, %d messages", convs, msgs)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSeedCommand(t *testing.T) {
	var env map[string]string
	if pg := testkit.PostgresURL(); pg != "" {
		env = map[string]string{"DATABASE_URL": testkit.NewPostgresDB(t).DatabaseURL, "PARLEY_SECRET_KEY": strings.Repeat("s", 40)}
	} else {
		env = map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "p.db")}
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.Run(args, &cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
		return code, out.String(), errb.String()
	}
	for _, args := range [][]string{
		{"seed"},
		{"seed", "--demo", "--bulk"},
		{"seed", "--bulk"},
		{"seed", "--bulk", "--conversations", "10"},
		{"seed", "--bulk", "--conversations", "0", "--messages-per-conversation", "3"},
		{"seed", "--bulk", "--conversations", "10", "--messages-per-conversation", "-1"},
		{"seed", "--bulk", "--conversations", "ten", "--messages-per-conversation", "3"},
		{"seed", "--demo", "--conversations", "10"},
		{"seed", "--demo", "extra"},
		{"seed", "--nope"},
	} {
		if code, _, stderr := run(args...); code != 2 || !strings.Contains(stderr, "usage: parley seed") {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
	if code, out, _ := run("seed", "--help"); code != 0 || !strings.Contains(out, "--bulk") {
		t.Errorf("seed --help: %d %q", code, out)
	}
	code, out, stderr := run("seed", "--demo")
	printed := regexp.MustCompile(`sign in as (\S+) with password (\S+) `).FindStringSubmatch(out)
	if code != 0 || printed == nil || printed[1] != seed.DemoEmail || !strings.Contains(out, "added demo data") {
		t.Fatalf("seed --demo: %d %q %q", code, out, stderr)
	}
	code, out, stderr = run("seed", "--demo")
	if code != 0 || !strings.Contains(out, "demo data already present") || strings.Contains(out, printed[2]) {
		t.Fatalf("second seed --demo: %d %q %q", code, out, stderr)
	}
	code, out, stderr = run("seed", "--bulk", "--conversations", "50", "--messages-per-conversation", "2", "--batch", "20")
	if code != 0 || !strings.Contains(out, "rows/s") || !strings.Contains(out, "loaded 50 conversations, 100 messages") {
		t.Fatalf("seed --bulk: %d %q %q", code, out, stderr)
	}
	if code, _, stderr := run("seed", "--demo", "--workspace", "999"); code != 1 || !strings.Contains(stderr, "workspace 999 does not exist") {
		t.Errorf("unknown workspace: %d %q", code, stderr)
	}
}
