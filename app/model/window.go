package model

import "time"

// DefaultWindow is Meta's customer-service window: free-form messages may be sent until 24
// hours after the customer's last message.
const DefaultWindow = 24 * time.Hour

// Deadline is the end of the window opened by a customer message sent at msgTime (window <= 0
// means DefaultWindow).
func Deadline(msgTime time.Time, window time.Duration) time.Time {
	if window <= 0 {
		window = DefaultWindow
	}
	return msgTime.UTC().Add(window)
}

// Window is a conversation's WhatsApp customer-service window at one moment.
type Window struct {
	Applies   bool      // only WhatsApp conversations have one
	Open      bool      // free-form messages allowed
	ExpiresAt time.Time // when it closes (or closed)
	Known     bool      // false when the customer never wrote
}

// WindowAt is the one window rule: a conversation of type typ whose customer last opened the
// window until expiresAt (nil: never wrote), and which Meta closed early at closedAt (nil: it
// did not), allows free-form messages at now when it is a WhatsApp conversation, the deadline
// has not passed and nothing closed it.
func WindowAt(typ string, expiresAt, closedAt *time.Time, now time.Time) Window {
	if typ != TypeWhatsApp {
		return Window{}
	}
	w := Window{Applies: true}
	if expiresAt == nil {
		return w
	}
	w.Known = true
	w.ExpiresAt = expiresAt.UTC()
	w.Open = closedAt == nil && now.Before(w.ExpiresAt)
	return w
}
