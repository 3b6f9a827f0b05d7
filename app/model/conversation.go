package model

// Type is a conversation's channel. The constants are untyped so that they compare with the
// string columns of the store as well as with a Type.
type Type string

// Conversation types.
const (
	TypeTest     = "test"
	TypeWidget   = "widget"
	TypeWhatsApp = "whatsapp"
)

// Types lists the conversation types in display order.
var Types = []string{TypeTest, TypeWidget, TypeWhatsApp}

// Valid reports a known type.
func (t Type) Valid() bool {
	for _, k := range Types {
		if string(t) == k {
			return true
		}
	}
	return false
}

// Role is who wrote a message.
type Role string

// Message roles: the customer, the assistant (the LLM), a human operator, and the system
// (notes that are not part of the dialogue).
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleHuman     = "human"
	RoleSystem    = "system"
)

// Status is the delivery state of an outgoing WhatsApp message.
type Status string

// Delivery statuses, in the order they move: an outgoing message is "pending" when stored,
// "sending" while a send is in flight, then Meta's "sent" < "delivered" < "read"; "failed" is
// final.
const (
	StatusPending   = "pending"
	StatusSending   = "sending"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
)

// RankedStatuses are the statuses Meta reports, lowest rank first: a message's status only
// moves forward along this list.
var RankedStatuses = []string{StatusSent, StatusDelivered, StatusRead, StatusFailed}

// Rank orders statuses: a status only replaces one of a lower rank. Statuses Meta does not
// report (pending, sending, unknown ones) rank 0 and never move a message.
func (s Status) Rank() int {
	for i, k := range RankedStatuses {
		if string(s) == k {
			return i + 1
		}
	}
	return 0
}

// StatusRank is Status(s).Rank() for a string.
func StatusRank(s string) int { return Status(s).Rank() }

// ReplyRoles are the roles that answer the customer: the assistant and a human operator.
var ReplyRoles = []string{RoleAssistant, RoleHuman}
