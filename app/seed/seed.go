// Package seed fills a database with data: believable demo data for a newcomer (Demo), and a
// large generated data set for benchmarks (Bulk). It owns the demo script (demo.go,
// demo_script.go) and the generator (bulk.go); it builds no SQL: Demo goes through the
// store's ordinary functions and Bulk through the store's bulk load (app/store/bulk.go).
//
// Demo goes through the store's functions (CreateAssistant, CreateConversation, AddMessage,
// SetVariable), so every stored list field and count is kept by the same code as in
// production. It is deterministic (a fixed random seed; times relative to now) and idempotent:
// its two assistants carry the public keys pa_demo_sales_<workspace> and
// pa_demo_support_<workspace>, and a second run that finds them adds nothing.
//
// Bulk writes rows directly, with every stored list field precomputed: COPY through pgx on
// PostgreSQL, multi-row INSERTs on SQLite, one transaction per batch of conversations that
// also adds the batch to conversation_counts, so the counts are right after every committed
// batch. The message texts come from a small vocabulary so that full-text search has words of
// known selectivity:
//
//   - "zanzibar": in exactly the conversations whose ordinal in the run is a multiple of 1000
//     (0.1%), in their first user message;
//   - "kilimanjaro": in the conversations whose ordinal is 1 modulo 100 (1%), first user message;
//   - the product, city and weekday words ("teapot", "lisbon", "friday", ...): each in a few
//     percent of the messages;
//   - "order", "delivery", "booking", "refund", "invoice": common, each in 5% to 30% of messages.
//
// 30% of the bulk conversations carry an "email" variable and 10% an "order_number" variable
// (pre-chat on widget conversations, extracted with the message id elsewhere).
package seed

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/store"
)

// The workspace and user created when the database has no workspace yet. The user's password
// is drawn at random when it is created and printed once: a published demo password would let
// anyone into an install that was seeded and then exposed.
const (
	DemoWorkspaceName = "Demo workspace"
	DemoEmail         = "demo@parley.local"
)

// demoDays is how far back the demo conversations go.
const demoDays = 90

// DemoModel is the model the demo assistants use; costs follow its prices
// ($0.15 per 1M prompt tokens, $0.60 per 1M completion tokens).
const DemoModel = "gpt-4o-mini"

// Cost is the cost in nano-dollars of a gpt-4o-mini call: 150 nano-dollars per prompt token,
// 600 per completion token.
func Cost(promptTokens, completionTokens int) int64 {
	return int64(promptTokens)*150 + int64(completionTokens)*600
}

// WhatsAppReengagementError is the status error of a message sent after the 24-hour window
// closed.
const WhatsAppReengagementError = "(#131047) Re-engagement message: more than 24 hours have passed since the recipient last replied"

// Workspace returns the workspace to seed: the one named by id, or the first one. When id is 0
// and no workspace exists, it creates DemoWorkspaceName with the admin DemoEmail and a random
// password, which it returns (password is empty when nothing was created).
func Workspace(ctx context.Context, s *store.Store, id int64) (ws *store.Workspace, password string, err error) {
	if id > 0 {
		ws, err = s.WorkspaceByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, "", fmt.Errorf("workspace %d does not exist", id)
		}
		return ws, "", err
	}
	ws, err = s.FirstWorkspace(ctx)
	if !errors.Is(err, store.ErrNotFound) {
		return ws, "", err
	}
	password = rand.Text()
	hash, err := auth.HashPassword(password)
	if err != nil {
		return nil, "", err
	}
	ws, _, err = s.CreateFirstAdmin(ctx, DemoWorkspaceName, DemoEmail, hash)
	if errors.Is(err, store.ErrSetupDone) || store.IsUniqueViolation(err) {
		// Someone else set up the first workspace meanwhile.
		ws, err = s.FirstWorkspace(ctx)
		return ws, "", err
	}
	if err != nil {
		return nil, "", err
	}
	return ws, password, nil
}

// DemoPublicKeys are the public keys of the demo assistants of a workspace; they mark the
// demo data as present.
func DemoPublicKeys(workspaceID int64) (sales, support string) {
	return fmt.Sprintf("pa_demo_sales_%d", workspaceID), fmt.Sprintf("pa_demo_support_%d", workspaceID)
}
