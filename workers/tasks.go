// Package workers holds Parley's background work: asynq task types, their payloads and
// constructors, the handlers, the mux and the periodic schedule. A handler decodes its
// payload, makes one feature-service call and maps the error to asynq.SkipRetry or a retry;
// the rules live in the feature packages (app/whatsapp, app/conversation, ...), which never
// import this one.
package workers

import (
	"encoding/json"
	"fmt"
	"strconv"
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

// InboundProcessPayload names one raw inbound event to process.
type InboundProcessPayload struct {
	EventID   int64  `json:"event_id"`
	RequestID string `json:"request_id,omitempty"`
}

// NewInboundProcessTask processes one stored inbound event. The task id is derived from the
// event id, so enqueueing the same event twice (the webhook and then a sweep) runs it once
// while the first is pending; asynq.ErrTaskIDConflict from Enqueue means "already queued".
func NewInboundProcessTask(eventID int64, requestID string) (*asynq.Task, error) {
	if eventID <= 0 {
		return nil, fmt.Errorf("inbound:process: event id must be positive, got %d", eventID)
	}
	b, err := json.Marshal(InboundProcessPayload{EventID: eventID, RequestID: requestID})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeInboundProcess, b,
		asynq.TaskID("inbound:"+strconv.FormatInt(eventID, 10)),
		asynq.Queue(QueueCritical),
		asynq.MaxRetry(10),
		asynq.Timeout(2*time.Minute),
		asynq.Retention(10*time.Minute),
	), nil
}

// NewInboundSweepTask re-enqueues events left unprocessed (lost from Redis, or failed for good).
func NewInboundSweepTask() *asynq.Task {
	return asynq.NewTask(TypeInboundSweep, nil,
		asynq.Queue(QueueLow), asynq.MaxRetry(0), asynq.Timeout(time.Minute), asynq.Unique(30*time.Second))
}
