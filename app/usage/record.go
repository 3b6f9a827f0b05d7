package usage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Purposes of an LLM call.
const (
	PurposeReply      = store.PurposeReply
	PurposeExtraction = store.PurposeExtraction
	PurposeEvaluation = store.PurposeEvaluation
	PurposeReplay     = store.PurposeReplay
)

// Call describes one LLM call to record.
type Call struct {
	WorkspaceID      int64
	ConversationID   *int64
	MessageID        *int64 // the reply (or the message the extraction read), when known
	AssistantID      *int64
	ConversationType string // model.TypeTest, TypeWidget, TypeWhatsApp; test calls are not charged
	// RequestID identifies the call for good (for example "reply:<conversation>:<message>"):
	// recording the same id again writes nothing, so a retried job never counts twice.
	RequestID string
	Purpose   string // PurposeReply, PurposeExtraction, PurposeEvaluation or PurposeReplay
	// ReplayID is the replay a PurposeReplay call is spent on (its ConversationID is nil: a
	// replay never adds to the original conversation's totals).
	ReplayID *int64
	Model    string // the model that answered (llm.Response.Model)
	Tokens   Tokens
	// AddToConversation also adds the tokens and cost to the conversation's totals, once.
	// Set it for calls whose usage no message carries (extraction); Record ignores it when
	// ConversationID is nil.
	AddToConversation bool
	// Meter, when set, counts the call once its ledger row is newly written (a replayed
	// request id counts nothing).
	Meter Meter
}

// Meter counts LLM calls, tokens and cost (app/metrics implements it).
type Meter interface {
	LLMCall(purpose, model string, promptTokens, completionTokens int, costNanos int64)
	LLMError(purpose, model string)
}

// Count tells m about a ledger row that was just inserted; a nil m counts nothing.
func Count(m Meter, e store.UsageEntry) {
	if m == nil {
		return
	}
	m.LLMCall(e.Purpose, e.Model, e.PromptTokens, e.CompletionTokens, e.CostNanos)
}

// Recorded is the outcome of recording a call.
type Recorded struct {
	Entry store.UsageEntry
	Cost  Cost
	// Inserted is false when the request id was recorded before: nothing was written.
	Inserted bool
}

// Warning is "no price for model X" when the call had no price, else "".
func (r Recorded) Warning() string { return r.Cost.Warning }

// Entry builds the ledger row of a call priced with prices: cost in nano-dollars, the price
// entry used as JSON (empty when the model has no price), and charged=false for test
// conversations.
func Entry(prices *Table, c Call) (store.UsageEntry, Cost, error) {
	if c.WorkspaceID == 0 || strings.TrimSpace(c.RequestID) == "" || strings.TrimSpace(c.Model) == "" {
		return store.UsageEntry{}, Cost{}, errors.New("usage: a call needs a workspace, a request id and a model")
	}
	if !slices.Contains(store.Purposes, c.Purpose) {
		return store.UsageEntry{}, Cost{}, fmt.Errorf("usage: purpose %q is not one of %s", c.Purpose, strings.Join(store.Purposes, ", "))
	}
	cost := prices.Cost(c.Model, c.Tokens)
	var priceJSON string
	if cost.Found {
		b, err := json.Marshal(cost.Price)
		if err != nil {
			return store.UsageEntry{}, Cost{}, err
		}
		priceJSON = string(b)
	}
	cached := min(max(c.Tokens.Cached, 0), max(c.Tokens.Prompt, 0))
	return store.UsageEntry{
		WorkspaceID:      c.WorkspaceID,
		ConversationID:   c.ConversationID,
		MessageID:        c.MessageID,
		AssistantID:      c.AssistantID,
		ConversationType: c.ConversationType,
		RequestID:        strings.TrimSpace(c.RequestID),
		Purpose:          c.Purpose,
		Model:            strings.TrimSpace(c.Model),
		PromptTokens:     max(c.Tokens.Prompt, 0),
		CachedTokens:     cached,
		CompletionTokens: max(c.Tokens.Completion, 0),
		CostNanos:        cost.Nanos,
		PriceEntry:       priceJSON,
		Charged:          c.ConversationType != model.TypeTest,
		ReplayID:         c.ReplayID,
	}, cost, nil
}

// Record prices one LLM call and writes its usage-ledger row, once per request id.
func Record(ctx context.Context, st *store.Store, prices *Table, c Call) (Recorded, error) {
	e, cost, err := Entry(prices, c)
	if err != nil {
		return Recorded{}, err
	}
	var inserted bool
	if c.AddToConversation && c.ConversationID != nil {
		inserted, err = st.InsertUsageAddingToConversation(ctx, &e)
	} else {
		inserted, err = st.InsertUsage(ctx, &e)
	}
	if err != nil {
		return Recorded{}, fmt.Errorf("record usage: %w", err)
	}
	if inserted {
		Count(c.Meter, e)
	}
	return Recorded{Entry: e, Cost: cost, Inserted: inserted}, nil
}

// RecordReply stores a reply message and the ledger row of the call that produced it in one
// transaction, once per request id: m's token and cost fields are filled from the call, and
// the row's message_id points at m. When the request id was recorded before (a retried job),
// nothing is written, Inserted is false and m.ID is the message stored the first time.
func RecordReply(ctx context.Context, st *store.Store, prices *Table, c Call, m *store.Message) (Recorded, error) {
	e, cost, err := Entry(prices, c)
	if err != nil {
		return Recorded{}, err
	}
	if c.ConversationID != nil && m.ConversationID == 0 {
		m.ConversationID = *c.ConversationID
	}
	if m.WorkspaceID == 0 {
		m.WorkspaceID = c.WorkspaceID
	}
	if m.WorkspaceID != e.WorkspaceID || e.ConversationID == nil || m.ConversationID != *e.ConversationID {
		return Recorded{}, errors.New("usage: the reply and its call must belong to the same workspace and conversation")
	}
	m.PromptTokens, m.CachedTokens, m.CompletionTokens, m.CostNanos = e.PromptTokens, e.CachedTokens, e.CompletionTokens, e.CostNanos
	inserted, err := st.AddMessageWithUsage(ctx, m, &e)
	if err != nil {
		return Recorded{}, fmt.Errorf("record reply: %w", err)
	}
	if inserted {
		Count(c.Meter, e)
	}
	return Recorded{Entry: e, Cost: cost, Inserted: inserted}, nil
}

// EntryPrice reads the price entry stored on a ledger row; ok is false when the call had no
// price (the "no price for model X" case).
func EntryPrice(e store.UsageEntry) (p Price, ok bool) {
	if e.PriceEntry == "" {
		return Price{}, false
	}
	if err := json.Unmarshal([]byte(e.PriceEntry), &p); err != nil {
		return Price{}, false
	}
	return p, true
}

// EntryWarning is "no price for model X" for a ledger row recorded without a price, else "".
func EntryWarning(e store.UsageEntry) string {
	if e.PriceEntry == "" {
		return "no price for model " + e.Model
	}
	return ""
}
