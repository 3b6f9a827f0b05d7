package conversation

import (
	"context"

	"github.com/parleyhq/parley/app/store"
)

// ApplyEvaluation stores a finished evaluation run (store.ApplyEvaluation: the run, its
// values, the built-in values on the conversation, the call's ledger row and cost, in one
// transaction) and publishes the conversation and the counts (saved views filter on the
// evaluation) when it wrote.
func (s *Service) ApplyEvaluation(ctx context.Context, res store.EvaluationResult) (store.EvaluationApplied, error) {
	out, err := s.Store.ApplyEvaluation(ctx, res)
	if err == nil && !out.Replayed {
		s.changed(ctx, res.WorkspaceID, out.ConversationID)
		s.countsChanged(ctx, res.WorkspaceID)
	}
	return out, err
}
