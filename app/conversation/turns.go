package conversation

import (
	"strings"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Turn is one turn of a conversation: a run of consecutive customer messages and the
// messages of the assistant and the team that followed, up to the next customer message.
type Turn struct {
	// Customer are the customer's messages (at least one), oldest first.
	Customer []store.Message
	// Answers are the assistant's and team's messages after them, oldest first, our fallback
	// texts (IsFallback) included; none when the turn was never answered. System messages
	// belong to no turn.
	Answers []store.Message
}

// CustomerText is the turn's customer side as one text: each message's CustomerText, joined
// by a blank line.
func (t Turn) CustomerText() string {
	parts := make([]string, len(t.Customer))
	for i, m := range t.Customer {
		parts[i] = CustomerText(m)
	}
	return strings.Join(parts, "\n\n")
}

// CustomerText is what a customer message says in a transcript or a request: its text, or
// "[<type> message]" for a message without text (an image, a voice note).
func CustomerText(m store.Message) string {
	if m.Content == "" && m.ContentType != "" && m.ContentType != "text" {
		return "[" + m.ContentType + " message]"
	}
	return m.Content
}

// IsFallback reports our polite fallback text (a reply whose call failed, its error kept on
// the message): the customer saw it, so it ends their turn, but the assistant did not say it.
func IsFallback(m store.Message) bool {
	return (m.Role == model.RoleAssistant || m.Role == model.RoleHuman) && m.Error != ""
}

// IsAnswer reports a message that answers the customer: the assistant's or a person of the
// team's, not our fallback text.
func IsAnswer(m store.Message) bool {
	return (m.Role == model.RoleAssistant || m.Role == model.RoleHuman) && m.Error == ""
}

// Turns cuts a conversation's messages (oldest first) into its turns: the one rule for what a
// turn is, which a replay of a conversation and a test case made of one both follow. A run of
// consecutive customer messages opens a turn; the assistant's and team's messages after it
// (answers and fallback texts alike: the customer saw them) are its Answers, up to the next
// customer message, which opens the next turn. Messages before the first customer message
// (the greeting) belong to no turn; system messages to none either. At most
// model.MaxCaseTurns turns: the rest of a longer conversation is left out.
func Turns(msgs []store.Message) []Turn {
	var out []Turn
	var cur *Turn
	for _, m := range msgs {
		switch {
		case m.Role == model.RoleUser:
			if cur != nil && len(cur.Answers) > 0 {
				out = append(out, *cur)
				cur = nil
			}
			if cur == nil {
				if len(out) >= model.MaxCaseTurns {
					return out
				}
				cur = &Turn{}
			}
			cur.Customer = append(cur.Customer, m)
		case cur != nil && (m.Role == model.RoleAssistant || m.Role == model.RoleHuman):
			cur.Answers = append(cur.Answers, m)
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}
