// Package views holds Parley's templ components: the layout, the pages and their partials.
// Generated *_templ.go files are committed; `go tool templ generate` refreshes them.
package views

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

func ariaCurrent(active, key string) string {
	if active == key {
		return "page"
	}
	return "false"
}
