// Package events fans out live updates (a conversation changed, a message arrived, the counts
// moved) from any process to every web process through Redis pub/sub.
//
// It owns the event types and the Redis channels. Feature services publish (each after its
// own write, in the same call); web surfaces subscribe. It imports no feature package, no
// store and no web package; losing an event loses no data (pages re-read the database).
package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kinds of events.
const (
	ConversationChanged = "conversation"
	MessageAdded        = "message"
	ConversationDeleted = "deleted"
	CountsChanged       = "counts"
)

// Event is one live update. It carries ids only: receivers load what they render from the
// database, scoped to their own workspace.
type Event struct {
	Kind           string `json:"kind"`
	WorkspaceID    int64  `json:"workspace_id"`
	ConversationID int64  `json:"conversation_id,omitempty"`
	MessageID      int64  `json:"message_id,omitempty"`
}

// Redis pub/sub channels are shared by every database index of a server, so the channel names
// carry the client's database index: deployments (and tests) on different indexes of one Redis
// never hear each other.
func channelPrefix(rdb redis.UniversalClient) string {
	db := 0
	if c, ok := rdb.(*redis.Client); ok {
		db = c.Options().DB
	}
	return "parley:events:" + strconv.Itoa(db) + ":"
}

// Channel is the Redis channel of a workspace for a client.
func Channel(rdb redis.UniversalClient, workspaceID int64) string {
	return channelPrefix(rdb) + strconv.FormatInt(workspaceID, 10)
}

// Bus publishes through Redis and, per process, keeps one pattern subscription that it fans
// out to the local subscribers (one per open browser tab), so that a thousand open tabs cost
// one Redis connection, not a thousand.
type Bus struct {
	rdb redis.UniversalClient
	log *slog.Logger

	mu      sync.Mutex
	subs    map[int64]map[chan Event]struct{}
	running bool
	stop    context.CancelFunc
}

// NewBus returns a bus on rdb.
func NewBus(rdb redis.UniversalClient, log *slog.Logger) *Bus {
	return &Bus{rdb: rdb, log: log, subs: map[int64]map[chan Event]struct{}{}}
}

// Publish sends ev to every subscriber of its workspace in every process. A failure is
// logged, not returned: live updates are a convenience, the database is the truth and pages
// reload from it.
func (b *Bus) Publish(ctx context.Context, ev Event) {
	raw, _ := json.Marshal(ev)
	if err := b.rdb.Publish(ctx, Channel(b.rdb, ev.WorkspaceID), raw).Err(); err != nil {
		b.log.Warn("publish live update", "err", err, "kind", ev.Kind)
	}
}

// Subscribe returns a channel of the workspace's events and a function that releases the
// subscription (call it when the browser goes away). Events are dropped for a subscriber
// that does not keep up rather than blocking the others.
func (b *Bus) Subscribe(workspaceID int64) (<-chan Event, func()) {
	ch := make(chan Event, 32)
	b.mu.Lock()
	if b.subs[workspaceID] == nil {
		b.subs[workspaceID] = map[chan Event]struct{}{}
	}
	b.subs[workspaceID][ch] = struct{}{}
	if !b.running {
		b.running = true
		ctx, cancel := context.WithCancel(context.Background())
		b.stop = cancel
		ready := make(chan struct{})
		go b.loop(ctx, ready)
		b.mu.Unlock()
		select { // wait until Redis confirmed the subscription, so no event is missed
		case <-ready:
		case <-time.After(10 * time.Second):
		}
	} else {
		b.mu.Unlock()
	}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			delete(b.subs[workspaceID], ch)
			if len(b.subs[workspaceID]) == 0 {
				delete(b.subs, workspaceID)
			}
			close(ch)
		})
	}
}

// Subscribers counts the local subscribers (for tests and metrics).
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, m := range b.subs {
		n += len(m)
	}
	return n
}

func (b *Bus) loop(ctx context.Context, ready chan struct{}) {
	signalled := false
	for ctx.Err() == nil {
		prefix := channelPrefix(b.rdb)
		ps := b.rdb.PSubscribe(ctx, prefix+"*")
		if _, err := ps.Receive(ctx); err != nil {
			_ = ps.Close()
			if ctx.Err() == nil {
				b.log.Warn("live updates: subscribe failed; retrying", "err", err)
			}
			if !signalled {
				close(ready)
				signalled = true
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if !signalled {
			close(ready)
			signalled = true
		}
		for m := range ps.Channel() {
			id, err := strconv.ParseInt(strings.TrimPrefix(m.Channel, prefix), 10, 64)
			if err != nil {
				continue
			}
			var ev Event
			if json.Unmarshal([]byte(m.Payload), &ev) != nil || ev.WorkspaceID != id {
				continue
			}
			b.deliver(ev)
		}
		_ = ps.Close()
	}
}

func (b *Bus) deliver(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[ev.WorkspaceID] {
		select {
		case ch <- ev:
		default:
		}
	}
}

// Close stops the subscription loop.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stop != nil {
		b.stop()
	}
}
