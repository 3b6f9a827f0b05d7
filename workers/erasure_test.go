package workers_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/workers"
)

// The victim of the erasure tests: a WhatsApp customer whose number, name and words must
// leave no trace once their conversation is deleted. Every needle is distinctive enough that
// finding it anywhere in the database's files means a copy was left behind.
const (
	erasePhone = "19998887766"
	eraseName  = "Ottoline Quibblesworth"
	eraseText  = "Xylophonewombat refund for order Quokkamarmalade"
	eraseEmail = "ottoline@zephyrquince.example"
	// The control conversation stays: finding it proves the dump sees the data at all.
	controlText = "Kumquatcontrolphrase stays"
)

// eraseNeedles are what must not be found after the deletion. FTS5 stores terms lowercased and
// prefix-compressed (a term can be stored as the suffix after the prefix it shares with the
// previous term), so the words' tails are looked for too.
var eraseNeedles = []string{
	erasePhone, "+" + erasePhone, "ottoline", "quibblesworth", "ibblesworth",
	"xylophonewombat", "lophonewombat", "quokkamarmalade", "okkamarmalade", "zephyrquince",
}

// customerWebhook is a text from customer `from` (a wa_id) with the given id.
func customerWebhook(from, id, name, body string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},
		"contacts":[{"profile":{"name":%q},"wa_id":%q}],
		"messages":[{"from":%q,"id":%q,"timestamp":"%d","type":"text","text":{"body":%q}}]}}]}]}`,
		waPhoneID, name, from, from, id, at.Unix(), body))
}

// customerStatus is a delivery status of message id sent to customer `to`.
func customerStatus(to, id, status string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},
		"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":%q}]}}]}]}`, waPhoneID, id, status, at.Unix(), to))
}

// seedVictim runs the victim's conversation through the real path (signed webhook, stored raw
// event, worker processing, AI reply sent to the fake Graph API, its delivery status), gives it
// a variable, an extraction record and usage rows, and stores a control conversation.
func seedVictim(t *testing.T, e *waEnv) *store.Conversation {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	e.post(customerWebhook(erasePhone, "wamid.ERASE-IN-1", eraseName, eraseText, now))
	e.run()
	e.runScheduled(workers.TypeWhatsAppReply)
	e.run()
	c := &store.Conversation{WorkspaceID: e.asst.WorkspaceID, AssistantID: &e.asst.ID, Customer: "+" + erasePhone}
	if created, err := e.a.Store.FindOrCreateWhatsAppConversation(ctx, c); err != nil || created {
		t.Fatalf("victim conversation: created=%v %v", created, err)
	}
	var inID, outID int64
	var wamid string
	for _, m := range e.messages(c) {
		switch m.Role {
		case "user":
			inID = m.ID
		case "assistant":
			outID = m.ID
			if m.ProviderMessageID != nil {
				wamid = *m.ProviderMessageID
			}
		}
	}
	if inID == 0 || outID == 0 || !strings.HasPrefix(wamid, "wamid.") {
		t.Fatalf("victim messages: in=%d out=%d wamid=%q", inID, outID, wamid)
	}
	e.post(customerStatus(erasePhone, wamid, "delivered", now))
	e.post(customerStatus(erasePhone, wamid, "read", now))
	e.run()
	for _, ev := range e.events() {
		if ev.ProcessedAt == nil || ev.ConversationID == nil || *ev.ConversationID != c.ID {
			t.Fatalf("event %s (%s): processed %v, conversation %v; want processed into %d", ev.ProviderID, ev.Kind, ev.ProcessedAt, ev.ConversationID, c.ID)
		}
	}
	if err := e.a.Store.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: c.WorkspaceID, ConversationID: c.ID,
		Name: "email", Value: eraseEmail, Source: "api"}); err != nil {
		t.Fatal(err)
	}
	usage := &store.UsageEntry{WorkspaceID: c.WorkspaceID, ConversationID: &c.ID, AssistantID: &e.asst.ID, ConversationType: model.TypeWhatsApp,
		RequestID: "extract:erasure:1", Purpose: "extraction", Model: "gpt-4o-mini", PromptTokens: 120, CompletionTokens: 7, CostNanos: 4242, Charged: true}
	if _, err := e.a.Store.ApplyExtraction(ctx, store.ExtractionUpdate{WorkspaceID: c.WorkspaceID, ConversationID: c.ID,
		Values: []store.ExtractedValue{{Name: "order", Value: "Quokkamarmalade", MessageID: inID}}, Usage: usage, LastMessageID: inID,
		Error: "model said: " + eraseText}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Store.InsertUsage(ctx, &store.UsageEntry{WorkspaceID: c.WorkspaceID, ConversationID: &c.ID, MessageID: &outID,
		AssistantID: &e.asst.ID, ConversationType: model.TypeWhatsApp, RequestID: "reply:erasure:1", Purpose: "reply",
		Model: "gpt-4o-mini", PromptTokens: 300, CompletionTokens: 20, CostNanos: 9999, Charged: true}); err != nil {
		t.Fatal(err)
	}
	ctrl := &store.Conversation{WorkspaceID: c.WorkspaceID, Type: model.TypeTest, Customer: "control", StartedAt: now, AIEnabled: true}
	if err := e.a.Store.StartConversation(ctx, ctrl, nil, &store.Message{WorkspaceID: c.WorkspaceID, Role: "user",
		Content: controlText, ContentType: "text", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// Before the deletion every needle is there: the dump would see a leftover copy.
	dump := dumpDatabase(t, e)
	for _, n := range []string{erasePhone, "xylophonewombat", "zephyrquince", "quibblesworth", "kumquatcontrolphrase"} {
		if !bytes.Contains(dump, []byte(n)) {
			t.Fatalf("before the deletion the dump lacks %q: the dump does not see the data", n)
		}
	}
	return c
}

// TestErasureLeavesNoTrace deletes the victim's conversation one way or another and dumps the
// whole database (on SQLite the raw bytes of the file and its write-ahead log; on PostgreSQL
// pg_dump and every row of every table as text): no trace of the customer's words, name, email
// or phone number may remain, while the usage ledger keeps its amounts.
func TestErasureLeavesNoTrace(t *testing.T) {
	for _, how := range []string{"single", "bulk", "retention"} {
		t.Run(how, func(t *testing.T) {
			e := newWAEnv(t, 24*time.Hour)
			c := seedVictim(t, e)
			ctx := context.Background()
			ws := c.WorkspaceID
			switch how {
			case "single":
				if err := e.a.Conversations.Delete(ctx, ws, c.ID); err != nil {
					t.Fatal(err)
				}
			case "bulk":
				jobs := conversation.BulkJobs{Redis: e.a.Redis}
				if err := jobs.Start(ctx, ws, "erasure", 1); err != nil {
					t.Fatal(err)
				}
				n, err := e.a.Conversations.RunBulkDelete(ctx, jobs, ws, "erasure", "type=whatsapp", time.Now(), 10)
				if err != nil || n != 1 {
					t.Fatalf("bulk delete: %d, %v", n, err)
				}
			case "retention":
				if err := e.a.Store.SetWorkspaceSettings(ctx, ws, `{"retention_days":{"whatsapp":1}}`); err != nil {
					t.Fatal(err)
				}
				done, err := e.a.Conversations.ApplyRetention(ctx, time.Now().Add(72*time.Hour), 10)
				if err != nil || len(done) != 1 || done[0].Deleted != 1 {
					t.Fatalf("retention: %+v, %v", done, err)
				}
			}
			dump := dumpDatabase(t, e)
			for _, n := range eraseNeedles {
				if i := bytes.Index(dump, []byte(n)); i >= 0 {
					t.Errorf("after the %s deletion the database still holds %q: ...%s...", how, n, context80(dump, i))
				}
			}
			if !bytes.Contains(dump, []byte("kumquatcontrolphrase")) {
				t.Errorf("the control conversation's text is gone from the dump: the dump is blind")
			}
			var ledger []store.UsageEntry
			if err := e.a.Store.DB.NewSelect().Model(&ledger).Where("workspace_id = ?", ws).Order("id").Scan(ctx); err != nil {
				t.Fatal(err)
			}
			if len(ledger) != 2 || ledger[0].CostNanos+ledger[1].CostNanos != 4242+9999 || ledger[0].ConversationID != nil {
				t.Errorf("usage ledger after the deletion: %+v; want both rows, amounts kept, no conversation", ledger)
			}
		})
	}
}

func context80(b []byte, i int) string {
	return strings.ToValidUTF8(string(b[max(0, i-40):min(len(b), i+40)]), "?")
}

// dumpDatabase returns, lowercased, everything the test's database holds. SQLite: the raw
// bytes of the database file and of its write-ahead log as they are on disk now (after the
// checkpoints the product itself ran), plus every value of every table. PostgreSQL: pg_dump's
// data (when pg_dump is on the machine) plus every row of every table cast to text.
func dumpDatabase(t *testing.T, e *waEnv) []byte {
	t.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	db := e.a.Store.DB
	if e.a.Store.Dialect == store.SQLite {
		path := e.a.Config.SQLitePath
		for _, p := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			out.Write(b)
		}
		var tables []string
		if err := db.NewRaw("SELECT name FROM sqlite_master WHERE type = 'table'").Scan(ctx, &tables); err != nil {
			t.Fatal(err)
		}
		for _, tb := range tables {
			dumpRows(t, e, &out, fmt.Sprintf("SELECT * FROM %q", tb))
		}
	} else {
		if pgDump, err := exec.LookPath("pg_dump"); err == nil {
			cmd := exec.Command(pgDump, "--data-only", "--no-owner", e.a.Config.DatabaseURL)
			b, err := cmd.Output()
			if err != nil {
				t.Fatalf("pg_dump: %v", err)
			}
			out.Write(b)
		}
		var tables []string
		if err := db.NewRaw("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'").Scan(ctx, &tables); err != nil {
			t.Fatal(err)
		}
		for _, tb := range tables {
			dumpRows(t, e, &out, fmt.Sprintf("SELECT t::text FROM %q AS t", tb))
		}
	}
	return bytes.ToLower(out.Bytes())
}

// dumpRows appends every value of every row that query returns.
func dumpRows(t *testing.T, e *waEnv, out *bytes.Buffer, query string) {
	t.Helper()
	rows, err := e.a.Store.DB.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if b, ok := v.([]byte); ok {
				out.Write(b)
			} else {
				fmt.Fprint(out, v)
			}
			out.WriteByte('\n')
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestInboundPruneKeepsUnprocessed: the maintenance task deletes processed raw events older
// than the retention, in batches, and keeps unprocessed ones whatever their age and recent ones.
func TestInboundPruneKeepsUnprocessed(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	ctx := context.Background()
	e.inbound.Service.Retention = 48 * time.Hour
	old := time.Now().Add(-72 * time.Hour)
	var oldProcessed []int64
	mk := func(id string, at time.Time, processed bool) int64 {
		ev := &store.InboundEvent{Provider: "whatsapp", ProviderID: id, Kind: "change", Payload: `{"phone":"` + erasePhone + `"}`, ReceivedAt: at}
		if _, err := e.a.Store.InsertInboundEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if processed {
			if err := e.a.Store.MarkEventProcessed(ctx, ev.ID); err != nil {
				t.Fatal(err)
			}
		}
		return ev.ID
	}
	for i := range 2500 { // more than one batch
		oldProcessed = append(oldProcessed, mk(fmt.Sprintf("change:old-%d", i), old, true))
	}
	unprocessed := mk("change:old-unprocessed", old.Add(-24*time.Hour), false)
	recent := mk("change:recent", time.Now().Add(-time.Hour), true)

	if err := e.mux.ProcessTask(ctx, tk.InboundPrune()); err != nil {
		t.Fatal(err)
	}
	var left []int64
	if err := e.a.Store.DB.NewSelect().Model((*store.InboundEvent)(nil)).Column("id").Order("id").Scan(ctx, &left); err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0] != unprocessed || left[1] != recent {
		t.Fatalf("after the prune %d events are left (%v...); want the unprocessed %d and the recent %d", len(left), left[:min(len(left), 5)], unprocessed, recent)
	}
	if _, err := e.a.Store.InboundEventByID(ctx, oldProcessed[0]); err == nil {
		t.Fatal("an old processed event survived")
	}
	// The schedule runs it.
	found := false
	for _, en := range (workers.Schedule{Tasks: tk}).Entries() {
		found = found || en.Task.Type() == workers.TypeInboundPrune
	}
	if !found {
		t.Fatal("the schedule has no inbound:prune entry")
	}
}

// redisHolds reports whether any key or value of the test's Redis contains needle.
func redisHolds(t *testing.T, e *waEnv, needle string) bool {
	t.Helper()
	ctx := context.Background()
	r := e.a.Redis
	keys, err := r.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		var vals []string
		switch r.Type(ctx, k).Val() {
		case "string":
			vals = []string{r.Get(ctx, k).Val()}
		case "hash":
			for f, v := range r.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "list":
			vals = r.LRange(ctx, k, 0, -1).Val()
		case "set":
			vals = r.SMembers(ctx, k).Val()
		case "zset":
			vals = r.ZRange(ctx, k, 0, -1).Val()
		}
		for _, v := range append(vals, k) {
			if strings.Contains(strings.ToLower(v), needle) {
				return true
			}
		}
	}
	return false
}

// A bulk deletion's task carries the list's filters, which can be a customer's words or
// number: once it has run, Redis keeps no copy of them (asynq would keep a completed task with
// its payload for its retention time).
func TestBulkDeleteTaskLeavesNoQueryInRedis(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	c := seedVictim(t, e)
	ctx := context.Background()
	jobs := conversation.BulkJobs{Redis: e.a.Redis}
	mux := workers.NewMux(workers.Handlers{Inbound: e.inbound, WhatsApp: e.wa,
		Maintenance: &workers.Maintenance{Conversations: e.a.Conversations, Jobs: jobs, Log: testkit.Logger(t), Batch: 10}})
	srv := asynq.NewServerFromRedisClient(e.a.Redis, asynq.Config{Concurrency: 1, Queues: workers.QueuePriorities, Logger: quiet{}})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if err := jobs.Start(ctx, c.WorkspaceID, "job1", 1); err != nil {
		t.Fatal(err)
	}
	task, err := e.a.Tasks.DeleteMatching(workers.DeleteMatchingPayload{WorkspaceID: c.WorkspaceID, JobID: "job1",
		Query: "customer=%2B" + erasePhone + "&q=Xylophonewombat", AskedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := workers.Enqueue(ctx, e.a.Queue, task); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		job, err := jobs.Get(ctx, c.WorkspaceID, "job1")
		if err == nil && job.State == "done" && !redisHolds(t, e, "xylophonewombat") && !redisHolds(t, e, erasePhone) {
			if job.Deleted != 1 {
				t.Fatalf("job: %+v", job)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after the bulk deletion (job %+v, %v) Redis still holds its query: words %v, number %v",
				job, err, redisHolds(t, e, "xylophonewombat"), redisHolds(t, e, erasePhone))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
