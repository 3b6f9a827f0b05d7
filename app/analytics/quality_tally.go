package analytics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// QualityTally keeps the quality rollups (store.QualityDaily) equal to their sources: each run
// recomputes the (workspace, day) pairs whose evaluations, CSAT answers or feedback changed
// since the watermark, then moves the watermark to the run's start. A recomputation is
// absolute (the day's rows from its sources), so a run that fails half-way, runs twice or
// concurrently leaves the same rows; the watermark only saves work.
type QualityTally struct {
	Store *store.Store
	Log   *slog.Logger
	// Overlap is how far before the watermark a run looks (default two minutes): a source row
	// written by a transaction that committed after the previous run read is still found.
	Overlap time.Duration
	// ReconcileDays is how many recent days (today included) Reconcile recomputes (default 7).
	ReconcileDays int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (h *QualityTally) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

func (h *QualityTally) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// QualityOutcome is what one run did.
type QualityOutcome struct {
	Days    int // (workspace, day) pairs recomputed
	Changed int // of those, the ones whose rows changed
}

// Run recomputes the days touched since the watermark and advances it.
func (h *QualityTally) Run(ctx context.Context) (QualityOutcome, error) {
	var out QualityOutcome
	start := h.now()
	mark, err := h.Store.Watermark(ctx, store.QualityWatermarkName)
	if err != nil {
		return out, fmt.Errorf("quality watermark: %w", err)
	}
	since := mark
	if !since.IsZero() {
		overlap := h.Overlap
		if overlap <= 0 {
			overlap = 2 * time.Minute
		}
		since = since.Add(-overlap)
	}
	days, err := h.Store.QualityTouchedDays(ctx, since)
	if err != nil {
		return out, fmt.Errorf("quality days to recompute: %w", err)
	}
	ratings := map[int64]store.QualityRatings{}
	for _, d := range days {
		if err := h.recompute(ctx, ratings, d.WorkspaceID, d.Day, &out); err != nil {
			return out, err
		}
	}
	if err := h.Store.SetWatermark(ctx, store.QualityWatermarkName, start); err != nil {
		return out, fmt.Errorf("quality watermark: %w", err)
	}
	if out.Changed > 0 {
		h.log().DebugContext(ctx, "quality rollups recomputed", "days", out.Days, "changed", out.Changed)
	}
	return out, nil
}

// Reconcile recomputes the recent days of every workspace, whatever the watermark says (what
// a deletion of conversations, or a CSAT answer replaced by a later one, leaves behind).
func (h *QualityTally) Reconcile(ctx context.Context) (QualityOutcome, error) {
	var out QualityOutcome
	days := h.ReconcileDays
	if days <= 0 {
		days = 7
	}
	ids, err := h.Store.WorkspaceIDs(ctx)
	if err != nil {
		return out, err
	}
	today := h.now().Truncate(24 * time.Hour)
	ratings := map[int64]store.QualityRatings{}
	for _, ws := range ids {
		for i := days - 1; i >= 0; i-- {
			if err := h.recompute(ctx, ratings, ws, store.Day(today.AddDate(0, 0, -i)), &out); err != nil {
				return out, err
			}
		}
	}
	if out.Changed > 0 {
		h.log().InfoContext(ctx, "quality rollups reconciled", "days", out.Days, "changed", out.Changed)
	}
	return out, nil
}

func (h *QualityTally) recompute(ctx context.Context, ratings map[int64]store.QualityRatings, ws int64, day string, out *QualityOutcome) error {
	r, ok := ratings[ws]
	if !ok {
		var err error
		if r, err = h.ratings(ctx, ws); err != nil {
			return err
		}
		ratings[ws] = r
	}
	changed, err := h.Store.RecomputeQualityDay(ctx, ws, day, r)
	if err != nil {
		return fmt.Errorf("recompute quality of workspace %d on %s: %w", ws, day, err)
	}
	out.Days++
	if changed {
		out.Changed++
	}
	return nil
}

// ratings names the custom rating evaluators of the workspace's assistants.
func (h *QualityTally) ratings(ctx context.Context, ws int64) (store.QualityRatings, error) {
	as, err := h.Store.Assistants(ctx, ws)
	if err != nil {
		return nil, fmt.Errorf("assistants of workspace %d: %w", ws, err)
	}
	return RatingEvaluators(as), nil
}

// RatingEvaluators names each assistant's custom evaluators of type rating: the ones whose
// averages Analytics shows.
func RatingEvaluators(as []store.Assistant) store.QualityRatings {
	out := store.QualityRatings{}
	for _, a := range as {
		for _, e := range a.Evaluators {
			if e.Type == model.EvaluatorRating && !model.IsBuiltinEvaluator(e.Name) {
				if out[a.ID] == nil {
					out[a.ID] = map[string]bool{}
				}
				out[a.ID][e.Name] = true
			}
		}
	}
	return out
}
