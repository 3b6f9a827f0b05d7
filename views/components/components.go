// Package components holds the small templ pieces the pages share: the form field with its
// label and error, the conversation type badge, the WhatsApp window badge, money and time, one
// message as the dashboard and the widget show it, the analytics chart and the data table.
// A component draws the plain values it is given: it builds no page URL, reads no store,
// calls no service and imports no other views package (layouts and pages import it).
package components

import "time"

// AriaCurrent is the aria-current value of a navigation entry: "page" for the active one.
func AriaCurrent(active, key string) string {
	if active == key {
		return "page"
	}
	return "false"
}

// ISO is t in UTC as RFC 3339, the machine-readable form of every shown time (a <time>'s
// datetime, a countdown's deadline).
func ISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }
