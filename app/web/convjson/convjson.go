// Package convjson is the JSON shape of a conversation and its messages, shared by the JSON
// API (GET /api/v1/conversations...) and the dashboard's exports, which must print the same
// document. It owns those types and the streamed detail document; it imports no surface and
// writes nothing to the store.
package convjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/reeval"
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
	// EndedAt (RFC 3339) and EndReason (model.EndReasons) are null while the conversation is
	// open.
	EndedAt   *string `json:"ended_at"`
	EndReason *string `json:"end_reason"`
	// issue 14: the latest evaluation's built-in values (null before one) and its status
	// (null before the first end), and the split of cost_usd.
	Summary          *string       `json:"summary"`
	Outcome          *string       `json:"outcome"`
	Sentiment        *string       `json:"sentiment"`
	CSATEstimate     *int          `json:"csat_estimate"`
	EvaluationStatus *string       `json:"evaluation_status"`
	CostBreakdown    CostBreakdown `json:"cost_breakdown"`
	// issue 14: review. ReviewStatus is one of model.ReviewStatuses; Assignee the member it is
	// assigned to (null: nobody); Tags the names of its tags ([] when none), by name.
	ReviewStatus string   `json:"review_status"`
	Assignee     *Person  `json:"assignee"`
	Tags         []string `json:"tags"`
	// CSAT is the customer's own score of the conversation's latest rated end, or null.
	CSAT *CSAT `json:"csat"`
	// issue 15: the assistant version the conversation started with (null before versions).
	AssistantVersion *int `json:"assistant_version"`
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
	// Evaluations are the values of the latest evaluation run ([] before one).
	Evaluations []Evaluation `json:"evaluations"`
	// Notes are the internal notes of the team, oldest first ([] when none).
	Notes []Note `json:"notes"`
}

// CostBreakdown splits a conversation's cost_usd: replies, variable extraction and
// evaluation, decimal-dollar strings like cost_usd.
type CostBreakdown struct {
	Reply      string `json:"reply"`
	Extraction string `json:"extraction"`
	Evaluation string `json:"evaluation"`
}

// Evaluation is one evaluator's answer in the latest run: value is a bool (boolean), an
// integer (rating) or a string, null while pending or when it failed.
type Evaluation struct {
	Name             string `json:"name"`
	Value            any    `json:"value"`
	Reason           string `json:"reason"`
	Status           string `json:"status"`
	EvaluatorVersion int    `json:"evaluator_version"`
}

// nonEmpty is s, or nil when it is "".
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// costBreakdown splits c's cost: reply is what neither extraction nor evaluation spent.
func costBreakdown(c *store.Conversation) CostBreakdown {
	return CostBreakdown{
		Reply:      model.Money(c.CostNanos - c.CostExtractionNanos - c.CostEvaluationNanos).Exact(),
		Extraction: model.Money(c.CostExtractionNanos).Exact(),
		Evaluation: model.Money(c.CostEvaluationNanos).Exact(),
	}
}

// Evaluations are the latest run's values of a conversation as the API shows them.
func Evaluations(ctx context.Context, st *store.Store, conv *store.Conversation) ([]Evaluation, error) {
	out := []Evaluation{}
	runs, err := reeval.History(ctx, st, conv, 1)
	if err != nil || len(runs) == 0 {
		return out, err
	}
	for _, v := range runs[0].Values {
		out = append(out, Evaluation{Name: v.Name, Value: v.Typed(), Reason: v.Reason, Status: v.Status, EvaluatorVersion: v.Version})
	}
	return out, nil
}

// Person is a member of the workspace (an assignee).
type Person struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Note is an internal note on the conversation or (MessageID) one of its messages.
type Note struct {
	ID        int64   `json:"id"`
	Text      string  `json:"text"`
	MessageID *int64  `json:"message_id"`
	Author    *Author `json:"author"`
	CreatedAt string  `json:"created_at"`
}

// Correction is a reviewer's better answer to an assistant message.
type Correction struct {
	Text      string  `json:"text"`
	Author    *Author `json:"author"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

// ToNote is a note as the API shows it.
func ToNote(n *store.Note) Note {
	return Note{ID: n.ID, Text: n.Text, MessageID: n.MessageID, Author: &Author{ID: n.AuthorID, Name: n.AuthorName}, CreatedAt: Time(n.CreatedAt)}
}

// ToPerson is a member as the API shows them; nil for none.
func ToPerson(m *store.Member) *Person {
	if m == nil {
		return nil
	}
	return &Person{ID: m.UserID, Name: m.Name, Email: m.Email}
}

// SetReview fills the review fields of a conversation: its tags and its assignee (nil: none
// or no longer a member).
func (c *Conversation) SetReview(tags []store.Tag, assignee *store.Member) {
	c.Tags = make([]string, len(tags))
	for i, t := range tags {
		c.Tags[i] = t.Name
	}
	c.Assignee = ToPerson(assignee)
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
	// Correction is the team's better answer to an assistant message (null when none).
	Correction *Correction `json:"correction"`
	// Feedback is the customer's thumbs up or down on an answer, or null.
	Feedback *Feedback `json:"feedback"`
	// issue 15: the assistant version that wrote an assistant message (null otherwise).
	AssistantVersion *int `json:"assistant_version"`
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
		Summary:          nonEmpty(c.Summary),
		Outcome:          nonEmpty(c.Outcome),
		Sentiment:        nonEmpty(c.Sentiment),
		CSATEstimate:     c.CSATEstimate,
		EvaluationStatus: nonEmpty(c.EvaluationStatus),
		CostBreakdown:    costBreakdown(c),
		ReviewStatus:     c.ReviewStatus,
		Tags:             []string{},
		CSAT:             csatOf(c),
		AssistantVersion: c.AssistantVersion,
	}
	if c.EndedAt != nil {
		at, reason := Time(*c.EndedAt), c.EndReason
		out.EndedAt, out.EndReason = &at, &reason
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
		Author: author(m), AssistantVersion: m.AssistantVersion,
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
	evals, err := Evaluations(ctx, st, conv)
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
		Evaluations:     evals,
	}
	for _, v := range vars {
		d.VariablesDetail = append(d.VariablesDetail, Variable{Name: v.Name, Value: v.Value, Source: v.Source, MessageID: v.MessageID})
	}
	corrections, err := reviewOf(ctx, st, conv, &d)
	if err != nil {
		return err
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
		jm := ToMessage(m)
		if cr, ok := corrections[m.ID]; ok {
			jm.Correction = &Correction{Text: cr.Text, Author: &Author{ID: cr.AuthorID, Name: cr.AuthorName}, CreatedAt: Time(cr.CreatedAt), UpdatedAt: Time(cr.UpdatedAt)}
		}
		jm.Feedback = FeedbackOf(fb, m.ID)
		return enc.Encode(jm)
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

// reviewOf fills the detail's review (tags, assignee, notes) and returns the corrections of
// its messages by message id: a query each, whatever the conversation's length.
func reviewOf(ctx context.Context, st *store.Store, conv *store.Conversation, d *Detail) (map[int64]store.Correction, error) {
	ws, id := conv.WorkspaceID, conv.ID
	tags, err := st.ConversationTags(ctx, ws, []int64{id})
	if err != nil {
		return nil, err
	}
	var assignee *store.Member
	if conv.AssigneeID != nil {
		ms, err := st.MembersByID(ctx, ws, []int64{*conv.AssigneeID})
		if err != nil {
			return nil, err
		}
		if m, ok := ms[*conv.AssigneeID]; ok {
			assignee = &m
		}
	}
	d.SetReview(tags[id], assignee)
	notes, err := st.Notes(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	d.Notes = make([]Note, len(notes))
	for i := range notes {
		d.Notes[i] = ToNote(&notes[i])
	}
	return st.Corrections(ctx, ws, id)
}
