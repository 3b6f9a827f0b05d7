package model

import (
	"slices"
	"strings"
)

// The installation roles of an account (users.role): an installation admin runs the
// installation (the Queues page, creating workspaces); everyone else is a member, whose rights
// come from their workspace memberships.
const (
	UserRoleAdmin  = "admin"
	UserRoleMember = "member"
)

// IsAdmin reports an installation role that is an installation admin's.
func IsAdmin(role string) bool { return role == UserRoleAdmin }

// MemberRole is a person's role in one workspace: each membership has exactly one.
type MemberRole string

// The workspace roles, from the most rights to the fewest. Each has every right of the ones
// below it:
//   - owner: everything, deleting the workspace and changing owners included;
//   - admin: members, API keys, assistants, prices, retention, templates, exports, deletion;
//   - agent: reads everything, replies on WhatsApp, takes over and hands back, re-runs
//     extraction, tests assistants; no settings, no deletion, no keys, no exports;
//   - viewer: reads conversations and analytics; changes nothing and exports nothing.
const (
	MemberOwner  MemberRole = "owner"
	MemberAdmin  MemberRole = "admin"
	MemberAgent  MemberRole = "agent"
	MemberViewer MemberRole = "viewer"
)

// MemberRoles is every workspace role, the most rights first.
var MemberRoles = []MemberRole{MemberOwner, MemberAdmin, MemberAgent, MemberViewer}

// Valid reports one of MemberRoles.
func (r MemberRole) Valid() bool { return slices.Contains(MemberRoles, r) }

// rank is r's place counted from the fewest rights (viewer 1, owner 4); 0 for no role.
func (r MemberRole) rank() int {
	if i := slices.Index(MemberRoles, r); i >= 0 {
		return len(MemberRoles) - i
	}
	return 0
}

// AtLeast reports whether r has every right of need (an owner is at least an admin). An
// invalid role is at least nothing.
func (r MemberRole) AtLeast(need MemberRole) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// Label is the role for people: "Owner", "Admin", "Agent", "Viewer".
func (r MemberRole) Label() string {
	switch r {
	case MemberOwner:
		return "Owner"
	case MemberAdmin:
		return "Admin"
	case MemberAgent:
		return "Agent"
	case MemberViewer:
		return "Viewer"
	}
	return string(r)
}

// Access is what a route asks of its caller, as the route table declares it: nobody
// (public), a workspace role, or the installation admin.
type Access string

// The accesses a route can declare besides a MemberRole.
const (
	// AccessPublic: no login (the widget, webhooks, login, probes).
	AccessPublic Access = "public"
	// AccessInstallation: an installation admin, in whatever workspace (the Queues page).
	AccessInstallation Access = "installation"
	// AccessAPIKey: a workspace API key (the JSON API); a read key may use safe methods only.
	AccessAPIKey Access = "apikey"
)

// Role is the workspace role an access asks for ("" when it asks for none).
func (a Access) Role() MemberRole {
	if r := MemberRole(a); r.Valid() {
		return r
	}
	return ""
}

// Need is the access of routes that ask for role r.
func Need(r MemberRole) Access { return Access(r) }

// PersonName is how a person of the team is named to others: their name, or their email
// when they gave none.
func PersonName(name, email string) string {
	if n := strings.TrimSpace(name); n != "" {
		return n
	}
	return email
}
