package whatsapp

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/app/store"
)

// Replier writes the AI reply to a WhatsApp conversation. It may store the message itself (the
// chat responder stores replies with their usage) and return it with its ID, or return an
// unsaved message (ID 0), which ReplyIfDue stores. requestID is the same on every retry of one
// reply; a Replier that stores must return the same message when called again with it. A nil
// message means "nothing to say".
type Replier interface {
	Reply(ctx context.Context, conv *store.Conversation, assistant *store.Assistant, requestID string) (*store.Message, error)
}

// ReplierFunc adapts a function to Replier.
type ReplierFunc func(ctx context.Context, conv *store.Conversation, assistant *store.Assistant, requestID string) (*store.Message, error)

// Reply calls f.
func (f ReplierFunc) Reply(ctx context.Context, conv *store.Conversation, a *store.Assistant, requestID string) (*store.Message, error) {
	return f(ctx, conv, a, requestID)
}

// ReplyIfDue answers a conversation once for a burst of customer messages: only when
// messageID is still the latest customer message, nobody answered it yet, AI replies are on,
// the assistant is enabled, and a Replier is set. The send checks the window in the database
// and never sends one reply twice (its key is ReplyKey). A closed window is noted on the
// conversation instead of writing a reply that cannot be sent. An error for which Retryable is
// false is final (a *SendError).
//
// The intent to answer messageID (store.PendingReply, written with the message) ends here:
// replied once Meta took the reply, failed when the send failed for good, superseded or
// skipped when there is nothing to send; a retryable error leaves it pending (the attempt is
// noted), for the task's retry or the reply sweep. The intent ends after the send's outcome is
// stored rather than in its transaction, and that is safe: a run that dies in between is run
// again by the sweep, finds the reply under its key (or answered after the message: Meta's id
// replaced the key) and only ends the intent, so a crash can never cause a second send.
func (s *Service) ReplyIfDue(ctx context.Context, workspaceID, conversationID, messageID int64) error {
	state, err := s.replyIfDue(ctx, workspaceID, conversationID, messageID)
	switch {
	case err == nil && state != "":
		if state != store.ReplyReplied {
			s.log().InfoContext(ctx, "whatsapp reply not needed", "conversation_id", conversationID, "message_id", messageID, "state", state)
		}
		_, err = s.Store.FinishReply(context.WithoutCancel(ctx), workspaceID, messageID, state, "")
		return err
	case err != nil && !Retryable(err):
		_, ferr := s.Store.FinishReply(context.WithoutCancel(ctx), workspaceID, messageID, store.ReplyFailed, err.Error())
		return errors.Join(err, ferr)
	case err != nil:
		_ = s.Store.NoteReplyAttempt(context.WithoutCancel(ctx), workspaceID, messageID, err.Error())
	}
	return err
}

// replyIfDue is ReplyIfDue's decision; state is how the intent ends ("" leaves it alone).
func (s *Service) replyIfDue(ctx context.Context, workspaceID, conversationID, messageID int64) (state string, err error) {
	if s.Replier == nil {
		return "", nil
	}
	st := s.Store
	conv, err := st.GetConversation(ctx, workspaceID, conversationID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil // deleted meanwhile (and its intents with it)
	}
	if err != nil {
		return "", err
	}
	if !conv.AIEnabled || conv.AssistantID == nil {
		return store.ReplySkipped, nil
	}
	key := ReplyKey(conv.ID, messageID)
	if m, err := st.MessageByProviderID(ctx, conv.WorkspaceID, key); err == nil {
		// A previous run stored the reply and may have died before sending it: resume.
		return store.ReplyReplied, s.sendReply(ctx, conv, Outgoing{Key: key, Role: "assistant", Stored: m})
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	latest, err := st.LatestUserMessage(ctx, conv.WorkspaceID, conv.ID)
	if errors.Is(err, store.ErrNotFound) {
		return store.ReplySkipped, nil
	}
	if err != nil {
		return "", err
	}
	if latest.ID != messageID {
		return store.ReplySuperseded, nil // a newer customer message has its own reply
	}
	if answered, err := st.AnsweredAfter(ctx, conv.WorkspaceID, conv.ID, latest); err != nil {
		return "", err
	} else if answered {
		return store.ReplyReplied, nil
	}
	if !WindowOpen(conv, store.Now()) {
		// Say why instead of writing a reply that cannot be sent.
		return store.ReplySkipped, st.SetConversationError(ctx, conv.WorkspaceID, conv.ID, "AI reply not sent: "+WindowClosedReason)
	}
	a, err := st.AssistantByID(ctx, conv.WorkspaceID, *conv.AssistantID)
	if errors.Is(err, store.ErrNotFound) {
		return store.ReplySkipped, nil
	}
	if err != nil {
		return "", err
	}
	if a.Disabled {
		return store.ReplySkipped, nil
	}
	// The reply sweep counts its age from the last attempt: it leaves this one time to finish.
	if err := st.TouchReply(ctx, conv.WorkspaceID, messageID); err != nil {
		return "", err
	}
	requestID := fmt.Sprintf("reply:%d:%d", conv.ID, messageID)
	started := store.Now()
	m, err := s.Replier.Reply(ctx, conv, a, requestID)
	if err != nil {
		return "", err
	}
	if m == nil || (m.ID == 0 && m.Content == "") {
		return store.ReplySkipped, nil
	}
	if m.ID == 0 && m.CreatedAt.IsZero() {
		// The reply's place in the timeline is when it was asked for, so a customer message
		// that arrives while the model is writing comes after it and gets its own reply.
		m.CreatedAt = started
	}
	return store.ReplyReplied, s.sendReply(ctx, conv, Outgoing{Key: key, Role: "assistant", Stored: m})
}

// PendingReply is the intent to answer conv's latest customer message while it is not done
// (nil when there is none: AI replies were off, or it is answered or superseded).
func (s *Service) PendingReply(ctx context.Context, conv *store.Conversation) (*store.PendingReply, error) {
	latest, err := s.Store.LatestUserMessage(ctx, conv.WorkspaceID, conv.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := s.Store.PendingReplyFor(ctx, conv.WorkspaceID, latest.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.DoneAt != nil) {
		return nil, nil
	}
	return r, err
}

func (s *Service) sendReply(ctx context.Context, conv *store.Conversation, out Outgoing) error {
	_, err := s.Send(ctx, conv, out)
	if err == nil {
		s.log().InfoContext(ctx, "whatsapp reply sent", "conversation_id", conv.ID, "key", out.Key)
		return nil
	}
	if !Retryable(err) {
		s.log().InfoContext(ctx, "whatsapp reply not sent", "conversation_id", conv.ID, "reason", err)
	}
	return err
}

// LatestCustomerMessage is the id of the conversation's latest customer message: the one a
// reply task answers.
func (s *Service) LatestCustomerMessage(ctx context.Context, conv *store.Conversation) (int64, error) {
	m, err := s.Store.LatestUserMessage(ctx, conv.WorkspaceID, conv.ID)
	if err != nil {
		return 0, err
	}
	return m.ID, nil
}

// Keep records why a stored event needed nothing done (an unknown message's status, a webhook
// field Parley does not use).
func (s *Service) Keep(ctx context.Context, ev *store.InboundEvent, note string) error {
	return s.Store.MarkEventProcessedNote(ctx, ev.ID, note)
}

// CloseWindow closes a conversation's window if its deadline has really passed (the database
// decides) and tells open pages; closed tells whether it did.
func (s *Service) CloseWindow(ctx context.Context, workspaceID, conversationID int64) (bool, error) {
	return s.conversations().CloseExpiredWindow(ctx, workspaceID, conversationID, store.Now())
}

// CloseExpiredWindows closes up to limit windows whose deadline passed and that are still
// marked open (their expiry task was lost), telling open pages; it returns how many.
func (s *Service) CloseExpiredWindows(ctx context.Context, limit int) (int, error) {
	return s.conversations().CloseExpiredWindows(ctx, store.Now(), limit)
}
