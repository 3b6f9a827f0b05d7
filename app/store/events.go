package store

import (
	"context"
	"time"
)

// InsertInboundEvent stores a raw inbound event once: a second insert of the same
// (provider, provider_id) does nothing and reports inserted=false.
func (s *Store) InsertInboundEvent(ctx context.Context, ev *InboundEvent) (inserted bool, err error) {
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = now()
	}
	res, err := s.DB.NewInsert().Model(ev).On("CONFLICT (provider, provider_id) DO NOTHING").Exec(ctx)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return false, nil
	}
	// Fetch the id: RETURNING with ON CONFLICT DO NOTHING returns no row for duplicates, and
	// SQLite's driver does not give LastInsertId through bun's Returning on every path.
	err = s.DB.NewSelect().Model(ev).Column("id").Where("provider = ? AND provider_id = ?", ev.Provider, ev.ProviderID).Scan(ctx)
	return true, err
}

// UnprocessedEvents returns up to limit events not yet processed that were received before
// olderThan: fewest attempts first, then oldest.
func (s *Store) UnprocessedEvents(ctx context.Context, olderThan time.Time, limit int) ([]InboundEvent, error) {
	var evs []InboundEvent
	// Fewest attempts first: events that never ran (their task was lost with Redis) come before
	// events that keep failing, so a pile of failing events cannot starve them out of a batch.
	err := s.DB.NewSelect().Model(&evs).Column("id", "provider", "provider_id", "kind", "received_at", "attempts", "request_id").
		Where("processed_at IS NULL").Where("received_at < ?", olderThan.UTC()).
		Order("attempts ASC", "received_at ASC", "id ASC").Limit(int64(limit)).Scan(ctx)
	return evs, err
}

// InboundEventByID loads one event.
func (s *Store) InboundEventByID(ctx context.Context, id int64) (*InboundEvent, error) {
	ev := new(InboundEvent)
	if err := s.DB.NewSelect().Model(ev).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return ev, nil
}

// MarkEventProcessed records success.
func (s *Store) MarkEventProcessed(ctx context.Context, id int64) error {
	_, err := s.DB.NewUpdate().Model((*InboundEvent)(nil)).
		Set("processed_at = ?", now()).Set("attempts = attempts + 1").Set("last_error = ''").
		Where("id = ? AND processed_at IS NULL", id).Exec(ctx)
	return err
}

// MarkEventFailed records a failed attempt and its error.
func (s *Store) MarkEventFailed(ctx context.Context, id int64, msg string) error {
	_, err := s.DB.NewUpdate().Model((*InboundEvent)(nil)).
		Set("attempts = attempts + 1").Set("last_error = ?", truncate(msg, 2000)).
		Where("id = ?", id).Exec(ctx)
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// do not cut a UTF-8 sequence in half
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
