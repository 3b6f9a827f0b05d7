package workers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/logctx"
	"github.com/parleyhq/parley/app/metrics"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/workers"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// taskCount reads parley_tasks_total{type,outcome}.
func taskCount(t *testing.T, m *metrics.Metrics, typ, outcome string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "parley_tasks_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range s.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["type"] == typ && l["outcome"] == outcome {
				return s.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// The middleware counts each run by outcome (a failure asynq retries, a success, a failure
// for good) and logs it with the task's type, id and request id.
func TestObserveCountsOutcomesAndLogsTaskIDs(t *testing.T) {
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	m := metrics.New()
	logs := &lockedBuf{}
	// The App's logger is wrapped so (app.Open does it): handlers' lines carry the task's ids too.
	log := logctx.Logger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	var flakyRuns atomic.Int32
	mux := asynq.NewServeMux()
	mux.Use(workers.Observe(m, log))
	mux.HandleFunc("test:flaky", func(ctx context.Context, t *asynq.Task) error {
		if flakyRuns.Add(1) == 1 {
			return errors.New("first run fails")
		}
		log.InfoContext(ctx, "flaky handler ran")
		return nil
	})
	mux.HandleFunc("test:broken", func(ctx context.Context, t *asynq.Task) error {
		return fmt.Errorf("cannot ever work: %w", asynq.SkipRetry)
	})
	srv := asynq.NewServerFromRedisClient(a.Redis, asynq.Config{Concurrency: 2, Queues: workers.QueuePriorities, Logger: quiet{},
		RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 0 },
		DelayedTaskCheckInterval: 100 * time.Millisecond})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	for _, task := range []*asynq.Task{
		asynq.NewTask("test:flaky", []byte(`{"request_id":"req-flaky"}`), asynq.TaskID("flaky-1"), asynq.MaxRetry(3)),
		asynq.NewTask("test:broken", []byte(`{"event_id":1}`), asynq.TaskID("broken-1"), asynq.MaxRetry(3)),
	} {
		if _, err := a.Queue.EnqueueContext(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for taskCount(t, m, "test:flaky", metrics.TaskSucceeded) < 1 || taskCount(t, m, "test:broken", metrics.TaskFailed) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("tasks not run; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct {
		typ, outcome string
		want         float64
	}{
		{"test:flaky", metrics.TaskRetried, 1}, {"test:flaky", metrics.TaskSucceeded, 1}, {"test:flaky", metrics.TaskFailed, 0},
		{"test:broken", metrics.TaskFailed, 1}, {"test:broken", metrics.TaskRetried, 0}, {"test:broken", metrics.TaskSucceeded, 0},
	} {
		if got := taskCount(t, m, c.typ, c.outcome); got != c.want {
			t.Errorf("parley_tasks_total{type=%q,outcome=%q} = %v, want %v", c.typ, c.outcome, got, c.want)
		}
	}

	byMsg := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		byMsg[fmt.Sprint(l["msg"], "/", l["task"])] = l
	}
	for key, want := range map[string][3]string{
		"task failed; it will be retried/test:flaky": {"WARN", "flaky-1", "req-flaky"},
		"flaky handler ran/test:flaky":               {"INFO", "flaky-1", "req-flaky"},
		"task done/test:flaky":                       {"DEBUG", "flaky-1", "req-flaky"},
		"task failed for good/test:broken":           {"ERROR", "broken-1", ""},
	} {
		l, ok := byMsg[key]
		if !ok {
			t.Errorf("no log line %q in:\n%s", key, logs.String())
			continue
		}
		rid, _ := l["request_id"].(string)
		if l["level"] != want[0] || l["task_id"] != want[1] || rid != want[2] {
			t.Errorf("%s: %v, want level %s task_id %s request_id %q", key, l, want[0], want[1], want[2])
		}
	}
}

// Request ids travel in payloads without changing task ids, and payloads queued before they
// did still decode.
func TestPayloadsCarryRequestIDsCompatibly(t *testing.T) {
	at := time.Now().Add(time.Hour)
	old, err := tk.WhatsAppWindowExpire(1, 2, at)
	if err != nil {
		t.Fatal(err)
	}
	withID, err := tk.WhatsAppWindowExpire(1, 2, at, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	var p workers.WhatsAppWindowPayload
	if err := json.Unmarshal(withID.Payload(), &p); err != nil || p.RequestID != "req-1" || p.ConversationID != 2 {
		t.Fatalf("payload %s: %+v %v", withID.Payload(), p, err)
	}
	if strings.Contains(string(old.Payload()), "request_id") {
		t.Fatalf("no request id, no field: %s", old.Payload())
	}
	for _, raw := range []string{
		`{"workspace_id":1,"conversation_id":2,"message_id":3}`,
		`{"workspace_id":1,"conversation_id":2,"message_id":3,"request_id":"r"}`,
	} {
		var rp workers.WhatsAppReplyPayload
		if err := json.Unmarshal([]byte(raw), &rp); err != nil || rp.MessageID != 3 {
			t.Fatalf("%s: %+v %v", raw, rp, err)
		}
	}
	r1, _ := tk.WhatsAppReply(workers.WhatsAppReplyPayload{WorkspaceID: 1, ConversationID: 2, MessageID: 3}, "", 0, time.Second)
	r2, _ := tk.WhatsAppReply(workers.WhatsAppReplyPayload{WorkspaceID: 1, ConversationID: 2, MessageID: 3, RequestID: "r"}, "", 0, time.Second)
	e1, _ := tk.Extract(workers.ExtractPayload{WorkspaceID: 1, ConversationID: 2}, at, 0)
	e2, _ := tk.Extract(workers.ExtractPayload{WorkspaceID: 1, ConversationID: 2, RequestID: "r"}, at, 0)
	a := testkit.App(t, testkit.Config(t))
	ctx := context.Background()
	for _, pair := range [][2]*asynq.Task{{old, withID}, {r1, r2}, {e1, e2}} {
		if _, err := a.Queue.EnqueueContext(ctx, pair[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Queue.EnqueueContext(ctx, pair[1]); !errors.Is(err, asynq.ErrTaskIDConflict) {
			t.Fatalf("%s with a request id must keep its task id (conflict), got %v", pair[1].Type(), err)
		}
	}
}
