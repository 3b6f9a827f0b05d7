package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/convjson"
	"github.com/parleyhq/parley/app/web/jsonbody"
)

// The review workflow of the API (issue 14 item 9). Every route needs a key of write scope
// (requireAPIKey). Wrong values are 422 naming the field; a conversation not the key's
// workspace's is 404.

// reviewErr answers the review service's errors.
func reviewErr(c echo.Context, err error) error {
	var fe *review.FieldError
	switch {
	case errors.As(err, &fe):
		return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_field", assistants.Errors{{Field: fe.Field, Msg: fe.Message}})
	case errors.Is(err, store.ErrNotFound):
		return convjson.ErrNotFound()
	}
	return err
}

// reviewBody reads a JSON object with only the allowed fields (an unknown one is 422).
func reviewBody(c echo.Context, allowed ...string) (map[string]json.RawMessage, error) {
	obj, err := jsonbody.Object(c, true)
	if err != nil {
		return nil, err
	}
	if err := jsonbody.Only(obj, allowed...); err != nil {
		return nil, unprocessable(err)
	}
	return obj, nil
}

// requiredString is the string field name of obj: a *review.FieldError when it is absent,
// the decoder's 422 when it is not a string (answer either with reviewErr).
func requiredString(obj map[string]json.RawMessage, name string) (string, error) {
	raw, ok := obj[name]
	if !ok {
		return "", &review.FieldError{Field: name, Message: "is required"}
	}
	v, err := jsonbody.String(name, raw)
	if err != nil {
		return "", unprocessable(err)
	}
	return *v, nil
}

// apiReview is the answer of PUT .../review: the conversation's review state.
type apiReview struct {
	ReviewStatus string           `json:"review_status"`
	ReviewedBy   *string          `json:"reviewed_by"`
	ReviewedAt   *string          `json:"reviewed_at"`
	Assignee     *convjson.Person `json:"assignee"`
}

// apiConversationReview is PUT /api/v1/conversations/{id}/review {"status", "assignee"}:
// status one of unreviewed, reviewed, flagged; assignee the email of a member of the
// workspace, or null to unassign. Either may be left out (not both). 200 with the review.
func (s *Handler) apiConversationReview(c echo.Context) error {
	id, err := apiConversationID(c)
	if err != nil {
		return err
	}
	obj, err := reviewBody(c, "status", "assignee")
	if err != nil {
		return err
	}
	var ch review.Change
	if raw, ok := obj["status"]; ok {
		v, err := jsonbody.String("status", raw)
		if err != nil {
			return unprocessable(err)
		}
		if *v == "" {
			return reviewErr(c, &review.FieldError{Field: "status", Message: "must not be empty"})
		}
		ch.Status = *v
	}
	if raw, ok := obj["assignee"]; ok {
		ch.SetAssignee = true
		if !jsonbody.IsNull(raw) {
			v, err := jsonbody.String("assignee", raw)
			if err != nil {
				return unprocessable(apierr.InvalidField("assignee", "must be a member's email or null"))
			}
			if *v == "" {
				return reviewErr(c, &review.FieldError{Field: "assignee", Message: "must be a member's email or null"})
			}
			ch.AssigneeEmail = *v
		}
	}
	ctx := c.Request().Context()
	ws := apiPrincipal(c).WorkspaceID
	if err := s.Review.Update(ctx, ws, id, ch); err != nil {
		return reviewErr(c, err)
	}
	conv, err := s.Store.GetConversation(ctx, ws, id)
	if err != nil {
		return reviewErr(c, err)
	}
	out := apiReview{ReviewStatus: conv.ReviewStatus}
	if conv.ReviewedAt != nil {
		by, at := conv.ReviewedBy, convjson.Time(*conv.ReviewedAt)
		out.ReviewedBy, out.ReviewedAt = &by, &at
	}
	page, err := s.Review.PageOf(ctx, ws, []store.Conversation{*conv})
	if err != nil {
		return err
	}
	out.Assignee = convjson.ToPerson(page.Assignee(conv))
	return c.JSON(http.StatusOK, out)
}

// apiTags answers the conversation's tags after a change: {"tags": [names]}.
func (s *Handler) apiTags(c echo.Context, ws, id int64) error {
	tags, err := s.Store.ConversationTags(c.Request().Context(), ws, []int64{id})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(tags[id]))
	for _, t := range tags[id] {
		names = append(names, t.Name)
	}
	return c.JSON(http.StatusOK, map[string][]string{"tags": names})
}

// apiConversationTagAdd is POST /api/v1/conversations/{id}/tags {"tag"}: the tag of that
// name (case-insensitive; created, grey, when the workspace has none) is put on the
// conversation. 200 {"tags": [...]}, the conversation's tags by name.
func (s *Handler) apiConversationTagAdd(c echo.Context) error {
	id, err := apiConversationID(c)
	if err != nil {
		return err
	}
	obj, err := reviewBody(c, "tag")
	if err != nil {
		return err
	}
	name, err := requiredString(obj, "tag")
	if err != nil {
		return reviewErr(c, err)
	}
	ws := apiPrincipal(c).WorkspaceID
	if _, err := s.Review.Tag(c.Request().Context(), ws, id, name); err != nil {
		return reviewErr(c, err)
	}
	return s.apiTags(c, ws, id)
}

// apiConversationTagRemove is DELETE /api/v1/conversations/{id}/tags {"tag"}: the tag is
// taken off the conversation (nothing changes when it has not it). 200 {"tags": [...]}.
func (s *Handler) apiConversationTagRemove(c echo.Context) error {
	id, err := apiConversationID(c)
	if err != nil {
		return err
	}
	obj, err := reviewBody(c, "tag")
	if err != nil {
		return err
	}
	name, err := requiredString(obj, "tag")
	if err != nil {
		return reviewErr(c, err)
	}
	ws := apiPrincipal(c).WorkspaceID
	if err := s.Review.Untag(c.Request().Context(), ws, id, name); err != nil {
		return reviewErr(c, err)
	}
	return s.apiTags(c, ws, id)
}

// apiConversationNoteCreate is POST /api/v1/conversations/{id}/notes {"text", "message_id"}:
// an internal note (at most 4000 characters) on the conversation, or on one of its messages
// (message_id, optional; null or absent: the conversation). 201 with the note.
func (s *Handler) apiConversationNoteCreate(c echo.Context) error {
	id, err := apiConversationID(c)
	if err != nil {
		return err
	}
	obj, err := reviewBody(c, "text", "message_id")
	if err != nil {
		return err
	}
	body, err := requiredString(obj, "text")
	if err != nil {
		return reviewErr(c, err)
	}
	var msg int64
	if raw, ok := obj["message_id"]; ok && !jsonbody.IsNull(raw) {
		if json.Unmarshal(raw, &msg) != nil || msg <= 0 {
			return unprocessable(apierr.InvalidField("message_id", "must be the id of a message of this conversation, or null"))
		}
	}
	n, err := s.Review.AddNote(c.Request().Context(), apiPrincipal(c).WorkspaceID, id, body, msg)
	if err != nil {
		return reviewErr(c, err)
	}
	return c.JSON(http.StatusCreated, convjson.ToNote(n))
}
