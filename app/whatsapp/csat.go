package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// CSAT on WhatsApp (issue 14, item 8): at a conversation's end, while its window is open and
// when its assistant asks for it (assistants.csat_whatsapp), Parley sends one interactive
// button message, "How did we do?", with three replies. The end's row is the promise
// (conversation_ends.csat_sent_at); the message is stored first under its key and sent once
// (Send). The customer's tap is recorded as the CSAT score of that end, never as a turn the
// AI answers.

// CSATQuestion is the text of the question.
const CSATQuestion = "How did we do?"

// CSATChoices are the three replies, best first: their titles and the scores they give.
var CSATChoices = []struct {
	Title string
	Score int
}{{"Great", 5}, {"OK", 3}, {"Poor", 1}}

// csatPrefix starts the id of a CSAT reply button: "csat:<conversation>:<end seq>:<score>".
const csatPrefix = "csat:"

// CSATKey is the idempotency key of the CSAT question of end seq of a conversation.
func CSATKey(conversationID int64, seq int) string {
	return fmt.Sprintf("%scsat:%d:%d", KeyPrefix, conversationID, seq)
}

// CSATButtonID is the id of the reply button giving score for end seq of a conversation.
func CSATButtonID(conversationID int64, seq, score int) string {
	return fmt.Sprintf("%s%d:%d:%d", csatPrefix, conversationID, seq, score)
}

// ParseCSATButtonID reads a CSAT reply button's id; ok is false for any other id.
func ParseCSATButtonID(id string) (conversationID int64, seq, score int, ok bool) {
	rest, found := strings.CutPrefix(id, csatPrefix)
	if !found {
		return 0, 0, 0, false
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	c, err1 := strconv.ParseInt(parts[0], 10, 64)
	q, err2 := strconv.Atoi(parts[1])
	sc, err3 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || c <= 0 || q <= 0 {
		return 0, 0, 0, false
	}
	return c, q, sc, true
}

// Interactive is an interactive "button" message: a body and up to three reply buttons.
type Interactive struct {
	Body    string
	Buttons []Button
}

// Button is one reply button: its id (at most 256 characters, sent back on the tap) and its
// title (at most 20 characters).
type Button struct {
	ID    string
	Title string
}

// SendInteractive sends an interactive reply-button message (free-form: only inside the
// window) and returns Meta's message id.
func (c *Client) SendInteractive(ctx context.Context, phoneNumberID, token, to string, in Interactive, callbackData string) (string, error) {
	if in.Body == "" || len(in.Buttons) == 0 || len(in.Buttons) > 3 {
		return "", errors.New("whatsapp: an interactive message needs a body and one to three buttons")
	}
	buttons := make([]map[string]any, len(in.Buttons))
	for i, b := range in.Buttons {
		buttons[i] = map[string]any{"type": "reply", "reply": map[string]string{"id": b.ID, "title": b.Title}}
	}
	msg := map[string]any{
		"messaging_product": "whatsapp",
		"recipient_type":    "individual",
		"to":                to,
		"type":              "interactive",
		"interactive": map[string]any{
			"type":   "button",
			"body":   map[string]string{"text": in.Body},
			"action": map[string]any{"buttons": buttons},
		},
	}
	if callbackData != "" {
		msg["biz_opaque_callback_data"] = callbackData
	}
	return c.send(ctx, phoneNumberID, token, msg)
}

// csatInteractive is the question for end seq of a conversation.
func csatInteractive(conversationID int64, seq int) *Interactive {
	in := &Interactive{Body: CSATQuestion}
	for _, ch := range CSATChoices {
		in.Buttons = append(in.Buttons, Button{ID: CSATButtonID(conversationID, seq, ch.Score), Title: ch.Title})
	}
	return in
}

// CSATDue reports whether the CSAT question of end is to be sent now, and why not: the end
// is a WhatsApp conversation's latest, its assistant is enabled and asks for it, the window
// is open, and it was not sent yet.
func (s *Service) csatDue(ctx context.Context, end *store.ConversationEnd) (conv *store.Conversation, why string, err error) {
	if end.CSATSentAt != nil {
		return nil, "sent already", nil
	}
	conv, err = s.Store.GetConversation(ctx, end.WorkspaceID, end.ConversationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "conversation deleted", nil
	}
	if err != nil {
		return nil, "", err
	}
	switch {
	case conv.Type != model.TypeWhatsApp:
		return nil, "not a WhatsApp conversation", nil
	case conv.EndCount != end.Seq:
		return nil, "a later end", nil
	case conv.AssistantID == nil:
		return nil, "no assistant", nil
	case !WindowOpen(conv, s.now()):
		return nil, "window closed", nil
	}
	a, err := s.Store.AssistantByID(ctx, conv.WorkspaceID, *conv.AssistantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "assistant deleted", nil
	}
	if err != nil {
		return nil, "", err
	}
	if a.Disabled || !a.CSATWhatsApp {
		return nil, "CSAT off for the assistant", nil
	}
	return conv, "", nil
}

// SendCSAT sends the CSAT question of one end (by its id) when it is due (csatDue), exactly
// once: the message is stored under CSATKey before the send, and the end is marked
// (csat_sent_at) once Meta took it or the send failed for good. An end that is not due is
// left as it is. Any other error is worth retrying.
func (s *Service) SendCSAT(ctx context.Context, workspaceID, endID int64) error {
	end, err := s.Store.ConversationEndByID(ctx, workspaceID, endID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	conv, why, err := s.csatDue(ctx, end)
	if err != nil {
		return err
	}
	if conv == nil {
		s.log().DebugContext(ctx, "whatsapp csat not sent", "conversation_id", end.ConversationID, "end", end.Seq, "reason", why)
		return nil
	}
	_, err = s.Send(ctx, conv, Outgoing{Key: CSATKey(conv.ID, end.Seq), Role: model.RoleAssistant, Content: CSATQuestion,
		Interactive: csatInteractive(conv.ID, end.Seq)})
	if err != nil && Retryable(err) {
		return err
	}
	if err != nil {
		s.log().InfoContext(ctx, "whatsapp csat not sent", "conversation_id", conv.ID, "end", end.Seq, "reason", err)
	}
	if merr := s.Store.MarkCSATSent(context.WithoutCancel(ctx), workspaceID, endID, s.now()); merr != nil {
		return merr
	}
	return err
}

// UnsentCSAT lists the ends (id and workspace) ended since `since` whose CSAT question may
// still be due (WhatsApp, assistant asking for it, window open, not sent): the sweep's work.
func (s *Service) UnsentCSAT(ctx context.Context, since time.Time, limit int) ([]store.ConversationEnd, error) {
	return s.Store.UnsentCSATEnds(ctx, since, s.now(), limit)
}

// ReceiveCSATReply records a tap on a CSAT reply button as the CSAT score of its end: it is
// never stored as a message (no AI reply, no reopening). handled is false for any other
// message, which is processed as usual; note says what happened to a tap (a tap for an old
// end, a second tap, or a forged id is ignored).
func (s *Service) ReceiveCSATReply(ctx context.Context, p *EventPayload) (note string, handled bool, err error) {
	var m Message
	if json.Unmarshal(p.Message, &m) != nil || m.Type != "interactive" || m.Interactive == nil || m.Interactive.ButtonReply == nil ||
		!strings.HasPrefix(m.Interactive.ButtonReply.ID, csatPrefix) {
		return "", false, nil
	}
	convID, seq, score, ok := ParseCSATButtonID(m.Interactive.ButtonReply.ID)
	if !ok {
		return "csat reply ignored: malformed button id", true, nil
	}
	a, err := s.owner(ctx, p.PhoneNumberID)
	if err != nil {
		return "", true, err
	}
	conv, err := s.Store.GetConversation(ctx, a.WorkspaceID, convID)
	if errors.Is(err, store.ErrNotFound) {
		return "csat reply ignored: no such conversation", true, nil
	}
	if err != nil {
		return "", true, err
	}
	from := strings.TrimPrefix(strings.TrimSpace(m.From), "+")
	if conv.Type != model.TypeWhatsApp || conv.AssistantID == nil || *conv.AssistantID != a.ID || conv.Customer != "+"+from {
		return "csat reply ignored: not this customer's conversation", true, nil
	}
	at, ok := ParseTimestamp(m.Timestamp)
	if !ok {
		at = s.now()
	}
	err = s.conversations().RateEnd(ctx, conv.WorkspaceID, conv.ID, seq, score, at)
	switch {
	case errors.Is(err, store.ErrNotEnded):
		s.log().InfoContext(ctx, "whatsapp csat tap for an old end ignored", "conversation_id", conv.ID, "end", seq)
		return "csat reply ignored: not the conversation's latest end", true, nil
	case errors.Is(err, store.ErrCSATGiven):
		s.log().InfoContext(ctx, "whatsapp csat second tap ignored", "conversation_id", conv.ID, "end", seq)
		return "csat reply ignored: already rated", true, nil
	case errors.As(err, new(*conversation.FieldError)):
		return "csat reply ignored: bad score", true, nil
	case errors.Is(err, store.ErrNotFound):
		return "csat reply ignored: no such conversation", true, nil
	case err != nil:
		return "", true, err
	}
	return fmt.Sprintf("csat %d recorded for end %d", score, seq), true, nil
}
