package model

import "time"

// The idle rule (issue 14 item 1): an open conversation with no message for its type's idle
// time ends, for reason EndIdle, at the moment it idled out (its last message + the idle
// time). The widget's check when a visitor comes back and the end sweep both use it.

// IdleTimes are the idle times of the conversation types (PARLEY_WIDGET_IDLE,
// PARLEY_WHATSAPP_IDLE, PARLEY_TESTCHAT_IDLE); zero means "never idles out".
type IdleTimes struct {
	Widget, WhatsApp, Test time.Duration
}

// For is the idle time of conversations of type typ (0 for an unknown type).
func (t IdleTimes) For(typ string) time.Duration {
	switch typ {
	case TypeWidget:
		return t.Widget
	case TypeWhatsApp:
		return t.WhatsApp
	case TypeTest:
		return t.Test
	}
	return 0
}

// Idle reports whether a conversation whose last message was at last has had no message for
// idle or longer at now (never when idle <= 0).
func Idle(last, now time.Time, idle time.Duration) bool {
	return idle > 0 && !last.After(IdleCutoff(now, idle))
}

// IdleCutoff is the latest last-message time of a conversation that is idle at now: the end
// sweep asks the store for open conversations whose last message is no later than it.
func IdleCutoff(now time.Time, idle time.Duration) time.Time {
	return now.Add(-idle)
}

// IdleEnd is when a conversation whose last message was at last idled out: its ended_at.
func IdleEnd(last time.Time, idle time.Duration) time.Time {
	return last.Add(idle)
}
