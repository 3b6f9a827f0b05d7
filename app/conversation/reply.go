package conversation

import (
	"context"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/usage"
)

// AddReply stores an AI reply with its usage row in one transaction (once per call.RequestID:
// a retried job writes nothing the second time) and publishes the new message. Recorded says
// whether it was written now, and carries the pricing warning.
func (s *Service) AddReply(ctx context.Context, prices *usage.Table, call usage.Call, m *store.Message) (usage.Recorded, error) {
	rec, err := usage.RecordReply(ctx, s.Store, prices, call, m)
	if err != nil {
		return rec, err
	}
	if rec.Inserted {
		s.announce(ctx, m)
	}
	return rec, nil
}
