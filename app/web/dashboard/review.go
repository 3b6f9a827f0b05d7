package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/components"
	"github.com/parleyhq/parley/views/pages"
)

// The review on the conversation page (issue 14 items 4 and 6): status, assignee and tags
// (the bar), notes, and each message's note and correction. The bar's and the notes' forms
// answer htmx with their fragment; every form works without JavaScript (303 back to the
// page). Agents and up change (the route table); viewers see.

var reviewLabels = map[string]string{
	model.ReviewUnreviewed: "Unreviewed",
	model.ReviewReviewed:   "Reviewed",
	model.ReviewFlagged:    "Flagged",
}

// reviewButtons are the status buttons' labels, in the order of model.ReviewStatuses.
var reviewButtons = map[string]string{
	model.ReviewUnreviewed: "Unreviewed",
	model.ReviewReviewed:   "Reviewed (r)",
	model.ReviewFlagged:    "Flag (f)",
}

func canReview(c echo.Context) bool {
	return current(c).Role.AtLeast(routenames.Lookup(routenames.ConversationReview).Access.Role())
}

// reviewView is the review panel of a conversation, and its messages' reviews.
func (s *Handler) reviewView(c echo.Context, conv *store.Conversation, rd *review.Detail) *pages.ReviewView {
	r := &pages.ReviewView{
		ConvID: conv.ID, CSRF: csrfToken(c), CanEdit: canReview(c),
		Status: conv.ReviewStatus, StatusLabel: reviewLabels[conv.ReviewStatus],
		ReviewedBy: conv.ReviewedBy, ReviewedAt: conv.ReviewedAt,
	}
	if r.StatusLabel == "" {
		r.Status, r.StatusLabel = model.ReviewUnreviewed, reviewLabels[model.ReviewUnreviewed]
	}
	for _, st := range model.ReviewStatuses {
		r.Statuses = append(r.Statuses, pages.Option{Value: st, Label: reviewButtons[st]})
	}
	for _, m := range rd.Members {
		r.Members = append(r.Members, pages.Option{Value: strconv.FormatInt(m.UserID, 10), Label: model.PersonName(m.Name, m.Email)})
	}
	if rd.Assignee != nil {
		r.AssigneeID, r.AssigneeName = rd.Assignee.UserID, model.PersonName(rd.Assignee.Name, rd.Assignee.Email)
	}
	for _, t := range rd.Tags {
		r.Tags = append(r.Tags, pages.TagView{ID: t.ID, Name: t.Name, Color: t.Color})
	}
	for _, t := range rd.AllTags {
		r.AllTags = append(r.AllTags, t.Name)
	}
	for _, n := range rd.Notes {
		nv := pages.NoteView{ID: n.ID, Text: n.Text, Author: n.AuthorName, At: n.CreatedAt}
		if n.MessageID != nil {
			nv.MessageID = *n.MessageID
		}
		r.Notes = append(r.Notes, nv)
	}
	return r
}

// reviewMessages gives each message of the page its review: correction, notes, actions.
func reviewMessages(c echo.Context, conv *store.Conversation, rd *review.Detail, msgs []components.MsgView) {
	notes := map[int64][]components.MsgNote{}
	if rd != nil {
		for _, n := range rd.Notes {
			if n.MessageID != nil {
				notes[*n.MessageID] = append(notes[*n.MessageID], components.MsgNote{Text: n.Text, Author: n.AuthorName, At: n.CreatedAt})
			}
		}
	}
	csrf, can := csrfToken(c), canReview(c)
	for i := range msgs {
		m := &msgs[i]
		r := &components.MsgReview{
			CSRF: csrf, CanEdit: can, Correctable: m.Role == model.RoleAssistant, Notes: notes[m.ID],
			NoteURL:      routenames.URL(routenames.ConversationNotes, conv.ID),
			CorrectURL:   routenames.URL(routenames.ConversationCorrection, conv.ID, m.ID),
			UncorrectURL: routenames.URL(routenames.ConversationCorrectionDelete, conv.ID, m.ID),
		}
		if rd != nil {
			if cr, ok := rd.Corrections[m.ID]; ok {
				r.Correction = &components.MsgCorrection{Text: cr.Text, Author: cr.AuthorName, At: cr.UpdatedAt}
			}
		}
		m.Review = r
	}
}

// reviewDetail fills the page's review: the panel, the neighbours of the list it was
// opened from (?from=), and its messages' reviews.
func (s *Handler) reviewDetail(c echo.Context, conv *store.Conversation, d *pages.ConvDetail) error {
	ctx := c.Request().Context()
	rd, err := s.Review.Detail(ctx, conv)
	if err != nil {
		return err
	}
	d.Review = s.reviewView(c, conv, rd)
	if q := c.QueryParams(); q.Has("from") {
		from := q.Get("from")
		prev, next, err := s.Review.Neighbours(ctx, conv, from)
		if err != nil {
			return err
		}
		d.Review.From = from
		link := func(id int64) string {
			if id == 0 {
				return ""
			}
			return routenames.URL(routenames.Conversation, id) + "?from=" + url.QueryEscape(from)
		}
		d.Review.PrevURL, d.Review.NextURL = link(prev), link(next)
	}
	reviewMessages(c, conv, rd, d.Messages)
	return nil
}

// reviewAnswer answers a change of the review: the bar (or the notes) for htmx, else back
// to the page (at the message, for a message's form). A wrong value is shown in the bar
// (422), or as the error page without htmx.
func (s *Handler) reviewAnswer(c echo.Context, conv *store.Conversation, err error, notes bool, anchor string) error {
	var fe *review.FieldError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "No such conversation.")
	case err != nil && !errors.As(err, &fe):
		return err
	}
	if c.Request().Header.Get("HX-Request") != "true" {
		if fe != nil {
			return echo.NewHTTPError(http.StatusUnprocessableEntity, fe.Error())
		}
		return c.Redirect(http.StatusSeeOther, backToConversation(c, conv.ID)+anchor)
	}
	cur, gerr := s.Store.GetConversation(c.Request().Context(), conv.WorkspaceID, conv.ID)
	if gerr != nil {
		return gerr
	}
	rd, gerr := s.Review.Detail(c.Request().Context(), cur)
	if gerr != nil {
		return gerr
	}
	r := s.reviewView(c, cur, rd)
	status := http.StatusOK
	if fe != nil {
		r.Error, status = fe.Error(), http.StatusUnprocessableEntity
	}
	if notes {
		return htmx.Render(c, status, pages.ReviewNotes(*r, false))
	}
	return htmx.Render(c, status, pages.ReviewBar(*r, false))
}

// conversationReview sets the status (status=) and/or the assignee (assignee=: a member's
// user id, empty for nobody) of a conversation.
func (s *Handler) conversationReview(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	ch := review.Change{Status: form.Get("status")}
	if form.Has("assignee") {
		ch.SetAssignee = true
		if a := strings.TrimSpace(form.Get("assignee")); a != "" {
			id, perr := strconv.ParseInt(a, 10, 64)
			if perr != nil || id <= 0 {
				id = -1 // not a member
			}
			ch.AssigneeID = id
		}
	}
	err = s.Review.Update(c.Request().Context(), conv.WorkspaceID, conv.ID, ch)
	return s.reviewAnswer(c, conv, err, false, "")
}

// conversationTagAdd puts a tag (tag=, created when new) on the conversation.
func (s *Handler) conversationTagAdd(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	_, err = s.Review.Tag(c.Request().Context(), conv.WorkspaceID, conv.ID, c.FormValue("tag"))
	return s.reviewAnswer(c, conv, err, false, "")
}

// conversationTagRemove takes a tag (tag=) off the conversation.
func (s *Handler) conversationTagRemove(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	err = s.Review.Untag(c.Request().Context(), conv.WorkspaceID, conv.ID, c.FormValue("tag"))
	return s.reviewAnswer(c, conv, err, false, "")
}

// conversationNote writes a note (text=) on the conversation or on one of its messages
// (message_id=).
func (s *Handler) conversationNote(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	var msg int64
	anchor := ""
	if v := strings.TrimSpace(c.FormValue("message_id")); v != "" {
		if msg, err = strconv.ParseInt(v, 10, 64); err != nil || msg <= 0 {
			msg = -1
		}
		anchor = "#" + components.MsgID(msg)
	}
	_, err = s.Review.AddNote(c.Request().Context(), conv.WorkspaceID, conv.ID, c.FormValue("text"), msg)
	return s.reviewAnswer(c, conv, err, true, anchor)
}

// messageParam reads :msg; anything but a positive integer is a 404.
func messageParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("msg"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such message.")
	}
	return id, nil
}

// conversationCorrection marks an assistant message a bad answer with the answer it should
// have given (text=), replacing its earlier correction.
func (s *Handler) conversationCorrection(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	msg, err := messageParam(c)
	if err != nil {
		return err
	}
	_, err = s.Review.Correct(c.Request().Context(), conv.WorkspaceID, conv.ID, msg, c.FormValue("text"))
	return s.reviewAnswer(c, conv, err, false, "#"+components.MsgID(msg))
}

// conversationCorrectionDelete removes a message's correction.
func (s *Handler) conversationCorrectionDelete(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	msg, err := messageParam(c)
	if err != nil {
		return err
	}
	err = s.Review.Uncorrect(c.Request().Context(), conv.WorkspaceID, conv.ID, msg)
	return s.reviewAnswer(c, conv, err, false, "#"+components.MsgID(msg))
}

// backToConversation is the conversation's page to go back to after a plain form post: with
// the list it was opened from (?from= of the page that posted), so that j/k still follow it.
func backToConversation(c echo.Context, id int64) string {
	to := routenames.URL(routenames.Conversation, id)
	if ref, err := url.Parse(c.Request().Referer()); err == nil && ref.Path == to {
		if from := ref.Query().Get("from"); from != "" {
			return to + "?from=" + url.QueryEscape(from)
		}
	}
	return to
}
