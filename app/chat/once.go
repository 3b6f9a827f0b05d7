package chat

import (
	"context"
	"errors"
	"time"

	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/store"
)

// ErrWaitTimedOut is returned by ReplyOnce to a caller that waited for another caller's reply
// longer than the reply may take (three minutes).
var ErrWaitTimedOut = errors.New("timed out waiting for the reply")

const replyWaitLimit = 3 * time.Minute

// ReplyOnce produces the reply to a customer's message once, however many requests ask for it
// (a retried POST, a reconnecting stream, a second tab): the first caller takes a Redis lock
// and asks the LLM (streaming to onDelta when not nil); the reply is stored even when that
// caller goes away mid-stream. A concurrent caller waits for the stored reply on the event bus
// (the reply's MessageAdded event wakes it; it never polls the database) and returns it with
// Replayed set. A waiter that gives up returns ctx's error or ErrWaitTimedOut.
//
// The lock is only an economy: when Redis cannot be reached the reply goes ahead without it,
// and the ledger's unique request id still keeps the stored reply single (at worst the LLM is
// asked twice). A customer never loses a reply because Redis is down.
func (r *Responder) ReplyOnce(ctx context.Context, conv *store.Conversation, a *store.Assistant, userMsg int64, onDelta func(string) error) (Reply, error) {
	reqID := RequestID(conv.ID, userMsg)
	held, release := r.replyLock(ctx, reqID)
	if !held {
		return r.waitForReply(ctx, conv.WorkspaceID, conv.ID, reqID)
	}
	defer release()
	return r.Reply(context.WithoutCancel(ctx), conv, a, reqID, onDelta)
}

func (r *Responder) replyLock(ctx context.Context, reqID string) (held bool, release func()) {
	if r.Redis == nil {
		return true, func() {}
	}
	lock := "parley:replylock:" + reqID
	ok, err := r.Redis.SetNX(ctx, lock, "1", replyWaitLimit).Result()
	if err != nil {
		r.Log.Warn("reply lock unavailable (Redis): replying without it", "err", err, "request_id", reqID)
		return true, func() {}
	}
	if !ok {
		return false, nil
	}
	return true, func() { r.Redis.Del(context.WithoutCancel(ctx), lock) }
}

// recheck is how often a waiter looks at the database without an event: a safety net for an
// event the bus dropped (a subscriber that did not keep up, a Redis blip). Without a bus it is
// the only way to learn of the reply.
func (r *Responder) recheck() time.Duration {
	switch {
	case r.WaitRecheck > 0:
		return r.WaitRecheck
	case r.Events == nil:
		return 300 * time.Millisecond
	}
	return 15 * time.Second
}

// waitForReply waits for the reply of reqID, stored by another caller: it looks once, then
// again each time a message is added to the conversation.
func (r *Responder) waitForReply(ctx context.Context, ws, conversationID int64, reqID string) (Reply, error) {
	var evs <-chan events.Event
	if r.Events != nil {
		ch, unsubscribe := r.Events.Subscribe(ws) // before the first look, so no event is missed
		defer unsubscribe()
		evs = ch
	}
	limit := time.NewTimer(replyWaitLimit)
	defer limit.Stop()
	tick := time.NewTicker(r.recheck())
	defer tick.Stop()
	for {
		if e, err := r.Store.UsageByRequestID(ctx, ws, reqID); err == nil && e.MessageID != nil {
			if m, err := r.Store.MessageByID(ctx, ws, *e.MessageID); err == nil {
				return Reply{Message: m, Replayed: true}, nil
			}
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return Reply{}, ctx.Err()
			case <-limit.C:
				return Reply{}, ErrWaitTimedOut
			case <-tick.C:
				break wait
			case ev, ok := <-evs:
				if !ok {
					evs = nil
					continue
				}
				if ev.Kind == events.MessageAdded && ev.ConversationID == conversationID {
					break wait
				}
			}
		}
	}
}
