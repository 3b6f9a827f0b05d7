// Package convjson is the JSON shape of a conversation and its messages, shared by the JSON
// API (GET /api/v1/conversations...) and the dashboard's exports, which must print the same
// document. It owns those types and the streamed detail document; it imports no surface and
// writes nothing to the store.
package convjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
)

// Conversation is one conversation as the API shows it.
type Conversation struct {
	ID               int64           `json:"id"`
	Type             string          `json:"type"`
	AssistantID      *int64          `json:"assistant_id"`
	Customer         string          `json:"customer"`
	MessageCount     int             `json:"message_count"`
	UserMessageCount int             `json:"user_message_count"`
	PromptTokens     int64           `json:"prompt_tokens"`
	CompletionTokens int64           `json:"completion_tokens"`
	CostUSD          string          `json:"cost_usd"`
	Variables        json.RawMessage `json:"variables"`
	StartedAt        string          `json:"started_at"`
	LastMessageAt    string          `json:"last_message_at"`
	// CSAT is the customer's own score of the conversation's latest rated end, or null.
	CSAT *CSAT `json:"csat"`
	// Only WhatsApp conversations have a window: a nil pointer leaves both fields out.
	*Window
}

type Window struct {
	WindowExpiresAt *string `json:"window_expires_at"`
	WindowOpen      bool    `json:"window_open"`
}

// Detail is GET /api/v1/conversations/{id} without its messages, which are
// streamed after it.
type Detail struct {
	Conversation
	CustomerName    string     `json:"customer_name"`
	AssistantName   string     `json:"assistant_name"`
	Charged         bool       `json:"charged"`
	CachedTokens    int64      `json:"cached_tokens"`
	VariablesDetail []Variable `json:"variables_detail"`
}

type Variable struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	MessageID *int64 `json:"message_id"`
}

type Message struct {
	ID               int64  `json:"id"`
	Role             string `json:"role"`
	Content          string `json:"content"`
	CreatedAt        string `json:"created_at"`
	Status           string `json:"status"`
	PromptTokens     int    `json:"prompt_tokens"`
	CompletionTokens int    `json:"completion_tokens"`
	CostUSD          string `json:"cost_usd"`
	// Author is the person of the team who sent a "human" message; absent otherwise.
	Author *Author `json:"author,omitempty"`
	// Feedback is the customer's thumbs up or down on an answer, or null.
	Feedback *Feedback `json:"feedback"`
}

// CSAT is the customer's score (1 to 5) with its comment ("" when none).
type CSAT struct {
	Score   int    `json:"score"`
	Comment string `json:"comment"`
}

// Feedback is the customer's rating of one message ("up" or "down") with its comment.
type Feedback struct {
	Rating  string `json:"rating"`
	Comment string `json:"comment"`
}

// csatOf is the conversation's CSAT, or nil before the customer gave one.
func csatOf(c *store.Conversation) *CSAT {
	if c.CSATScore == nil {
		return nil
	}
	return &CSAT{Score: *c.CSATScore, Comment: c.CSATComment}
}

// FeedbackOf is the feedback on message id in fb (store.Feedback's map), or nil.
func FeedbackOf(fb map[int64]store.MessageFeedback, id int64) *Feedback {
	f, ok := fb[id]
	if !ok {
		return nil
	}
	return &Feedback{Rating: f.Rating, Comment: f.Comment}
}

// Author is a person of the team: their user id (null once the account is gone) and name.
type Author struct {
	ID   *int64 `json:"id"`
	Name string `json:"name"`
}

// Time is an RFC 3339 instant in UTC.
func Time(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Variables is the conversation's variables object as the store decodes it (name -> value;
// a column that is not one, which the store never writes, shows as {}), its keys in sorted
// order as encoding/json writes a map.
func Variables(c *store.Conversation) json.RawMessage {
	b, err := json.Marshal(c.VariableMap())
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// ToConversation is a conversation as the API shows it.
func ToConversation(c *store.Conversation, now time.Time) Conversation {
	out := Conversation{
		ID:               c.ID,
		Type:             c.Type,
		AssistantID:      c.AssistantID,
		Customer:         c.Customer,
		MessageCount:     c.MessageCount,
		UserMessageCount: c.UserMessageCount,
		PromptTokens:     c.PromptTokens,
		CompletionTokens: c.CompletionTokens,
		CostUSD:          model.Money(c.CostNanos).Exact(),
		Variables:        Variables(c),
		StartedAt:        Time(c.StartedAt),
		LastMessageAt:    Time(c.LastMessageAt),
		CSAT:             csatOf(c),
	}
	if w := conversation.WindowOf(c, now); w.Applies {
		out.Window = &Window{WindowOpen: w.Open}
		if w.Known {
			s := Time(w.ExpiresAt)
			out.WindowExpiresAt = &s
		}
	}
	return out
}

// ToMessage is a message as the API shows it.
func ToMessage(m *store.Message) Message {
	return Message{
		ID: m.ID, Role: m.Role, Content: m.Content, CreatedAt: Time(m.CreatedAt), Status: m.Status,
		PromptTokens: m.PromptTokens, CompletionTokens: m.CompletionTokens, CostUSD: model.Money(m.CostNanos).Exact(),
		Author: author(m),
	}
}

func author(m *store.Message) *Author {
	if m.AuthorName == "" && m.AuthorID == nil {
		return nil
	}
	return &Author{ID: m.AuthorID, Name: m.AuthorName}
}

// ErrNotFound is the 404 of a conversation that is not the workspace's.
func ErrNotFound() *apierr.Error {
	return apierr.New(http.StatusNotFound, "not_found", "No such conversation.")
}

// Write writes the detail document of a conversation of the workspace (the
// API's answer, and the dashboard's one-conversation export). The messages are streamed, so
// a long conversation is never held in memory. A conversation that is not the workspace's
// is a 404.
func Write(c echo.Context, st *store.Store, log *slog.Logger, workspaceID, id int64) error {
	ctx := c.Request().Context()
	conv, err := st.GetConversation(ctx, workspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound()
	}
	if err != nil {
		return err
	}
	vars, err := st.Variables(ctx, workspaceID, id)
	if err != nil {
		return err
	}
	d := Detail{
		Conversation:    ToConversation(conv, time.Now()),
		CustomerName:    conv.CustomerName,
		AssistantName:   conv.AssistantName,
		Charged:         conv.Charged,
		CachedTokens:    conv.CachedTokens,
		VariablesDetail: make([]Variable, 0, len(vars)),
	}
	for _, v := range vars {
		d.VariablesDetail = append(d.VariablesDetail, Variable{Name: v.Name, Value: v.Value, Source: v.Source, MessageID: v.MessageID})
	}
	fb, err := st.Feedback(ctx, workspaceID, id) // one query for every message's feedback
	if err != nil {
		return err
	}
	head, err := json.Marshal(d)
	if err != nil {
		return err
	}
	// head is a JSON object: reopen it to append "messages".
	head = bytes.TrimSuffix(bytes.TrimSpace(head), []byte("}"))

	res := c.Response()
	res.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	res.WriteHeader(http.StatusOK)
	if _, err := res.Write(append(head, []byte(`,"messages":[`)...)); err != nil {
		return nil // the client went away
	}
	enc := json.NewEncoder(res)
	n := 0
	err = st.AllMessages(ctx, workspaceID, id, func(m *store.Message) error {
		if n > 0 {
			if _, err := res.Write([]byte(",")); err != nil {
				return err
			}
		}
		n++
		msg := ToMessage(m)
		msg.Feedback = FeedbackOf(fb, m.ID)
		return enc.Encode(msg)
	})
	if err != nil {
		// The status is sent: the body stays truncated (invalid JSON), which the client sees.
		if ctx.Err() == nil {
			log.Error("stream conversation messages", "err", err, "conversation_id", id,
				"request_id", res.Header().Get(echo.HeaderXRequestID))
		}
		return nil
	}
	_, _ = res.Write([]byte("]}\n"))
	return nil
}
