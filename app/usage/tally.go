package usage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parleyhq/parley/app/store"
)

// Tally keeps the daily rollups equal to the usage ledger.
type Tally struct {
	Store *store.Store
	Log   *slog.Logger
	// Batch is how many ledger rows one transaction claims (default 500); MaxBatches bounds one
	// run (default 200), the next run continues.
	Batch      int
	MaxBatches int
	// ActivityDays is how many recent days (today included) a tally refreshes the activity
	// figures of, at most once per ActivityEvery (defaults: 2 days, every minute); a negative
	// ActivityEvery turns the refresh off.
	ActivityDays  int
	ActivityEvery time.Duration
	// ReconcileDays is how many recent days the reconciliation checks (default 3); it
	// refreshes the activity figures of ReconcileActivityDays (default 7).
	ReconcileDays         int
	ReconcileActivityDays int
	// BeforeCommit is passed to every batch (tests inject failures with it).
	BeforeCommit func(ctx context.Context) error
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu           sync.Mutex
	lastActivity time.Time
}

func (h *Tally) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Tally) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

// TallyOutcome is what one tally run did.
type TallyOutcome struct {
	Rows          int
	Batches       int
	TotalsFixed   []store.TotalsDrift
	ActivityRows  int
	ActivityFresh bool
}

// Run tallies the ledger in batches until nothing is left (or MaxBatches), verifies the
// totals of the conversations it touched (repairing drift), and refreshes the recent days'
// activity figures.
func (h *Tally) Run(ctx context.Context) (TallyOutcome, error) {
	var out TallyOutcome
	batch, maxBatches := h.Batch, h.MaxBatches
	if batch <= 0 {
		batch = 500
	}
	if maxBatches <= 0 {
		maxBatches = 200
	}
	var convs []int64
	for out.Batches < maxBatches {
		res, err := h.Store.TallyUsage(ctx, store.TallyOptions{Batch: batch, BeforeCommit: h.BeforeCommit})
		if err != nil {
			return out, fmt.Errorf("tally: %w", err)
		}
		out.Batches++
		out.Rows += res.Rows
		convs = append(convs, res.Conversations...)
		if res.Rows < batch {
			break
		}
	}
	if len(convs) > 0 {
		drift, err := h.Store.ConversationTotalsDrift(ctx, dedupeIDs(convs))
		if err != nil {
			return out, fmt.Errorf("verify conversation totals: %w", err)
		}
		for _, d := range drift {
			fixed, err := h.Store.RepairConversationTotals(ctx, d.ConversationID)
			if err != nil {
				return out, fmt.Errorf("repair conversation totals: %w", err)
			}
			if fixed != nil {
				out.TotalsFixed = append(out.TotalsFixed, *fixed)
				h.log().WarnContext(ctx, "conversation totals did not match its messages and extraction calls: repaired", "drift", fixed.String())
			}
		}
	}
	if h.dueActivity() {
		n, err := h.refreshActivity(ctx, h.activityDays())
		if err != nil {
			return out, err
		}
		out.ActivityRows, out.ActivityFresh = n, true
	}
	if out.Rows > 0 {
		h.log().DebugContext(ctx, "usage tallied", "rows", out.Rows, "batches", out.Batches)
	}
	return out, nil
}

func (h *Tally) activityDays() int {
	if h.ActivityDays > 0 {
		return h.ActivityDays
	}
	return 2
}

func (h *Tally) dueActivity() bool {
	if h.ActivityEvery < 0 {
		return false
	}
	every := h.ActivityEvery
	if every == 0 {
		every = time.Minute
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if !h.lastActivity.IsZero() && now.Sub(h.lastActivity) < every {
		return false
	}
	h.lastActivity = now
	return true
}

// refreshActivity recomputes the activity figures of the last days (today included) of
// every workspace.
func (h *Tally) refreshActivity(ctx context.Context, days int) (int, error) {
	ids, err := h.Store.WorkspaceIDs(ctx)
	if err != nil {
		return 0, err
	}
	today := h.now().Truncate(24 * time.Hour)
	from, to := store.Day(today.AddDate(0, 0, -(days-1))), store.Day(today.AddDate(0, 0, 1))
	total := 0
	for _, ws := range ids {
		n, err := h.Store.RefreshActivityRollups(ctx, ws, from, to)
		if err != nil {
			return total, fmt.Errorf("refresh activity of workspace %d: %w", ws, err)
		}
		total += n
	}
	return total, nil
}

// ReconcileOutcome is what one reconciliation found and fixed.
type ReconcileOutcome struct {
	Fixed        []store.RollupFix
	ActivityRows int
}

// Reconcile compares the ledger columns of the recent days' rollups with the tallied ledger
// rows, repairs what differs (logging each fix), and recomputes the recent days' activity.
func (h *Tally) Reconcile(ctx context.Context) (ReconcileOutcome, error) {
	var out ReconcileOutcome
	days := h.ReconcileDays
	if days <= 0 {
		days = 3
	}
	today := h.now().Truncate(24 * time.Hour)
	from, to := store.Day(today.AddDate(0, 0, -(days-1))), store.Day(today.AddDate(0, 0, 1))
	drift, err := h.Store.LedgerRollupDrift(ctx, from, to)
	if err != nil {
		return out, err
	}
	if len(drift) > 0 {
		fixed, err := h.Store.RepairLedgerRollups(ctx, from, to)
		if err != nil {
			return out, err
		}
		out.Fixed = fixed
		for _, f := range fixed {
			h.log().WarnContext(ctx, "usage rollup drifted from the ledger: repaired", "fix", f.String())
		}
	}
	ad := h.ReconcileActivityDays
	if ad <= 0 {
		ad = 7
	}
	n, err := h.refreshActivity(ctx, ad)
	if err != nil {
		return out, err
	}
	out.ActivityRows = n
	if n > 0 {
		h.log().InfoContext(ctx, "activity rollups refreshed", "rows", n, "days", ad)
	}
	return out, nil
}

func dedupeIDs(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
