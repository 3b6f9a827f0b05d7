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

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// TurnsOf is a conversation's messages (oldest first) as a replay's turns: one per turn of
// conversation.Turns (the one rule for what a turn is: consecutive customer messages joined
// by a blank line; the greeting and anything past model.MaxCaseTurns turns left out), with
// the original answers (assistant and team messages joined by a blank line; a fallback text
// ends the turn but is not an answer), their cost and tokens, the latency of the first
// answer after the customer's last message, the first answer's id and the version that
// wrote it.
func TurnsOf(msgs []store.Message) []store.ReplayTurn {
	groups := conversation.Turns(msgs)
	out := make([]store.ReplayTurn, 0, len(groups))
	for _, g := range groups {
		t := store.ReplayTurn{Customer: g.CustomerText()}
		lastCustomer := g.Customer[len(g.Customer)-1]
		var answers []string
		for _, m := range g.Answers {
			if !conversation.IsAnswer(m) {
				continue
			}
			if len(answers) == 0 {
				id := m.ID
				t.OriginalMessageID = &id
				t.OriginalVersion = m.AssistantVersion
				ms := m.CreatedAt.Sub(lastCustomer.CreatedAt).Milliseconds()
				t.OriginalLatencyMS = &ms
			}
			answers = append(answers, m.Content)
			t.OriginalCostNanos += m.CostNanos
			t.OriginalPromptTokens += m.PromptTokens
			t.OriginalCachedTokens += m.CachedTokens
			t.OriginalCompletionTokens += m.CompletionTokens
		}
		t.Original = strings.Join(answers, "\n\n")
		out = append(out, t)
	}
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
