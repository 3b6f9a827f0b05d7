package conversation

import (
	"context"
	"errors"
	"time"

	"github.com/parleyhq/parley/app/store"
)

// The writes of the WhatsApp channel: app/whatsapp decides what to write (Meta's events, the
// send's outcome) and calls these, which write and publish together.

// FindOrCreateWhatsApp returns the WhatsApp thread of (c.AssistantID, c.Customer), creating it
// once (see store.FindOrCreateWhatsAppConversation); a new thread is published with the
// workspace's counts.
func (s *Service) FindOrCreateWhatsApp(ctx context.Context, c *store.Conversation) (created bool, err error) {
	created, err = s.Store.FindOrCreateWhatsAppConversation(ctx, c)
	if err != nil || !created {
		return created, err
	}
	s.countsChanged(ctx, c.WorkspaceID)
	s.changed(ctx, c.WorkspaceID, c.ID)
	return true, nil
}

// SetCustomerName records the customer's name when it changed, and publishes the change;
// changed tells whether it did.
func (s *Service) SetCustomerName(ctx context.Context, workspaceID, id int64, name string) (changed bool, err error) {
	changed, err = s.Store.SetCustomerName(ctx, workspaceID, id, name)
	if err == nil && changed {
		s.changed(ctx, workspaceID, id)
	}
	return changed, err
}

// OpenWindow applies a customer message sent at msgTime whose window ends at deadline, at time
// at (see store.OpenWhatsAppWindow), and publishes the change; moved tells whether the window
// moved.
func (s *Service) OpenWindow(ctx context.Context, workspaceID, id int64, msgTime, deadline, at time.Time) (moved bool, err error) {
	moved, err = s.Store.OpenWhatsAppWindow(ctx, workspaceID, id, msgTime, deadline, at)
	if err == nil && moved {
		s.changed(ctx, workspaceID, id)
	}
	return moved, err
}

// MessageStatus is one delivery status of an outgoing message, as the provider reported it.
type MessageStatus struct {
	WorkspaceID int64
	// ProviderMessageID is the provider's id of the message.
	ProviderMessageID string
	// Key, when set, is the idempotency key the send gave as callback data: it names the
	// message when the provider's id was never stored (the send's answer was lost).
	Key string
	// Status moves the message forward only (store.UpdateMessageStatus); Error is recorded
	// with "failed".
	Status, Error string
	At            time.Time
	// CloseWindow: the status says the customer-service window is closed (a failed 131047),
	// so the conversation's window closes at At.
	CloseWindow bool
}

// ApplyStatus applies a delivery status to the message it names, closes the window when the
// status says so, and publishes the conversation once if anything moved. It returns the
// message, and store.ErrNotFound when no message has that id (or key).
func (s *Service) ApplyStatus(ctx context.Context, st MessageStatus) (*store.MessageRef, error) {
	ws := st.WorkspaceID
	ref, moved, err := s.Store.UpdateMessageStatus(ctx, ws, st.ProviderMessageID, st.Status, st.Error, st.At)
	if errors.Is(err, store.ErrNotFound) && st.Key != "" {
		if ok, aerr := s.Store.AttachProviderMessageID(ctx, ws, st.Key, st.ProviderMessageID); aerr != nil {
			return nil, aerr
		} else if ok {
			// Attaching the id changed the message, whether or not the status moves it further.
			ref, _, err = s.Store.UpdateMessageStatus(ctx, ws, st.ProviderMessageID, st.Status, st.Error, st.At)
			moved = true
		}
	}
	if err != nil {
		return nil, err
	}
	if st.CloseWindow {
		if ok, err := s.Store.CloseWindowAt(ctx, ws, ref.ConversationID, st.At); err != nil {
			return nil, err
		} else if ok {
			moved = true
		}
	}
	if moved {
		s.changed(ctx, ws, ref.ConversationID)
	}
	return ref, nil
}

// SendFailure is why an outgoing message failed for good.
type SendFailure struct {
	Reason    string // shown on the message
	LastError string // recorded on the conversation
	// CloseWindowAt, when not zero, first closes the conversation's WhatsApp window at that
	// time (the provider refused the message because the window is closed).
	CloseWindowAt time.Time
}

// FailMessage marks the outgoing message m failed for good (when it was still pending or
// sending), records why on its conversation, and publishes the conversation. The caller's
// cancellation does not stop it: the send's outcome is known and must be stored.
func (s *Service) FailMessage(ctx context.Context, m *store.Message, f SendFailure) error {
	ctx = context.WithoutCancel(ctx)
	if !f.CloseWindowAt.IsZero() {
		if _, err := s.Store.CloseWindowAt(ctx, m.WorkspaceID, m.ConversationID, f.CloseWindowAt); err != nil {
			return err
		}
	}
	if _, err := s.Store.MarkMessageFailed(ctx, m.WorkspaceID, m.ID, f.Reason); err != nil {
		return err
	}
	_ = s.Store.SetConversationError(ctx, m.WorkspaceID, m.ConversationID, f.LastError)
	s.changed(ctx, m.WorkspaceID, m.ConversationID)
	return nil
}

// MarkSent stores the provider's id in place of the outgoing message's key, moves it to
// "sent" (unless a status got further first), and publishes the conversation.
func (s *Service) MarkSent(ctx context.Context, m *store.Message, key, providerMessageID string) error {
	if _, err := s.Store.MarkMessageSent(ctx, m.WorkspaceID, m.ID, key, providerMessageID); err != nil {
		return err
	}
	s.changed(ctx, m.WorkspaceID, m.ConversationID)
	return nil
}

// AddOutgoing stores an outgoing message under its send key (m.ProviderMessageID) unless the
// key names a message already (see store.AddOutgoingMessage), and publishes a stored one. The
// audit entries given (a human's message) are written with a message that is inserted, in its
// transaction.
func (s *Service) AddOutgoing(ctx context.Context, m *store.Message, entries ...*store.AuditEntry) (inserted bool, err error) {
	inserted, err = s.Store.AddOutgoingMessage(ctx, m, entries...)
	if err == nil && inserted {
		s.announce(ctx, m)
	}
	return inserted, err
}
