package conversation

import (
	"context"

	"github.com/parleyhq/parley/app/store"
)

// ApplyExtraction stores one variable-extraction run (store.ApplyExtraction: the LLM call's
// ledger row, the values, the run's state and error, in one transaction) and publishes the
// conversation when a variable changed.
func (s *Service) ApplyExtraction(ctx context.Context, u store.ExtractionUpdate) (store.ExtractionOutcome, error) {
	out, err := s.Store.ApplyExtraction(ctx, u)
	if err == nil && len(out.Changed) > 0 {
		s.changed(ctx, u.WorkspaceID, u.ConversationID)
	}
	return out, err
}
