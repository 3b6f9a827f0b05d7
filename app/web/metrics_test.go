package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/cli"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/workers"
)

const metricsToken = "metrics-token-0123456789"

// metricValue sums the samples of the metric name whose labels include want: a counter's or
// gauge's value, a histogram's sample count.
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !labelsMatch(m, want) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// labelValues lists every value the label takes in the metric name.
func labelValues(t *testing.T, reg prometheus.Gatherer, name, label string) []string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	return out
}

func getWithAuth(t *testing.T, url, auth string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// /metrics on the web address needs the bearer token; without a token configured it does
// not exist.
// whCount counts the rows of model's table.
func whCount(t *testing.T, a *app.App, model any) int64 {
	t.Helper()
	n, err := a.Store.DB.NewSelect().Model(model).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMetricsEndpointNeedsTheToken(t *testing.T) {
	cfg := testkit.Config(t)
	cfg.MetricsToken = metricsToken
	a := testkit.App(t, cfg)
	ws := web.New(a)
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(ws.Close)

	for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Basic " + metricsToken, metricsToken, "Bearer " + metricsToken + "x"} {
		code, hdr, b := getWithAuth(t, srv.URL+"/metrics", auth)
		if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") || strings.Contains(b, "parley_") {
			t.Fatalf("auth %q: %d %q %q", auth, code, hdr.Get("WWW-Authenticate"), b)
		}
	}
	// Something to count first.
	if code, _, _ := getWithAuth(t, srv.URL+"/healthz", ""); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
	code, hdr, b := getWithAuth(t, srv.URL+"/metrics", "Bearer "+metricsToken)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("with the token: %d %q", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{
		`parley_http_requests_total{code="200",method="GET",route="/healthz"} 1`,
		`parley_http_requests_total{code="401",method="GET",route="/metrics"} 5`,
		`# TYPE parley_http_request_duration_seconds histogram`,
		`parley_webhook_events_total{outcome="stored",provider="whatsapp"} 0`,
		`parley_whatsapp_windows_total{event="opened"} 0`,
		`parley_queue_tasks{queue="critical",state="pending"} 0`,
		`parley_queue_tasks{queue="low",state="scheduled"} 0`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// No token configured: 404, even with a bearer header.
	e := newEnv(t)
	for _, auth := range []string{"", "Bearer " + metricsToken} {
		if code, _, b := getWithAuth(t, e.URL+"/metrics", auth); code != http.StatusNotFound || strings.Contains(b, "parley_") {
			t.Fatalf("without PARLEY_METRICS_TOKEN (auth %q): %d", auth, code)
		}
	}
}

// The separate listener serves the same registry without a token.
func TestMetricsSeparateListener(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	a.Metrics.Task("test:task", "succeeded", time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- a.Metrics.Serve(ctx, "127.0.0.1:0", testkit.Logger(t), func(ad net.Addr) { addrc <- ad.String() })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatal(err)
	}
	code, _, b := getWithAuth(t, "http://"+addr+"/metrics", "")
	if code != http.StatusOK || !strings.Contains(b, `parley_tasks_total{outcome="succeeded",type="test:task"} 1`) || !strings.Contains(b, "parley_queue_tasks{") {
		t.Fatalf("separate listener: %d\n%s", code, b)
	}
	if code, _, _ := getWithAuth(t, "http://"+addr+"/", ""); code != http.StatusNotFound {
		t.Fatalf("only /metrics is served there: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("still listening after the context ended")
	}
}

// HTTP metrics are labelled with the route template, never the raw path.
func TestHTTPMetricsUseRouteTemplates(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	for _, id := range []string{"42", "43", "44"} {
		res := e.Get(c, "/conversations/"+id)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("/conversations/%s: %d", id, res.StatusCode)
		}
	}
	res := e.Get(c, "/no/such/page/9")
	res.Body.Close()
	reg := e.App.Metrics.Registry
	if n := metricValue(t, reg, "parley_http_requests_total", map[string]string{"route": "/conversations/:id", "code": "404", "method": "GET"}); n != 3 {
		t.Fatalf("requests of /conversations/:id answered 404: %v", n)
	}
	if n := metricValue(t, reg, "parley_http_request_duration_seconds", map[string]string{"route": "/conversations/:id"}); n != 3 {
		t.Fatalf("latency samples of /conversations/:id: %v", n)
	}
	if n := metricValue(t, reg, "parley_http_requests_total", map[string]string{"route": "/login", "code": "303", "method": "POST"}); n != 1 {
		t.Fatalf("the login POST: %v", n)
	}
	for _, r := range labelValues(t, reg, "parley_http_requests_total", "route") {
		if strings.ContainsAny(r, "0123456789") {
			t.Errorf("a route label holds a raw path: %q", r)
		}
	}
}

// Webhook deliveries move the stored, duplicated and rejected counters.
func TestWebhookMetrics(t *testing.T) {
	e := webtest.WhEnv(t, testkit.Config(t))
	reg := e.App.Metrics.Registry
	count := func(outcome string) float64 {
		return metricValue(t, reg, "parley_webhook_events_total", map[string]string{"provider": "whatsapp", "outcome": outcome})
	}
	body := webtest.WhFixture(t, "text_message.json")
	if code := webtest.WhSigned(t, e, body); code != http.StatusOK {
		t.Fatalf("signed: %d", code)
	}
	if count("received") != 1 || count("stored") != 1 || count("duplicated") != 0 || count("rejected") != 0 {
		t.Fatalf("first delivery: received %v stored %v duplicated %v rejected %v", count("received"), count("stored"), count("duplicated"), count("rejected"))
	}
	if code := webtest.WhSigned(t, e, body); code != http.StatusOK { // Meta delivers it again
		t.Fatalf("replay: %d", code)
	}
	if count("received") != 2 || count("stored") != 1 || count("duplicated") != 1 {
		t.Fatalf("replay: received %v stored %v duplicated %v", count("received"), count("stored"), count("duplicated"))
	}
	if code, _ := webtest.WhPost(t, e, body, "sha256="+strings.Repeat("0", 64)); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", code)
	}
	if code, _ := webtest.WhPost(t, e, []byte(`not json`), whatsapp.Sign(webtest.WhSecret, []byte(`not json`))); code != http.StatusBadRequest {
		t.Fatalf("malformed: %d", code)
	}
	big := bytes.Repeat([]byte("x"), whatsapp.MaxBodyBytes+1)
	if code, _ := webtest.WhPost(t, e, big, whatsapp.Sign(webtest.WhSecret, big)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("too large: %d", code)
	}
	if count("rejected") != 3 || count("stored") != 1 || count("received") != 2 {
		t.Fatalf("after refusals: rejected %v stored %v received %v", count("rejected"), count("stored"), count("received"))
	}
	for reason, want := range map[string]float64{"bad_signature": 1, "malformed": 1, "too_large": 1, "database_down": 0} {
		if n := metricValue(t, reg, "parley_webhook_rejections_total", map[string]string{"provider": "whatsapp", "reason": reason}); n != want {
			t.Errorf("rejections for %s: %v, want %v", reason, n, want)
		}
	}
	if n := whCount(t, e.App, (*store.InboundEvent)(nil)); n != 1 {
		t.Fatalf("events stored: %d", n)
	}
	if n := metricValue(t, reg, "parley_http_requests_total", map[string]string{"route": "/webhooks/whatsapp", "code": "401"}); n != 1 {
		t.Fatalf("the 401 is counted under its route: %v", n)
	}
	// The pending inbound task shows in the queue depth, read at scrape time.
	if n := metricValue(t, reg, "parley_queue_tasks", map[string]string{"queue": workers.QueueCritical, "state": "pending"}); n != 1 {
		t.Fatalf("pending inbound tasks: %v", n)
	}
}

// A widget reply moves the LLM call, token and cost counters once; a replay of its request id
// moves nothing; a failed call counts as an error.
func TestLLMMetricsAfterAWidgetReply(t *testing.T) {
	// The provider answers with fixed usage; calls from failFrom on fail with 400.
	llmSrv := testkit.NewFakeLLM(t)
	var failFrom atomic.Int64
	llmSrv.Answer = func(n int, _ testkit.LLMRequest) testkit.LLMAnswer {
		if f := failFrom.Load(); f > 0 && int64(n) >= f {
			return testkit.LLMAnswer{Status: http.StatusBadRequest, Message: "bad request", Type: "invalid_request_error"}
		}
		return testkit.LLMAnswer{Content: "Which company are you with?", Model: "gpt-4o-mini-2024-07-18", Usage: &testkit.LLMUsage{Prompt: 500, Completion: 20}}
	}
	cfg := testkit.Config(t)
	cfg.LLMBaseURL = llmSrv.URL + "/v1"
	cfg.LLMAPIKey = "sk-test"
	a := testkit.App(t, cfg)
	ws := web.New(a)
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(ws.Close)
	e := &env{&webtest.Env{T: t, App: a, Srv: srv, URL: srv.URL}}
	w := e.User("ana@example.com", "correct-horse")
	as := e.WAssistant(w, webtest.WOrigin)
	id, tok := e.WSession(as, "visitor-metrics")
	res, out := e.WJSON("POST", "/api/widget/v1/sessions/"+id+"/messages", map[string]string{"text": "Hello, do you ship?"}, "Authorization", "Bearer "+tok)
	if res.StatusCode != http.StatusOK || out["reply"] == nil {
		t.Fatalf("send: %d %v", res.StatusCode, out)
	}
	reg := a.Metrics.Registry
	reply := map[string]string{"purpose": "reply", "model": "gpt-4o-mini-2024-07-18"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range reply {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	var entry store.UsageEntry
	if err := a.Store.DB.NewSelect().Model(&entry).Where("purpose = ?", "reply").Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		if n := metricValue(t, reg, "parley_llm_calls_total", with(map[string]string{"outcome": "ok"})); n != 1 {
			t.Fatalf("%s: calls %v", when, n)
		}
		if n := metricValue(t, reg, "parley_llm_tokens_total", with(map[string]string{"kind": "prompt"})); n != 500 {
			t.Fatalf("%s: prompt tokens %v", when, n)
		}
		if n := metricValue(t, reg, "parley_llm_tokens_total", with(map[string]string{"kind": "completion"})); n != 20 {
			t.Fatalf("%s: completion tokens %v", when, n)
		}
		cost := metricValue(t, reg, "parley_llm_cost_dollars_total", reply)
		if entry.CostNanos <= 0 || cost != float64(entry.CostNanos)/1e9 {
			t.Fatalf("%s: cost %v, ledger %d nano-dollars", when, cost, entry.CostNanos)
		}
	}
	check("after the reply")

	// The same request id again (a reconnecting stream, a retried job): nothing new.
	conv, err := a.Store.GetConversation(context.Background(), w.ID, *entry.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Chat.Reply(context.Background(), conv, as, entry.RequestID, nil)
	if err != nil || !r.Replayed {
		t.Fatalf("replay: %+v %v", r, err)
	}
	check("after a replay")

	// A provider failure is an error call; tokens and cost stay.
	failFrom.Store(int64(llmSrv.Calls() + 1))
	res, out = e.WJSON("POST", "/api/widget/v1/sessions/"+id+"/messages", map[string]string{"text": "Hello?"}, "Authorization", "Bearer "+tok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("send: %d %v", res.StatusCode, out)
	}
	if n := metricValue(t, reg, "parley_llm_calls_total", map[string]string{"purpose": "reply", "outcome": "error"}); n != 1 {
		t.Fatalf("error calls: %v", n)
	}
	check("after a failure")
}

// syncBuf is a log sink written by several goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }

// lines decodes the JSON log lines written so far.
func (s *syncBuf) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	raw := s.b.String()
	s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON log line: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// One webhook, followed through the logs: the web request's id is on every log line of the
// jobs it causes (inbound processing, reply, window expiry, extraction), with the task's
// type and id; the worker's metrics count the tasks and the window.
func TestWebhookRequestIDFollowsTheEventIntoItsJobs(t *testing.T) {
	graph := testkit.NewFakeGraph(t)
	cfg := testkit.Config(t)
	cfg.WhatsAppAppSecret = webtest.WhSecret
	cfg.WhatsAppGraphURL = graph.URL + "/v21.0"
	cfg.LogFormat = "json"
	logs := &syncBuf{}
	a, err := app.Open(context.Background(), cfg, app.Options{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ws := web.New(a)
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(ws.Close)
	ctx := context.Background()
	w, _, err := a.Store.CreateWorkspaceWithUser(ctx, "Shop", "owner@shop.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := a.Keys.Encrypt("graph-token")
	if err != nil {
		t.Fatal(err)
	}
	pid := webtest.WhPhoneID
	if err := a.Store.CreateAssistant(ctx, testkit.Verified(&store.Assistant{WorkspaceID: w.ID, Name: "Shop", WhatsAppPhoneNumberID: &pid, WhatsAppAccessTokenEnc: enc,
		Variables: webtest.FromJSON[store.Variables](t, `[{"name":"company","description":"company name","type":"text"}]`)})); err != nil {
		t.Fatal(err)
	}

	// The real worker: asynq's server with the production handlers and middleware.
	wsrv := asynq.NewServerFromRedisClient(a.Redis, asynq.Config{Concurrency: 4, Queues: workers.QueuePriorities, Logger: quietAsynq{}})
	if err := wsrv.Start(workers.NewMux(cli.Handlers(a))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wsrv.Shutdown)

	// A message sent now, so that its window opens.
	body := bytes.Replace(webtest.WhFixture(t, "text_message.json"), []byte(`"timestamp": "1749416383"`),
		[]byte(`"timestamp": "`+strconv.FormatInt(time.Now().Unix(), 10)+`"`), 1)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(webtest.WhSecret, body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	reqID := res.Header.Get("X-Request-Id")
	if res.StatusCode != http.StatusOK || reqID == "" {
		t.Fatalf("webhook: %d, request id %q", res.StatusCode, reqID)
	}

	// Run the delayed jobs now rather than after their debounce (the window expiry, due in
	// 24 hours, runs and finds the window still open).
	insp := asynq.NewInspectorFromRedisClient(a.Redis)
	want := []string{workers.TypeInboundProcess, workers.TypeWhatsAppReply, workers.TypeWhatsAppWindowExpire, workers.TypeConversationExtract}
	deadline := time.Now().Add(60 * time.Second)
	var lines []map[string]any
	for {
		for _, q := range []string{workers.QueueCritical, workers.QueueDefault} {
			_, _ = insp.RunAllScheduledTasks(q)
		}
		lines = logs.lines(t)
		done := map[string]bool{}
		for _, l := range lines {
			if l["msg"] == "task done" {
				done[fmt.Sprint(l["task"])] = true
			}
		}
		all := true
		for _, typ := range want {
			all = all && done[typ]
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks done: %v, want %v; logs:\n%v", done, want, lines)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The web side logged the request with its id.
	web := false
	for _, l := range lines {
		if l["msg"] == "request" && l["uri"] == "/webhooks/whatsapp" {
			web = true
			if l["request_id"] != reqID {
				t.Fatalf("web request log line: %v, want request_id %q", l, reqID)
			}
		}
	}
	if !web {
		t.Fatal("no web request log line for the webhook")
	}
	// Every worker line of these tasks carries the same request id, the task type and its id.
	seen := map[string]int{}
	for _, l := range lines {
		typ, _ := l["task"].(string)
		if typ == "" {
			continue
		}
		if l["request_id"] != reqID || l["task_id"] == nil || l["task_id"] == "" {
			t.Errorf("worker line without the webhook's request id (%q) or task id: %v", reqID, l)
		}
		seen[typ]++
	}
	for _, typ := range want {
		if seen[typ] == 0 {
			t.Errorf("no log line of %s", typ)
		}
	}
	found := map[string]bool{}
	for _, l := range lines {
		found[fmt.Sprint(l["msg"])] = found[fmt.Sprint(l["msg"])] || l["request_id"] == reqID
	}
	for _, msg := range []string{"inbound event processed", "whatsapp window opened", "whatsapp reply sent"} {
		if !found[msg] {
			t.Errorf("no %q line with the request id", msg)
		}
	}

	// The worker's metrics.
	reg := a.Metrics.Registry
	for _, typ := range want {
		if n := metricValue(t, reg, "parley_tasks_total", map[string]string{"type": typ, "outcome": "succeeded"}); n < 1 {
			t.Errorf("parley_tasks_total{type=%q,outcome=succeeded} = %v", typ, n)
		}
		if n := metricValue(t, reg, "parley_task_duration_seconds", map[string]string{"type": typ}); n < 1 {
			t.Errorf("no duration sample for %s", typ)
		}
	}
	if n := metricValue(t, reg, "parley_whatsapp_windows_total", map[string]string{"event": "opened"}); n != 1 {
		t.Errorf("windows opened: %v", n)
	}
	if n := metricValue(t, reg, "parley_llm_calls_total", map[string]string{"purpose": "reply", "outcome": "ok"}); n != 1 {
		t.Errorf("reply calls: %v", n)
	}
}

type quietAsynq struct{}

func (quietAsynq) Debug(...any) {}
func (quietAsynq) Info(...any)  {}
func (quietAsynq) Warn(...any)  {}
func (quietAsynq) Error(...any) {}
func (quietAsynq) Fatal(...any) {}
