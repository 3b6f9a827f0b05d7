package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Usage purposes.
const (
	PurposeReply      = "reply"
	PurposeExtraction = "extraction"
	PurposeEvaluation = "evaluation"
	// PurposeReplay is a replay's calls (issue 15): its regenerated answers and the
	// evaluations and judgements of replays and test set runs; never a customer's reply.
	PurposeReplay = "replay"
)

// Purposes lists the usage purposes (usage_ledger.purpose).
var Purposes = []string{PurposeReply, PurposeExtraction, PurposeEvaluation, PurposeReplay}

// ErrUsageEntryInvalid is returned for a ledger row without a workspace, request id, model or
// valid purpose.
var ErrUsageEntryInvalid = errors.New("usage entry: workspace, request id, model and purpose (reply, extraction, evaluation or replay) are required")

// InsertUsage writes one usage-ledger row, unless a row with its request id exists already:
// then nothing is written and inserted is false. The unique request_id decides (ON CONFLICT
// DO NOTHING), so concurrent and retried calls record a request exactly once.
func (s *Store) InsertUsage(ctx context.Context, e *UsageEntry) (inserted bool, err error) {
	return insertUsage(ctx, s.DB, e)
}

// InsertUsageAddingToConversation is InsertUsage that, when the row is new, also adds its
// tokens and cost to the conversation's totals in the same transaction. Use it for calls
// whose usage no message carries (extraction); a reply's usage reaches the totals through
// its message (AddMessage or AddMessageWithUsage).
func (s *Store) InsertUsageAddingToConversation(ctx context.Context, e *UsageEntry) (inserted bool, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if e.ConversationID != nil {
			if err := s.lockConversation(ctx, tx, e.WorkspaceID, *e.ConversationID); err != nil {
				return err
			}
		}
		inserted, err = insertUsage(ctx, tx, e)
		if err != nil || !inserted || e.ConversationID == nil {
			return err
		}
		return addUsageToConversation(ctx, tx, e)
	})
	return inserted, err
}

// AddMessageWithUsage stores a reply and its ledger row in one transaction, keyed on the
// ledger's request id: when the request id is recorded already (a retried job), neither is
// written again, inserted is false, and m.ID is set to the message recorded the first time
// (0 if that row has none). Otherwise the message is added as AddMessage does (its tokens and
// cost go to the conversation's totals) and the ledger row points at it.
func (s *Store) AddMessageWithUsage(ctx context.Context, m *Message, e *UsageEntry) (inserted bool, err error) {
	err = s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockConversation(ctx, tx, m.WorkspaceID, m.ConversationID); err != nil {
			return err
		}
		inserted, err = insertUsage(ctx, tx, e)
		if err != nil {
			return err
		}
		if !inserted {
			var prev UsageEntry
			if err := tx.NewSelect().Model(&prev).Column("message_id").
				Where("request_id = ? AND workspace_id = ?", e.RequestID, e.WorkspaceID).Scan(ctx); err != nil {
				return notFound(err)
			}
			if prev.MessageID != nil {
				m.ID = *prev.MessageID
			}
			return nil
		}
		added, err := s.addMessage(ctx, tx, m)
		if err != nil {
			return err
		}
		if !added || m.ID == 0 {
			return nil
		}
		e.MessageID = &m.ID
		_, err = tx.NewUpdate().Model((*UsageEntry)(nil)).Set("message_id = ?", m.ID).Where("id = ?", e.ID).Exec(ctx)
		return err
	})
	if err != nil {
		inserted = false
	}
	return inserted, err
}

// addUsageToConversation adds a ledger row's tokens and cost to its conversation's totals, and
// its cost to the part of them its purpose names (cost_extraction_nanos, cost_evaluation_nanos;
// a reply's part is the rest, see CostSplit).
func addUsageToConversation(ctx context.Context, tx bun.IDB, e *UsageEntry) error {
	q := tx.NewUpdate().Model((*Conversation)(nil)).
		Set("prompt_tokens = prompt_tokens + ?", e.PromptTokens).
		Set("cached_tokens = cached_tokens + ?", e.CachedTokens).
		Set("completion_tokens = completion_tokens + ?", e.CompletionTokens).
		Set("cost_nanos = cost_nanos + ?", e.CostNanos).
		Set("updated_at = ?", now()).
		Where("id = ? AND workspace_id = ?", *e.ConversationID, e.WorkspaceID)
	switch e.Purpose {
	case PurposeExtraction:
		q = q.Set("cost_extraction_nanos = cost_extraction_nanos + ?", e.CostNanos)
	case PurposeEvaluation:
		q = q.Set("cost_evaluation_nanos = cost_evaluation_nanos + ?", e.CostNanos)
	}
	_, err := q.Exec(ctx)
	return err
}

// CostSplit is a conversation's cost split by purpose, in nano-dollars (the API's
// cost_breakdown): Reply is what is left of the total once extraction and evaluation are
// taken out.
type CostSplit struct {
	Reply, Extraction, Evaluation int64
}

// CostSplit splits the conversation's cost_nanos by purpose.
func (c *Conversation) CostSplit() CostSplit {
	return CostSplit{
		Reply:      c.CostNanos - c.CostExtractionNanos - c.CostEvaluationNanos,
		Extraction: c.CostExtractionNanos,
		Evaluation: c.CostEvaluationNanos,
	}
}

func insertUsage(ctx context.Context, db bun.IDB, e *UsageEntry) (bool, error) {
	e.RequestID = strings.TrimSpace(e.RequestID)
	if e.WorkspaceID == 0 || e.RequestID == "" || e.Model == "" || !slices.Contains(Purposes, e.Purpose) {
		return false, ErrUsageEntryInvalid
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now()
	}
	e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Microsecond)
	e.ID = 0
	res, err := db.NewInsert().Model(e).
		On("CONFLICT (request_id) DO NOTHING").
		Returning("id").Exec(ctx)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 0 {
		e.ID = 0
		return false, nil
	}
	if e.ID == 0 { // a driver that does not scan RETURNING on Exec
		if err := db.NewSelect().Model(e).Column("id").Where("request_id = ?", e.RequestID).Scan(ctx); err != nil {
			return false, err
		}
	}
	return true, nil
}

// UsageByRequestID returns the ledger row of a request id in the workspace.
func (s *Store) UsageByRequestID(ctx context.Context, workspaceID int64, requestID string) (*UsageEntry, error) {
	e := new(UsageEntry)
	err := s.DB.NewSelect().Model(e).Where("workspace_id = ? AND request_id = ?", workspaceID, requestID).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return e, nil
}

// ConversationUsage lists the ledger rows of a conversation, oldest first.
func (s *Store) ConversationUsage(ctx context.Context, workspaceID, conversationID int64) ([]UsageEntry, error) {
	var out []UsageEntry
	err := s.DB.NewSelect().Model(&out).
		Where("workspace_id = ? AND conversation_id = ?", workspaceID, conversationID).
		Order("created_at ASC", "id ASC").Scan(ctx)
	return out, err
}

// UnpricedModels lists the models of the workspace's calls since the given time that had no
// price (their rows carry an empty price_entry), for the "no price for model X" warning.
func (s *Store) UnpricedModels(ctx context.Context, workspaceID int64, since time.Time) ([]string, error) {
	var models []string
	err := s.DB.NewSelect().Model((*UsageEntry)(nil)).ColumnExpr("DISTINCT model").
		Where("workspace_id = ? AND price_entry = '' AND created_at >= ?", workspaceID, since.UTC().Truncate(time.Microsecond)).
		Order("model ASC").Scan(ctx, &models)
	return models, err
}
