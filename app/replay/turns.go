// Package replay regenerates a conversation's assistant turns with an assistant version, the
// customer's turns held fixed (issue 15 item 2). A replay is a row (store.Replay) with one
// row per customer turn (store.ReplayTurn) written before its task; the Engine fills the
// turns in order, each with one LLM call charged to the ledger as purpose replay (never to
// the original conversation), then runs the evaluators on both sides. Nothing is sent to a
// customer or a channel and the original is never changed.
//
// The Engine also serves test set runs: a case's replay has no conversation, its turns carry
// the expected answers (TurnsFromCase).
package replay

import (
	"strings"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// customerText is what a customer message says in a transcript: its text, or
// "[<type> message]" for a message without text (an image, a voice note), as chat.BuildRequest
// spells it.
func customerText(m store.Message) string {
	if m.Content == "" && m.ContentType != "" && m.ContentType != "text" {
		return "[" + m.ContentType + " message]"
	}
	return m.Content
}

// isAnswer reports a message that answers the customer: an assistant's or a person of the
// team's, not our fallback text (a message with an error).
func isAnswer(m store.Message) bool {
	return (m.Role == model.RoleAssistant || m.Role == model.RoleHuman) && m.Error == ""
}

// isFallback reports our polite fallback text (a reply whose call failed): it ends the
// customer's turn (they saw it) but is not an answer.
func isFallback(m store.Message) bool {
	return (m.Role == model.RoleAssistant || m.Role == model.RoleHuman) && m.Error != ""
}

// TurnsOf cuts a conversation's messages (oldest first) into a replay's turns: one per
// customer turn (consecutive customer messages form one turn, joined by a blank line), with
// the original answers up to the next customer turn (assistant and human messages, fallback
// texts excluded, though they end the turn, joined by a blank line), their cost, the latency of the first answer after
// the customer's last message, the first answer's id and the version that wrote it. Answers
// before the first customer message (the greeting) belong to no turn. At most
// model.MaxCaseTurns turns.
func TurnsOf(msgs []store.Message) []store.ReplayTurn {
	var out []store.ReplayTurn
	var cur *store.ReplayTurn
	var customer, answers []string
	var lastCustomer store.Message
	closed := false // the turn got a reply (an answer, or our fallback text)
	flush := func() {
		if cur == nil {
			return
		}
		cur.Customer = strings.Join(customer, "\n\n")
		cur.Original = strings.Join(answers, "\n\n")
		out = append(out, *cur)
		cur, customer, answers, closed = nil, nil, nil, false
	}
	for _, m := range msgs {
		switch {
		case m.Role == model.RoleUser:
			if cur != nil && closed {
				flush()
			}
			if cur == nil {
				if len(out) >= model.MaxCaseTurns {
					return out
				}
				cur = &store.ReplayTurn{}
			}
			customer = append(customer, customerText(m))
			lastCustomer = m
		case cur != nil && isFallback(m):
			closed = true // the customer saw it and wrote again: a turn of its own
		case cur != nil && isAnswer(m):
			closed = true
			if len(answers) == 0 {
				id := m.ID
				cur.OriginalMessageID = &id
				cur.OriginalVersion = m.AssistantVersion
				ms := m.CreatedAt.Sub(lastCustomer.CreatedAt).Milliseconds()
				cur.OriginalLatencyMS = &ms
			}
			answers = append(answers, m.Content)
			cur.OriginalCostNanos += m.CostNanos
		}
	}
	flush()
	return out
}

// TurnsFromCase is a test case's turns as a replay's: the customer's turns, each with its
// expected answer, no original. At most model.MaxCaseTurns turns.
func TurnsFromCase(turns []model.TestCaseTurn) []store.ReplayTurn {
	out := make([]store.ReplayTurn, 0, min(len(turns), model.MaxCaseTurns))
	for i, t := range turns {
		if i >= model.MaxCaseTurns {
			break
		}
		out = append(out, store.ReplayTurn{Customer: t.Customer, Expected: t.Expected})
	}
	return out
}
