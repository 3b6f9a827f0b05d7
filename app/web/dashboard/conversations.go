package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/extract"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/components"
	"github.com/parleyhq/parley/views/pages"
	"github.com/parleyhq/parley/workers"
)

// listPage is how many rows a page of the list shows.
const listPage = 50

// timelinePage is how many messages the detail loads at a time.
const timelinePage = 100

func rowOf(c *store.Conversation, now time.Time) pages.ConvRow {
	r := pages.ConvRow{
		ID: c.ID, Type: c.Type, TypeLabel: conversation.TypeLabel(c.Type),
		Customer: c.Customer, CustomerName: c.CustomerName,
		Preview: c.LastMessagePreview, PreviewRole: roleLabel(c.LastMessageRole),
		MessageCount: c.MessageCount, CostCents: model.Money(c.CostNanos).Cents(), CostExact: model.Money(c.CostNanos).Exact(),
		Tokens: c.PromptTokens + c.CompletionTokens, Assistant: c.AssistantName,
		StartedAt: c.StartedAt, LastAt: c.LastMessageAt, Window: windowView(c, now), Charged: c.Charged,
		Outcome: c.Outcome, OutcomeLabel: pages.JudgementLabel(c.Outcome),
		Sentiment: c.Sentiment, SentimentLabel: pages.JudgementLabel(c.Sentiment), Summary: c.Summary,
	}
	vars := c.VariableMap()
	for k, v := range vars {
		r.Vars = append(r.Vars, pages.KV{Name: k, Value: v})
	}
	sort.Slice(r.Vars, func(i, j int) bool { return r.Vars[i].Name < r.Vars[j].Name })
	return r
}

func windowView(c *store.Conversation, now time.Time) components.WindowView {
	w := conversation.WindowOf(c, now)
	return components.WindowView{Applies: w.Applies, Known: w.Known, Open: w.Open, ExpiresAt: w.ExpiresAt, Remaining: conversation.Remaining(w.ExpiresAt.Sub(now))}
}

func roleLabel(role string) string {
	switch role {
	case "user":
		return "Customer"
	case "assistant":
		return "Assistant"
	case "human":
		return "Agent"
	case "system":
		return "System"
	case "tool":
		return "Tool"
	}
	return role
}

// listData loads one page of the list for the request's filters.
func (s *Handler) listData(c echo.Context) (pages.ConvList, conversation.Query, error) {
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	now := time.Now()
	q, f, ferr := conversation.ParseQueryFor(c.QueryParams(), now, current(c).User.ID)
	d := pages.ConvList{CSRF: csrfToken(c)}
	counts, err := s.Store.ConversationCounts(ctx, ws)
	if err != nil {
		return d, q, err
	}
	d.Total = counts.Total
	d.Filters = pages.ConvFilters{Type: q.Type, Customer: q.Customer, Range: q.Range, From: q.From, To: q.To, Var: q.Var, Value: q.Value, Q: q.Q, Sort: q.Sort, Closing: q.Closing, Missing: q.Missing,
		Outcome: q.Outcome, Sentiment: q.Sentiment, Review: q.Review, Tag: q.Tag, Assignee: q.Assignee,
		CSATMin: q.CSATMin, CSATMax: q.CSATMax, EstimateMin: q.EstimateMin, EstimateMax: q.EstimateMax, NeedsReview: q.NeedsReview}
	if q.Assistant > 0 {
		d.Filters.Assistant = strconv.FormatInt(q.Assistant, 10)
	}
	if ferr != nil {
		var fe *conversation.FieldError
		if errors.As(ferr, &fe) {
			d.Filters.Error, d.Filters.ErrorParam = "Filter "+fe.Param+" "+fe.Msg+".", fe.Param
		} else {
			return d, q, ferr
		}
		q = conversation.Query{}
		f = store.Filter{}
	}
	vals := q.Values()
	d.QueryString = vals.Encode()
	d.Filtered = q.Active()
	d.EventsURL = routenames.URL(routenames.ConversationsEvents) + "?" + d.QueryString
	rows, next, err := s.Conversations.List(ctx, ws, f, q.Cursor, listPage)
	if errors.Is(err, store.ErrBadCursor) {
		d.Filters.Error = "This page link is out of date; showing the first page."
		rows, next, err = s.Conversations.List(ctx, ws, f, "", listPage)
	}
	var fe *conversation.FieldError
	if errors.As(err, &fe) {
		d.Filters.Error, d.Filters.ErrorParam = "Filter "+fe.Param+" "+fe.Msg+".", fe.Param
		rows, next, err = nil, "", nil
	}
	if err != nil {
		return d, q, err
	}
	for i := range rows {
		d.Rows = append(d.Rows, rowOf(&rows[i], now))
		d.Rows[i].From = d.QueryString // issue 14: review: j/k on the page follow this list
	}
	if next != "" {
		mv := q.Values()
		mv.Set("cursor", next)
		d.MoreURL = routenames.URL(routenames.Conversations) + "?" + mv.Encode()
		mv.Set("rows", "1")
		d.MoreHXURL = routenames.URL(routenames.Conversations) + "?" + mv.Encode()
	}
	return d, q, nil
}

func (s *Handler) conversationsList(c echo.Context) error {
	d, _, err := s.listData(c)
	if err != nil {
		return err
	}
	if htmx.IsFragment(c) {
		if c.QueryParam("rows") == "1" && c.QueryParam("cursor") != "" {
			return htmx.Render(c, http.StatusOK, pages.ConvRows(d.Rows, d.MoreURL, d.MoreHXURL))
		}
		// Push the canonical URL (no empty fields), so that history and shared links stay clean.
		c.Response().Header().Set("HX-Push-Url", routenames.URL(routenames.Conversations)+queryPrefix(d.QueryString))
		return htmx.Render(c, http.StatusOK, pages.ConvResults(d))
	}
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	as, err := s.Store.Assistants(ctx, ws)
	if err != nil {
		return err
	}
	for _, a := range as {
		d.Filters.Assistants = append(d.Filters.Assistants, pages.Option{Value: strconv.FormatInt(a.ID, 10), Label: a.Name})
	}
	if d.Filters.VarNames, err = s.Store.VariableNames(ctx, ws); err != nil {
		return err
	}
	if err := s.judgementControls(c, &d); err != nil {
		return err
	}
	p, err := s.page(c, "Conversations", "conversations")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.ConversationsPage(p, d))
}

// conversationID reads :id; anything but a positive integer is a 404.
func conversationID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such conversation.")
	}
	return id, nil
}

func msgView(m *store.Message) components.MsgView {
	v := components.MsgView{ID: m.ID, Role: m.Role, RoleLabel: roleLabel(m.Role), Author: m.AuthorName, Content: m.Content, ContentType: m.ContentType,
		CreatedAt: m.CreatedAt, Status: m.Status, StatusError: m.StatusError, PromptTokens: m.PromptTokens,
		CompletionTokens: m.CompletionTokens, CostExact: model.Money(m.CostNanos).Exact(), Error: m.Error}
	v.ShowUsage = m.Role == "assistant" && (m.PromptTokens > 0 || m.CompletionTokens > 0 || m.CostNanos > 0)
	if m.AssistantVersion != nil {
		v.Version = *m.AssistantVersion
	}
	if m.ContentType != "" && m.ContentType != "text" && m.Content == "" {
		v.Content = "unsupported message (" + m.ContentType + ")"
	}
	return v
}

var sourceLabels = map[string]string{"prechat": "Pre-chat form", "extracted": "Extracted by AI", "api": "API"}

func (s *Handler) detailData(c echo.Context, conv *store.Conversation, withMessages bool) (pages.ConvDetail, error) {
	ctx := c.Request().Context()
	now := time.Now()
	d := pages.ConvDetail{
		ID: conv.ID, Type: conv.Type, TypeLabel: conversation.TypeLabel(conv.Type), Assistant: conv.AssistantName,
		Customer: conv.Customer, CustomerName: conv.CustomerName, MessageCount: conv.MessageCount, UserMessageCount: conv.UserMessageCount,
		PromptTokens: conv.PromptTokens, CompletionTokens: conv.CompletionTokens, CachedTokens: conv.CachedTokens,
		CostCents: model.Money(conv.CostNanos).Cents(), CostExact: model.Money(conv.CostNanos).Exact(), Charged: conv.Charged,
		StartedAt: conv.StartedAt, LastAt: conv.LastMessageAt, Window: windowView(conv, now), WindowClosedAt: conv.WindowClosedAt,
		LastError: conv.LastError, CSRF: csrfToken(c),
		EventsURL: routenames.URL(routenames.ConversationEvents, conv.ID),
		End:       endView(c, conv),
		CSAT:      csatView(conv),
	}
	if conv.AssistantVersion != nil {
		d.Version = *conv.AssistantVersion
	}
	vars, err := s.Store.Variables(ctx, conv.WorkspaceID, conv.ID)
	if err != nil {
		return d, err
	}
	for _, v := range vars {
		vv := pages.VarView{Name: v.Name, Value: v.Value, Source: v.Source, SourceLabel: sourceLabels[v.Source], UpdatedAt: v.UpdatedAt}
		if v.MessageID != nil {
			vv.MessageID = *v.MessageID
		}
		d.Vars = append(d.Vars, vv)
	}
	if conv.Type == model.TypeWhatsApp { // whatsapp_ui.go
		if d.WA, err = s.waPanel(c, conv, vars); err != nil {
			return d, err
		}
	}
	if d.Evaluation, err = s.evalPanel(ctx, conv, d.CSRF); err != nil { // evaluate.go
		return d, err
	}
	if withMessages {
		page, err := s.Store.Messages(ctx, conv.WorkspaceID, conv.ID, "", timelinePage)
		if err != nil {
			return d, err
		}
		fb, err := s.Store.Feedback(ctx, conv.WorkspaceID, conv.ID)
		if err != nil {
			return d, err
		}
		for i := range page.Messages {
			d.Messages = append(d.Messages, withFeedback(msgView(&page.Messages[i]), fb))
		}
		if page.HasOlder {
			d.OlderURL = routenames.URL(routenames.ConversationMessages, conv.ID) + "?before=" + url.QueryEscape(page.OlderCursor)
		}
	}
	if err := s.reviewDetail(c, conv, &d); err != nil { // issue 14: review (review.go)
		return d, err
	}
	if withMessages { // issue 15: replays (replays.go)
		if d.Replays, err = s.replayPanel(c, conv, d.CSRF); err != nil {
			return d, err
		}
	}
	return d, nil
}

func (s *Handler) loadConversation(c echo.Context) (*store.Conversation, error) {
	id, err := conversationID(c)
	if err != nil {
		return nil, err
	}
	conv, err := s.Store.GetConversation(c.Request().Context(), current(c).Workspace.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "No such conversation.")
	}
	return conv, err
}

func (s *Handler) conversationShow(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	d, err := s.detailData(c, conv, true)
	if err != nil {
		return err
	}
	if d.TestSet, err = s.testSetPanel(c, conv); err != nil { // issue 15: "Add to test set"
		return err
	}
	title := conv.Customer
	if title == "" {
		title = "Conversation " + strconv.FormatInt(conv.ID, 10)
	}
	p, err := s.page(c, title, "conversations")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.ConversationPage(p, d))
}

// conversationMessages serves older messages: a fragment for htmx, else the page of messages
// as a full conversation page would be too large, so a plain HTML list.
func (s *Handler) conversationMessages(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	page, err := s.Store.Messages(c.Request().Context(), conv.WorkspaceID, conv.ID, c.QueryParam("before"), timelinePage)
	if errors.Is(err, store.ErrBadCursor) {
		return echo.NewHTTPError(http.StatusBadRequest, "The before parameter is not a message cursor.")
	}
	if err != nil {
		return err
	}
	fb, err := s.Store.Feedback(c.Request().Context(), conv.WorkspaceID, conv.ID)
	if err != nil {
		return err
	}
	msgs := make([]components.MsgView, len(page.Messages))
	for i := range page.Messages {
		msgs[i] = withFeedback(msgView(&page.Messages[i]), fb)
	}
	older := ""
	if page.HasOlder {
		older = routenames.URL(routenames.ConversationMessages, conv.ID) + "?before=" + url.QueryEscape(page.OlderCursor)
	}
	rd, err := s.Review.Detail(c.Request().Context(), conv) // issue 14: review: the messages' reviews
	if err != nil {
		return err
	}
	reviewMessages(c, conv, rd, msgs)
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusOK, pages.OlderMessages(msgs, older))
	}
	d, err := s.detailData(c, conv, false)
	if err != nil {
		return err
	}
	d.Messages, d.OlderURL = msgs, older
	p, err := s.page(c, "Older messages", "conversations")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.ConversationPage(p, d))
}

// conversationExtract queues a rerun of the conversation's variable extraction: the model
// is asked again (under a request id of its own) and the variables update when it is done.
func (s *Handler) conversationExtract(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	t, err := s.Tasks.Extract(workers.ExtractPayload{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Reason: extract.ReasonRerun}, time.Now(), 0)
	if err != nil {
		return err
	}
	if err := s.Tasks.Enqueue(c.Request().Context(), t); err != nil {
		s.Log.Error("enqueue extraction rerun", "conversation_id", conv.ID, "err", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "The job queue is not answering; try again in a moment.")
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		return c.HTML(http.StatusOK, "Extraction queued: the variables update in a few seconds.")
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversation, conv.ID))
}

func (s *Handler) conversationDelete(c echo.Context) error {
	id, err := conversationID(c)
	if err != nil {
		return err
	}
	err = s.Conversations.Delete(c.Request().Context(), current(c).Workspace.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such conversation.")
	}
	if err != nil {
		return err
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set(htmx.HeaderRedirect, routenames.URL(routenames.Conversations))
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversations))
}

func queryPrefix(qs string) string {
	if qs == "" {
		return ""
	}
	return "?" + qs
}
