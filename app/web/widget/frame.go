package widget

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/ratelimit"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/app/web/sse"
	"github.com/parleyhq/parley/app/widget"
	"github.com/parleyhq/parley/views/components"
	"github.com/parleyhq/parley/views/layouts"
	"github.com/parleyhq/parley/views/pages"
)

// The web widget's iframe pages (/widget/...). They are framed by other sites, so:
//   - they answer Content-Security-Policy: frame-ancestors <the assistant's allowed origins>
//     (frame-ancestors 'none' when there are none) and no X-Frame-Options; the global secure
//     headers skip them (IsFrame, used by the server's secure headers);
//   - they cannot rely on the dashboard's cookies (a cross-site iframe may not send them):
//     the page carries signed tokens instead (app/widget). A start token (hidden field of the
//     pre-chat form) lets one visitor start a session from the page Parley served; a session
//     token (hidden field of the composer) writes to one conversation; a reply token (in the
//     URL of a reply stream, since EventSource sends no headers) reads one reply for 30
//     minutes. A forged cross-site POST knows none of them: that is the CSRF protection of
//     these routes.

// widgetFrameCSP is the policy of the iframe pages; %s is the frame-ancestors source list.
const widgetFrameCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors %s"

// widgetBodyLimit bounds the widget's request bodies (a message is at most 4,000 characters).
var widgetBodyLimit = middleware.BodyLimit("64K")

// IsFrame reports the iframe pages, which set their own framing headers.
func IsFrame(c echo.Context) bool {
	return strings.HasPrefix(c.Request().URL.Path, "/widget/")
}

// widgetFrameHeaders sets the headers of every iframe page; the handler narrows
// frame-ancestors to the assistant's origins once it knows the assistant.
func widgetFrameHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", fmt.Sprintf(widgetFrameCSP, "'none'"))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

func (s *Handler) widgetSessions() *widget.Sessions {
	return &widget.Sessions{Store: s.Store, Conversations: s.Conversations, Idle: s.Config.WidgetIdle}
}

func (s *Handler) widgetLimits() (sessions, messages ratelimit.Rule) {
	return ratelimit.PerMinute(ruleSessions, s.Config.WidgetRateSessions), ratelimit.PerMinute(ruleMessages, s.Config.WidgetRateMessages)
}

// widgetAssistant loads the enabled assistant of a public key.
func (s *Handler) widgetAssistant(ctx context.Context, key string) (*store.Assistant, *model.Assistant, error) {
	if key == "" || len(key) > 100 {
		return nil, nil, errWidgetAssistant()
	}
	row, err := s.Store.AssistantByPublicKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errWidgetAssistant()
	}
	if err != nil {
		return nil, nil, err
	}
	a := row.AsModel()
	if widget.Usable(row) != nil {
		return row, a, errWidgetAssistant()
	}
	return row, a, nil
}

func errWidgetAssistant() *apierr.Error {
	return apierr.New(http.StatusNotFound, "assistant_not_found", "This chat is not available: no enabled assistant has this key.")
}

// widgetRateLimit counts one event of this client (an IPv6 client by its /64) for this
// assistant; over the limit it sets Retry-After and returns a 429. While Redis does not answer,
// the in-process limiter counts instead: the limit never turns off.
func (s *Handler) widgetRateLimit(c echo.Context, rule ratelimit.Rule, assistantID int64) error {
	d := s.Limits.Allow(c.Request().Context(), rule, strconv.FormatInt(assistantID, 10)+":"+ratelimit.ClientKey(c.RealIP()))
	if d.Allowed {
		return nil
	}
	secs := d.RetryAfterSeconds()
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	what := "new chats"
	if rule.Name == ruleMessages {
		what = "messages"
	}
	return apierr.New(http.StatusTooManyRequests, "rate_limited", "Too many %s from your network: at most %d a minute. Try again in %d seconds.", what, rule.Burst, secs)
}

// idleText says how long a widget conversation may be quiet, for messages.
func idleText(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return d.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

func (s *Handler) errWidgetEnded() *apierr.Error {
	return apierr.New(http.StatusGone, "session_ended", "This chat has ended (no message for %s). Reload the page to start a new one.", idleText(s.Config.WidgetIdle))
}

// widgetMessageFor checks and stores a visitor's message: the rate limit, the text (not
// empty, at most 4,000 characters), and that the conversation still takes messages (ending
// it when it has idled out). Nothing is stored when any check fails.
func (s *Handler) widgetMessageFor(c echo.Context, a *store.Assistant, conv *store.Conversation, text string) (*store.Message, error) {
	_, lim := s.widgetLimits()
	if err := s.widgetRateLimit(c, lim, a.ID); err != nil {
		return nil, err
	}
	t, err := chat.ValidateMessage(text)
	if err != nil {
		return nil, apierr.New(http.StatusBadRequest, "invalid_field", "text: %s.", err.Error())
	}
	ctx := c.Request().Context()
	if err := s.widgetSessions().Check(ctx, conv); errors.Is(err, widget.ErrEnded) {
		return nil, s.errWidgetEnded()
	} else if err != nil {
		return nil, err
	}
	m := &store.Message{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Role: "user", Content: t}
	if _, err := s.Conversations.AddMessage(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// widgetReplyOnce produces the reply to a visitor's message once: the first caller takes a
// Redis lock and asks the LLM (streaming to onDelta when not nil); a concurrent caller (a
// reconnecting stream) waits for the stored reply. The reply is stored even when the visitor
// goes away mid-stream.
func (s *Handler) widgetReplyOnce(ctx context.Context, conv *store.Conversation, a *store.Assistant, userMsg int64, onDelta func(string) error) (chat.Reply, error) {
	return s.Chat.ReplyOnce(ctx, conv, a, userMsg, onDelta)
}

// ---- view models ----

func widgetFrame(a *model.Assistant) layouts.WidgetFrame {
	col := widget.Color(a)
	return layouts.WidgetFrame{Key: a.PublicKey, Title: widget.Title(a), Color: col, TextColor: widget.TextColor(col)}
}

// widgetVisible reports the roles a visitor sees.
func widgetVisible(m *store.Message) bool {
	return m.Role == "user" || m.Role == "assistant" || m.Role == "human"
}

func widgetMsgView(m *store.Message, title string) components.WidgetMsg {
	label := title
	if m.Role == "user" {
		label = "You"
	}
	content := m.Content
	if content == "" && m.ContentType != "" && m.ContentType != "text" {
		content = "[" + m.ContentType + "]"
	}
	return components.WidgetMsg{ID: m.ID, Role: m.Role, Label: label, Content: content, CreatedAt: m.CreatedAt}
}

// setWidgetCSP lets the assistant's allowed origins, and only them, frame the page.
func setWidgetCSP(c echo.Context, a *model.Assistant) {
	if a != nil {
		c.Response().Header().Set("Content-Security-Policy", fmt.Sprintf(widgetFrameCSP, widget.FrameAncestors(a)))
	}
}

// widgetFrameAssistant loads the page's assistant and narrows frame-ancestors to it.
func (s *Handler) widgetFrameAssistant(c echo.Context) (*store.Assistant, *model.Assistant, error) {
	row, a, err := s.widgetAssistant(c.Request().Context(), c.Param("key"))
	setWidgetCSP(c, a)
	if err != nil {
		var ae *apierr.Error
		if errors.As(err, &ae) && a != nil && !htmx.IsFragment(c) {
			return nil, nil, htmx.Render(c, ae.Status, pages.WidgetErrorPage(widgetFrame(a), "This chat is not available at the moment."))
		}
		return nil, nil, err
	}
	return row, a, nil
}

// widgetChatURL is the chat page of a conversation: the session token in the URL is what
// resumes it (widget-frame.js keeps it in the iframe's storage and takes it out of the URL;
// the request log redacts it).
func widgetChatURL(key, visitor, token string) string {
	return routenames.URL(routenames.WidgetPage, key) + "?visitor=" + url.QueryEscape(visitor) + "&token=" + url.QueryEscape(token)
}

// errIdentityOnly is the page of an assistant that chats only with verified visitors: the
// iframe cannot prove who its visitor is, so it starts nothing (a session token still resumes).
func errIdentityOnly(c echo.Context, a *model.Assistant) error {
	return htmx.Render(c, http.StatusForbidden, pages.WidgetIdentityOnlyPage(widgetFrame(a)))
}

// widgetTokenConversation is the open conversation a session token names, for the page's
// assistant; an invalid or expired token, or a conversation that has ended (or just idled
// out), is ErrNotFound.
func (s *Handler) widgetTokenConversation(ctx context.Context, row *store.Assistant, token string) (*store.Conversation, error) {
	claims, err := widget.Verify(s.Keys.Signing, token, widget.KindSession, time.Now())
	if err != nil || claims.AssistantID != row.ID || claims.WorkspaceID != row.WorkspaceID {
		return nil, store.ErrNotFound
	}
	conv, err := s.Store.WidgetConversation(ctx, row.WorkspaceID, row.ID, claims.ConversationID)
	if err != nil {
		return nil, err
	}
	if err := s.widgetSessions().Check(ctx, conv); errors.Is(err, widget.ErrEnded) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	return conv, nil
}

// ---- handlers ----

// widgetPage is the iframe's page. Only a session token (?token=, which widget-frame.js
// sends from the iframe's storage) resumes a conversation; the visitor id alone never does:
// without a valid token the page is the pre-chat form (or the first message and a composer,
// when the assistant has no form) of a new conversation, under a fresh visitor id, and shows
// nothing of any earlier one.
func (s *Handler) widgetPage(c echo.Context) error {
	row, a, err := s.widgetFrameAssistant(c)
	if err != nil || row == nil {
		return err
	}
	if !widget.ValidVisitorID(c.QueryParam("visitor")) {
		return htmx.Render(c, http.StatusBadRequest, pages.WidgetErrorPage(widgetFrame(a), "This chat must be opened through the website's chat button."))
	}
	if tok := c.QueryParam("token"); tok != "" {
		conv, err := s.widgetTokenConversation(c.Request().Context(), row, tok)
		if err == nil {
			return s.renderWidgetChat(c, row, a, conv)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if row.IdentityRequired {
		return errIdentityOnly(c, a)
	}
	return s.renderWidgetStart(c, http.StatusOK, row, a, widget.NewVisitorID(), nil, nil, "", "", "")
}

func (s *Handler) renderWidgetStart(c echo.Context, status int, row *store.Assistant, a *model.Assistant, visitor string, values, errs map[string]string, text, textErr, msg string) error {
	d := pages.WidgetStart{WidgetFrame: widgetFrame(a), StartToken: widget.StartToken(s.Keys.Signing, row, visitor, time.Now()),
		FirstMessage: a.FirstMessage, Text: text, TextError: textErr, Error: msg}
	for _, f := range a.PrechatFields {
		lbl := f.Label
		if lbl == "" {
			lbl = f.Name
		}
		d.Fields = append(d.Fields, pages.WidgetField{Name: f.Name, Label: lbl, Type: f.Type, Required: f.Required, Value: values[f.Name], Error: errs[f.Name]})
	}
	return htmx.Render(c, status, pages.WidgetStartPage(d))
}

func (s *Handler) renderWidgetChat(c echo.Context, row *store.Assistant, a *model.Assistant, conv *store.Conversation) error {
	page, err := s.Store.Messages(c.Request().Context(), conv.WorkspaceID, conv.ID, "", 200)
	if err != nil {
		return err
	}
	fb, err := s.Store.Feedback(c.Request().Context(), conv.WorkspaceID, conv.ID)
	if err != nil {
		return err
	}
	d := pages.WidgetChat{WidgetFrame: widgetFrame(a), ConversationID: conv.ID, Token: widget.SessionToken(s.Keys.Signing, conv, time.Now())}
	title := d.Title
	var last *store.Message
	for i := range page.Messages {
		m := &page.Messages[i]
		if !widgetVisible(m) {
			continue
		}
		v := widgetMsgView(m, title)
		v.Rating = fb[m.ID].Rating
		d.Messages = append(d.Messages, v)
		last = m
	}
	if last != nil && last.Role == "user" && conv.AIEnabled {
		d.PendingFor = last.ID
		d.ReplyToken = widget.ReplyToken(s.Keys.Signing, conv, last.ID, time.Now())
	}
	if !conv.AIEnabled {
		d.Notice = "A person from our team will answer here."
	}
	return htmx.Render(c, http.StatusOK, pages.WidgetChatPage(d))
}

// widgetStart starts a session from the page's form: the pre-chat answers (validated, errors
// beside their fields), or the visitor's first message when the assistant has no form. It
// redirects to the chat with the new conversation's session token. It always starts a new
// conversation (widget-frame.js sends the form once).
func (s *Handler) widgetStart(c echo.Context) error {
	row, a, err := s.widgetFrameAssistant(c)
	if err != nil || row == nil {
		return err
	}
	ctx := c.Request().Context()
	claims, err := widget.Verify(s.Keys.Signing, c.FormValue("start_token"), widget.KindStart, time.Now())
	if err != nil || claims.AssistantID != row.ID || claims.WorkspaceID != row.WorkspaceID {
		return htmx.Render(c, http.StatusForbidden, pages.WidgetErrorPage(widgetFrame(a), "This form has expired. Reload the page to start the chat."))
	}
	if row.IdentityRequired {
		return errIdentityOnly(c, a)
	}
	// The start token's visitor id is one this server made for the page: a new conversation,
	// never a way into an earlier one (a second tab resumes with its stored session token).
	visitor := claims.Visitor
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
	text := ""
	if len(a.PrechatFields) == 0 {
		t, err := chat.ValidateMessage(c.FormValue("text"))
		if err != nil {
			return s.renderWidgetStart(c, http.StatusBadRequest, row, a, visitor, answers, nil, c.FormValue("text"), "Cannot send: "+err.Error()+".", "")
		}
		text = t
	}
	sessLim, _ := s.widgetLimits()
	if err := s.widgetRateLimit(c, sessLim, row.ID); err != nil {
		return s.widgetStartError(c, row, a, visitor, answers, text, err)
	}
	conv, err := s.widgetSessions().Start(ctx, row, visitor, answers)
	var fe widget.FieldErrors
	if errors.As(err, &fe) {
		msg := ""
		for name, e := range fe {
			if _, ok := findField(a.PrechatFields, name); !ok {
				msg = e
			}
		}
		return s.renderWidgetStart(c, http.StatusBadRequest, row, a, visitor, answers, fe, text, "", msg)
	}
	if err != nil {
		return err
	}
	if text != "" {
		m := &store.Message{WorkspaceID: conv.WorkspaceID, ConversationID: conv.ID, Role: "user", Content: text}
		if _, err := s.Conversations.AddMessage(ctx, m); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, widgetChatURL(row.PublicKey, visitor, widget.SessionToken(s.Keys.Signing, conv, time.Now())))
}

func (s *Handler) widgetStartError(c echo.Context, row *store.Assistant, a *model.Assistant, visitor string, answers map[string]string, text string, err error) error {
	var ae *apierr.Error
	if !errors.As(err, &ae) {
		return err
	}
	return s.renderWidgetStart(c, ae.Status, row, a, visitor, answers, nil, text, "", ae.Message)
}

func findField(fs []model.PrechatField, name string) (model.PrechatField, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return model.PrechatField{}, false
}

// widgetFrameConversation resolves the token of an iframe request (a session token in the
// form field "token", or a reply token in the query of a reply stream) to its conversation,
// which must belong to the page's assistant.
func (s *Handler) widgetFrameConversation(c echo.Context, row *store.Assistant, token, kind string) (*store.Conversation, widget.Claims, error) {
	claims, err := widget.Verify(s.Keys.Signing, token, kind, time.Now())
	if errors.Is(err, widget.ErrTokenExpired) {
		return nil, claims, apierr.New(http.StatusUnauthorized, "token_expired", "This chat page has expired. Reload the page to continue.")
	}
	if err != nil {
		return nil, claims, apierr.New(http.StatusUnauthorized, "invalid_token", "This chat page is not valid any more. Reload the page to continue.")
	}
	if claims.AssistantID != row.ID || claims.WorkspaceID != row.WorkspaceID {
		return nil, claims, apierr.New(http.StatusNotFound, "not_found", "No such chat.")
	}
	conv, err := s.Store.WidgetConversation(c.Request().Context(), row.WorkspaceID, row.ID, claims.ConversationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, claims, apierr.New(http.StatusNotFound, "not_found", "No such chat.")
	}
	return conv, claims, err
}

// widgetSend stores the visitor's message and answers with it and a pending reply that
// streams from widgetReply. Errors are plain text that widget-frame.js shows.
func (s *Handler) widgetSend(c echo.Context) error {
	row, a, err := s.widgetFrameAssistant(c)
	if err != nil || row == nil {
		return err
	}
	conv, _, err := s.widgetFrameConversation(c, row, c.FormValue("token"), widget.KindSession)
	if err != nil {
		return err
	}
	m, err := s.widgetMessageFor(c, row, conv, c.FormValue("text"))
	if err != nil {
		return err
	}
	if !htmx.IsFragment(c) {
		return c.Redirect(http.StatusSeeOther, widgetChatURL(row.PublicKey, conv.Customer, widget.SessionToken(s.Keys.Signing, conv, time.Now())))
	}
	tok := widget.ReplyToken(s.Keys.Signing, conv, m.ID, time.Now())
	return htmx.Render(c, http.StatusOK, pages.WidgetSent(widgetMsgView(m, widget.Title(a)), row.PublicKey, tok, conv.AIEnabled))
}

// widgetReply streams the reply to one visitor message as server-sent events: "delta" events
// carry the text as it is generated (HTML-escaped), "done" swaps in the stored message. A
// second stream for the same message (a reconnect, a reload) waits for it and shows it.
func (s *Handler) widgetReply(c echo.Context) error {
	row, a, err := s.widgetFrameAssistant(c)
	if err != nil || row == nil {
		return err
	}
	conv, claims, err := s.widgetFrameConversation(c, row, c.QueryParam("token"), widget.KindReply)
	if err != nil {
		return err
	}
	userMsg, err := strconv.ParseInt(c.Param("msg"), 10, 64)
	if err != nil || userMsg != claims.MessageID {
		return echo.NewHTTPError(http.StatusNotFound, "No such message.")
	}
	ctx := c.Request().Context()
	_, err = s.Conversations.CustomerMessage(ctx, conv, userMsg)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such message.")
	}
	if err != nil {
		return err
	}
	stream := sse.Start(c)

	title := widget.Title(a)
	done := func(m *store.Message, errText string) {
		var mv *components.WidgetMsg
		if m != nil {
			v := widgetMsgView(m, title)
			mv = &v
		}
		var buf strings.Builder
		if err := pages.WidgetReplyDone(mv, userMsg, errText).Render(ctx, &buf); err == nil {
			_ = stream.Send("done", buf.String())
		}
	}
	if !conv.AIEnabled {
		done(nil, "")
		return nil
	}
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
	reply, err := s.widgetReplyOnce(ctx, conv, row, userMsg, onDelta)
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Error("widget reply", "err", err, "conversation_id", conv.ID)
			done(nil, "The reply could not be produced. Reload the page to try again.")
		}
		return nil
	}
	done(reply.Message, "")
	return nil
}
