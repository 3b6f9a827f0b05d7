package widget

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/widget"
	"github.com/parleyhq/parley/views/pages"
)

// The visitor's verdict inside the iframe: the "End chat" control, the thumbs on each answer
// (sent by widget-frame.js) and the CSAT question after the end. Like the composer, each
// form carries the session token (the CSRF protection of these routes). Errors are plain
// text that widget-frame.js shows.

// frameVerdictError words the verdict rules' refusals for the visitor.
func frameVerdictError(err error) error {
	var fe *conversation.FieldError
	switch {
	case errors.As(err, &fe) && fe.Param == "score":
		return apierr.New(http.StatusUnprocessableEntity, "invalid_field", "Please choose a score from 1 to 5.")
	case errors.As(err, &fe) && fe.Param == "comment":
		return apierr.New(http.StatusUnprocessableEntity, "invalid_field", "Your comment is too long: at most 500 characters.")
	case errors.As(err, &fe):
		return apierr.New(http.StatusUnprocessableEntity, "invalid_field", "%s", fe.Msg)
	case errors.Is(err, store.ErrNotFound):
		return apierr.New(http.StatusNotFound, "not_found", "No such message in this chat.")
	case errors.Is(err, store.ErrNotEnded):
		return apierr.New(http.StatusConflict, "not_ended", "This chat has not ended yet.")
	case errors.Is(err, store.ErrCSATGiven):
		return apierr.New(http.StatusConflict, "csat_given", "You have already rated this chat. Thank you!")
	}
	return err
}

// widgetEndFrame ends the chat ("End chat") and shows the CSAT question in place of the
// composer.
func (s *Handler) widgetEndFrame(c echo.Context) error {
	row, a, err := s.widgetFrameAssistant(c)
	if err != nil || row == nil {
		return err
	}
	tok := c.FormValue("token")
	conv, _, err := s.widgetFrameConversation(c, row, tok, widget.KindSession)
	if err != nil {
		return err
	}
	if _, err := s.widgetEnd(c, conv); err != nil {
		return err
	}
	d := pages.WidgetCSAT{Key: row.PublicKey, Token: tok, Asked: conv.CSATEnd < conv.EndCount}
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusOK, pages.WidgetCSATForm(d))
	}
	return htmx.Render(c, http.StatusOK, pages.WidgetEndedPage(widgetFrame(a), d))
}

// widgetCSATFrame records the visitor's answer to the CSAT question.
func (s *Handler) widgetCSATFrame(c echo.Context) error {
	row, a, err := s.widgetFrameAssistant(c)
	if err != nil || row == nil {
		return err
	}
	conv, _, err := s.widgetFrameConversation(c, row, c.FormValue("token"), widget.KindSession)
	if err != nil {
		return err
	}
	_, lim := s.widgetLimits()
	if err := s.widgetRateLimit(c, lim, row.ID); err != nil {
		return err
	}
	score, err := strconv.Atoi(strings.TrimSpace(c.FormValue("score")))
	if err != nil {
		score = 0 // refused by the rule, which names the score
	}
	if err := s.Conversations.RateEnded(c.Request().Context(), conv, score, c.FormValue("comment")); err != nil {
		return frameVerdictError(err)
	}
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusOK, pages.WidgetCSATThanks())
	}
	return htmx.Render(c, http.StatusOK, pages.WidgetEndedPage(widgetFrame(a), pages.WidgetCSAT{Key: row.PublicKey}))
}

// widgetFeedbackFrame records the visitor's thumbs up or down (and comment) on an answer:
// 204 when stored.
func (s *Handler) widgetFeedbackFrame(c echo.Context) error {
	row, _, err := s.widgetFrameAssistant(c)
	if err != nil || row == nil {
		return err
	}
	conv, _, err := s.widgetFrameConversation(c, row, c.FormValue("token"), widget.KindSession)
	if err != nil {
		return err
	}
	msgID, err := strconv.ParseInt(c.Param("msg"), 10, 64)
	if err != nil {
		return frameVerdictError(store.ErrNotFound)
	}
	_, lim := s.widgetLimits()
	if err := s.widgetRateLimit(c, lim, row.ID); err != nil {
		return err
	}
	if _, err := s.Conversations.Feedback(c.Request().Context(), conv, msgID, c.FormValue("rating"), c.FormValue("comment")); err != nil {
		return frameVerdictError(err)
	}
	return c.NoContent(http.StatusNoContent)
}
