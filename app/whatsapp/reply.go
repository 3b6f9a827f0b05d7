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
func (s *Service) ReplyIfDue(ctx context.Context, workspaceID, conversationID, messageID int64) error {
	if s.Replier == nil {
		return nil
	}
	st := s.Store
	conv, err := st.GetConversation(ctx, workspaceID, conversationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	if !conv.AIEnabled || conv.AssistantID == nil {
		return nil
	}
	key := ReplyKey(conv.ID, messageID)
	if m, err := st.MessageByProviderID(ctx, conv.WorkspaceID, key); err == nil {
		// A previous run stored the reply and may have died before sending it: resume.
		return s.sendReply(ctx, conv, Outgoing{Key: key, Role: "assistant", Stored: m})
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	latest, err := st.LatestUserMessage(ctx, conv.WorkspaceID, conv.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if latest.ID != messageID {
		return nil // a newer customer message has its own reply task
	}
	if answered, err := st.AnsweredAfter(ctx, conv.WorkspaceID, conv.ID, latest); err != nil || answered {
		return err
	}
	if !WindowOpen(conv, store.Now()) {
		// Say why instead of writing a reply that cannot be sent.
		return st.SetConversationError(ctx, conv.WorkspaceID, conv.ID, "AI reply not sent: "+WindowClosedReason)
	}
	a, err := st.AssistantByID(ctx, conv.WorkspaceID, *conv.AssistantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if a.Disabled {
		return nil
	}
	requestID := fmt.Sprintf("reply:%d:%d", conv.ID, messageID)
	started := store.Now()
	m, err := s.Replier.Reply(ctx, conv, a, requestID)
	if err != nil {
		return err
	}
	if m == nil || (m.ID == 0 && m.Content == "") {
		return nil
	}
	if m.ID == 0 && m.CreatedAt.IsZero() {
		// The reply's place in the timeline is when it was asked for, so a customer message
		// that arrives while the model is writing comes after it and gets its own reply.
		m.CreatedAt = started
	}
	return s.sendReply(ctx, conv, Outgoing{Key: key, Role: "assistant", Stored: m})
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
