package workers_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/extract"
	"github.com/parleyhq/parley/app/inbound"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/usage"
	"github.com/parleyhq/parley/workers"
)

func replySweep(t *testing.T, st *store.Store, tasks *workers.Tasks, r *chat.Responder) *workers.Replies {
	return &workers.Replies{Store: st, Tasks: tasks, Chat: r, Log: testkit.Logger(t), Age: time.Millisecond}
}

// flush empties the test's Redis database, as a restarted in-process Redis or a FLUSHALL does. The queue registry
// is put back: the asynq client caches that it registered its queues (a restarted process
// registers them again), and the inspector lists only registered queues.
func flush(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.SAdd(ctx, "asynq:queues", workers.QueueCritical, workers.QueueDefault, workers.QueueLow).Err(); err != nil {
		t.Fatal(err)
	}
}

func intentOf(t *testing.T, st *store.Store, ws, msg int64) *store.PendingReply {
	t.Helper()
	r, err := st.PendingReplyFor(context.Background(), ws, msg)
	if err != nil {
		t.Fatalf("intent of message %d: %v", msg, err)
	}
	return r
}

// A WhatsApp reply waiting in Redis (inside its debounce) when Redis loses everything is not
// lost: its intent is in the database, the sweep enqueues it again, and the customer gets
// exactly one reply, counted on the fake Graph API's own records. Sweeping again sends
// nothing more.
func TestReplyIntentSurvivesRedisFlush(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	e.wa.Debounce = time.Hour // the reply task waits in Redis when Redis is flushed
	ctx := context.Background()
	e.post(textWebhook("wamid.FLUSH1", "Ada", "first", time.Now().Add(-time.Second)))
	e.post(textWebhook("wamid.FLUSH2", "Ada", "second", time.Now()))
	e.run()
	c := e.conv()
	msgs := e.messages(c)
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	if r := intentOf(t, e.a.Store, c.WorkspaceID, msgs[0].ID); r.State != store.ReplySuperseded || r.DoneAt == nil {
		t.Fatalf("the burst's first message keeps an intent: %+v", r)
	}
	if r := intentOf(t, e.a.Store, c.WorkspaceID, msgs[1].ID); r.State != store.ReplyPending || r.DoneAt != nil {
		t.Fatalf("intent of the latest message: %+v", r)
	}
	if n := len(e.scheduled(workers.TypeWhatsAppReply)); n == 0 {
		t.Fatal("no reply task waiting")
	}
	flush(t, e.a.Redis)
	sw := replySweep(t, e.a.Store, e.a.Tasks, nil)
	time.Sleep(5 * time.Millisecond)
	if err := sw.HandleSweep(ctx, e.a.Tasks.ReplySweep()); err != nil {
		t.Fatal(err)
	}
	errs := e.run()
	for id, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if n := len(e.graph.Accepted()); n != 1 {
		t.Fatalf("Meta took %d replies after the flush, want 1 (ran %v; intent %+v)", n, errs, intentOf(t, e.a.Store, c.WorkspaceID, msgs[1].ID))
	}
	if r := intentOf(t, e.a.Store, c.WorkspaceID, msgs[1].ID); r.State != store.ReplyReplied || r.DoneAt == nil || r.Sweeps != 1 {
		t.Fatalf("intent after the reply: %+v", r)
	}
	// Later sweeps (and the flushed task's twin, had it survived) send nothing more.
	sw.Now = func() time.Time { return time.Now().Add(time.Hour) }
	for i := 0; i < 2; i++ {
		if err := sw.HandleSweep(ctx, e.a.Tasks.ReplySweep()); err != nil {
			t.Fatal(err)
		}
		e.run()
	}
	p := workers.WhatsAppReplyPayload{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, MessageID: msgs[1].ID}
	twin, _ := e.a.Tasks.WhatsAppReply(p, "", 0, 0)
	if err := e.mux.ProcessTask(ctx, asynq.NewTask(twin.Type(), twin.Payload())); err != nil {
		t.Fatal(err)
	}
	if n, calls := len(e.graph.Sends()), e.replies.Load(); n != 1 || calls != 1 {
		t.Fatalf("%d Graph sends and %d replies asked, want 1 and 1", n, calls)
	}
}

// A stored reply whose send died before Meta answered (the process was killed) is finished
// by the sweep with the same key: still one send.
func TestReplySweepFinishesAStoredUnsentReply(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	e.wa.Debounce = time.Hour
	ctx := context.Background()
	e.post(textWebhook("wamid.KILL1", "Ada", "hi", time.Now()))
	e.run()
	c := e.conv()
	user := e.messages(c)[0]
	// The reply was written (by the chat responder) and the worker died before the send.
	if _, err := e.a.Conversations.AddMessage(ctx, &store.Message{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, Role: "assistant", Content: "Hello Ada", CreatedAt: store.Now()}); err != nil {
		t.Fatal(err)
	}
	flush(t, e.a.Redis)
	sw := replySweep(t, e.a.Store, e.a.Tasks, nil)
	time.Sleep(5 * time.Millisecond)
	if err := sw.HandleSweep(ctx, e.a.Tasks.ReplySweep()); err != nil {
		t.Fatal(err)
	}
	e.run()
	if n := len(e.graph.Accepted()); n != 1 {
		t.Fatalf("Meta took %d replies, want 1", n)
	}
	if r := intentOf(t, e.a.Store, c.WorkspaceID, user.ID); r.DoneAt == nil {
		t.Fatalf("intent: %+v", r)
	}
}

// A widget visitor's message whose web process died before the reply was stored (or whose
// request went away before it asked) is answered by the sweep in a worker: one LLM call, one
// stored reply, the intent done with it.
func TestWidgetReplyFinishedBySweep(t *testing.T) {
	fl := testkit.NewFakeLLM(t)
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: fl.URL, APIKey: "k", DefaultModel: "gpt-4o-mini", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := &chat.Responder{Store: a.Store, LLM: p, Prices: usage.Default(), Conversations: a.Conversations, Log: testkit.Logger(t), Redis: a.Redis, Events: a.Events, WaitRecheck: 50 * time.Millisecond}
	ws, _, err := a.Store.CreateWorkspaceWithUser(ctx, "W", "w@x.test", "h")
	if err != nil {
		t.Fatal(err)
	}
	asst := &store.Assistant{WorkspaceID: ws.ID, Name: "A", Model: "gpt-4o-mini", SystemPrompt: "Be brief."}
	if err := a.Store.CreateAssistant(ctx, asst); err != nil {
		t.Fatal(err)
	}
	conv, err := chat.StartSession(ctx, a.Store, a.Conversations, asst, model.TypeWidget, "visitor-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &store.Message{WorkspaceID: ws.ID, ConversationID: conv.ID, Role: "user", Content: "hi"}
	if _, err := a.Conversations.AddMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	// The web process that was streaming the reply was killed while holding the reply lock,
	// which expires a little later (deleted here: miniredis does not expire keys by itself).
	lock := "parley:replylock:" + chat.RequestID(conv.ID, m.ID)
	if err := a.Redis.Set(ctx, lock, "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		a.Redis.Del(context.Background(), lock)
	}()
	sw := replySweep(t, a.Store, a.Tasks, r)
	time.Sleep(5 * time.Millisecond)
	if err := sw.HandleSweep(ctx, a.Tasks.ReplySweep()); err != nil {
		t.Fatal(err)
	}
	mux := workers.NewMux(workers.Handlers{Replies: sw, Tasks: a.Tasks})
	tis, err := asynq.NewInspectorFromRedisClient(a.Redis).ListPendingTasks(workers.QueueCritical)
	if err != nil || len(tis) != 1 || tis[0].Type != workers.TypeChatReply {
		t.Fatalf("swept: %v %v", tis, err)
	}
	if err := mux.ProcessTask(ctx, asynq.NewTask(tis[0].Type, tis[0].Payload)); err != nil {
		t.Fatal(err)
	}
	page, err := a.Store.Messages(ctx, ws.ID, conv.ID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var replies int
	for _, x := range page.Messages {
		if x.Role == "assistant" {
			replies++
		}
	}
	if replies != 1 || fl.Calls() != 1 {
		t.Fatalf("%d replies stored, %d LLM calls; want 1 and 1", replies, fl.Calls())
	}
	if it := intentOf(t, a.Store, ws.ID, m.ID); it.State != store.ReplyReplied || it.DoneAt == nil {
		t.Fatalf("intent: %+v", it)
	}
	// Run again (a duplicate task): nothing more.
	if err := mux.ProcessTask(ctx, asynq.NewTask(tis[0].Type, tis[0].Payload)); err != nil {
		t.Fatal(err)
	}
	if fl.Calls() != 1 {
		t.Fatalf("%d LLM calls", fl.Calls())
	}
}

// A reply stored in the web request ends the intent in the same transaction: the sweep finds
// nothing to do. AI replies off: no intent at all.
func TestWidgetReplyInRequestEndsIntent(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	r := &chat.Responder{Store: a.Store, LLM: llm.NewOffline(llm.OfflineOptions{}), Prices: usage.Default(), Conversations: a.Conversations, Log: testkit.Logger(t), Redis: a.Redis, Events: a.Events}
	ws, _, err := a.Store.CreateWorkspaceWithUser(ctx, "W", "w@x.test", "h")
	if err != nil {
		t.Fatal(err)
	}
	asst := &store.Assistant{WorkspaceID: ws.ID, Name: "A", Model: "gpt-4o-mini"}
	if err := a.Store.CreateAssistant(ctx, asst); err != nil {
		t.Fatal(err)
	}
	conv, err := chat.StartSession(ctx, a.Store, a.Conversations, asst, model.TypeTest, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &store.Message{WorkspaceID: ws.ID, ConversationID: conv.ID, Role: "user", Content: "hi"}
	if _, err := a.Conversations.AddMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel() // the visitor went away: the reply is still stored
	if _, err := r.ReplyOnce(cctx, conv, asst, m.ID, func(string) error { return errors.New("gone") }); err != nil {
		t.Fatal(err)
	}
	if it := intentOf(t, a.Store, ws.ID, m.ID); it.State != store.ReplyReplied || it.DoneAt == nil {
		t.Fatalf("intent: %+v", it)
	}
	due, err := a.Store.DueReplies(ctx, time.Now().Add(time.Hour), time.Now().Add(-time.Hour), 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("due: %v %v", due, err)
	}
	// AI replies off: a customer message promises nothing.
	if err := a.Conversations.SetAIEnabled(ctx, ws.ID, conv.ID, false, "Ana"); err != nil {
		t.Fatal(err)
	}
	m2 := &store.Message{WorkspaceID: ws.ID, ConversationID: conv.ID, Role: "user", Content: "anyone?"}
	if _, err := a.Conversations.AddMessage(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.PendingReplyFor(ctx, ws.ID, m2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("intent with AI off: %v", err)
	}
}

// Two installations sharing one Redis both process their event #1: the task ids carry each
// installation's prefix (on one prefix-less id they collided and one event waited), and a
// worker hands the other installation's task back to its own workers. Then a database
// restored while Redis keeps the completed task's record: the installation keeps its prefix
// (it is in the database), event ids start again, and the new event #1 still gets a task of
// its own (the old id waited, unprocessed, until the record expired).
func TestTwoInstallationsShareARedis(t *testing.T) {
	cfgA := testkit.Config(t)
	cfgB := testkit.Config(t)
	cfgB.RedisURL = cfgA.RedisURL
	a := testkit.App(t, cfgA)
	b := testkit.App(t, cfgB)
	if a.Tasks.Prefix() == b.Tasks.Prefix() {
		t.Fatal("two installations with one prefix")
	}
	ctx := context.Background()
	var mu sync.Mutex
	processed := map[string][]int64{}
	serve := func(name string, st *store.Store, tasks *workers.Tasks, rdb redis.UniversalClient) (stop func()) {
		in := &workers.Inbound{Tasks: tasks, Log: testkit.Logger(t), Service: &inbound.Service{Store: st, Log: testkit.Logger(t),
			Processors: map[string]inbound.Processor{"test": func(_ context.Context, ev *store.InboundEvent) error {
				mu.Lock()
				defer mu.Unlock()
				processed[name] = append(processed[name], ev.ID)
				return nil
			}}}}
		srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 2, Queues: workers.QueuePriorities, Logger: quiet{},
			RetryDelayFunc: workers.RetryDelay, DelayedTaskCheckInterval: 100 * time.Millisecond})
		if err := srv.Start(workers.NewMux(workers.Handlers{Inbound: in, Tasks: tasks})); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		stop = func() { once.Do(srv.Shutdown) }
		t.Cleanup(stop)
		return stop
	}
	event1 := func(st *store.Store, tasks *workers.Tasks) {
		t.Helper()
		ev := &store.InboundEvent{Provider: "test", ProviderID: "evt-1", Kind: "message", Payload: `{}`}
		if ok, err := st.InsertInboundEvent(ctx, ev); err != nil || !ok || ev.ID != 1 {
			t.Fatalf("event: %v %v %d", ok, err, ev.ID)
		}
		task, err := tasks.InboundProcess(ev.ID, ev.ReceivedAt, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := tasks.Enqueue(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	event1(a.Store, a.Tasks)
	event1(b.Store, b.Tasks)
	tis, err := asynq.NewInspectorFromRedisClient(a.Redis).ListPendingTasks(workers.QueueCritical)
	if err != nil || len(tis) != 2 {
		t.Fatalf("two events #1, %d tasks queued (%v)", len(tis), err)
	}
	stopA := serve("A", a.Store, a.Tasks, a.Redis)
	serve("B", b.Store, b.Tasks, b.Redis)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%s: processed %v", what, processed)
			}
		}
	}
	waitFor("both installations' event #1", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(processed["A"]) == 1 && len(processed["B"]) == 1
	})
	for _, x := range []*store.Store{a.Store, b.Store} {
		if ev, err := x.InboundEventByID(ctx, 1); err != nil || ev.ProcessedAt == nil {
			t.Fatalf("event #1 not processed: %+v %v", ev, err)
		}
	}

	// A restored: a new database with A's installation row, on the same Redis (A's processes
	// are gone: the restore replaces them).
	stopA()
	cfgR := testkit.Config(t)
	cfgR.RedisURL = cfgA.RedisURL
	r := testkit.App(t, cfgR)
	if _, err := r.Store.DB.NewUpdate().Table("installation").Set("prefix = ?", a.Tasks.Prefix()).Where("id = 1").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	prefix, err := r.Store.InstallationPrefix(ctx)
	if err != nil || prefix != a.Tasks.Prefix() {
		t.Fatalf("restored prefix %q %v", prefix, err)
	}
	rt, err := workers.NewTasks(prefix, r.Queue)
	if err != nil {
		t.Fatal(err)
	}
	serve("A-restored", r.Store, rt, r.Redis)
	event1(r.Store, rt)
	waitFor("the restored installation's new event #1", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(processed["A-restored"]) == 1
	})
}

// A debounced extraction whose task Redis lost is found from the database by the extraction
// sweep (the customer's message is newer than what any extraction read), run once, and not
// enqueued again.
func TestExtractionDebounceSurvivesRedisFlush(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	a.Conversations.OnUserMessage = (&workers.ExtractScheduler{Tasks: a.Tasks, Log: testkit.Logger(t)}).OnUserMessage
	ws, conv := exSetup(t, a, model.TypeWidget)
	if _, err := a.Conversations.AddMessage(ctx, &store.Message{WorkspaceID: ws, ConversationID: conv.ID, Role: "user", Content: "I'm jane@example.com"}); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(a.Redis)
	if n := len(extractTasks(t, insp)); n != 1 {
		t.Fatalf("%d extraction tasks after the message", n)
	}
	flush(t, a.Redis)
	h := &workers.Extract{Tasks: a.Tasks, Log: testkit.Logger(t), Extractor: &extract.Extractor{Store: a.Store, LLM: llm.NewOffline(llm.OfflineOptions{}), Log: testkit.Logger(t)}}
	// Inside the debounce the sweep leaves it to its task.
	if err := h.HandleSweep(ctx, a.Tasks.ExtractionSweep()); err != nil {
		t.Fatal(err)
	}
	if n := len(extractTasks(t, insp)); n != 0 {
		t.Fatalf("the sweep raced the debounce: %d tasks", n)
	}
	h.Now = func() time.Time { return time.Now().Add(time.Minute) }
	if err := h.HandleSweep(ctx, a.Tasks.ExtractionSweep()); err != nil {
		t.Fatal(err)
	}
	tasks := extractTasks(t, insp)
	if len(tasks) != 1 {
		t.Fatalf("the lost extraction was not enqueued again: %d tasks", len(tasks))
	}
	if err := h.HandleExtract(ctx, asynq.NewTask(tasks[0].Type, tasks[0].Payload)); err != nil {
		t.Fatal(err)
	}
	vars, err := a.Store.Variables(ctx, ws, conv.ID)
	if err != nil || len(vars) == 0 {
		t.Fatalf("variables after the swept extraction: %v %v", vars, err)
	}
	flush(t, a.Redis)
	if err := h.HandleSweep(ctx, a.Tasks.ExtractionSweep()); err != nil {
		t.Fatal(err)
	}
	if n := len(extractTasks(t, insp)); n != 0 {
		t.Fatalf("an extracted conversation is swept again: %d tasks", n)
	}
}

// A reply task and its twin (asynq's re-run of a killed task, or the sweep's re-enqueue of a
// slow one) running at once send the reply once: the claim of the send is exclusive, and its
// key stays claimed after Meta's id replaced it on the message. The first phase makes the
// worst interleaving certain: four runs all pass the "answered yet?" check, one stores, sends
// and finishes the reply, and only then do the other three store theirs under the same key
// (with the key kept only as the message's provider id, each inserted a second reply and sent
// it). The rounds after it let the runs race freely.
func TestConcurrentReplyRunsSendOnce(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	e.wa.Debounce = time.Hour
	ctx := context.Background()
	e.post(textWebhook("wamid.TWIN1", "Ada", "hi", time.Now()))
	e.run()
	c := e.conv()
	user := e.messages(c)[0]
	replier := e.wa.Service.Replier
	var arrived atomic.Int32
	all := make(chan struct{})
	e.wa.Service.Replier = workers.WhatsAppReplierFunc(func(ctx context.Context, conv *store.Conversation, as *store.Assistant, id string) (*store.Message, error) {
		n := arrived.Add(1)
		if n == 4 {
			close(all)
		}
		select { // all four runs are past their checks before any stores a reply
		case <-all:
		case <-time.After(5 * time.Second):
		}
		if n > 1 { // the others store theirs once the first is sent and its intent done
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if r, err := e.a.Store.PendingReplyFor(ctx, conv.WorkspaceID, user.ID); err == nil && r.DoneAt != nil {
					break
				}
			}
		}
		return replier.Reply(ctx, conv, as, id)
	})
	race := func() {
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = e.wa.Service.ReplyIfDue(ctx, c.WorkspaceID, c.ID, user.ID)
			}()
		}
		wg.Wait()
	}
	race()
	if n := arrived.Load(); n != 4 {
		t.Fatalf("%d runs asked for the reply, want all 4 (the test's interleaving did not happen)", n)
	}
	if n := len(e.graph.Sends()); n != 1 {
		t.Fatalf("%d Graph sends of one reply after a run finished before its twins stored theirs, want 1", n)
	}
	e.wa.Service.Replier = replier
	for round := 0; round < 5; round++ {
		race()
	}
	if n := len(e.graph.Sends()); n != 1 {
		t.Fatalf("%d Graph sends of one reply, want 1", n)
	}
	var replies int
	for _, m := range e.messages(c) {
		if m.Role == "assistant" {
			replies++
		}
	}
	if replies != 1 {
		t.Fatalf("%d replies stored, want 1", replies)
	}
}
