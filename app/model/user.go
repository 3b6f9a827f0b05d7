package model

// The roles of a workspace's users.
const (
	// UserRoleAdmin may do everything in the workspace, read its secrets included (an
	// assistant's identity secret).
	UserRoleAdmin = "admin"
)

// IsAdmin reports a user role that is an admin's.
func IsAdmin(role string) bool { return role == UserRoleAdmin }
