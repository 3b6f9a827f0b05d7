package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// apiDefaultLimit is the page size of GET /api/v1/conversations without a limit parameter.
const apiDefaultLimit = 20

// apiConversation is one conversation as the API shows it.
type apiConversation struct {
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
	// Only WhatsApp conversations have a window: a nil pointer leaves both fields out.
	*apiWindow
}

type apiWindow struct {
	WindowExpiresAt *string `json:"window_expires_at"`
	WindowOpen      bool    `json:"window_open"`
}

// apiConversationDetail is GET /api/v1/conversations/{id} without its messages, which are
// streamed after it.
type apiConversationDetail struct {
	apiConversation
	CustomerName    string        `json:"customer_name"`
	AssistantName   string        `json:"assistant_name"`
	Charged         bool          `json:"charged"`
	CachedTokens    int64         `json:"cached_tokens"`
	VariablesDetail []apiVariable `json:"variables_detail"`
}

type apiVariable struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	MessageID *int64 `json:"message_id"`
}

type apiMessage struct {
	ID               int64  `json:"id"`
	Role             string `json:"role"`
	Content          string `json:"content"`
	CreatedAt        string `json:"created_at"`
	Status           string `json:"status"`
	PromptTokens     int    `json:"prompt_tokens"`
	CompletionTokens int    `json:"completion_tokens"`
	CostUSD          string `json:"cost_usd"`
}

// apiTime is an RFC 3339 instant in UTC.
func apiTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// apiVariables is the conversation's stored variables object; anything that is not a JSON
// object (which the store never writes) shows as {}.
func apiVariables(raw string) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m == nil {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

func toAPIConversation(c *store.Conversation, now time.Time) apiConversation {
	out := apiConversation{
		ID:               c.ID,
		Type:             c.Type,
		AssistantID:      c.AssistantID,
		Customer:         c.Customer,
		MessageCount:     c.MessageCount,
		UserMessageCount: c.UserMessageCount,
		PromptTokens:     c.PromptTokens,
		CompletionTokens: c.CompletionTokens,
		CostUSD:          model.Money(c.CostNanos).Exact(),
		Variables:        apiVariables(c.Variables),
		StartedAt:        apiTime(c.StartedAt),
		LastMessageAt:    apiTime(c.LastMessageAt),
	}
	if w := conversation.WindowOf(c, now); w.Applies {
		out.apiWindow = &apiWindow{WindowOpen: w.Open}
		if w.Known {
			s := apiTime(w.ExpiresAt)
			out.WindowExpiresAt = &s
		}
	}
	return out
}

// apiConversations lists the key's workspace's conversations, newest activity first (or by
// cost), one keyset page at a time.
func (s *Server) apiConversations(c echo.Context) error {
	v := c.QueryParams()
	q, f, err := conversation.ParseQuery(v, time.Now())
	if err != nil {
		return apiParamErr(err)
	}
	limit := q.Limit
	if strings.TrimSpace(v.Get("limit")) == "" {
		limit = apiDefaultLimit
	}
	rows, next, err := s.Store.ListConversations(c.Request().Context(), apiPrincipal(c).WorkspaceID, f, q.Cursor, limit)
	if errors.Is(err, store.ErrBadCursor) {
		return apiParamErr(&conversation.FieldError{Param: "cursor", Msg: "is not a cursor of this list (start again without it)"})
	}
	if err != nil {
		return err
	}
	now := time.Now()
	data := make([]apiConversation, len(rows))
	for i := range rows {
		data[i] = toAPIConversation(&rows[i], now)
	}
	var nextCursor *string
	if next != "" {
		nextCursor = &next
	}
	return c.JSON(http.StatusOK, struct {
		Data       []apiConversation `json:"data"`
		NextCursor *string           `json:"next_cursor"`
	}{data, nextCursor})
}

func apiParamErr(err error) error {
	var fe *conversation.FieldError
	if errors.As(err, &fe) {
		return apiErr(http.StatusBadRequest, "invalid_parameter", "%s", fe.Error())
	}
	return err
}

// apiConversationID reads the {id} of the path; anything but a positive integer is a
// conversation that does not exist.
func apiConversationID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errConversationNotFound()
	}
	return id, nil
}

func errConversationNotFound() *APIError {
	return apiErr(http.StatusNotFound, "not_found", "No such conversation.")
}

// toAPIMessage is a message as the API shows it.
func toAPIMessage(m *store.Message) apiMessage {
	return apiMessage{
		ID: m.ID, Role: m.Role, Content: m.Content, CreatedAt: apiTime(m.CreatedAt), Status: m.Status,
		PromptTokens: m.PromptTokens, CompletionTokens: m.CompletionTokens, CostUSD: model.Money(m.CostNanos).Exact(),
	}
}

// apiConversation answers one conversation with its variables and every message, oldest
// first.
func (s *Server) apiConversation(c echo.Context) error {
	id, err := apiConversationID(c)
	if err != nil {
		return err
	}
	return s.writeConversationJSON(c, apiPrincipal(c).WorkspaceID, id)
}

// writeConversationJSON writes the detail document of a conversation of the workspace (the
// API's answer, and the dashboard's one-conversation export). The messages are streamed, so
// a long conversation is never held in memory. A conversation that is not the workspace's
// is a 404.
func (s *Server) writeConversationJSON(c echo.Context, workspaceID, id int64) error {
	ctx := c.Request().Context()
	conv, err := s.Store.GetConversation(ctx, workspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errConversationNotFound()
	}
	if err != nil {
		return err
	}
	vars, err := s.Store.Variables(ctx, workspaceID, id)
	if err != nil {
		return err
	}
	d := apiConversationDetail{
		apiConversation: toAPIConversation(conv, time.Now()),
		CustomerName:    conv.CustomerName,
		AssistantName:   conv.AssistantName,
		Charged:         conv.Charged,
		CachedTokens:    conv.CachedTokens,
		VariablesDetail: make([]apiVariable, 0, len(vars)),
	}
	for _, v := range vars {
		d.VariablesDetail = append(d.VariablesDetail, apiVariable{Name: v.Name, Value: v.Value, Source: v.Source, MessageID: v.MessageID})
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
	err = s.Store.AllMessages(ctx, workspaceID, id, func(m *store.Message) error {
		if n > 0 {
			if _, err := res.Write([]byte(",")); err != nil {
				return err
			}
		}
		n++
		return enc.Encode(toAPIMessage(m))
	})
	if err != nil {
		// The status is sent: the body stays truncated (invalid JSON), which the client sees.
		if ctx.Err() == nil {
			s.Log.Error("stream conversation messages", "err", err, "conversation_id", id,
				"request_id", res.Header().Get(echo.HeaderXRequestID))
		}
		return nil
	}
	_, _ = res.Write([]byte("]}\n"))
	return nil
}

// apiConversationDelete deletes a conversation of the key's workspace and tells the open
// dashboards.
func (s *Server) apiConversationDelete(c echo.Context) error {
	id, err := apiConversationID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ws := apiPrincipal(c).WorkspaceID
	// The service tells the dashboards even if the client has gone away meanwhile.
	err = s.Conversations.Delete(ctx, ws, id)
	if errors.Is(err, store.ErrNotFound) {
		return errConversationNotFound()
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
