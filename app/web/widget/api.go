package widget

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/convjson"
	"github.com/parleyhq/parley/app/web/jsonbody"
	"github.com/parleyhq/parley/app/web/sse"
	"github.com/parleyhq/parley/app/widget"
)

// The public widget API (/api/widget/v1), for businesses that build their own chat UI. It is
// outside the API-key group and outside CSRF: a session token protects it.
//
//   - GET  /assistants/{public_key}              the widget's title, colours, first message and form
//   - POST /sessions                             {"assistant", "visitor_id", "visitor_hash",
//     "variables"} -> 201 {"conversation_id", "token", "expires_at", "visitor_id", "verified",
//     "resumed", "messages"}: a new conversation each time, except that a visitor_id signed
//     with the assistant's identity secret (visitor_hash, app/widget.Identify) resumes that
//     visitor's open conversation (200, "resumed": true, its messages). A visitor_id without a
//     valid hash is 401 naming visitor_hash when the assistant requires verified identity, and
//     otherwise ignored: the session is anonymous, under a fresh visitor id.
//   - POST /sessions/{conversation_id}/messages  {"text"} with Authorization: Bearer {token} ->
//     {"message", "reply"}; with Accept: text/event-stream the reply streams: "message" (the
//     stored visitor message), "delta" events (JSON strings), then "done" ({"message", "reply"})
//   - GET  /sessions/{conversation_id}/messages  the history (?before= pages back)
//
// A token is signed with the server's key, expires after 24 hours, and names one conversation:
// a token presented for any other conversation id is answered 404 not_found, whether that
// conversation exists or not, so tokens reveal nothing about other conversations.
//
// CORS: a browser request (one with an Origin header) is served only when the origin is in
// the assistant's allowed origins; its answer then carries Access-Control-Allow-Origin for
// that origin (never *) and Vary: Origin. Any other origin is refused with 403
// origin_not_allowed before anything is stored. Requests without an Origin (servers) are not
// browser-bound and are served. Preflights for the session routes, which name no assistant,
// are answered for an origin that some enabled assistant allows; the request itself is then
// checked against its own assistant.

type widgetAPIMessage struct {
	ID        string `json:"id"`
	Role      string `json:"role"`
	Content   string `json:"content"`
	CreatedAt string `json:"created_at"`
}

type widgetAPIField struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

type widgetAPIAssistant struct {
	PublicKey     string           `json:"public_key"`
	Title         string           `json:"title"`
	Color         string           `json:"color"`
	TextColor     string           `json:"text_color"`
	FirstMessage  string           `json:"first_message"`
	PrechatFields []widgetAPIField `json:"prechat_fields"`
}

func widgetAPIMsg(m *store.Message) widgetAPIMessage {
	return widgetAPIMessage{ID: strconv.FormatInt(m.ID, 10), Role: m.Role, Content: m.Content, CreatedAt: convjson.Time(m.CreatedAt)}
}

// ---- CORS ----

const widgetCORSMaxAge = "600"

// widgetCORS admits a browser request from an allowed origin (setting the CORS headers), or
// refuses it. Without an Origin header there is nothing to do.
func widgetCORS(c echo.Context, a *model.Assistant) error {
	h := c.Response().Header()
	addVary(h, "Origin")
	origin := c.Request().Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if a == nil || !widget.OriginAllowed(a, origin) {
		return apierr.New(http.StatusForbidden, "origin_not_allowed", "The origin %s is not in this assistant's allowed origins.", truncateForMessage(origin))
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", "Retry-After")
	return nil
}

// addVary adds a header name to Vary once.
func addVary(h http.Header, name string) {
	for _, v := range h.Values("Vary") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), name) {
				return
			}
		}
	}
	h.Add("Vary", name)
}

func truncateForMessage(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// apiWidgetPreflight answers CORS preflights of the widget API.
func (s *Handler) apiWidgetPreflight(c echo.Context) error {
	h := c.Response().Header()
	addVary(h, "Origin")
	addVary(h, "Access-Control-Request-Method")
	addVary(h, "Access-Control-Request-Headers")
	origin := c.Request().Header.Get("Origin")
	ctx := c.Request().Context()
	allowed := false
	if key := c.Param("key"); key != "" {
		if _, a, err := s.widgetAssistant(ctx, key); err == nil {
			allowed = widget.OriginAllowed(a, origin)
		}
	} else if n, err := assistants.NormalizeOrigin(origin); err == nil {
		lists, err := s.Store.AllowedOriginLists(ctx, n)
		if err != nil {
			return err
		}
		for _, l := range lists {
			if assistants.OriginAllowed(l, origin) {
				allowed = true
				break
			}
		}
	}
	if !allowed {
		return apierr.New(http.StatusForbidden, "origin_not_allowed", "This origin may not call the widget API.")
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept")
	h.Set("Access-Control-Max-Age", widgetCORSMaxAge)
	return c.NoContent(http.StatusNoContent)
}

// ---- strict bodies ----

// ---- authentication ----

// widgetSession resolves the bearer token and the conversation id in the path: the token must
// name this very conversation (404 otherwise), of an enabled assistant, and the origin must
// be allowed.
func (s *Handler) widgetSession(c echo.Context) (*store.Assistant, *model.Assistant, *store.Conversation, error) {
	addVary(c.Response().Header(), "Origin")
	hdr := c.Request().Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(hdr, " ")
	if hdr == "" {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="parley-widget"`)
		return nil, nil, nil, apierr.New(http.StatusUnauthorized, "missing_token", "Send the session's token as `Authorization: Bearer <token>` (POST /api/widget/v1/sessions returns it).")
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, nil, nil, apierr.New(http.StatusUnauthorized, "invalid_token", "The Authorization header must be `Bearer <token>`.")
	}
	claims, err := widget.Verify(s.Keys.Signing, tok, widget.KindSession, time.Now())
	if errors.Is(err, widget.ErrTokenExpired) {
		return nil, nil, nil, apierr.New(http.StatusUnauthorized, "token_expired", "The session token has expired: start a new session.")
	}
	if err != nil {
		return nil, nil, nil, apierr.New(http.StatusUnauthorized, "invalid_token", "The session token is not valid.")
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id != claims.ConversationID {
		return nil, nil, nil, apierr.New(http.StatusNotFound, "not_found", "No conversation %s for this token.", truncateForMessage(c.Param("id")))
	}
	ctx := c.Request().Context()
	row, err := s.Store.AssistantByID(ctx, claims.WorkspaceID, claims.AssistantID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && widget.Usable(row) != nil) {
		return nil, nil, nil, errWidgetAssistant()
	}
	if err != nil {
		return nil, nil, nil, err
	}
	a := row.AsModel()
	if err := widgetCORS(c, a); err != nil {
		return nil, nil, nil, err
	}
	conv, err := s.Store.WidgetConversation(ctx, row.WorkspaceID, row.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil, apierr.New(http.StatusNotFound, "not_found", "No conversation %d for this token.", id)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return row, a, conv, nil
}

// ---- handlers ----

// apiWidgetAssistant answers what a widget needs to show itself.
func (s *Handler) apiWidgetAssistant(c echo.Context) error {
	_, a, err := s.widgetAssistant(c.Request().Context(), c.Param("key"))
	addVary(c.Response().Header(), "Origin")
	if err != nil {
		return err
	}
	if err := widgetCORS(c, a); err != nil {
		return err
	}
	col := widget.Color(a)
	out := widgetAPIAssistant{PublicKey: a.PublicKey, Title: widget.Title(a), Color: col, TextColor: widget.TextColor(col),
		FirstMessage: a.FirstMessage, PrechatFields: []widgetAPIField{}}
	for _, f := range a.PrechatFields {
		lbl := f.Label
		if lbl == "" {
			lbl = f.Name
		}
		out.PrechatFields = append(out.PrechatFields, widgetAPIField{Name: f.Name, Label: lbl, Type: f.Type, Required: f.Required})
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, out)
}

// apiWidgetSessionCreate starts a widget conversation: the pre-chat variables are validated
// against the assistant's form (only its fields, required ones present, emails and phones
// well formed); nothing is stored when anything is wrong.
func (s *Handler) apiWidgetSessionCreate(c echo.Context) error {
	ctx := c.Request().Context()
	addVary(c.Response().Header(), "Origin")
	obj, err := jsonbody.Object(c, true)
	if err != nil {
		return err
	}
	// The assistant first, so that every later error carries the CORS headers its page needs.
	rawKey, ok := obj["assistant"]
	if !ok {
		return apierr.InvalidField("assistant", "is required: the assistant's public key")
	}
	key, err := jsonbody.String("assistant", rawKey)
	if err != nil {
		return err
	}
	row, a, err := s.widgetAssistant(ctx, strings.TrimSpace(*key))
	if err != nil {
		return err
	}
	if err := widgetCORS(c, a); err != nil {
		return err
	}
	if err := jsonbody.Only(obj, "assistant", "visitor_id", "visitor_hash", "variables"); err != nil {
		return err
	}
	visitor, hash, err := visitorClaim(obj)
	if err != nil {
		return err
	}
	answers := map[string]string{}
	if v, ok := obj["variables"]; ok && !jsonbody.IsNull(v) {
		var fields map[string]json.RawMessage
		if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' || json.Unmarshal(v, &fields) != nil {
			return apierr.InvalidField("variables", "must be an object of strings")
		}
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			p, err := jsonbody.String("variables."+k, fields[k])
			if err != nil {
				return err
			}
			answers[k] = *p
		}
	}
	who, err := widget.Identify(row.IdentitySecret, row.IdentityRequired, visitor, hash)
	if err != nil {
		return errVisitorHash(c, visitor, hash)
	}
	status := http.StatusCreated
	var conv *store.Conversation
	if who.Verified {
		// A proven customer id resumes that customer's open conversation, if there is one.
		conv, err = s.widgetSessions().Resume(ctx, row, who.Visitor)
		if err == nil {
			status = http.StatusOK
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if conv == nil {
		sessLim, _ := s.widgetLimits()
		if err := s.widgetRateLimit(c, sessLim, row.ID); err != nil {
			return err
		}
		conv, err = s.widgetSessions().Start(ctx, row, who.Visitor, answers)
	}
	var fe widget.FieldErrors
	if errors.As(err, &fe) {
		names := make([]string, 0, len(fe))
		for k := range fe {
			names = append(names, k)
		}
		sort.Strings(names)
		es := make(assistants.Errors, 0, len(names))
		for _, k := range names {
			name, msg := k, fe[k]
			if name == "" { // {"variables": {"": ...}}
				name, msg = `""`, "a variable with an empty name is not a field of this form."
			}
			es = append(es, assistants.FieldError{Field: "variables." + name, Msg: msg})
		}
		return apierr.Fields(c, es)
	}
	if err != nil {
		return err
	}
	msgs, err := s.widgetAPIHistory(ctx, conv, "")
	if err != nil {
		return err
	}
	now := time.Now()
	return c.JSON(status, map[string]any{
		"conversation_id": strconv.FormatInt(conv.ID, 10),
		"token":           widget.SessionToken(s.Keys.Signing, conv, now),
		"expires_at":      convjson.Time(now.Add(widget.SessionTTL).Truncate(time.Second)),
		"visitor_id":      who.Visitor,
		"verified":        who.Verified,
		"resumed":         status == http.StatusOK,
		"messages":        msgs.Messages,
	})
}

// visitorClaim reads the optional visitor_id and visitor_hash of a session request (null is
// absent). A visitor_hash without a visitor_id names nothing.
func visitorClaim(obj map[string]json.RawMessage) (visitor, hash string, err error) {
	if v, ok := obj["visitor_id"]; ok && !jsonbody.IsNull(v) {
		p, err := jsonbody.String("visitor_id", v)
		if err != nil {
			return "", "", err
		}
		visitor = *p
		if !widget.ValidVisitorID(visitor) {
			return "", "", apierr.InvalidField("visitor_id", "must be 8 to 64 characters of A-Z, a-z, 0-9, _ and -")
		}
	}
	if v, ok := obj["visitor_hash"]; ok && !jsonbody.IsNull(v) {
		p, err := jsonbody.String("visitor_hash", v)
		if err != nil {
			return "", "", err
		}
		hash = *p
		if visitor == "" {
			return "", "", apierr.InvalidField("visitor_id", "is required with visitor_hash: the hash signs a visitor id")
		}
	}
	return visitor, hash, nil
}

// errVisitorHash is the 401 of a session request refused for want of a verified visitor id
// (the assistant requires one); it names visitor_hash.
func errVisitorHash(c echo.Context, visitor, hash string) error {
	msg := "visitor_hash: is required: this assistant only chats with verified visitors. Send visitor_id and visitor_hash = hex HMAC-SHA256(identity secret, visitor_id), computed on your server."
	if visitor != "" && hash != "" {
		msg = "visitor_hash: does not match visitor_id (it must be hex HMAC-SHA256(identity secret, visitor_id); a rotated secret invalidates earlier hashes)."
	}
	return c.JSON(http.StatusUnauthorized, map[string]any{"error": map[string]any{
		"code": "invalid_visitor_hash", "message": msg, "field": "visitor_hash",
	}})
}

type widgetAPIPage struct {
	Messages    []widgetAPIMessage `json:"messages"`
	HasOlder    bool               `json:"has_older"`
	OlderCursor string             `json:"older_cursor,omitempty"`
}

const widgetHistoryPage = 100

func (s *Handler) widgetAPIHistory(ctx context.Context, conv *store.Conversation, before string) (widgetAPIPage, error) {
	page, err := s.Store.Messages(ctx, conv.WorkspaceID, conv.ID, before, widgetHistoryPage)
	if err != nil {
		return widgetAPIPage{}, err
	}
	out := widgetAPIPage{Messages: []widgetAPIMessage{}, HasOlder: page.HasOlder, OlderCursor: page.OlderCursor}
	for i := range page.Messages {
		if widgetVisible(&page.Messages[i]) {
			out.Messages = append(out.Messages, widgetAPIMsg(&page.Messages[i]))
		}
	}
	return out, nil
}

// apiWidgetHistory answers a conversation's messages, oldest first (the newest 100, or the
// 100 before ?before=).
func (s *Handler) apiWidgetHistory(c echo.Context) error {
	_, _, conv, err := s.widgetSession(c)
	if err != nil {
		return err
	}
	page, err := s.widgetAPIHistory(c.Request().Context(), conv, c.QueryParam("before"))
	if errors.Is(err, store.ErrBadCursor) {
		return apierr.InvalidField("before", "is not a cursor from older_cursor")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"conversation_id": strconv.FormatInt(conv.ID, 10),
		"ended":           conv.EndedAt != nil || widget.Idle(conv, time.Now(), s.Config.WidgetIdle),
		"messages":        page.Messages,
		"has_older":       page.HasOlder,
		"older_cursor":    page.OlderCursor,
	})
}

// apiWidgetSend stores the visitor's message and answers it with the assistant's reply (null
// when a person has taken the conversation over).
func (s *Handler) apiWidgetSend(c echo.Context) error {
	row, _, conv, err := s.widgetSession(c)
	if err != nil {
		return err
	}
	obj, err := jsonbody.Object(c, true)
	if err != nil {
		return err
	}
	if err := jsonbody.Only(obj, "text"); err != nil {
		return err
	}
	raw, ok := obj["text"]
	if !ok {
		return apierr.InvalidField("text", "is required")
	}
	text, err := jsonbody.String("text", raw)
	if err != nil {
		return err
	}
	m, err := s.widgetMessageFor(c, row, conv, *text)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if !sse.Wanted(c) {
		var reply any
		if conv.AIEnabled {
			r, err := s.widgetReplyOnce(ctx, conv, row, m.ID, nil)
			if err != nil {
				return err
			}
			reply = widgetAPIMsg(r.Message)
		}
		return c.JSON(http.StatusOK, map[string]any{"message": widgetAPIMsg(m), "reply": reply})
	}

	stream := sse.Start(c)
	send := func(event string, v any) bool {
		b, _ := json.Marshal(v)
		return stream.Send(event, string(b)) == nil
	}
	send("message", widgetAPIMsg(m))
	if !conv.AIEnabled {
		send("done", map[string]any{"message": widgetAPIMsg(m), "reply": nil})
		return nil
	}
	gone := false
	r, err := s.widgetReplyOnce(ctx, conv, row, m.ID, func(d string) error {
		if !gone && !send("delta", d) {
			gone = true
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Error("widget api reply", "err", err, "conversation_id", conv.ID)
			send("error", map[string]any{"error": map[string]string{"code": "internal", "message": "The reply could not be produced; GET the messages later to see it."}})
		}
		return nil
	}
	send("done", map[string]any{"message": widgetAPIMsg(m), "reply": widgetAPIMsg(r.Message)})
	return nil
}
