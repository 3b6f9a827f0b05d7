package conversation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// BulkJob is the progress of a bulk deletion, kept in Redis for a day (the deletion itself is
// in the database; re-running a job deletes what still matches).
type BulkJob struct {
	ID      string
	State   string // queued, running, done, failed
	Deleted int64
	Total   int64
	Error   string
}

// BulkJobs stores bulk-deletion progress.
type BulkJobs struct {
	Redis redis.UniversalClient
	// Kind names the jobs' key space: "" is the bulk deletions ("bulkdelete"); the bulk
	// "Evaluate again" uses its own (its Deleted counts the conversations done).
	Kind string
}

const bulkTTL = 24 * time.Hour

func (j BulkJobs) key(workspaceID int64, id string) string {
	kind := j.Kind
	if kind == "" {
		kind = "bulkdelete"
	}
	return "parley:" + kind + ":" + strconv.FormatInt(workspaceID, 10) + ":" + id
}

// NewJobID makes a job id.
func NewJobID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ErrNoJob is returned for an unknown or expired job.
var ErrNoJob = errors.New("no such job")

// Start records a queued job.
func (j BulkJobs) Start(ctx context.Context, workspaceID int64, id string, total int64) error {
	k := j.key(workspaceID, id)
	p := j.Redis.TxPipeline()
	p.HSet(ctx, k, "state", "queued", "deleted", 0, "total", total, "error", "")
	p.Expire(ctx, k, bulkTTL)
	_, err := p.Exec(ctx)
	return err
}

// Progress adds n deleted rows and sets the state.
func (j BulkJobs) Progress(ctx context.Context, workspaceID int64, id string, n int64, state, msg string) error {
	k := j.key(workspaceID, id)
	p := j.Redis.TxPipeline()
	if n != 0 {
		p.HIncrBy(ctx, k, "deleted", n)
	}
	p.HSet(ctx, k, "state", state, "error", msg)
	p.Expire(ctx, k, bulkTTL)
	_, err := p.Exec(ctx)
	return err
}

// Get reads a job of the workspace.
func (j BulkJobs) Get(ctx context.Context, workspaceID int64, id string) (*BulkJob, error) {
	m, err := j.Redis.HGetAll(ctx, j.key(workspaceID, id)).Result()
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, ErrNoJob
	}
	job := &BulkJob{ID: id, State: m["state"], Error: m["error"]}
	if _, err := fmt.Sscan(m["deleted"], &job.Deleted); err != nil {
		job.Deleted = 0
	}
	if _, err := fmt.Sscan(m["total"], &job.Total); err != nil {
		job.Total = 0
	}
	return job, nil
}

// Retention is how many days conversations of each type are kept (0 or absent: forever).
type Retention map[string]int

// MaxRetentionDays bounds a retention setting (ten years).
const MaxRetentionDays = 3650
