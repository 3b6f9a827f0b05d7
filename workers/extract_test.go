package workers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/extract"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/workers"
)

const exVars = `[{"name":"email","type":"email","required":true},{"name":"name","type":"text","required":true},{"name":"plan","type":"enum","options":["Basic","Pro"]}]`

func exSetup(t testing.TB, a *app.App, typ string) (int64, *store.Conversation) {
	t.Helper()
	ctx := context.Background()
	w, _, err := a.Store.CreateWorkspaceWithUser(ctx, "W", fmt.Sprintf("w%d@example.com", time.Now().UnixNano()), "hash")
	if err != nil {
		t.Fatal(err)
	}
	as := &store.Assistant{WorkspaceID: w.ID, Name: "Sales", Variables: exVarsList(t)}
	if err := a.Store.CreateAssistant(ctx, as); err != nil {
		t.Fatal(err)
	}
	conv := &store.Conversation{WorkspaceID: w.ID, AssistantID: &as.ID, Type: typ, Customer: fmt.Sprintf("c%d", time.Now().UnixNano()), AIEnabled: true}
	if err := a.Conversations.Create(ctx, conv); err != nil {
		t.Fatal(err)
	}
	return w.ID, conv
}

func extractTasks(t *testing.T, insp *asynq.Inspector) []*asynq.TaskInfo {
	t.Helper()
	var out []*asynq.TaskInfo
	sched, err := insp.ListScheduledTasks(workers.QueueDefault)
	if err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatal(err)
	}
	pending, err := insp.ListPendingTasks(workers.QueueDefault)
	if err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatal(err)
	}
	for _, ti := range append(sched, pending...) {
		if ti.Type == workers.TypeConversationExtract {
			out = append(out, ti)
		}
	}
	return out
}

// A burst of customer messages schedules one extraction, a few seconds after the burst, and
// running it reads them all.
func TestExtractionDebounce(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	debounce := 5 * time.Second
	// A window in the future, so that the task is scheduled (not due yet).
	clock := time.Now().Add(time.Minute).Truncate(debounce).Add(200 * time.Millisecond)
	sched := &workers.ExtractScheduler{Tasks: a.Tasks, Debounce: debounce, Now: func() time.Time { return clock }}
	a.Conversations.OnUserMessage = sched.OnUserMessage
	ws, conv := exSetup(t, a, model.TypeWidget)
	burst := []string{"hi", "I'm Jane", "jane@example.com", "we'd like", "the pro plan"}
	for _, txt := range burst {
		if _, err := a.Conversations.AddMessage(ctx, &store.Message{WorkspaceID: ws, ConversationID: conv.ID, Role: "user", Content: txt}); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(700 * time.Millisecond)
	}
	// The assistant's messages schedule nothing.
	if _, err := a.Conversations.AddMessage(ctx, &store.Message{WorkspaceID: ws, ConversationID: conv.ID, Role: "assistant", Content: "ok"}); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(a.Redis)
	tasks := extractTasks(t, insp)
	if len(tasks) != 1 {
		t.Fatalf("a burst of %d messages scheduled %d extractions, want 1", len(burst), len(tasks))
	}
	window := clock.UnixNano() / int64(debounce)
	if tasks[0].ID != fmt.Sprintf("%s:extract:%d:%d", a.Tasks.Prefix(), conv.ID, window) {
		t.Fatalf("task id %q", tasks[0].ID)
	}
	runAt := time.Unix(0, (window+1)*int64(debounce)).Add(workers.ExtractGrace)
	if !tasks[0].NextProcessAt.Equal(runAt) || tasks[0].State != asynq.TaskStateScheduled {
		t.Fatalf("runs at %v (%v), want %v", tasks[0].NextProcessAt, tasks[0].State, runAt)
	}
	// A message of the next window gets a task of its own.
	clock = clock.Add(debounce)
	if _, err := a.Conversations.AddMessage(ctx, &store.Message{WorkspaceID: ws, ConversationID: conv.ID, Role: "user", Content: "thanks"}); err != nil {
		t.Fatal(err)
	}
	if n := len(extractTasks(t, insp)); n != 2 {
		t.Fatalf("next window: %d tasks", n)
	}
	// Running the first task extracts from the whole burst, once.
	h := &workers.Extract{Tasks: a.Tasks, Log: testkit.Logger(t), Extractor: &extract.Extractor{Store: a.Store, LLM: llm.NewOffline(llm.OfflineOptions{}), Log: testkit.Logger(t)}}
	task := asynq.NewTask(tasks[0].Type, tasks[0].Payload)
	if err := h.HandleExtract(ctx, task); err != nil {
		t.Fatal(err)
	}
	if err := h.HandleExtract(ctx, task); err != nil { // at least once: a duplicate run
		t.Fatal(err)
	}
	vs, _ := a.Store.Variables(ctx, ws, conv.ID)
	got := map[string]string{}
	for _, v := range vs {
		got[v.Name] = v.Value
	}
	if got["email"] != "jane@example.com" || got["plan"] != "Pro" {
		t.Fatalf("variables: %v", got)
	}
	st, err := a.Store.ExtractionStateOf(ctx, ws, conv.ID)
	if err != nil || st.Runs != 1 {
		t.Fatalf("runs: %+v %v", st, err)
	}
}

func TestExtractionSweepOfEndedConversations(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	a.Conversations.OnUserMessage = nil
	ws, conv := exSetup(t, a, model.TypeWidget)
	h := &workers.Extract{Tasks: a.Tasks, Log: testkit.Logger(t), Extractor: &extract.Extractor{Store: a.Store, LLM: llm.NewOffline(llm.OfflineOptions{}), Log: testkit.Logger(t)}}
	if _, err := a.Conversations.AddMessage(ctx, &store.Message{WorkspaceID: ws, ConversationID: conv.ID, Role: "user", Content: "jane@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.EndConversation(ctx, ws, conv.ID, model.EndAgent, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := h.HandleSweep(ctx, tk.ExtractionSweep()); err != nil {
		t.Fatal(err)
	}
	if err := h.HandleSweep(ctx, tk.ExtractionSweep()); err != nil {
		t.Fatal(err)
	}
	tasks := extractTasks(t, asynq.NewInspectorFromRedisClient(a.Redis))
	if len(tasks) != 1 || tasks[0].ID != fmt.Sprintf("%s:extract:%d:end", a.Tasks.Prefix(), conv.ID) {
		t.Fatalf("final extraction tasks: %v", tasks)
	}
	if err := h.HandleExtract(ctx, asynq.NewTask(tasks[0].Type, tasks[0].Payload)); err != nil {
		t.Fatal(err)
	}
	if refs, _ := a.Store.EndedWithoutFinalExtraction(ctx, time.Now().Add(-time.Hour), 10); len(refs) != 0 {
		t.Fatalf("still waiting for its final extraction: %v", refs)
	}
	vs, _ := a.Store.Variables(ctx, ws, conv.ID)
	if len(vs) != 1 || vs[0].Value != "jane@example.com" {
		t.Fatalf("variables: %+v", vs)
	}
}

func TestExtractBadPayloadsSkipRetry(t *testing.T) {
	h := &workers.Extract{Extractor: &extract.Extractor{}}
	for _, p := range []string{`nonsense`, `{"workspace_id":1}`, `{"workspace_id":1,"conversation_id":2,"reason":"because"}`} {
		if err := h.HandleExtract(context.Background(), asynq.NewTask(workers.TypeConversationExtract, []byte(p))); !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := tk.Extract(workers.ExtractPayload{WorkspaceID: 1}, time.Now(), 0); err == nil {
		t.Fatal("a task needs a conversation")
	}
	t1, _ := tk.Extract(workers.ExtractPayload{WorkspaceID: 1, ConversationID: 2, Reason: extract.ReasonRerun}, time.Now(), 0)
	var p workers.ExtractPayload
	if err := json.Unmarshal(t1.Payload(), &p); err != nil || p.Token == "" {
		t.Fatalf("a rerun has a token of its own: %+v", p)
	}
}

// BenchmarkExtractJob measures one conversation:extract job with the offline provider: a
// conversation of six messages whose email and plan the extractors settle and whose name goes
// to the (offline) model, with its usage recorded and the values stored.
func BenchmarkExtractJob(b *testing.B) {
	a := testkit.App(b, testkit.Config(b))
	a.Conversations.OnUserMessage = nil
	ctx := context.Background()
	h := &workers.Extract{Tasks: a.Tasks, Log: testkit.Logger(b), Extractor: &extract.Extractor{Store: a.Store, LLM: llm.NewOffline(llm.OfflineOptions{}), Log: testkit.Logger(b)}}
	name := llm.VariableSpec{Name: "name", Type: "text", Required: true}
	ws, _ := exSetup(b, a, model.TypeWidget)
	as, err := a.Store.Assistants(ctx, ws)
	if err != nil || len(as) != 1 {
		b.Fatal(err)
	}
	lines := []string{"A:Hello! " + llm.AskFor(name), "Sure, my name is Jane Doe", "A:Thanks! And your email?", "jane@example.com", "A:Which plan?", "the pro plan please"}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		conv := &store.Conversation{WorkspaceID: ws, AssistantID: &as[0].ID, Type: model.TypeWidget, Customer: fmt.Sprintf("bench-%d", i)}
		if err := a.Store.CreateConversation(ctx, conv); err != nil {
			b.Fatal(err)
		}
		for _, l := range lines {
			role := "user"
			if strings.HasPrefix(l, "A:") {
				role, l = "assistant", l[2:]
			}
			if _, err := a.Store.AddMessage(ctx, &store.Message{WorkspaceID: ws, ConversationID: conv.ID, Role: role, Content: l}); err != nil {
				b.Fatal(err)
			}
		}
		task, _ := tk.Extract(workers.ExtractPayload{WorkspaceID: ws, ConversationID: conv.ID, Reason: extract.ReasonMessage}, time.Now(), 0)
		b.StartTimer()
		if err := h.HandleExtract(ctx, task); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// The real asynq server runs the extraction and tally tasks through the mux.
func TestWorkerServerRunsExtractionAndTally(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	a.Conversations.OnUserMessage = nil
	ws, conv := exSetup(t, a, model.TypeWidget)
	name := llm.VariableSpec{Name: "name", Type: "text", Required: true}
	for _, m := range []store.Message{{Role: "assistant", Content: "Hi! " + llm.AskFor(name)}, {Role: "user", Content: "Jane Doe, jane@example.com"}} {
		m.WorkspaceID, m.ConversationID = ws, conv.ID
		if _, err := a.Conversations.AddMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}
	h := workers.Handlers{
		Extract: &workers.Extract{Tasks: a.Tasks, Log: testkit.Logger(t), Extractor: &extract.Extractor{Store: a.Store, LLM: llm.NewOffline(llm.OfflineOptions{}), Log: testkit.Logger(t)}},
		Tally:   &workers.Tally{Tally: &usage.Tally{Store: a.Store, Log: testkit.Logger(t)}},
	}
	srv := asynq.NewServerFromRedisClient(a.Redis, asynq.Config{Concurrency: 2, Queues: workers.QueuePriorities, Logger: quiet{}})
	if err := srv.Start(workers.NewMux(h)); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	task, _ := tk.Extract(workers.ExtractPayload{WorkspaceID: ws, ConversationID: conv.ID, Reason: extract.ReasonRerun}, time.Now(), 0)
	if err := workers.Enqueue(ctx, a.Queue, task); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		vs, _ := a.Store.Variables(ctx, ws, conv.ID)
		if len(vs) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the extraction did not run: %+v", vs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := workers.Enqueue(ctx, a.Queue, tk.UsageTally()); err != nil {
		t.Fatal(err)
	}
	for {
		n, _ := a.Store.UntalliedUsage(ctx)
		rows, _ := a.Store.Rollups(ctx, ws, "2000-01-01", "2100-01-01")
		if n == 0 && len(rows) > 0 && rows[0].LLMCalls == 1 && rows[0].Conversations == 1 && rows[0].Messages == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tally did not run: %d untallied, %+v", n, rows)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The schedule has the periodic entries.
	types := map[string]bool{}
	for _, e := range (workers.Schedule{Tasks: tk}).Entries() {
		types[e.Task.Type()] = true
	}
	if !types[workers.TypeUsageTally] || !types[workers.TypeUsageReconcile] || !types[workers.TypeExtractionSweep] {
		t.Fatalf("schedule: %v", types)
	}
}

// exVarsList decodes exVars as the store reads the column.
func exVarsList(t testing.TB) store.Variables {
	var vs store.Variables
	if err := vs.Scan(exVars); err != nil {
		t.Fatal(err)
	}
	return vs
}
