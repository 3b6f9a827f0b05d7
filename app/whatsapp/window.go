package whatsapp

import (
	"errors"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// DefaultWindow is Meta's customer-service window (model.DefaultWindow).
const DefaultWindow = model.DefaultWindow

// WindowClosedReason is recorded on a free-form message refused because the window is closed.
const WindowClosedReason = "window closed: free-form messages need an open 24-hour window"

// ErrWindowClosed refuses a free-form send outside the window; nothing was sent to Meta.
var ErrWindowClosed = errors.New(WindowClosedReason)

// Deadline is the window's end opened by a customer message sent at msgTime (model.Deadline).
func Deadline(msgTime time.Time, window time.Duration) time.Time {
	return model.Deadline(msgTime, window)
}

// WindowOpen reports whether free-form messages may be sent in c at now (model.WindowAt).
func WindowOpen(c *store.Conversation, now time.Time) bool {
	return model.WindowAt(c.Type, c.WindowExpiresAt, c.WindowClosedAt, now).Open
}
