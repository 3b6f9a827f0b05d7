package dashboard

import (
	"errors"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/app/web/sse"
	"github.com/parleyhq/parley/views/pages"
)

// testChatStart shows the assistants to test and the chosen one's pre-chat form.
func (s *Handler) testChatStart(c echo.Context) error {
	return s.renderTestChatStart(c, http.StatusOK, c.QueryParam("assistant"), nil, nil, "")
}

func (s *Handler) renderTestChatStart(c echo.Context, status int, chosen string, values, errs map[string]string, msg string) error {
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	as, err := s.Store.Assistants(ctx, ws)
	if err != nil {
		return err
	}
	d := pages.TestChatStart{Provider: s.Chat.LLM.Name(), CSRF: csrfToken(c), Error: msg}
	var pick *store.Assistant
	for i := range as {
		id := strconv.FormatInt(as[i].ID, 10)
		d.Assistants = append(d.Assistants, pages.Option{Value: id, Label: as[i].Name})
		if id == chosen || (pick == nil && i == 0) {
			pick = &as[i]
		}
	}
	if pick != nil {
		d.Assistant = strconv.FormatInt(pick.ID, 10)
		if err := s.testChatVersions(c, &d, pick); err != nil {
			return err
		}
		for _, f := range pick.PrechatFields {
			lbl := f.Label
			if lbl == "" {
				lbl = f.Name
			}
			d.Fields = append(d.Fields, pages.TestChatField{Name: f.Name, Label: lbl, Type: f.Type, Required: f.Required, Value: values[f.Name], Error: errs[f.Name]})
		}
	}
	rows, _, err := s.Store.ListConversations(ctx, ws, store.Filter{Type: model.TypeTest}, "", 10)
	if err != nil {
		return err
	}
	now := time.Now()
	for i := range rows {
		d.Recent = append(d.Recent, rowOf(&rows[i], now))
	}
	p, err := s.page(c, "Test Chat", "test-chat")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.TestChatStartPage(p, d))
}

// testChatCreate starts a session: a conversation of type test, its pre-chat variables, and
// the assistant's first message.
func (s *Handler) testChatCreate(c echo.Context) error {
	ctx := c.Request().Context()
	cur := current(c)
	id, err := strconv.ParseInt(c.FormValue("assistant_id"), 10, 64)
	if err != nil || id <= 0 {
		return s.renderTestChatStart(c, http.StatusBadRequest, "", nil, nil, "Choose an assistant.")
	}
	a, err := s.Store.AssistantByID(ctx, cur.Workspace.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return s.renderTestChatStart(c, http.StatusBadRequest, "", nil, nil, "That assistant does not exist (any more).")
	}
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	answers := map[string]string{}
	for k, v := range form {
		if name, ok := strings.CutPrefix(k, "prechat."); ok && len(v) > 0 {
			answers[name] = v[0]
		}
	}
	vars, errs := chat.ValidatePrechat(a.PrechatFields, answers)
	if len(errs) > 0 {
		return s.renderTestChatStart(c, http.StatusBadRequest, strconv.FormatInt(a.ID, 10), answers, errs, "")
	}
	// issue 15: the session chats with the version chosen (versions.go: testChatVersion)
	if a, err = s.testChatVersion(c, a); err != nil {
		return err
	}
	conv, err := chat.StartSession(ctx, s.Store, s.Conversations, a, model.TypeTest, "test:"+cur.User.Email, vars)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.TestChatSession, conv.ID))
}

// loadTestConversation loads a test conversation of the workspace and its assistant.
func (s *Handler) loadTestConversation(c echo.Context) (*store.Conversation, *store.Assistant, error) {
	conv, err := s.loadConversation(c)
	if err != nil {
		return nil, nil, err
	}
	if conv.Type != model.TypeTest || conv.AssistantID == nil {
		return nil, nil, echo.NewHTTPError(http.StatusNotFound, "No such test session.")
	}
	a, err := s.Store.AssistantByID(c.Request().Context(), conv.WorkspaceID, *conv.AssistantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, echo.NewHTTPError(http.StatusNotFound, "The assistant of this session was deleted.")
	}
	return conv, a, err
}

func (s *Handler) testChatShow(c echo.Context) error {
	conv, a, err := s.loadTestConversation(c)
	if err != nil {
		return err
	}
	det, err := s.detailData(c, conv, true)
	if err != nil {
		return err
	}
	d := pages.TestChatSession{ConversationID: conv.ID, AssistantID: a.ID, Assistant: a.Name, Provider: s.Chat.LLM.Name(),
		Messages: det.Messages, CSRF: csrfToken(c), Vars: det.Vars, End: det.End, Version: det.Version}
	if n := len(det.Messages); n > 0 && det.Messages[n-1].Role == "user" {
		d.PendingFor = det.Messages[n-1].ID
	}
	p, err := s.page(c, "Test Chat", "test-chat")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.TestChatPage(p, d))
}

// testChatSend stores the customer's message and answers with it and a pending reply that
// streams from testChatReply.
func (s *Handler) testChatSend(c echo.Context) error {
	conv, _, err := s.loadTestConversation(c)
	if err != nil {
		return err
	}
	text, err := chat.ValidateMessage(c.FormValue("text"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "Cannot send: "+err.Error()+".")
	}
	m := &store.Message{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Role: "user", Content: text}
	if _, err := s.Conversations.AddMessage(c.Request().Context(), m); err != nil {
		return err
	}
	if !htmx.IsFragment(c) {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.TestChatSession, conv.ID))
	}
	return htmx.Render(c, http.StatusOK, pages.SentMessage(msgView(m), conv.ID))
}

// testChatReply streams the reply to one user message: "delta" events carry the text as it
// is generated (escaped), "done" the stored message with its tokens and cost. The reply is
// produced once per user message: a second stream (a reload) waits for it and shows it.
func (s *Handler) testChatReply(c echo.Context) error {
	conv, a, err := s.loadTestConversation(c)
	if err != nil {
		return err
	}
	userMsg, _ := strconv.ParseInt(c.Param("msg"), 10, 64)
	ctx := c.Request().Context()
	_, err = s.Conversations.CustomerMessage(ctx, conv, userMsg)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such message.")
	}
	if err != nil {
		return err
	}
	stream := sse.Start(c)

	gone := false
	onDelta := func(d string) error {
		if gone {
			return nil
		}
		if err := stream.Send("delta", html.EscapeString(d)); err != nil {
			gone = true
		}
		return nil
	}
	// The reply is produced once and stored even when the tab closes mid-stream; a second
	// tab waits for it on the event bus.
	reply, err := s.Chat.ReplyOnce(ctx, conv, a, userMsg, onDelta)
	if ctx.Err() != nil || errors.Is(err, chat.ErrWaitTimedOut) {
		return nil
	}
	if err != nil {
		s.Log.Error("test chat reply", "err", err, "conversation_id", conv.ID)
		_ = stream.Send("done", `<div class="error">The reply could not be stored; reload to try again.</div>`)
		return nil
	}
	var buf strings.Builder
	if err := pages.ReplyDone(msgView(reply.Message), userMsg).Render(ctx, &buf); err != nil {
		return err
	}
	_ = stream.Send("done", buf.String())
	return nil
}
