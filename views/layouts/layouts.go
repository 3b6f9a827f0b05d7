// Package layouts holds the shells every page is drawn in: the HTML document, the dashboard
// page (head, side navigation with the conversations badge, the main area), the flash notice,
// and the widget iframe's frame. It owns no page content: pages (views/pages) fill the shells,
// and small shared pieces live in views/components. It reads no store and calls no service.
package layouts

import (
	"encoding/json"
	"strconv"

	"github.com/parleyhq/parley/app/web/routenames"
)

// Page is what the layout needs on every dashboard page.
type Page struct {
	Title              string
	Active             string
	CSRF               string
	UserEmail          string
	WorkspaceName      string
	TotalConversations int64
	// Admin shows the admin-only entries (Queues).
	Admin bool
}

// NavItem is one entry of the side navigation.
type NavItem struct {
	Key, Label, Href string
	// Pending entries arrive with a later issue: shown, not linked.
	Pending bool
}

// Nav is the side navigation, in order.
var Nav = []NavItem{
	{Key: "conversations", Label: "Conversations", Href: routenames.URL(routenames.Conversations)},
	{Key: "test-chat", Label: "Test Chat", Href: routenames.URL(routenames.TestChat)},
	{Key: "assistants", Label: "Assistants", Href: routenames.URL(routenames.Assistants)},
	{Key: "analytics", Label: "Analytics", Href: routenames.URL(routenames.Analytics)},
	{Key: "settings", Label: "Settings", Href: routenames.URL(routenames.Settings)},
}

func csrfHeaders(token string) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": token})
	return string(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
