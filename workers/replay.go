package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/store"
)

// Replay task types (issue 15 item 2).
const (
	// TypeReplayRun executes one replay (replay.Engine.Execute).
	TypeReplayRun = "replay:run"
	// TypeReplaySweep re-enqueues replays left pending or running (their task was lost with
	// Redis, or their worker killed).
	TypeReplaySweep = "replay:sweep"
)

// ReplayRunPayload names one replay.
type ReplayRunPayload struct {
	WorkspaceID int64 `json:"workspace_id"`
	ReplayID    int64 `json:"replay_id"`
}

// replayMaxRetry is how many times a replay's task is retried after a retryable failure; the
// last attempt fails the replay rather than leave it running.
const replayMaxRetry = 5

// ReplayRun executes one replay. Its id is "<prefix>:replay:<replay id>", so the start and
// the sweep enqueue one task while it is queued, retried or running.
func (t *Tasks) ReplayRun(p ReplayRunPayload) (*asynq.Task, error) {
	if p.WorkspaceID <= 0 || p.ReplayID <= 0 {
		return nil, fmt.Errorf("%s: workspace and replay ids are required", TypeReplayRun)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeReplayRun, b,
		asynq.TaskID(t.id("replay", strconv.FormatInt(p.ReplayID, 10))),
		asynq.Queue(QueueDefault),
		asynq.MaxRetry(replayMaxRetry),
		asynq.Timeout(15*time.Minute), // up to model.MaxCaseTurns calls and two evaluations
		asynq.Retention(10*time.Minute),
	), nil
}

// ReplaySweep finds replays whose task was lost.
func (t *Tasks) ReplaySweep() *asynq.Task {
	return t.periodic(TypeReplaySweep,
		asynq.Queue(QueueLow), asynq.MaxRetry(0), asynq.Timeout(time.Minute), asynq.Unique(30*time.Second))
}

// EnqueueReplay enqueues the task of a replay (a duplicate is success).
func (t *Tasks) EnqueueReplay(ctx context.Context, r *store.Replay) error {
	task, err := t.ReplayRun(ReplayRunPayload{WorkspaceID: r.WorkspaceID, ReplayID: r.ID})
	if err != nil {
		return err
	}
	return t.Enqueue(ctx, task)
}

// Replay runs replays and their sweep.
type Replay struct {
	Engine  *replay.Engine
	Replays *replay.Service
	Tasks   *Tasks
	Log     *slog.Logger
	// Age is how long a replay waits pending or running before the sweep enqueues it again
	// (default two minutes); Batch bounds one sweep (default 200).
	Age   time.Duration
	Batch int
}

func (h *Replay) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// HandleRun executes one replay. It is idempotent: a finished replay is skipped, a turn is
// answered and charged once. On its last attempt a retryable provider failure fails it.
func (h *Replay) HandleRun(ctx context.Context, t *asynq.Task) error {
	var p ReplayRunPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.WorkspaceID <= 0 || p.ReplayID <= 0 {
		return fmt.Errorf("%s: bad payload %q: %w", TypeReplayRun, t.Payload(), asynq.SkipRetry)
	}
	last := lastAttempt(ctx)
	res, err := h.Engine.Execute(ctx, replay.Run{WorkspaceID: p.WorkspaceID, ReplayID: p.ReplayID, LastAttempt: last})
	if err != nil {
		return err
	}
	if res.Skipped == "" {
		h.log().InfoContext(ctx, "replay finished", "replay_id", p.ReplayID, "status", res.Status, "answered", res.Answered, "error", res.Error)
	}
	return nil
}

// HandleSweep enqueues the replays left pending or running (read from the database).
func (h *Replay) HandleSweep(ctx context.Context, _ *asynq.Task) error {
	age, batch := h.Age, h.Batch
	if age <= 0 {
		age = 2 * time.Minute
	}
	if batch <= 0 {
		batch = 200
	}
	rs, err := h.Replays.Due(ctx, age, batch)
	if err != nil {
		return err
	}
	for i := range rs {
		if err := h.Tasks.EnqueueReplay(ctx, &rs[i]); err != nil {
			return fmt.Errorf("enqueue replay %d: %w", rs[i].ID, err)
		}
	}
	if len(rs) > 0 {
		h.log().InfoContext(ctx, "replay sweep enqueued replays", "count", len(rs))
	}
	return nil
}
