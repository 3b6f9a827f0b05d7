package workers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/logctx"
	"github.com/parleyhq/parley/app/metrics"
)

// requestIDOf reads the request_id field that payloads carry when a web request (a webhook,
// a widget or Test Chat message) caused the task; "" when there is none (older payloads,
// periodic tasks).
func requestIDOf(t *asynq.Task) string {
	b := t.Payload()
	if len(b) == 0 || b[0] != '{' {
		return ""
	}
	var p struct {
		RequestID string `json:"request_id"`
	}
	_ = json.Unmarshal(b, &p)
	return p.RequestID
}

// Observe is the worker middleware. It puts the task's type, id and request id into the
// context, so that every line the handler logs with it carries task, task_id and request_id
// (see app/logctx); it counts the run in parley_tasks_total{type,outcome} and
// parley_task_duration_seconds{type}; and it logs the run's end: debug when it succeeded, a
// warning when asynq retries it, an error when it failed for good.
func Observe(m *metrics.Metrics, log *slog.Logger) asynq.MiddlewareFunc {
	if log == nil {
		log = slog.Default()
	}
	log = logctx.Logger(log)
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
			id, _ := asynq.GetTaskID(ctx)
			ctx = logctx.With(ctx, logctx.Fields{Task: t.Type(), TaskID: id, RequestID: requestIDOf(t)})
			start := time.Now()
			defer func() {
				d := time.Since(start)
				if p := recover(); p != nil {
					m.Task(t.Type(), taskOutcome(ctx, errors.New("panic")), d)
					log.ErrorContext(ctx, "task panicked", "panic", p)
					panic(p)
				}
				out := taskOutcome(ctx, err)
				m.Task(t.Type(), out, d)
				switch out {
				case metrics.TaskSucceeded:
					log.DebugContext(ctx, "task done", "duration", d)
				case metrics.TaskRetried:
					n, _ := asynq.GetRetryCount(ctx)
					log.WarnContext(ctx, "task failed; it will be retried", "err", err, "retry", n, "duration", d)
				default:
					log.ErrorContext(ctx, "task failed for good", "err", err, "duration", d)
				}
			}()
			return next.ProcessTask(ctx, t)
		})
	}
}

// lastAttempt reports a task run after which asynq retries no more: its retries are spent
// (a handler then fails its row for good instead of leaving it for a retry).
func lastAttempt(ctx context.Context) bool {
	n, ok := asynq.GetRetryCount(ctx)
	limit, ok2 := asynq.GetMaxRetry(ctx)
	return ok && ok2 && n >= limit
}

// taskOutcome says what asynq does with a run that returned err: nothing (succeeded), run it
// again (retried), or give up (failed: no retry left, or an error no retry fixes).
func taskOutcome(ctx context.Context, err error) string {
	if err == nil {
		return metrics.TaskSucceeded
	}
	if errors.Is(err, asynq.SkipRetry) || errors.Is(err, asynq.RevokeTask) {
		return metrics.TaskFailed
	}
	n, ok := asynq.GetRetryCount(ctx)
	limit, ok2 := asynq.GetMaxRetry(ctx)
	if !ok || !ok2 || n >= limit {
		return metrics.TaskFailed
	}
	return metrics.TaskRetried
}
