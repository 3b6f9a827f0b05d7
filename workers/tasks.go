// Package workers holds Parley's background work: asynq task types, their payloads and
// constructors, the handlers, the mux and the periodic schedule. A handler decodes its
// payload, makes one feature-service call and maps the error to asynq.SkipRetry or a retry;
// the rules live in the feature packages (app/whatsapp, app/conversation, ...), which never
// import this one.
package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// Queues, by priority.
const (
	QueueCritical = "critical" // inbound events: customers are waiting
	QueueDefault  = "default"
	QueueLow      = "low" // sweeps, maintenance
)

// QueuePriorities is the weight of each queue in the worker.
var QueuePriorities = map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1}

// Task types.
const (
	TypeInboundProcess = "inbound:process"
	TypeInboundSweep   = "inbound:sweep"
)

// Enqueuer is what the workers and the web layer need of the queue.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Tasks builds and enqueues every task of one installation. It is built once, by the
// container (app.Open), from the installation's prefix (a random id kept in the database,
// store.InstallationPrefix) and handed to every enqueuer: the webhooks, the dashboard, the
// task handlers. Every task id is "<prefix>:<kind>:..." and every periodic task carries the
// prefix in its payload, so two installations sharing a Redis never take each other's task
// ids or uniqueness locks, and the constructors are its methods: there is no way to build a
// task without the prefix. Ids derived from database rows also carry a per-row token (the
// event's reception time, the reply intent's random token), so that a database restored
// while Redis keeps its completed-task records never makes a new row's task collide with an
// old completed one that had the same numeric id.
type Tasks struct {
	prefix string
	queue  Enqueuer
}

// NewTasks returns the task factory of the installation prefix, enqueueing on q. The prefix
// must be non-empty and must not contain ':'.
func NewTasks(prefix string, q Enqueuer) (*Tasks, error) {
	if prefix == "" || strings.ContainsAny(prefix, ": ") {
		return nil, fmt.Errorf("workers: bad installation prefix %q", prefix)
	}
	return &Tasks{prefix: prefix, queue: q}, nil
}

// Prefix is the installation's prefix.
func (t *Tasks) Prefix() string { return t.prefix }

// id is a task id of this installation.
func (t *Tasks) id(parts ...string) string {
	return t.prefix + ":" + strings.Join(parts, ":")
}

// Enqueue enqueues task and treats a duplicate (same task id already queued) as success.
func (t *Tasks) Enqueue(ctx context.Context, task *asynq.Task) error {
	if t == nil || t.queue == nil {
		return errors.New("workers: no task queue")
	}
	return Enqueue(ctx, t.queue, task)
}

// Enqueue enqueues t and treats a duplicate (same task id already queued) as success.
func Enqueue(ctx context.Context, q Enqueuer, t *asynq.Task, opts ...asynq.Option) error {
	_, err := q.EnqueueContext(ctx, t, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

// Owns reports whether a task id or periodic payload is this installation's (or carries no
// installation at all: a task enqueued by hand).
func (t *Tasks) Owns(taskID string, payload []byte) bool {
	if p, _, ok := strings.Cut(taskID, ":"); ok && isPrefix(p) {
		return p == t.prefix
	}
	var sp SweepPayload
	if len(payload) > 0 && payload[0] == '{' && json.Unmarshal(payload, &sp) == nil && sp.Installation != "" {
		return sp.Installation == t.prefix
	}
	return true
}

// isPrefix reports whether s looks like an installation prefix ("p" and 12 hex digits).
func isPrefix(s string) bool {
	if len(s) != 13 || s[0] != 'p' {
		return false
	}
	for _, c := range s[1:] {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// SweepPayload is the payload of a periodic task: the installation it belongs to, so that the
// uniqueness lock (asynq derives it from queue, type and payload) is the installation's.
type SweepPayload struct {
	Installation string `json:"installation"`
}

// periodic builds a payload-less periodic task of this installation.
func (t *Tasks) periodic(typ string, opts ...asynq.Option) *asynq.Task {
	b, _ := json.Marshal(SweepPayload{Installation: t.prefix})
	return asynq.NewTask(typ, b, opts...)
}

// InboundProcessPayload names one raw inbound event to process.
type InboundProcessPayload struct {
	EventID   int64  `json:"event_id"`
	RequestID string `json:"request_id,omitempty"`
}

// EventToken is the per-row token of an inbound event's task id: its reception time in
// microseconds (what both dialects store), base 36.
func EventToken(receivedAt time.Time) string {
	return strconv.FormatInt(receivedAt.UTC().UnixMicro(), 36)
}

// InboundProcess processes one stored inbound event. The task id is
// "<prefix>:inbound:<event id>:<EventToken(received at)>", so enqueueing the same event twice
// (the webhook and then a sweep) runs it once while the first is pending;
// asynq.ErrTaskIDConflict from Enqueue means "already queued".
func (t *Tasks) InboundProcess(eventID int64, receivedAt time.Time, requestID string) (*asynq.Task, error) {
	if eventID <= 0 {
		return nil, fmt.Errorf("inbound:process: event id must be positive, got %d", eventID)
	}
	b, err := json.Marshal(InboundProcessPayload{EventID: eventID, RequestID: requestID})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeInboundProcess, b,
		asynq.TaskID(t.id("inbound", strconv.FormatInt(eventID, 10), EventToken(receivedAt))),
		asynq.Queue(QueueCritical),
		asynq.MaxRetry(10),
		asynq.Timeout(2*time.Minute),
		asynq.Retention(10*time.Minute),
	), nil
}

// InboundSweep re-enqueues events left unprocessed (lost from Redis, or failed for good).
func (t *Tasks) InboundSweep() *asynq.Task {
	return t.periodic(TypeInboundSweep,
		asynq.Queue(QueueLow), asynq.MaxRetry(0), asynq.Timeout(time.Minute), asynq.Unique(30*time.Second))
}
