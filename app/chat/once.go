package chat

import (
	"context"
	"errors"
	"time"

	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// ErrWaitTimedOut is returned by ReplyOnce to a caller that waited for another caller's reply
// longer than the reply may take (three minutes).
var ErrWaitTimedOut = errors.New("timed out waiting for the reply")

// errLockGone tells a waiter that the caller it waited for is gone (its lock expired: the
// process died mid-reply), so it may reply itself.
var errLockGone = errors.New("the reply's lock holder is gone")

const (
	replyWaitLimit = 3 * time.Minute
	// lockTTL is how long the reply lock outlives a holder that stops refreshing it (a process
	// killed mid-reply); the holder refreshes it every lockTTL/3.
	lockTTL = 30 * time.Second
)

// ReplyOnce produces the reply to a customer's message once, however many requests ask for it
// (a retried POST, a reconnecting stream, a second tab, the reply sweep's task): the first
// caller takes a Redis lock and asks the LLM (streaming to onDelta when not nil); the reply is
// stored even when that caller goes away mid-stream, and in the same transaction the intent
// to answer userMsg (store.PendingReply) ends. A concurrent caller waits for the stored reply
// on the event bus (the reply's MessageAdded event wakes it; it never polls the database) and
// returns it with Replayed set; when the holder's lock expires (its process died: the holder
// refreshes it while it works), the waiter replies itself. A waiter that gives up returns
// ctx's error or ErrWaitTimedOut.
//
// The lock is only an economy: when Redis cannot be reached the reply goes ahead without it,
// and the ledger's unique request id still keeps the stored reply single (at worst the LLM is
// asked twice). A customer never loses a reply because Redis is down.
func (r *Responder) ReplyOnce(ctx context.Context, conv *store.Conversation, a *store.Assistant, userMsg int64, onDelta func(string) error) (Reply, error) {
	answers := userMsg
	if conv.Type == model.TypeWhatsApp {
		answers = 0 // a WhatsApp reply is done when sent (whatsapp.Service.ReplyIfDue)
	}
	return r.replyOnce(ctx, conv, a, RequestID(conv.ID, userMsg), answers, onDelta)
}

// ReplyLocked is Reply under ReplyOnce's lock, for a caller that names the reply by its
// request id (the WhatsApp reply task): a twin of the task (re-run by asynq, or re-enqueued
// by the reply sweep while the first still runs) waits for the first's reply instead of
// asking the LLM again.
func (r *Responder) ReplyLocked(ctx context.Context, conv *store.Conversation, a *store.Assistant, requestID string) (Reply, error) {
	return r.replyOnce(ctx, conv, a, requestID, 0, nil)
}

func (r *Responder) replyOnce(ctx context.Context, conv *store.Conversation, a *store.Assistant, reqID string, answers int64, onDelta func(string) error) (Reply, error) {
	deadline := time.Now().Add(replyWaitLimit)
	for {
		held, release := r.replyLock(ctx, reqID)
		if !held {
			rep, err := r.waitForReply(ctx, conv.WorkspaceID, conv.ID, reqID, time.Until(deadline))
			if errors.Is(err, errLockGone) {
				continue
			}
			return rep, err
		}
		defer release()
		if answers > 0 {
			// The sweep counts its age from the last attempt: it leaves this one time to finish.
			_ = r.Store.TouchReply(ctx, conv.WorkspaceID, answers)
		}
		rep, err := r.reply(context.WithoutCancel(ctx), conv, a, reqID, answers, onDelta)
		if err == nil && rep.Replayed && answers > 0 {
			// Stored by an earlier run whose intent was not ended with it: end it now.
			_, err = r.Store.FinishReply(context.WithoutCancel(ctx), conv.WorkspaceID, answers, store.ReplyReplied, "")
		}
		return rep, err
	}
}

func (r *Responder) replyLock(ctx context.Context, reqID string) (held bool, release func()) {
	if r.Redis == nil {
		return true, func() {}
	}
	lock := r.lockKey(reqID)
	ok, err := r.Redis.SetNX(ctx, lock, "1", lockTTL).Result()
	if err != nil {
		r.Log.Warn("reply lock unavailable (Redis): replying without it", "err", err, "request_id", reqID)
		return true, func() {}
	}
	if !ok {
		return false, nil
	}
	stop := make(chan struct{})
	go func() { // keep the lock while the reply is written (a stream may take minutes)
		t := time.NewTicker(lockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.Redis.Expire(context.WithoutCancel(ctx), lock, lockTTL)
			}
		}
	}()
	return true, func() {
		close(stop)
		r.Redis.Del(context.WithoutCancel(ctx), lock)
	}
}

func (r *Responder) lockKey(reqID string) string { return "parley:replylock:" + reqID }

// recheck is how often a waiter looks at the database without an event: a safety net for an
// event the bus dropped (a subscriber that did not keep up, a Redis blip), and the moment it
// checks that the lock's holder is still there. Without a bus it is the only way to learn of
// the reply.
func (r *Responder) recheck() time.Duration {
	switch {
	case r.WaitRecheck > 0:
		return r.WaitRecheck
	case r.Events == nil:
		return 300 * time.Millisecond
	}
	return 5 * time.Second
}

// waitForReply waits for the reply of reqID, stored by another caller: it looks once, then
// again each time a message is added to the conversation and at each recheck, when it also
// returns errLockGone if the holder's lock is gone without a reply.
func (r *Responder) waitForReply(ctx context.Context, ws, conversationID int64, reqID string, limitIn time.Duration) (Reply, error) {
	var evs <-chan events.Event
	if r.Events != nil {
		ch, unsubscribe := r.Events.Subscribe(ws) // before the first look, so no event is missed
		defer unsubscribe()
		evs = ch
	}
	limit := time.NewTimer(max(limitIn, time.Millisecond))
	defer limit.Stop()
	tick := time.NewTicker(r.recheck())
	defer tick.Stop()
	for {
		if e, err := r.Store.UsageByRequestID(ctx, ws, reqID); err == nil && e.MessageID != nil {
			if m, err := r.Store.MessageByID(ctx, ws, *e.MessageID); err == nil {
				return Reply{Message: m, Replayed: true}, nil
			}
		}
		checkLock := false
	wait:
		for {
			select {
			case <-ctx.Done():
				return Reply{}, ctx.Err()
			case <-limit.C:
				return Reply{}, ErrWaitTimedOut
			case <-tick.C:
				checkLock = true
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
		if checkLock && r.Redis != nil {
			if n, err := r.Redis.Exists(ctx, r.lockKey(reqID)).Result(); err == nil && n == 0 {
				// Look once more (the holder may have stored and released just now).
				if e, err := r.Store.UsageByRequestID(ctx, ws, reqID); err == nil && e.MessageID != nil {
					continue
				}
				return Reply{}, errLockGone
			}
		}
	}
}

// ReplyDue finishes the reply promised to customer message messageID of a widget or Test Chat
// conversation (the reply sweep's task: the web process that was answering died, or the
// visitor's request never asked): unless it is done already, superseded by a newer customer
// message, or AI replies are off, it replies as ReplyOnce does (a reply being written by
// another process is waited for, not asked twice), and the intent ends with the stored reply.
func (r *Responder) ReplyDue(ctx context.Context, workspaceID, conversationID, messageID int64) error {
	intent, err := r.Store.PendingReplyFor(ctx, workspaceID, messageID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || intent.DoneAt != nil {
		return err
	}
	finish := func(state string) error {
		_, err := r.Store.FinishReply(ctx, workspaceID, messageID, state, "")
		return err
	}
	conv, err := r.Store.GetConversation(ctx, workspaceID, conversationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !conv.AIEnabled || conv.AssistantID == nil || conv.Type == model.TypeWhatsApp {
		return finish(store.ReplySkipped)
	}
	latest, err := r.Store.LatestUserMessage(ctx, workspaceID, conversationID)
	if err != nil {
		return err
	}
	if latest.ID != messageID {
		return finish(store.ReplySuperseded)
	}
	a, err := r.Store.AssistantByID(ctx, workspaceID, *conv.AssistantID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.Disabled) {
		return finish(store.ReplySkipped)
	}
	if err != nil {
		return err
	}
	if _, err := r.ReplyOnce(ctx, conv, a, messageID, nil); err != nil {
		_ = r.Store.NoteReplyAttempt(context.WithoutCancel(ctx), workspaceID, messageID, err.Error())
		return err
	}
	return nil
}
