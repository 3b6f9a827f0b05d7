package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// KeyPrefix starts the idempotency key an outgoing message carries as its provider id until
// Meta's id replaces it (Meta's ids start with "wamid.").
const KeyPrefix = "parley:"

// ReplyKey is the idempotency key of the reply to a customer message.
func ReplyKey(conversationID, userMessageID int64) string {
	return fmt.Sprintf("%sreply:%d:%d", KeyPrefix, conversationID, userMessageID)
}

// Errors of inbound processing that no retry can fix.
var (
	ErrUnknownNumber = errors.New("whatsapp: no assistant is connected to this phone number id")
	ErrBadEvent      = errors.New("whatsapp: event payload cannot be processed")
)

// ErrSendInFlight is returned while an earlier attempt's outcome is unknown (the worker died
// or the connection broke after the request left): Meta's status, which carries the message's
// key, may still tell that it was sent. Retry later.
var ErrSendInFlight = errors.New("whatsapp: an earlier send of this message may have reached Meta; waiting for its status before sending again")

// SendError is a send that failed for good: the message is marked failed with Reason, and no
// retry can change that.
type SendError struct {
	Reason string
	Err    error
}

func (e *SendError) Error() string { return "whatsapp: message not sent: " + e.Reason }
func (e *SendError) Unwrap() error { return e.Err }

// Retryable reports whether a send error may succeed later (429, 5xx, network, database).
func Retryable(err error) bool {
	var se *SendError
	return err != nil && !errors.As(err, &se)
}

// Service receives WhatsApp events and sends messages. The database is the truth: every
// decision (is the window open, was this message sent) is read from it.
type Service struct {
	Store         *store.Store
	Conversations *conversation.Service
	Client        *Client
	// Decrypt opens the assistant's stored access token (app Keys.Decrypt). Nil: the stored
	// value is used as it is.
	Decrypt func(sealed string) (string, error)
	// Window is the customer-service window (PARLEY_WHATSAPP_WINDOW, default 24h).
	Window time.Duration
	// ResendGrace is how long a send whose outcome is unknown waits for Meta's status before it
	// is sent again: 0 means 1 minute, a negative value no wait.
	ResendGrace time.Duration
	Log         *slog.Logger
	// Replier writes AI replies (ReplyIfDue); nil: no AI reply is sent.
	Replier Replier
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return store.Now()
}

func (s *Service) window() time.Duration {
	if s.Window > 0 {
		return s.Window
	}
	return DefaultWindow
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// conversations writes conversations and messages and publishes each change; without
// Conversations (tests), the same writes with nobody told.
func (s *Service) conversations() *conversation.Service {
	if s.Conversations != nil {
		return s.Conversations
	}
	return &conversation.Service{Store: s.Store}
}

// Received is the outcome of one inbound customer message.
type Received struct {
	Conversation *store.Conversation
	Message      *store.Message // as stored (also when it was stored before)
	Inserted     bool           // false: the message was already stored
	Deadline     time.Time      // the window's end opened by this message
}

// ReceiveMessage stores one inbound message event: the conversation of (assistant of the
// business number, customer's wa_id), created once; the customer's profile name; the message
// once per WhatsApp id, at its WhatsApp time; and the window it (re)opens. Running it again on
// the same event changes nothing. ErrUnknownNumber and ErrBadEvent are final.
func (s *Service) ReceiveMessage(ctx context.Context, p *EventPayload, providerID string, receivedAt time.Time) (*Received, error) {
	a, err := s.owner(ctx, p.PhoneNumberID)
	if err != nil {
		return nil, err
	}
	var m Message
	if err := json.Unmarshal(p.Message, &m); err != nil {
		return nil, fmt.Errorf("%w: message: %v", ErrBadEvent, err)
	}
	contact := p.Sender()
	waID := strings.TrimPrefix(strings.TrimSpace(m.From), "+")
	if waID == "" {
		waID = strings.TrimPrefix(strings.TrimSpace(contact.WaID), "+")
	}
	if waID == "" {
		return nil, fmt.Errorf("%w: message without a sender", ErrBadEvent)
	}
	if len(waID) > 64 {
		return nil, fmt.Errorf("%w: sender id of %d bytes", ErrBadEvent, len(waID))
	}
	waID = Clean(waID) // a NUL or invalid UTF-8 would make the database refuse the row
	at, ok := ParseTimestamp(m.Timestamp)
	if !ok || at.After(receivedAt.Add(MaxClockSkew)) {
		// No time, or one in the future (a window would stay open until then): the time we
		// received it.
		at = receivedAt.UTC()
	}
	at = at.Truncate(time.Microsecond)
	name := strings.TrimSpace(Clean(contact.Profile.Name))

	conv := &store.Conversation{
		WorkspaceID: a.WorkspaceID, AssistantID: &a.ID, Type: model.TypeWhatsApp,
		Customer: "+" + waID, CustomerName: name, StartedAt: at, AIEnabled: true, Charged: true,
		AssistantVersion: a.VersionPtr(), // the version it starts with (a new thread only)
	}
	cs := s.conversations()
	created, err := cs.FindOrCreateWhatsApp(ctx, conv)
	if err != nil {
		return nil, err
	}
	// The raw event belongs to the conversation from now on: deleting it deletes the event.
	if err := s.Store.LinkInboundEvent(ctx, Provider, providerID, conv.WorkspaceID, conv.ID); err != nil {
		return nil, err
	}
	if !created && name != "" && conv.CustomerName != name {
		if _, err := cs.SetCustomerName(ctx, conv.WorkspaceID, conv.ID, name); err != nil {
			return nil, err
		}
		conv.CustomerName = name
	}

	id := m.ID
	if !storableID(id) { // empty, overlong or with a NUL: the event's id (a hash of it)
		id = providerID
	}
	content, ctype := Content(&m)
	msg := &store.Message{
		WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Role: "user",
		Content: content, ContentType: ctype, CreatedAt: at, ProviderMessageID: &id,
	}
	inserted, err := cs.AddMessage(ctx, msg)
	if err != nil {
		return nil, err
	}
	if !inserted {
		if msg, err = s.Store.MessageByProviderID(ctx, conv.WorkspaceID, id); err != nil {
			return nil, err
		}
	}
	deadline := Deadline(at, s.window())
	if _, err := cs.OpenWindow(ctx, conv.WorkspaceID, conv.ID, at, deadline, s.now()); err != nil {
		return nil, err
	}
	return &Received{Conversation: conv, Message: msg, Inserted: inserted, Deadline: deadline}, nil
}

// ReceiveStatus applies one delivery status to the message Meta names: only forward (sent <
// delivered < read; failed is final, with Meta's error). A failed 131047 closes the window. A
// status of a message Parley does not know is not an error: note says why nothing changed.
func (s *Service) ReceiveStatus(ctx context.Context, p *EventPayload) (note string, err error) {
	a, err := s.owner(ctx, p.PhoneNumberID)
	if err != nil {
		return "", err
	}
	var st Status
	if err := json.Unmarshal(p.Status, &st); err != nil || st.ID == "" {
		return "", fmt.Errorf("%w: status without a message id", ErrBadEvent)
	}
	at, ok := ParseTimestamp(st.Timestamp)
	if !ok {
		at = s.now()
	}
	var errText string
	windowClosed := false
	for _, e := range st.Errors {
		if errText == "" {
			errText = e.Text()
		}
		if e.Code == CodeWindowClosed {
			windowClosed = true
		}
	}
	if st.Status == model.StatusFailed && errText == "" {
		errText = "failed (Meta gave no reason)"
	}
	ms := conversation.MessageStatus{WorkspaceID: a.WorkspaceID, ProviderMessageID: st.ID, Status: st.Status, Error: errText, At: at,
		CloseWindow: st.Status == model.StatusFailed && windowClosed}
	if strings.HasPrefix(st.CallbackData, KeyPrefix) {
		// When the send's answer was lost (the worker died after Meta accepted it), the key we
		// gave as callback data names the message.
		ms.Key = st.CallbackData
	}
	ref, err := s.conversations().ApplyStatus(ctx, ms)
	if errors.Is(err, store.ErrNotFound) {
		return "unknown message: " + st.ID + " (status " + st.Status + ")", nil
	}
	if err != nil {
		return "", err
	}
	// The raw status (it names the customer's number) belongs to the message's conversation.
	if err := s.Store.LinkInboundEvent(ctx, Provider, statusEventID(st.ID, st.Status, p.Status), a.WorkspaceID, ref.ConversationID); err != nil {
		return "", err
	}
	if model.StatusRank(st.Status) == 0 {
		return "status " + st.Status + " ignored", nil
	}
	return "", nil // moved, or a late or repeated status of a message already further
}

// Outgoing is a message to send in a WhatsApp conversation.
type Outgoing struct {
	// Key makes the send idempotent: one key, at most one message stored and sent (a retry
	// with the same key resumes it). It must start with KeyPrefix.
	Key string
	// Role is "assistant" (AI replies) or "human" (a person of the team).
	Role string
	// AuthorID and AuthorName are the person of the team who sends a "human" message.
	AuthorID   *int64
	AuthorName string
	// Content is the text of a free-form message (or the stored text of a template).
	Content string
	// Template, when set, sends an approved template: allowed when the window is closed.
	Template *Template
	// Interactive, when set, sends reply buttons (free-form: only inside the window).
	Interactive *Interactive
	// Stored is a message already stored by the caller (the LLM layer stores replies with
	// their usage); nil: Send stores it.
	Stored *store.Message
}

// Send stores the outgoing message first (status "pending", under its key), then sends it:
// free-form text only while the window is open in the database (closed: Meta is not called,
// the message fails with WindowClosedReason); a template at any time. Meta's id replaces the
// key and the status becomes "sent". A *SendError is final (the message shows why); any
// other error is worth retrying with the same key, which never sends a message twice once
// Meta's id is stored.
func (s *Service) Send(ctx context.Context, conv *store.Conversation, out Outgoing) (*store.Message, error) {
	if !strings.HasPrefix(out.Key, KeyPrefix) {
		return nil, fmt.Errorf("whatsapp: send key %q must start with %q", out.Key, KeyPrefix)
	}
	if conv.Type != model.TypeWhatsApp {
		return nil, &SendError{Reason: "not a WhatsApp conversation"}
	}
	m, err := s.storeOutgoing(ctx, conv, out)
	if err != nil {
		return nil, err
	}
	return m, s.deliver(ctx, conv, m, out)
}

// storeOutgoing returns the message that out.Key names, storing or claiming it once. The
// database decides: a key names one message for good, also after the send replaced it by
// Meta's id on the message (then deliver sees that it was sent), so a twin run that gets here
// late finds the first run's message instead of storing and sending a second one.
func (s *Service) storeOutgoing(ctx context.Context, conv *store.Conversation, out Outgoing) (*store.Message, error) {
	if m, err := s.Store.OutgoingByKey(ctx, conv.WorkspaceID, out.Key); err == nil {
		return m, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if out.Stored != nil && out.Stored.ID != 0 {
		if _, err := s.Store.ClaimOutgoingMessage(ctx, conv.WorkspaceID, out.Stored.ID, out.Key); err != nil {
			return nil, err
		}
		return s.Store.OutgoingByKey(ctx, conv.WorkspaceID, out.Key)
	}
	role := out.Role
	if role == "" {
		role = "assistant"
	}
	content, ctype := out.Content, "text"
	if out.Interactive != nil {
		ctype = "interactive"
	}
	if out.Template != nil {
		ctype = "template"
		if content == "" {
			content = "Template " + out.Template.Name + " (" + out.Template.Language + ")"
			if len(out.Template.BodyParams) > 0 {
				content += ": " + strings.Join(out.Template.BodyParams, ", ")
			}
		}
	}
	key := out.Key
	m := &store.Message{
		WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Role: role, Content: content, ContentType: ctype,
		CreatedAt: s.now(), ProviderMessageID: &key, Status: model.StatusPending,
		AuthorID: out.AuthorID, AuthorName: out.AuthorName,
	}
	if out.Stored != nil { // an unsaved message from the caller: keep its usage and time
		st := *out.Stored
		st.WorkspaceID, st.ConversationID, st.ProviderMessageID, st.Status = conv.WorkspaceID, conv.ID, &key, model.StatusPending
		if st.Role == "" {
			st.Role = role
		}
		if st.CreatedAt.IsZero() {
			st.CreatedAt = m.CreatedAt
		}
		m = &st
	}
	var entries []*store.AuditEntry
	if role == model.RoleHuman { // a person's message: recorded with it (the actor is in ctx)
		d := map[string]any{"content_type": ctype}
		if out.Template != nil {
			d["template"], d["language"] = out.Template.Name, out.Template.Language
		}
		entries = append(entries, audit.New(ctx, conv.WorkspaceID, audit.WhatsAppSend, audit.On(audit.TargetConversation, conv.ID), d))
	}
	if _, err := s.conversations().AddOutgoing(ctx, m, entries...); err != nil {
		return nil, err
	}
	return s.Store.OutgoingByKey(ctx, conv.WorkspaceID, key)
}

// fail marks the message failed for good and records why on the conversation; closeWindowAt,
// when not zero, closes the window first (Meta said it is closed).
func (s *Service) fail(ctx context.Context, m *store.Message, reason string, cause error, closeWindowAt time.Time) error {
	if err := s.conversations().FailMessage(ctx, m, conversation.SendFailure{
		Reason: reason, LastError: "WhatsApp message not sent: " + reason, CloseWindowAt: closeWindowAt,
	}); err != nil {
		return err
	}
	m.Status, m.StatusError = model.StatusFailed, reason
	return &SendError{Reason: reason, Err: cause}
}

func (s *Service) deliver(ctx context.Context, conv *store.Conversation, m *store.Message, out Outgoing) error {
	switch {
	case m.ProviderMessageID == nil || *m.ProviderMessageID != out.Key:
		return nil // Meta's id is stored: sent before
	case m.Status == model.StatusFailed:
		return &SendError{Reason: m.StatusError}
	case m.Status == model.StatusSending && m.StatusUpdatedAt != nil && s.now().Sub(*m.StatusUpdatedAt) < s.resendGrace():
		return ErrSendInFlight
	}
	// The database decides whether the window is open, right before the send.
	fresh, err := s.Store.GetConversation(ctx, conv.WorkspaceID, conv.ID)
	if err != nil {
		return err
	}
	if out.Template == nil && !WindowOpen(fresh, s.now()) {
		return s.fail(ctx, m, WindowClosedReason, ErrWindowClosed, time.Time{})
	}
	if fresh.AssistantID == nil {
		return s.fail(ctx, m, "the conversation has no assistant", nil, time.Time{})
	}
	a, err := s.Store.AssistantByID(ctx, fresh.WorkspaceID, *fresh.AssistantID)
	if errors.Is(err, store.ErrNotFound) {
		return s.fail(ctx, m, "the conversation's assistant was deleted", err, time.Time{})
	} else if err != nil {
		return err
	}
	token := a.WhatsAppAccessTokenEnc
	if s.Decrypt != nil {
		if token, err = s.Decrypt(a.WhatsAppAccessTokenEnc); err != nil {
			return s.fail(ctx, m, "the assistant's WhatsApp access token cannot be read; enter it again", err, time.Time{})
		}
	}
	if a.WhatsAppPhoneNumberID == nil || *a.WhatsAppPhoneNumberID == "" || token == "" {
		return s.fail(ctx, m, "the assistant is not connected to WhatsApp (phone number id and access token)", nil, time.Time{})
	}
	if ok, err := s.Store.MarkMessageSending(ctx, m.WorkspaceID, m.ID, out.Key, s.now().Add(-s.resendGrace())); err != nil {
		return err
	} else if !ok { // someone else moved it meanwhile: look again
		cur, err := s.Store.MessageByID(ctx, m.WorkspaceID, m.ID)
		if err != nil {
			return err
		}
		if cur.Status == model.StatusFailed {
			return &SendError{Reason: cur.StatusError}
		}
		if cur.ProviderMessageID == nil || *cur.ProviderMessageID != out.Key {
			return nil
		}
		return ErrSendInFlight
	}
	to := strings.TrimPrefix(fresh.Customer, "+")
	var wamid string
	if out.Template != nil {
		wamid, err = s.Client.SendTemplate(ctx, *a.WhatsAppPhoneNumberID, token, to, *out.Template, out.Key)
	} else if out.Interactive != nil {
		wamid, err = s.Client.SendInteractive(ctx, *a.WhatsAppPhoneNumberID, token, to, *out.Interactive, out.Key)
	} else {
		wamid, err = s.Client.SendText(ctx, *a.WhatsAppPhoneNumberID, token, to, m.Content, out.Key)
	}
	if err == nil {
		return s.sent(ctx, m, out.Key, wamid)
	}
	var ae *APIError
	switch {
	case errors.As(err, &ae) && ae.WindowClosed():
		return s.fail(ctx, m, ae.Text(), err, s.now())
	case errors.As(err, &ae) && !ae.Retryable() && ae.HTTPStatus != 200:
		return s.fail(ctx, m, ae.Text(), err, time.Time{})
	case NotSent(err):
		// Meta did not take it (429, 5xx, no connection): back to pending, retry later.
		_ = s.Store.MarkMessagePending(context.WithoutCancel(ctx), m.WorkspaceID, m.ID)
	}
	// Otherwise the outcome is unknown: the message stays "sending" until Meta's status (it
	// carries the key) or ResendGrace decides.
	return err
}

// sent stores Meta's id, retrying the write a little: losing it would make a later retry
// wait for the status webhook to match the message by its key.
func (s *Service) sent(ctx context.Context, m *store.Message, key, wamid string) error {
	ctx = context.WithoutCancel(ctx)
	var err error
	for i := 0; i < 3; i++ {
		if err = s.conversations().MarkSent(ctx, m, key, wamid); err == nil {
			m.ProviderMessageID, m.Status = &wamid, model.StatusSent
			return nil
		}
		time.Sleep(time.Duration(i+1) * 200 * time.Millisecond)
	}
	s.log().Error("whatsapp: message sent but its id could not be stored", "message_id", m.ID, "wamid", wamid, "err", err)
	return err
}

func (s *Service) resendGrace() time.Duration {
	if s.ResendGrace > 0 {
		return s.ResendGrace
	}
	if s.ResendGrace < 0 {
		return 0
	}
	return time.Minute
}
