// Package layouts holds the shells every page is drawn in: the HTML document, the dashboard
// page (head, side navigation with the conversations badge, the main area), the flash notice,
// and the widget iframe's frame. It owns no page content: pages (views/pages) fill the shells,
// and small shared pieces live in views/components. It reads no store and calls no service.
package layouts

import (
	"encoding/json"
	"strconv"

	"github.com/parleyhq/parley/app/model"
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
	// Admin shows the installation admin's entries (Queues).
	Admin bool
	// Role is the user's role in the workspace: the navigation shows what it allows.
	Role model.MemberRole
	// Workspaces are the user's workspaces, for the switcher (shown with two or more, or when
	// the user may create one).
	Workspaces WorkspaceMenu
	// Views are the saved views the user sees, under Conversations, with their counts.
	Views []NavView
}

// NavView is a saved view in the navigation: the list with its query, and its bounded count
// ("1,000+").
type NavView struct {
	ID          int64
	Name, Query string
	Count       string
	Shared      bool
}

// WorkspaceMenu is the navigation's workspace switcher.
type WorkspaceMenu struct {
	Current   int64
	List      []WorkspaceItem
	CanCreate bool
}

// WorkspaceItem is one workspace of the switcher.
type WorkspaceItem struct {
	ID   int64
	Name string
	Role model.MemberRole
}

// Allows reports whether the page's user may open the named route (its access in the route
// table): the navigation shows only what the role allows.
func (p Page) Allows(route string) bool {
	need := routenames.Lookup(route).Access.Role()
	return need == "" || p.Role.AtLeast(need)
}

// NavItem is one entry of the side navigation.
type NavItem struct {
	Key, Label, Href string
	Route            string // the route name of Href, whose access decides who sees the entry
	// Pending entries arrive with a later issue: shown, not linked.
	Pending bool
}

// Nav is the side navigation, in order.
var Nav = []NavItem{
	{Key: "conversations", Label: "Conversations", Href: routenames.URL(routenames.Conversations), Route: routenames.Conversations},
	{Key: "test-chat", Label: "Test Chat", Href: routenames.URL(routenames.TestChat), Route: routenames.TestChat},
	{Key: "assistants", Label: "Assistants", Href: routenames.URL(routenames.Assistants), Route: routenames.Assistants},
	{Key: "analytics", Label: "Analytics", Href: routenames.URL(routenames.Analytics), Route: routenames.Analytics},
	{Key: "settings", Label: "Settings", Href: routenames.URL(routenames.Settings), Route: routenames.Settings},
	{Key: "test-sets", Label: "Test sets", Href: routenames.URL(routenames.TestSets), Route: routenames.TestSets}, // issue 15
}

func csrfHeaders(token string) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": token})
	return string(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
