// Package widget holds the rules of the web widget: the signed tokens that bind a visitor's
// browser to one conversation, the visitor ids, the idle rule that ends a quiet conversation,
// and which origins may frame or call it (its rate limits are counted by app/ratelimit). It
// knows nothing of HTTP or templates.
package widget

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// DefaultColor is the launcher's colour when the assistant names none (the widget purple).
const DefaultColor = "#6b3fd4"

// MaxVisitorID bounds a visitor id.
const MaxVisitorID = 64

var visitorRe = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// ValidVisitorID reports a visitor id: 8 to 64 characters of A-Z, a-z, 0-9, _ and -. The
// loader makes 22 random base64url characters; the API accepts any id of this shape.
func ValidVisitorID(s string) bool { return visitorRe.MatchString(s) }

// NewVisitorID makes a random visitor id (128 bits, base64url).
func NewVisitorID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Usable reports why an assistant cannot serve the widget: nil when it can. A disabled
// assistant is treated as unknown.
func Usable(a *store.Assistant) error {
	if a == nil || a.Disabled {
		return store.ErrNotFound
	}
	return nil
}

// Title is the widget's title: the widget setting, or the assistant's name.
func Title(a *model.Assistant) string {
	if t := strings.TrimSpace(a.Widget.Title); t != "" {
		return t
	}
	return a.Name
}

var colorRe = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// Color is the widget's colour, #rrggbb: the widget setting, or DefaultColor.
func Color(a *model.Assistant) string {
	if c := strings.ToLower(strings.TrimSpace(a.Widget.Color)); colorRe.MatchString(c) {
		return c
	}
	return DefaultColor
}

// TextColor is a text colour readable on the background colour bg (#rrggbb): white on dark
// colours, near-black on light ones (by WCAG relative luminance).
func TextColor(bg string) string {
	if !colorRe.MatchString(bg) {
		return "#ffffff"
	}
	lin := func(hex string) float64 {
		n, _ := strconv.ParseUint(hex, 16, 8)
		c := float64(n) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(bg[1:3]) + 0.7152*lin(bg[3:5]) + 0.0722*lin(bg[5:7])
	// Contrast with white (1.05/(l+0.05)) against contrast with black ((l+0.05)/0.05).
	if 1.05/(l+0.05) >= (l+0.05)/0.05 {
		return "#ffffff"
	}
	return "#1d2330"
}

// ---- origins ----

// Origins is an assistant's allowed origins, each normalised again; anything that does not
// normalise (or that could break a header) is left out.
func Origins(a *model.Assistant) []string {
	out := make([]string, 0, len(a.AllowedOrigins))
	for _, o := range a.AllowedOrigins {
		n, err := assistants.NormalizeOrigin(o)
		if err != nil || strings.ContainsFunc(n, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(".-:/[]", r))
		}) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// FrameAncestors is the value of the CSP frame-ancestors directive of the widget's pages: the
// allowed origins, or 'none' when there are none (then no site can host the widget).
func FrameAncestors(a *model.Assistant) string {
	os := Origins(a)
	if len(os) == 0 {
		return "'none'"
	}
	return strings.Join(os, " ")
}

// OriginAllowed reports whether a browser's Origin header is one of the assistant's origins.
func OriginAllowed(a *model.Assistant, origin string) bool {
	return origin != "" && assistants.OriginAllowed(Origins(a), origin)
}

// ---- the idle rule ----

// Idle reports whether a conversation has had no message for idle or longer (model.Idle).
func Idle(conv *store.Conversation, now time.Time, idle time.Duration) bool {
	return model.Idle(conv.LastMessageAt, now, idle)
}

// Open reports whether a conversation still takes messages: not ended, not idle.
func Open(conv *store.Conversation, now time.Time, idle time.Duration) bool {
	return conv.EndedAt == nil && !Idle(conv, now, idle)
}

// ErrEnded is returned for a conversation that was ended, or has just been ended for idling.
var ErrEnded = errors.New("this chat has ended")

// Sessions finds, starts and ends widget conversations.
type Sessions struct {
	Store         *store.Store
	Conversations *conversation.Service
	// Idle is PARLEY_WIDGET_IDLE.
	Idle time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Resume returns the visitor's open conversation with the assistant, or ErrNotFound. A
// conversation that idled out is ended on the way (and ErrNotFound returned), so that the
// visitor's next session is a new conversation. The visitor id must have been proven first
// (Identify: a valid visitor_hash): an id alone resumes nothing.
func (s *Sessions) Resume(ctx context.Context, a *store.Assistant, visitor string) (*store.Conversation, error) {
	conv, err := s.Store.LiveWidgetConversation(ctx, a.WorkspaceID, a.ID, visitor)
	if err != nil {
		return nil, err
	}
	if err := s.Check(ctx, conv); err != nil {
		return nil, store.ErrNotFound
	}
	return conv, nil
}

// Check returns ErrEnded when the conversation no longer takes messages, ending it first when
// it has just idled out.
func (s *Sessions) Check(ctx context.Context, conv *store.Conversation) error {
	if conv.EndedAt != nil {
		return ErrEnded
	}
	if Idle(conv, s.now(), s.Idle) {
		if err := s.endIdle(ctx, conv); err != nil {
			return err
		}
		return ErrEnded
	}
	return nil
}

// End ends a conversation for reason and tells the dashboard.
func (s *Sessions) End(ctx context.Context, conv *store.Conversation, reason string) error {
	if _, err := s.Conversations.End(ctx, conv.WorkspaceID, conv.ID, reason, time.Time{}); err != nil {
		return err
	}
	t := store.Now()
	conv.EndedAt = &t
	return nil
}

// endIdle ends a conversation that idled out, at the moment it did (as the end sweep would).
func (s *Sessions) endIdle(ctx context.Context, conv *store.Conversation) error {
	if _, err := s.Conversations.EndIdle(ctx, conv.WorkspaceID, conv.ID, conv.LastMessageAt, s.Idle, s.now()); err != nil {
		return err
	}
	t := model.IdleEnd(conv.LastMessageAt, s.Idle)
	conv.EndedAt = &t
	return nil
}

// FieldErrors are a pre-chat form's errors by field name.
type FieldErrors map[string]string

func (fe FieldErrors) Error() string { return "the pre-chat answers are not valid" }

// Start validates the pre-chat answers against the assistant's form (required fields, email
// and phone shapes, nothing beyond the form) and starts a widget conversation for the visitor
// with them as variables and the assistant's first message. Invalid answers return
// FieldErrors and store nothing.
func (s *Sessions) Start(ctx context.Context, a *store.Assistant, visitor string, answers map[string]string) (*store.Conversation, error) {
	vars, errs := chat.ValidatePrechat(a.PrechatFields, answers)
	if len(errs) > 0 {
		return nil, FieldErrors(errs)
	}
	return chat.StartSession(ctx, s.Store, s.Conversations, a, model.TypeWidget, visitor, vars)
}
