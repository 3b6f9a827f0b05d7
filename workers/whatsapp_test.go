package workers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/inbound"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/workers"
)

const (
	waSecret  = "test-app-secret"
	waPhoneID = "106540352242922"
	waToken   = "EAAG-test-token"
	waCust    = "16505551234"
)

// graphPlan maps the test's words onto the fake Graph API's answers: "ok" (Meta's success),
// "131047" (Meta's refusal, its exact bytes from testdata), "429", "500", "400" (131026),
// "hangup" (the connection breaks before Meta takes the message) and "accept-hangup" (Meta took
// it, its answer was lost).
func graphPlan(t *testing.T, modes ...string) []testkit.GraphAnswer {
	t.Helper()
	var out []testkit.GraphAnswer
	for _, m := range modes {
		var a testkit.GraphAnswer
		switch m {
		case "ok": // the zero answer: success
		case "131047":
			a = testkit.GraphAnswer{Status: http.StatusBadRequest, Body: string(waFixture(t, "send_error_131047.json"))}
		case "429":
			a = testkit.GraphAnswer{Error: &testkit.GraphRateLimited}
		case "500":
			a = testkit.GraphAnswer{Error: &testkit.GraphUnknown}
		case "400":
			a = testkit.GraphAnswer{Error: &testkit.GraphUndeliverable}
		case "hangup":
			a = testkit.GraphAnswer{Hangup: true}
		case "accept-hangup":
			a = testkit.GraphAnswer{Hangup: true, Accept: true}
		default:
			t.Fatalf("graph plan %q", m)
		}
		out = append(out, a)
	}
	return out
}

// then queues Meta's answers for the next sends, in order (then success again).
func (e *waEnv) then(modes ...string) {
	e.t.Helper()
	e.graph.Then(graphPlan(e.t, modes...)...)
}

// counts is every request that reached Meta and the sends it took.
func (e *waEnv) counts() (attempts, accepted int) {
	return len(e.graph.Requests()), len(e.graph.Accepted())
}

// last is the body of the last request Meta saw.
func (e *waEnv) last() map[string]any {
	rs := e.graph.Requests()
	return rs[len(rs)-1].Body
}

// waEnv is one test's running parts: the app, the real webhook handler over HTTP, the real
// worker handlers, a fake Graph API and an assistant connected to the fixtures' number.
type waEnv struct {
	t       *testing.T
	a       *app.App
	url     string
	graph   *testkit.FakeGraph
	wa      *workers.WhatsApp
	inbound *workers.Inbound
	mux     *asynq.ServeMux
	insp    *asynq.Inspector
	asst    *store.Assistant
	replies atomic.Int32
	mu      sync.Mutex
	asked   []string // request ids given to the Replier
}

func newWAEnv(t *testing.T, window time.Duration) *waEnv {
	t.Helper()
	g := testkit.NewFakeGraph(t)
	cfg := testkit.Config(t)
	cfg.WhatsAppAppSecret = waSecret
	cfg.WhatsAppGraphURL = g.URL + "/v21.0"
	cfg.WhatsAppWindow = window
	a := testkit.App(t, cfg)
	ws := web.New(a)
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(ws.Close)
	e := &waEnv{t: t, a: a, url: srv.URL, graph: g, insp: asynq.NewInspectorFromRedisClient(a.Redis)}
	e.wa = &workers.WhatsApp{Tasks: a.Tasks, Log: testkit.Logger(t), Debounce: 50 * time.Millisecond,
		Service: &whatsapp.Service{Store: a.Store, Conversations: a.Conversations, Client: whatsapp.NewClient(cfg.WhatsAppGraphURL),
			Decrypt: a.Keys.Decrypt, Window: cfg.WhatsAppWindow, Log: testkit.Logger(t)}}
	e.wa.Service.Replier = workers.WhatsAppReplierFunc(func(ctx context.Context, c *store.Conversation, as *store.Assistant, id string) (*store.Message, error) {
		e.replies.Add(1)
		e.mu.Lock()
		e.asked = append(e.asked, id)
		e.mu.Unlock()
		return &store.Message{Role: "assistant", Content: "Yes: blue and green."}, nil
	})
	e.inbound = &workers.Inbound{Service: &inbound.Service{Store: a.Store, Log: testkit.Logger(t), Processors: map[string]inbound.Processor{whatsapp.Provider: e.wa.Process}}, Tasks: a.Tasks, Log: testkit.Logger(t), SweepAge: time.Nanosecond}
	// An end (a closed window) is evaluated: the app's end hook enqueues that work too.
	e.mux = workers.NewMux(workers.Handlers{Inbound: e.inbound, WhatsApp: e.wa,
		Evaluation: &workers.Evaluation{Evaluations: a.Evaluations, Tasks: a.Tasks, Log: testkit.Logger(t)}})

	ctx := context.Background()
	w, _, err := a.Store.CreateWorkspaceWithUser(ctx, "Shop", "owner@shop.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Keys.Encrypt(waToken)
	if err != nil {
		t.Fatal(err)
	}
	pid := waPhoneID
	e.asst = testkit.Verified(&store.Assistant{WorkspaceID: w.ID, Name: "Shop assistant", WhatsAppPhoneNumberID: &pid, WhatsAppAccessTokenEnc: tok})
	if err := a.Store.CreateAssistant(ctx, e.asst); err != nil {
		t.Fatal(err)
	}
	return e
}

// post delivers a signed webhook.
func (e *waEnv) post(body []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/webhooks/whatsapp", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(waSecret, body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("webhook: %d", res.StatusCode)
	}
}

// textWebhook is a customer text with the given id, sent at `at`.
func textWebhook(id, name, body string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},
		"contacts":[{"profile":{"name":%q},"wa_id":%q}],
		"messages":[{"from":%q,"id":%q,"timestamp":"%d","type":"text","text":{"body":%q}}]}}]}]}`,
		waPhoneID, name, waCust, waCust, id, at.Unix(), body))
}

func statusWebhook(id, status string, at time.Time, extra string) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},
		"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":%q%s}]}}]}]}`, waPhoneID, id, status, at.Unix(), waCust, extra))
}

func waFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "app", "whatsapp", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// run processes every pending task (what a worker would do), repeatedly, and returns the
// errors by task id. Scheduled tasks are left alone.
func (e *waEnv) run() map[string]error {
	e.t.Helper()
	errs := map[string]error{}
	for round := 0; round < 10; round++ {
		ran := 0
		for q := range workers.QueuePriorities {
			tis, err := e.insp.ListPendingTasks(q)
			if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
				e.t.Fatal(err)
			}
			for _, ti := range tis {
				_ = e.insp.DeleteTask(q, ti.ID)
				errs[ti.ID] = e.mux.ProcessTask(context.Background(), asynq.NewTask(ti.Type, ti.Payload))
				ran++
			}
		}
		if ran == 0 {
			break
		}
	}
	return errs
}

// scheduled lists the scheduled tasks of a type by task id.
func (e *waEnv) scheduled(typ string) map[string]*asynq.TaskInfo {
	e.t.Helper()
	out := map[string]*asynq.TaskInfo{}
	for q := range workers.QueuePriorities {
		tis, err := e.insp.ListScheduledTasks(q)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			e.t.Fatal(err)
		}
		for _, ti := range tis {
			if ti.Type == typ {
				out[ti.ID] = ti
			}
		}
	}
	return out
}

// runScheduled runs (and removes) the scheduled tasks of a type now, whatever their time,
// oldest enqueued first.
func (e *waEnv) runScheduled(typ string) map[string]error {
	e.t.Helper()
	errs := map[string]error{}
	tasks := e.scheduled(typ)
	ids := make([]string, 0, len(tasks))
	for id := range tasks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		ti := tasks[id]
		_ = e.insp.DeleteTask(ti.Queue, id)
		errs[id] = e.mux.ProcessTask(context.Background(), asynq.NewTask(ti.Type, ti.Payload))
	}
	return errs
}

func (e *waEnv) conv() *store.Conversation {
	e.t.Helper()
	c := &store.Conversation{WorkspaceID: e.asst.WorkspaceID, AssistantID: &e.asst.ID, Customer: "+" + waCust}
	created, err := e.a.Store.FindOrCreateWhatsAppConversation(context.Background(), c)
	if err != nil || created {
		e.t.Fatalf("conversation: created=%v %v", created, err)
	}
	return c
}

func (e *waEnv) messages(c *store.Conversation) []store.Message {
	e.t.Helper()
	page, err := e.a.Store.Messages(context.Background(), c.WorkspaceID, c.ID, "", 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return page.Messages
}

func (e *waEnv) events() []store.InboundEvent {
	e.t.Helper()
	var evs []store.InboundEvent
	if err := e.a.Store.DB.NewSelect().Model(&evs).Order("id ASC").Scan(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func TestWhatsAppInboundMessages(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	ctx := context.Background()
	for _, f := range []string{"text_message.json", "interactive_button_reply.json", "image_message.json"} {
		e.post(waFixture(t, f))
	}
	odd := `{"entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` + waPhoneID + `"},
		"contacts":[{"profile":{"name":"Sheena N."},"wa_id":"` + waCust + `"}],
		"messages":[
		 {"from":"` + waCust + `","id":"wamid.REACT","timestamp":"1749416700","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"}},
		 {"from":"` + waCust + `","id":"wamid.UNSUP","timestamp":"1749416701","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown"}]},
		 {"from":"` + waCust + `","id":"wamid.IMG","timestamp":"1749416702","type":"image","image":{"id":"9","mime_type":"image/jpeg"}},
		 {"from":"` + waCust + `","id":"wamid.TAP","timestamp":"1749416703","type":"button","button":{"text":"Yes, ship it","payload":"SHIP"}}
		]}}]}]}`
	e.post([]byte(odd))
	errs := e.run()
	inbound := 0
	for id, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if strings.HasPrefix(id, e.a.Tasks.Prefix()+":inbound:") {
			inbound++
		}
	}
	if inbound != 7 {
		t.Fatalf("ran %d inbound tasks, want 7: %v", inbound, errs)
	}
	c := e.conv()
	c, _ = e.a.Store.GetConversation(ctx, c.WorkspaceID, c.ID)
	if c.Type != model.TypeWhatsApp || c.Customer != "+16505551234" || c.CustomerName != "Sheena N." || !c.AIEnabled || c.MessageCount != 7 || c.UserMessageCount != 7 {
		t.Fatalf("conversation: %+v", c)
	}
	want := []struct{ id, content, ctype string }{
		{"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdBNjZGNTU3MDhDRjBFQzRBRQA=", "Does it come in another color?", "text"},
		{"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUYzRjE4QzE0RkI2NjU0MjlFMQA=", "Blue please", "interactive"},
		{"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQjFFNjM2QTY4QkE3QkE5MDEzOAA=", "this one", "image"},
		{"wamid.REACT", "", "reaction"},
		{"wamid.UNSUP", "", "unsupported"},
		{"wamid.IMG", "", "image"},
		{"wamid.TAP", "Yes, ship it", "button"},
	}
	msgs := e.messages(c)
	if len(msgs) != len(want) {
		t.Fatalf("%d messages", len(msgs))
	}
	for i, w := range want {
		m := msgs[i]
		if m.Role != "user" || *m.ProviderMessageID != w.id || m.Content != w.content || m.ContentType != w.ctype {
			t.Errorf("message %d: %s %q %q %q, want %q %q %q", i, m.Role, *m.ProviderMessageID, m.Content, m.ContentType, w.id, w.content, w.ctype)
		}
	}
	if !msgs[0].CreatedAt.Equal(time.Unix(1749416383, 0)) {
		t.Fatalf("the WhatsApp timestamp is the message time: %v", msgs[0].CreatedAt)
	}
	// The window follows the newest customer message. The fixtures are old, so its deadline
	// has passed: the expiry tasks ran at once and closed it at the deadline.
	last := time.Unix(1749416703, 0).Add(24 * time.Hour)
	if c.WindowExpiresAt == nil || !c.WindowExpiresAt.Equal(last) || c.WindowClosedAt == nil || !c.WindowClosedAt.Equal(last) {
		t.Fatalf("window: %v %v", c.WindowExpiresAt, c.WindowClosedAt)
	}
	if _, ok := errs[fmt.Sprintf("%s:window:%d:%d", e.a.Tasks.Prefix(), c.ID, last.Unix())]; !ok {
		t.Fatalf("expiry task of the last deadline: %v", errs)
	}
	for _, ev := range e.events() {
		if ev.ProcessedAt == nil || ev.Kind != "message" || ev.Provider != "whatsapp" {
			t.Errorf("event: %+v", ev)
		}
	}
	// One reply task per latest customer message, named <prefix>:reply:<conv>:<message id>:<token>.
	replies := e.scheduled(workers.TypeWhatsAppReply)
	intent, err := e.a.Store.PendingReplyFor(ctx, c.WorkspaceID, msgs[6].ID)
	if err != nil {
		t.Fatal(err)
	}
	if replies[fmt.Sprintf("%s:reply:%d:%d:%s", e.a.Tasks.Prefix(), c.ID, msgs[6].ID, intent.Token)] == nil {
		var prs []store.PendingReply
		_ = e.a.Store.DB.NewSelect().Model(&prs).Scan(ctx)
		for _, m := range msgs {
			t.Logf("msg %d %v", m.ID, m.CreatedAt)
		}
		for _, r := range prs {
			t.Logf("intent %+v", r)
		}
		t.Fatalf("reply tasks: %v", replies)
	}

	// Processing an event again (at least once) stores nothing twice.
	for _, ev := range e.events() {
		ev := ev
		if err := e.wa.Process(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.messages(c); len(got) != 7 {
		t.Fatalf("reprocessing stored %d messages", len(got))
	}
}

func TestWhatsAppUnknownNumberStoresNothing(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	body := strings.ReplaceAll(string(waFixture(t, "text_message.json")), waPhoneID, "999999999")
	e.post([]byte(body))
	errs := e.run()
	if len(errs) != 1 {
		t.Fatalf("tasks: %v", errs)
	}
	for _, err := range errs {
		if !errors.Is(err, asynq.SkipRetry) || !errors.Is(err, whatsapp.ErrUnknownNumber) {
			t.Fatalf("unknown number: %v, want ErrUnknownNumber and SkipRetry", err)
		}
	}
	ev := e.events()[0]
	if ev.ProcessedAt != nil || !strings.Contains(ev.LastError, "no assistant is connected") {
		t.Fatalf("event: %+v", ev)
	}
	n, _ := e.a.Store.DB.NewSelect().Model((*store.Conversation)(nil)).Count(context.Background())
	m, _ := e.a.Store.DB.NewSelect().Model((*store.Message)(nil)).Count(context.Background())
	if n != 0 || m != 0 {
		t.Fatalf("stored %d conversations, %d messages", n, m)
	}
}

// The same event processed ten times at once, and ten first messages of one new customer at
// once: one conversation, one message per WhatsApp id.
func TestWhatsAppConcurrentProcessing(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	ctx := context.Background()
	now := time.Now()
	for i := 0; i < 10; i++ {
		e.post(textWebhook(fmt.Sprintf("wamid.C%d", i), "Ada", "hello", now))
	}
	evs := e.events()
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		for j := range evs {
			wg.Add(1)
			go func(ev store.InboundEvent) {
				defer wg.Done()
				if err := e.wa.Process(ctx, &ev); err != nil {
					t.Error(err)
				}
			}(evs[j])
		}
	}
	wg.Wait()
	n, _ := e.a.Store.DB.NewSelect().Model((*store.Conversation)(nil)).Count(ctx)
	c := e.conv()
	if msgs := e.messages(c); n != 1 || len(msgs) != 10 {
		t.Fatalf("%d conversations, %d messages; want 1 and 10", n, len(msgs))
	}
	c, _ = e.a.Store.GetConversation(ctx, c.WorkspaceID, c.ID)
	if c.MessageCount != 10 {
		t.Fatalf("message_count %d", c.MessageCount)
	}
}

func TestWhatsAppStatuses(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	ctx := context.Background()
	e.post(textWebhook("wamid.IN", "Sheena", "hi", time.Unix(1749416000, 0)))
	e.run()
	c := e.conv()
	out := func(pid string) *store.Message {
		m := &store.Message{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, Role: "assistant", Content: "reply", ProviderMessageID: &pid, Status: "sent", CreatedAt: time.Unix(1749416100, 0)}
		if _, err := e.a.Store.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	read := out("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3NkY3QjQ4QkI4QjRCRjk4RjQA")
	failed := out("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJFOUQ4QzE2RjJBMjVCRjc1RTQA")

	// read before delivered in one batch, then a late "sent": read stays.
	e.post(waFixture(t, "statuses_sent_delivered_read.json"))
	e.post(statusWebhook(*read.ProviderMessageID, "sent", time.Unix(1749416700, 0), ""))
	e.post(statusWebhook("wamid.NEVER-SEEN", "delivered", time.Unix(1749416700, 0), ""))
	e.post(statusWebhook(*read.ProviderMessageID, "deleted", time.Unix(1749416800, 0), ""))
	for id, err := range e.run() {
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if m, _ := e.a.Store.MessageByID(ctx, c.WorkspaceID, read.ID); m.Status != "read" || !m.StatusUpdatedAt.Equal(time.Unix(1749416790, 0)) {
		t.Fatalf("read: %q at %v", m.Status, m.StatusUpdatedAt)
	}
	notes := map[string]string{}
	for _, ev := range e.events() {
		if ev.ProcessedAt == nil {
			t.Fatalf("event not processed: %+v", ev)
		}
		notes[ev.ProviderID] = ev.LastError
	}
	if !strings.Contains(notes["wamid.NEVER-SEEN:delivered"], "unknown message") {
		t.Fatalf("unknown message note: %v", notes)
	}

	// failed 131047 later: the message fails with Meta's reason and the window closes.
	e.post(waFixture(t, "status_failed_131047.json"))
	e.run()
	m, _ := e.a.Store.MessageByID(ctx, c.WorkspaceID, failed.ID)
	if m.Status != "failed" || !strings.HasPrefix(m.StatusError, "131047 Re-engagement message") {
		t.Fatalf("failed: %q %q", m.Status, m.StatusError)
	}
	c, _ = e.a.Store.GetConversation(ctx, c.WorkspaceID, c.ID)
	if c.WindowClosedAt == nil || whatsapp.WindowOpen(c, time.Now()) {
		t.Fatalf("131047 closes the window: %v", c.WindowClosedAt)
	}
	// With an open window (the customer wrote a minute ago), only a failed 131047 closes it;
	// another failure does not.
	e.post(textWebhook("wamid.IN2", "Sheena", "still there?", time.Now().Add(-time.Minute)))
	e.run()
	live := out("wamid.LIVE1")
	other := out("wamid.LIVE2")
	e.post(statusWebhook(*other.ProviderMessageID, "failed", time.Now(), `,"errors":[{"code":131026,"title":"Message undeliverable"}]`))
	e.run()
	c, _ = e.a.Store.GetConversation(ctx, c.WorkspaceID, c.ID)
	if !whatsapp.WindowOpen(c, time.Now()) {
		t.Fatalf("a failure other than 131047 closed the window: %v %v", c.WindowExpiresAt, c.WindowClosedAt)
	}
	if m, _ := e.a.Store.MessageByID(ctx, c.WorkspaceID, other.ID); m.Status != "failed" || m.StatusError != "131026 Message undeliverable" {
		t.Fatalf("other failure: %q %q", m.Status, m.StatusError)
	}
	e.post(statusWebhook(*live.ProviderMessageID, "failed", time.Now(), `,"errors":[{"code":131047,"title":"Re-engagement message"}]`))
	e.run()
	c, _ = e.a.Store.GetConversation(ctx, c.WorkspaceID, c.ID)
	if c.WindowClosedAt == nil || whatsapp.WindowOpen(c, time.Now()) {
		t.Fatalf("a failed 131047 status closes an open window: %v %v", c.WindowExpiresAt, c.WindowClosedAt)
	}
	// A "delivered" after "failed" changes nothing.
	e.post(statusWebhook(*failed.ProviderMessageID, "delivered", time.Unix(1749590001, 0), ""))
	e.run()
	if m, _ := e.a.Store.MessageByID(ctx, c.WorkspaceID, failed.ID); m.Status != "failed" {
		t.Fatalf("failed is final: %q", m.Status)
	}
}

// The short-window story on a real asynq server: the customer writes, the assistant replies
// through Meta, the window closes at its deadline, a free-form send is refused without calling
// Meta, a template is allowed, and the customer writing again reopens the window.
func TestWhatsAppWindowLifecycle(t *testing.T) {
	e := newWAEnv(t, 3*time.Second)
	ctx := context.Background()
	srv := asynq.NewServerFromRedisClient(e.a.Redis, asynq.Config{Concurrency: 4, Queues: workers.QueuePriorities, Logger: quiet{},
		DelayedTaskCheckInterval: 100 * time.Millisecond, TaskCheckInterval: 20 * time.Millisecond})
	if err := srv.Start(e.mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	waitFor := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !ok() {
			if time.Now().After(deadline) {
				for _, ev := range e.events() {
					t.Logf("event %d %s processed=%v err=%q", ev.ID, ev.ProviderID, ev.ProcessedAt, ev.LastError)
				}
				for q := range workers.QueuePriorities {
					for _, f := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){e.insp.ListPendingTasks, e.insp.ListScheduledTasks, e.insp.ListRetryTasks, e.insp.ListArchivedTasks, e.insp.ListActiveTasks, e.insp.ListCompletedTasks} {
						tis, _ := f(q)
						for _, ti := range tis {
							t.Logf("task %s %s %s %v err=%s", q, ti.ID, ti.State, ti.NextProcessAt, ti.LastErr)
						}
					}
				}
				cc := e.conv()
				cc, _ = e.a.Store.GetConversation(ctx, cc.WorkspaceID, cc.ID)
				t.Logf("conv %+v expires %v closed %v now %v", cc, cc.WindowExpiresAt, cc.WindowClosedAt, time.Now())
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	conv := func() *store.Conversation {
		c := &store.Conversation{WorkspaceID: e.asst.WorkspaceID, AssistantID: &e.asst.ID, Customer: "+" + waCust}
		if _, err := e.a.Store.FindOrCreateWhatsAppConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}

	e.post(textWebhook("wamid.FIRST", "Sheena", "Does it come in blue?", time.Now()))
	waitFor("the reply to be sent", 10*time.Second, func() bool { _, acc := e.counts(); return acc == 1 })
	c := conv()
	if !whatsapp.WindowOpen(c, time.Now()) {
		t.Fatalf("window open after the customer wrote: %v %v", c.WindowExpiresAt, c.WindowClosedAt)
	}
	body := e.last()
	text, _ := body["text"].(map[string]any)
	first := e.graph.Requests()[0]
	if body["to"] != waCust || body["type"] != "text" || text["body"] != "Yes: blue and green." || first.Auth != "Bearer "+waToken ||
		first.Path != "/v21.0/"+waPhoneID+"/messages" || body["messaging_product"] != "whatsapp" || body["recipient_type"] != "individual" {
		t.Fatalf("sent: %v %+v", body, first)
	}
	wamid := e.graph.Accepted()[0].WAMID // the id Meta gave the reply
	waitFor("the reply's id to be stored", 5*time.Second, func() bool {
		ms := e.messages(c)
		return len(ms) == 2 && ms[1].Status == "sent" && *ms[1].ProviderMessageID == wamid
	})
	expires := *c.WindowExpiresAt

	// Our reply did not extend the window; the expiry task closes it at the deadline.
	waitFor("the window to close", time.Until(expires)+5*time.Second, func() bool { return conv().WindowClosedAt != nil })
	c = conv()
	if !c.WindowExpiresAt.Equal(expires) || time.Now().Before(expires) {
		t.Fatalf("closed early or moved: %v (was %v)", c.WindowExpiresAt, expires)
	}

	attempts, _ := e.counts()
	m, err := e.wa.Service.Send(ctx, c, whatsapp.Outgoing{Key: "parley:test:free", Role: "human", Content: "Are you still there?"})
	if !errors.Is(err, whatsapp.ErrWindowClosed) || whatsapp.Retryable(err) {
		t.Fatalf("free-form send with the window closed: %v", err)
	}
	if m.Status != "failed" || m.StatusError != whatsapp.WindowClosedReason {
		t.Fatalf("refused message: %+v", m)
	}
	if a2, _ := e.counts(); a2 != attempts {
		t.Fatal("Meta was called for a free-form message outside the window")
	}
	m, err = e.wa.Service.Send(ctx, c, whatsapp.Outgoing{Key: "parley:test:tpl", Role: "human",
		Template: &whatsapp.Template{Name: "order_update", Language: "en_US", BodyParams: []string{"Sheena"}}})
	if err != nil || m.Status != "sent" || m.ContentType != "template" {
		t.Fatalf("template send: %v %+v", err, m)
	}
	if tpl, _ := e.last()["template"].(map[string]any); tpl["name"] != "order_update" {
		t.Fatalf("template request: %v", e.last())
	}

	e.post(textWebhook("wamid.SECOND", "Sheena", "Back again", time.Now()))
	waitFor("the window to reopen", 10*time.Second, func() bool { return whatsapp.WindowOpen(conv(), time.Now()) })
	waitFor("the second reply", 10*time.Second, func() bool { _, acc := e.counts(); return acc == 3 })
	if n := e.replies.Load(); n != 2 {
		t.Fatalf("replier called %d times, want 2", n)
	}
}

// A burst of customer messages gets one reply, and a reply task run again sends nothing more.
func TestWhatsAppReplyBurst(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	now := time.Now()
	for i, text := range []string{"hi", "I need", "a blue one"} {
		e.post(textWebhook(fmt.Sprintf("wamid.B%d", i), "Ada", text, now.Add(time.Duration(i-3)*time.Second)))
	}
	e.run()
	if n := len(e.scheduled(workers.TypeWhatsAppReply)); n != 3 {
		t.Fatalf("%d reply tasks", n)
	}
	tasks := e.scheduled(workers.TypeWhatsAppReply)
	for id, err := range e.runScheduled(workers.TypeWhatsAppReply) {
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if _, acc := e.counts(); acc != 1 || e.replies.Load() != 1 {
		t.Fatalf("a burst got %d replies (%d LLM calls), want 1", acc, e.replies.Load())
	}
	c := e.conv()
	msgs := e.messages(c)
	if len(msgs) != 4 || msgs[3].Role != "assistant" || msgs[3].Status != "sent" {
		t.Fatalf("messages: %+v", msgs)
	}
	// The one reply is the last message's: the earlier tasks found a newer message and stood down.
	if want := fmt.Sprintf("reply:%d:%d", c.ID, msgs[2].ID); len(e.asked) != 1 || e.asked[0] != want {
		t.Fatalf("the Replier was asked %v, want [%s]", e.asked, want)
	}
	for _, ti := range tasks { // asynq runs a task at least once
		if err := e.mux.ProcessTask(context.Background(), asynq.NewTask(ti.Type, ti.Payload)); err != nil {
			t.Fatal(err)
		}
	}
	if a, _ := e.counts(); a != 1 || e.replies.Load() != 1 {
		t.Fatalf("running the reply tasks again sent %d", a)
	}
}

func TestWhatsAppNoReplier(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	e.wa.Service.Replier = nil
	e.post(textWebhook("wamid.N1", "Ada", "hi", time.Now()))
	e.run()
	for id, err := range e.runScheduled(workers.TypeWhatsAppReply) {
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if a, _ := e.counts(); a != 0 {
		t.Fatal("no Replier: nothing is sent")
	}
	// AI replies switched off: no reply task at all.
	c := e.conv()
	if _, err := e.a.Store.DB.NewUpdate().Model((*store.Conversation)(nil)).Set("ai_enabled = ?", false).Where("id = ?", c.ID).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.post(textWebhook("wamid.N2", "Ada", "hello?", time.Now()))
	e.run()
	if n := len(e.scheduled(workers.TypeWhatsAppReply)); n != 0 {
		t.Fatalf("%d reply tasks with AI replies off", n)
	}
}

// Meta's answers to a reply: 131047 closes the window and is final; 429 and 5xx are retried
// (the message waits as "pending") and a retry sends once; other 4xx fail with Meta's message.
func TestWhatsAppReplyGraphErrors(t *testing.T) {
	cases := []struct {
		name        string
		plan        []string
		final       bool
		status      string
		statusError string
		closed      bool
	}{
		{"131047", []string{"131047"}, true, "failed", "(#131047) Re-engagement message: Message failed to send because more than 24 hours have passed", true},
		{"429 then ok", []string{"429", "ok"}, false, "sent", "", false},
		{"500 then ok", []string{"500", "500", "ok"}, false, "sent", "", false},
		{"other 4xx", []string{"400"}, true, "failed", "(#131026) Message undeliverable", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newWAEnv(t, 24*time.Hour)
			e.then(tc.plan...)
			e.post(textWebhook("wamid.E1", "Ada", "hi", time.Now()))
			e.run()
			tasks := e.scheduled(workers.TypeWhatsAppReply)
			if len(tasks) != 1 {
				t.Fatalf("reply tasks: %v", tasks)
			}
			var task *asynq.Task
			for _, ti := range tasks {
				task = asynq.NewTask(ti.Type, ti.Payload)
			}
			var err error
			for i := 0; i < len(tc.plan); i++ { // asynq's retries
				err = e.mux.ProcessTask(context.Background(), task)
				if err == nil || errors.Is(err, asynq.SkipRetry) {
					break
				}
				var ae *whatsapp.APIError
				if !errors.As(err, &ae) || !ae.Retryable() {
					t.Fatalf("attempt %d: %v, want a retryable Graph error", i, err)
				}
				c := e.conv()
				if ms := e.messages(c); ms[len(ms)-1].Status != "pending" {
					t.Fatalf("after a %s the reply waits as pending: %q", tc.plan[i], ms[len(ms)-1].Status)
				}
			}
			if tc.final != errors.Is(err, asynq.SkipRetry) {
				t.Fatalf("final=%v, got %v", tc.final, err)
			}
			if !tc.final && err != nil {
				t.Fatalf("retries should end in success: %v", err)
			}
			attempts, accepted := e.counts()
			if attempts != len(tc.plan) {
				t.Fatalf("%d calls to Meta, want %d", attempts, len(tc.plan))
			}
			if tc.status == "sent" && accepted != 1 {
				t.Fatalf("accepted %d", accepted)
			}
			c := e.conv()
			ms := e.messages(c)
			r := ms[len(ms)-1]
			if r.Role != "assistant" || r.Status != tc.status || !strings.HasPrefix(r.StatusError, tc.statusError) {
				t.Fatalf("reply: %q %q", r.Status, r.StatusError)
			}
			c, _ = e.a.Store.GetConversation(context.Background(), c.WorkspaceID, c.ID)
			if (c.WindowClosedAt != nil) != tc.closed {
				t.Fatalf("window closed %v, want %v", c.WindowClosedAt, tc.closed)
			}
			if tc.final && c.LastError == "" {
				t.Fatal("the reason is recorded on the conversation")
			}
			// A final failure is not retried: running the task again calls Meta no more.
			_ = e.mux.ProcessTask(context.Background(), task)
			if a2, _ := e.counts(); a2 != attempts {
				t.Fatal("a final failure was sent again")
			}
		})
	}
}

// The worker dies in the middle of a reply: the connection breaks after the message row was
// stored. Nothing is lost, and nothing reaches Meta twice.
func TestWhatsAppKilledMidReply(t *testing.T) {
	t.Run("request never accepted", func(t *testing.T) {
		e := newWAEnv(t, 24*time.Hour)
		e.then("hangup")
		e.post(textWebhook("wamid.K1", "Ada", "hi", time.Now()))
		e.run()
		tasks := e.scheduled(workers.TypeWhatsAppReply)
		var task *asynq.Task
		for _, ti := range tasks {
			task = asynq.NewTask(ti.Type, ti.Payload)
		}
		err := e.mux.ProcessTask(context.Background(), task)
		if err == nil || errors.Is(err, asynq.SkipRetry) {
			t.Fatalf("broken connection: %v, want a retryable error", err)
		}
		c := e.conv()
		ms := e.messages(c)
		if len(ms) != 2 || ms[1].Status != "sending" {
			t.Fatalf("the reply is stored before Meta is called: %+v", ms)
		}
		// A retry right away waits for Meta's status instead of sending again.
		if err := e.mux.ProcessTask(context.Background(), task); !errors.Is(err, whatsapp.ErrSendInFlight) {
			t.Fatalf("retry within the grace: %v", err)
		}
		if a, _ := e.counts(); a != 1 {
			t.Fatalf("%d calls", a)
		}
		// No status came: after the grace the retry sends, once, the same stored reply.
		e.wa.Service.ResendGrace = -1
		if err := e.mux.ProcessTask(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		if err := e.mux.ProcessTask(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		if _, acc := e.counts(); acc != 1 || e.replies.Load() != 1 {
			t.Fatalf("accepted %d, LLM calls %d; want 1 and 1", acc, e.replies.Load())
		}
		if ms := e.messages(c); len(ms) != 2 || ms[1].Status != "sent" {
			t.Fatalf("messages: %+v", ms)
		}
	})
	t.Run("accepted but the answer was lost", func(t *testing.T) {
		e := newWAEnv(t, 24*time.Hour)
		e.wa.Service.ResendGrace = -1 // even without a grace, the status settles it
		e.then("accept-hangup")
		e.post(textWebhook("wamid.K2", "Ada", "hi", time.Now()))
		e.run()
		var task *asynq.Task
		for _, ti := range e.scheduled(workers.TypeWhatsAppReply) {
			task = asynq.NewTask(ti.Type, ti.Payload)
		}
		if err := e.mux.ProcessTask(context.Background(), task); err == nil {
			t.Fatal("lost answer: want an error")
		}
		// Meta's "sent" status carries the key we gave as callback data.
		sent := e.last()
		key, _ := sent["biz_opaque_callback_data"].(string)
		if !strings.HasPrefix(key, "parley:reply:") {
			t.Fatalf("callback data: %v", sent)
		}
		e.post(statusWebhook("wamid.META-ACCEPTED", "sent", time.Now(), `,"biz_opaque_callback_data":"`+key+`"`))
		for id, err := range e.run() {
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		if err := e.mux.ProcessTask(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		if a, acc := e.counts(); a != 1 || acc != 1 {
			t.Fatalf("Meta got %d requests, want exactly 1", a)
		}
		ms := e.messages(e.conv())
		if len(ms) != 2 || *ms[1].ProviderMessageID != "wamid.META-ACCEPTED" || ms[1].Status != "sent" {
			t.Fatalf("messages: %+v", ms)
		}
	})
}

// A Replier that stores its reply itself (as the LLM layer does, with usage), and whose worker
// dies after storing it: the retry gets the same stored message back and sends it once.
func TestWhatsAppReplierThatStores(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	ctx := context.Background()
	stored := map[string]*store.Message{}
	var calls atomic.Int32
	e.wa.Service.Replier = workers.WhatsAppReplierFunc(func(ctx context.Context, c *store.Conversation, a *store.Assistant, id string) (*store.Message, error) {
		calls.Add(1)
		if m := stored[id]; m != nil {
			return m, nil // replayed: the same request id answers the same message
		}
		m := &store.Message{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, Role: "assistant", Content: "Stored by the LLM layer.", CompletionTokens: 7}
		if _, err := e.a.Conversations.AddMessage(ctx, m); err != nil {
			return nil, err
		}
		stored[id] = m
		return nil, errors.New("worker killed after the reply was stored")
	})
	e.then("500")
	e.post(textWebhook("wamid.S1", "Ada", "hi", time.Now()))
	e.run()
	var task *asynq.Task
	for _, ti := range e.scheduled(workers.TypeWhatsAppReply) {
		task = asynq.NewTask(ti.Type, ti.Payload)
	}
	for i, wantErr := range []bool{true, true, false, false} { // killed, Meta 500, sent, run again
		err := e.mux.ProcessTask(ctx, task)
		if (err != nil) != wantErr {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if a, acc := e.counts(); a != 2 || acc != 1 {
		t.Fatalf("Meta got %d requests (%d accepted), want 2 and 1", a, acc)
	}
	ms := e.messages(e.conv())
	if len(ms) != 2 || ms[1].ID != stored[fmt.Sprintf("reply:%d:%d", ms[0].ConversationID, ms[0].ID)].ID ||
		ms[1].Status != "sent" || ms[1].CompletionTokens != 7 || *ms[1].ProviderMessageID != e.graph.Accepted()[0].WAMID {
		t.Fatalf("messages: %+v", ms)
	}
	if calls.Load() != 2 {
		t.Fatalf("Replier called %d times, want 2 (the second replays)", calls.Load())
	}
}

func TestWhatsAppWindowExpireAndSweep(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	ctx := context.Background()
	at := time.Now()
	e.post(textWebhook("wamid.W1", "Ada", "hi", at))
	e.run()
	c := e.conv()
	// One expiry task at the deadline, named window:<conversation>:<deadline>.
	deadline := time.Unix(at.Unix(), 0).Add(24 * time.Hour)
	exp := e.scheduled(workers.TypeWhatsAppWindowExpire)
	if ti := exp[fmt.Sprintf("%s:window:%d:%d", e.a.Tasks.Prefix(), c.ID, deadline.Unix())]; len(exp) != 1 || ti == nil || !ti.NextProcessAt.Equal(deadline) {
		t.Fatalf("expiry tasks: %v", exp)
	}
	// The expiry task run before the deadline does nothing: the database decides.
	for id, err := range e.runScheduled(workers.TypeWhatsAppWindowExpire) {
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if g, _ := e.a.Store.GetConversation(ctx, c.WorkspaceID, c.ID); g.WindowClosedAt != nil {
		t.Fatal("closed before the deadline")
	}
	// The deadline passes and the task is lost (Redis restarted): the sweep closes it.
	past := time.Now().Add(-time.Minute).UTC()
	if _, err := e.a.Store.DB.NewUpdate().Model((*store.Conversation)(nil)).Set("window_expires_at = ?", past).Where("id = ?", c.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.mux.ProcessTask(ctx, tk.WhatsAppWindowSweep()); err != nil {
		t.Fatal(err)
	}
	g, _ := e.a.Store.GetConversation(ctx, c.WorkspaceID, c.ID)
	if g.WindowClosedAt == nil || !g.WindowClosedAt.Equal(past.Truncate(time.Microsecond)) {
		t.Fatalf("sweep: closed at %v, want %v", g.WindowClosedAt, past)
	}
	// The scheduler runs the sweep every minute.
	found := false
	for _, en := range (workers.Schedule{Tasks: tk}).Entries() {
		if en.Task.Type() == workers.TypeWhatsAppWindowSweep && en.Spec == "@every 1m" {
			found = true
		}
	}
	if !found {
		t.Fatal("the window sweep is not in the schedule")
	}
	for _, payload := range []string{`nonsense`, `{}`} {
		for _, typ := range []string{workers.TypeWhatsAppWindowExpire, workers.TypeWhatsAppReply} {
			if err := e.mux.ProcessTask(ctx, asynq.NewTask(typ, []byte(payload))); !errors.Is(err, asynq.SkipRetry) {
				t.Errorf("%s %s: %v", typ, payload, err)
			}
		}
	}
}

func TestWhatsAppTaskConstructors(t *testing.T) {
	d := time.Unix(1749416383, 500_000_000)
	task, err := tk.WhatsAppWindowExpire(1, 7, d)
	if err != nil || task.Type() != workers.TypeWhatsAppWindowExpire {
		t.Fatal(err)
	}
	var p workers.WhatsAppWindowPayload
	_ = json.Unmarshal(task.Payload(), &p)
	if p.Deadline != 1749416384 || p.ConversationID != 7 {
		t.Fatalf("deadline is rounded up to the second: %+v", p)
	}
	if _, err := tk.WhatsAppWindowExpire(0, 7, d); err == nil {
		t.Fatal("workspace required")
	}
	if _, err := tk.WhatsAppReply(workers.WhatsAppReplyPayload{WorkspaceID: 1, ConversationID: 2}, "", 0, time.Second); err == nil {
		t.Fatal("message required")
	}
}

// Ids and times a database cannot keep, or a window must not trust: a message id with a NUL
// (PostgreSQL text refuses it), a timestamp a century ahead (the window would stay open until
// then) and one before the year 2000 are stored, once, with the event's id and the time of
// receipt; processing them again stores nothing twice.
func TestWhatsAppHostileIDsAndTimes(t *testing.T) {
	e := newWAEnv(t, 24*time.Hour)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	body := `{"entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` + waPhoneID + `"},
		"contacts":[{"profile":{"name":"Nul\u0000Name"},"wa_id":"` + waCust + `"}],
		"messages":[
		 {"from":"` + waCust + `","id":"wamid.NUL\u0000ID","timestamp":"1749416700","type":"text","text":{"body":"nul id"}},
		 {"from":"` + waCust + `","id":"wamid.FUTURE","timestamp":"4102444800","type":"text","text":{"body":"from 2100"}},
		 {"from":"` + waCust + `","id":"wamid.ANCIENT","timestamp":"1","type":"text","text":{"body":"from 1970"}}
		]}}]}]}`
	e.post([]byte(body))
	for id, err := range e.run() {
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	after := time.Now().Add(time.Second)
	c := e.conv()
	c, _ = e.a.Store.GetConversation(ctx, c.WorkspaceID, c.ID)
	msgs := e.messages(c)
	if len(msgs) != 3 || c.MessageCount != 3 {
		t.Fatalf("%d messages (count %d), want 3", len(msgs), c.MessageCount)
	}
	byContent := map[string]store.Message{}
	for _, m := range msgs {
		byContent[m.Content] = m
	}
	if m := byContent["nul id"]; m.ProviderMessageID == nil || strings.ContainsRune(*m.ProviderMessageID, 0) || *m.ProviderMessageID == "" {
		t.Fatalf("the NUL id was stored as %q", *m.ProviderMessageID)
	}
	for _, content := range []string{"from 2100", "from 1970"} {
		if at := byContent[content].CreatedAt; at.Before(before) || at.After(after) {
			t.Errorf("%q stored at %v, want the time of receipt", content, at)
		}
	}
	if c.WindowExpiresAt == nil || c.WindowExpiresAt.After(after.Add(24*time.Hour)) {
		t.Fatalf("window deadline %v: a future timestamp must not hold it open", c.WindowExpiresAt)
	}
	if strings.ContainsRune(c.CustomerName, 0) {
		t.Fatalf("customer name %q keeps the NUL", c.CustomerName)
	}
	for _, ev := range e.events() {
		ev := ev
		if err := e.wa.Process(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.messages(c); len(got) != 3 {
		t.Fatalf("reprocessing stored %d messages", len(got))
	}
}
