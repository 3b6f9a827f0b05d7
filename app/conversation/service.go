package conversation

import (
	"context"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Service changes conversations and tells every open page: each change is stored first (the
// database is the truth) and then published for live updates.
type Service struct {
	Store  *store.Store
	Events *events.Bus
	// OnUserMessage, when set, is called after a customer message was stored (not for a
	// duplicate): the app schedules the debounced variable extraction with it.
	OnUserMessage func(ctx context.Context, m *store.Message)
	// OnEnded, when set, is called after a conversation ended (once per end): the app
	// enqueues the end's work (its evaluation) with it. The end's row is the promise; a
	// sweep finds ends whose task was lost.
	OnEnded func(ctx context.Context, end *store.ConversationEnd)
}

// Create stores a new conversation.
func (s *Service) Create(ctx context.Context, c *store.Conversation) error {
	if err := s.Store.CreateConversation(ctx, c); err != nil {
		return err
	}
	s.publish(ctx, events.Event{Kind: events.ConversationChanged, WorkspaceID: c.WorkspaceID, ConversationID: c.ID})
	s.publish(ctx, events.Event{Kind: events.CountsChanged, WorkspaceID: c.WorkspaceID})
	return nil
}

// Start creates a conversation with its first variables and first message (optional) in one
// transaction, and publishes them.
func (s *Service) Start(ctx context.Context, c *store.Conversation, vars []store.ConversationVariable, first *store.Message) error {
	if err := s.Store.StartConversation(ctx, c, vars, first); err != nil {
		return err
	}
	s.publish(ctx, events.Event{Kind: events.ConversationChanged, WorkspaceID: c.WorkspaceID, ConversationID: c.ID})
	s.publish(ctx, events.Event{Kind: events.CountsChanged, WorkspaceID: c.WorkspaceID})
	if first != nil {
		s.publish(ctx, events.Event{Kind: events.MessageAdded, WorkspaceID: c.WorkspaceID, ConversationID: c.ID, MessageID: first.ID})
	}
	return nil
}

// AddMessage stores a message (once per provider id) and publishes it. A customer's message
// is stored with the intent to answer it when the conversation's AI replies are on (one
// transaction, store.AddCustomerMessage): whatever happens to Redis or to the process that
// was to reply, the reply sweep finds the promise in the database. A reply whose Answers
// names the customer message ends that intent in the transaction that stores it.
//
// The audit entries given (a human's message) are written with a message that is inserted,
// in its transaction; never with a customer's message.
func (s *Service) AddMessage(ctx context.Context, m *store.Message, entries ...*store.AuditEntry) (bool, error) {
	add := func(ctx context.Context, m *store.Message) (bool, error) {
		return s.Store.AddMessage(ctx, m, entries...)
	}
	if m.Role == model.RoleUser {
		add = s.Store.AddCustomerMessage
	}
	ok, err := add(ctx, m)
	if err != nil || !ok {
		return ok, err
	}
	s.publish(ctx, events.Event{Kind: events.MessageAdded, WorkspaceID: m.WorkspaceID, ConversationID: m.ConversationID, MessageID: m.ID})
	if m.Role == "user" && s.OnUserMessage != nil {
		s.OnUserMessage(ctx, m)
	}
	return true, nil
}

// announce publishes a message stored by another path (a reply stored with its usage).
func (s *Service) announce(ctx context.Context, m *store.Message) {
	s.publish(ctx, events.Event{Kind: events.MessageAdded, WorkspaceID: m.WorkspaceID, ConversationID: m.ConversationID, MessageID: m.ID})
}

// Delete removes a conversation and every copy of its content: messages, variables,
// extraction record, raw inbound events, full-text index entries (store.DeleteConversation),
// and the old pages the database keeps on disk (store.Scrub). The usage ledger keeps its
// amounts and ids.
func (s *Service) Delete(ctx context.Context, workspaceID, id int64) error {
	entry := audit.New(ctx, workspaceID, audit.ConversationDelete, audit.On(audit.TargetConversation, id), nil)
	if err := s.Store.DeleteConversation(ctx, workspaceID, id, entry); err != nil {
		return err
	}
	if err := s.Store.Scrub(ctx); err != nil {
		// The conversation is gone; its old pages go at the next deletion's or prune's scrub.
		slog.WarnContext(ctx, "scrub after delete failed", "conversation_id", id, "err", err)
	}
	s.publish(ctx, events.Event{Kind: events.ConversationDeleted, WorkspaceID: workspaceID, ConversationID: id})
	s.publish(ctx, events.Event{Kind: events.CountsChanged, WorkspaceID: workspaceID})
	return nil
}

// countsChanged announces that the workspace's counts moved (bulk deletions, a new thread).
func (s *Service) countsChanged(ctx context.Context, workspaceID int64) {
	s.publish(ctx, events.Event{Kind: events.CountsChanged, WorkspaceID: workspaceID})
}

// changed announces a change of the conversation (variables, window, status).
func (s *Service) changed(ctx context.Context, workspaceID, id int64) {
	s.publish(ctx, events.Event{Kind: events.ConversationChanged, WorkspaceID: workspaceID, ConversationID: id})
}

func (s *Service) publish(ctx context.Context, ev events.Event) {
	if s.Events != nil {
		// The write is done: tell the pages even if the caller has gone away meanwhile.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		s.Events.Publish(pctx, ev)
	}
}

// CustomerMessage is message id of conv when it is a customer's (user) message; any other id
// (another conversation's, an assistant's, an unknown one) is store.ErrNotFound. A reply is
// asked for by the message it answers: Test Chat and the widget check it with this.
func (s *Service) CustomerMessage(ctx context.Context, conv *store.Conversation, id int64) (*store.Message, error) {
	if id <= 0 {
		return nil, store.ErrNotFound
	}
	m, err := s.Store.MessageByID(ctx, conv.WorkspaceID, id)
	if err != nil {
		return nil, err
	}
	if m.ConversationID != conv.ID || m.Role != model.RoleUser {
		return nil, store.ErrNotFound
	}
	return m, nil
}
