package whatsapp

import (
	"errors"
	"time"

	"github.com/parleyhq/parley/app/store"
)

// DefaultWindow is Meta's customer-service window: free-form messages may be sent until 24
// hours after the customer's last message.
const DefaultWindow = 24 * time.Hour

// WindowClosedReason is recorded on a free-form message refused because the window is closed.
const WindowClosedReason = "window closed: free-form messages need an open 24-hour window"

// ErrWindowClosed refuses a free-form send outside the window; nothing was sent to Meta.
var ErrWindowClosed = errors.New(WindowClosedReason)

// Deadline is the window's end opened by a customer message sent at msgTime.
func Deadline(msgTime time.Time, window time.Duration) time.Time {
	if window <= 0 {
		window = DefaultWindow
	}
	return msgTime.UTC().Add(window)
}

// WindowOpen reports whether free-form messages may be sent in c at now: the customer wrote
// within the window and nothing (the deadline, or Meta's refusal 131047) closed it since.
func WindowOpen(c *store.Conversation, now time.Time) bool {
	return c.Type == store.TypeWhatsApp && c.WindowExpiresAt != nil && c.WindowClosedAt == nil && now.Before(*c.WindowExpiresAt)
}
