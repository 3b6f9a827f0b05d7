// Package replyonce keeps one reply per user message when several requests ask for it (a
// retried POST, a second tab), for the widget and Test Chat. It is a stopgap shared by two
// surfaces until the chat service owns ReplyOnce (issue 11); it imports no surface and writes
// nothing.
package replyonce

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/store"
)

// Lock keeps two requests for the same reply (a retried POST, a second tab) from both
// calling the LLM: the first holds the lock, the others wait for its stored reply. The lock is
// only an economy: when Redis cannot be reached the reply goes ahead without it, and the
// ledger's unique request id still keeps the stored reply single (at worst the LLM is asked
// twice). A visitor never loses a reply because Redis is down.
func Lock(ctx context.Context, rdb redis.UniversalClient, log *slog.Logger, reqID string) (held bool, release func()) {
	lock := "parley:replylock:" + reqID
	ok, err := rdb.SetNX(ctx, lock, "1", 3*time.Minute).Result()
	if err != nil {
		log.Warn("reply lock unavailable (Redis): replying without it", "err", err, "request_id", reqID)
		return true, func() {}
	}
	if !ok {
		return false, nil
	}
	return true, func() { rdb.Del(context.WithoutCancel(ctx), lock) }
}

// Wait waits for another stream's reply to be stored.
func Wait(ctx context.Context, st *store.Store, ws int64, reqID string) (chat.Reply, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if e, err := st.UsageByRequestID(ctx, ws, reqID); err == nil && e.MessageID != nil {
			m, err := st.MessageByID(ctx, ws, *e.MessageID)
			if err == nil {
				return chat.Reply{Message: m, Replayed: true}, nil
			}
		}
		select {
		case <-ctx.Done():
			return chat.Reply{}, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return chat.Reply{}, errors.New("timed out waiting for the reply")
}
