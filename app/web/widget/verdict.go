package widget

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/convjson"
	"github.com/parleyhq/parley/app/web/jsonbody"
)

// The visitor's own verdict (issue 14) in the public widget API, with the session token of
// the other /sessions/{id} routes:
//   - POST /sessions/{id}/end -> 200 {"ended": true, "ended_at"}; an ended conversation
//     answers the same and changes nothing
//   - POST /sessions/{id}/messages/{message_id}/feedback {"rating": "up"|"down", "comment"}
//     -> 200 {"message_id", "rating", "comment"}; on an answer of this conversation only
//     (404 for another's, 422 naming message_id for the visitor's own message); a second
//     call replaces the first
//   - POST /sessions/{id}/csat {"score": 1..5, "comment"} -> 200 {"score", "comment"}; only
//     once the conversation ended (409 not_ended), once per end (409 csat_given)
// Wrong fields are 422 naming the field.

// apiWidgetEnd ends the visitor's conversation (model.EndVisitor).
func (s *Handler) apiWidgetEnd(c echo.Context) error {
	_, _, conv, err := s.widgetSession(c)
	if err != nil {
		return err
	}
	endedAt, err := s.widgetEnd(c, conv)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"ended": true, "ended_at": convjson.Time(endedAt)})
}

// widgetEnd ends an open conversation for the visitor and returns when it ended (an ended
// one is left as it is).
func (s *Handler) widgetEnd(c echo.Context, conv *store.Conversation) (endedAt time.Time, err error) {
	if conv.EndedAt != nil {
		return *conv.EndedAt, nil
	}
	ctx := c.Request().Context()
	end, err := s.Conversations.End(ctx, conv.WorkspaceID, conv.ID, model.EndVisitor, time.Time{})
	if err != nil {
		return time.Time{}, err
	}
	if end == nil { // ended meanwhile: read when
		fresh, err := s.Store.WidgetConversation(ctx, conv.WorkspaceID, *conv.AssistantID, conv.ID)
		if err != nil {
			return time.Time{}, err
		}
		*conv = *fresh
		if conv.EndedAt == nil {
			return time.Time{}, errors.New("widget end: the conversation is neither ended nor endable")
		}
		return *conv.EndedAt, nil
	}
	conv.EndedAt, conv.EndCount, conv.EndReason = &end.EndedAt, end.Seq, end.Reason
	return end.EndedAt, nil
}

// verdictFieldError is the 422 of a wrong field of a feedback or CSAT body.
func verdictFieldError(c echo.Context, field, msg string) error {
	return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_field", assistants.Errors{{Field: field, Msg: msg}})
}

// verdictError answers the errors of the conversation service's verdict rules.
func verdictError(c echo.Context, err error) error {
	var fe *conversation.FieldError
	var ae *apierr.Error
	switch {
	case errors.As(err, &fe):
		return verdictFieldError(c, fe.Param, fe.Msg)
	case errors.As(err, &ae) && ae.Code == "invalid_field":
		ae.Status = http.StatusUnprocessableEntity
		return ae
	case errors.Is(err, store.ErrNotEnded):
		return apierr.New(http.StatusConflict, "not_ended", "The conversation has not ended: the CSAT question comes after the end (POST .../end).")
	case errors.Is(err, store.ErrCSATGiven):
		return apierr.New(http.StatusConflict, "csat_given", "A CSAT score was already given for this end of the conversation.")
	}
	return err
}

// verdictBody reads the JSON body of a feedback or CSAT call: only the allowed fields, and
// the optional string "comment" (null or absent is "").
func verdictBody(c echo.Context, allowed ...string) (map[string]json.RawMessage, string, error) {
	obj, err := jsonbody.Object(c, true)
	if err != nil {
		return nil, "", err
	}
	if err := jsonbody.Only(obj, append(allowed, "comment")...); err != nil {
		return nil, "", verdictError(c, err)
	}
	comment := ""
	if raw, ok := obj["comment"]; ok && !jsonbody.IsNull(raw) {
		p, err := jsonbody.String("comment", raw)
		if err != nil {
			return nil, "", verdictError(c, err)
		}
		comment = *p
	}
	return obj, comment, nil
}

// apiWidgetFeedback stores the visitor's thumbs up or down on one answer.
func (s *Handler) apiWidgetFeedback(c echo.Context) error {
	row, _, conv, err := s.widgetSession(c)
	if err != nil {
		return err
	}
	msgID, err := strconv.ParseInt(c.Param("msg"), 10, 64)
	if err != nil || msgID <= 0 {
		return errNoMessage(c.Param("msg"))
	}
	obj, comment, err := verdictBody(c, "rating")
	if err != nil {
		return err
	}
	raw, ok := obj["rating"]
	if !ok {
		return verdictFieldError(c, "rating", "is required")
	}
	rating, err := jsonbody.String("rating", raw)
	if err != nil {
		return verdictError(c, err)
	}
	_, lim := s.widgetLimits()
	if err := s.widgetRateLimit(c, lim, row.ID); err != nil {
		return err
	}
	f, err := s.Conversations.Feedback(c.Request().Context(), conv, msgID, *rating, comment)
	if errors.Is(err, store.ErrNotFound) {
		return errNoMessage(c.Param("msg"))
	}
	if err != nil {
		return verdictError(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"message_id": strconv.FormatInt(f.MessageID, 10), "rating": f.Rating, "comment": f.Comment})
}

func errNoMessage(id string) error {
	return apierr.New(http.StatusNotFound, "not_found", "No message %s in this conversation.", truncateForMessage(id))
}

// apiWidgetCSAT stores the visitor's CSAT score for the conversation's end.
func (s *Handler) apiWidgetCSAT(c echo.Context) error {
	row, _, conv, err := s.widgetSession(c)
	if err != nil {
		return err
	}
	obj, comment, err := verdictBody(c, "score")
	if err != nil {
		return err
	}
	raw, ok := obj["score"]
	if !ok {
		return verdictFieldError(c, "score", "is required")
	}
	var score int
	if jsonbody.IsNull(raw) || json.Unmarshal(raw, &score) != nil {
		return verdictFieldError(c, "score", "must be an integer from 1 to 5")
	}
	_, lim := s.widgetLimits()
	if err := s.widgetRateLimit(c, lim, row.ID); err != nil {
		return err
	}
	if err := s.Conversations.RateEnded(c.Request().Context(), conv, score, comment); err != nil {
		return verdictError(c, err)
	}
	cm, _ := conversation.ValidCSAT(score, comment)
	return c.JSON(http.StatusOK, map[string]any{"score": score, "comment": cm})
}
