//go:build fault

package fault

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Scenario 2: Redis stopped, then restarted empty (flushed), during webhook and widget load.
func TestScenario2RedisDownAndFlushed(t *testing.T) {
	t.Parallel()
	const sweep = 2 * time.Second
	const window = 20 * time.Second
	d := deploy(t, deployOptions{sweep: sweep, window: window, llmDelay: 100 * time.Millisecond})
	ctx := context.Background()

	hooks := &hookLoad{}
	widgets := &widgetLoad{}
	wctx, stopWidgets := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.webhookLoad(ctx, hooks, "redis", 16000000000, 4, 24*time.Second, hookClient(true))
	}()
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.widgetVisitor(wctx, widgets, fmt.Sprintf("visitor-redis-%d", i), 1500*time.Millisecond, i == 0, hookClient(true))
		}()
	}

	time.Sleep(6 * time.Second)
	down := time.Now()
	d.redis.p.signal(syscall.SIGKILL, 0) // stopped: its data is gone with it (no persistence)
	t.Logf("redis stopped at +%s", down.Sub(down).String())
	time.Sleep(8 * time.Second)
	d.redis.startWait(t) // back, empty
	back := time.Now()
	t.Logf("redis back (empty) after %s", back.Sub(down).Round(time.Millisecond))
	// Recovery is measured on the events acknowledged before Redis returned (those whose tasks
	// Redis lost, or never got): from Redis' return to all of them processed, while the load
	// goes on. Events arriving later are checked once the load is over.
	before := acked(hooks.snapshot())
	recovered := make(chan time.Time, 1)
	go func() {
		if waitFor(2*time.Minute, func() bool {
			st, err := d.idState(ctx, before)
			return err == nil && st.Processed == len(before)
		}) {
			recovered <- time.Now()
		}
		close(recovered)
	}()
	time.Sleep(10 * time.Second)
	stopWidgets()
	wg.Wait()

	ds := hooks.snapshot()
	ackIDs := acked(ds)
	// While Redis was down, the database was up: every webhook must have been acknowledged.
	var duringDown, notOK int
	for _, dv := range ds {
		if dv.Start.After(down) && dv.End.Before(back) {
			duringDown++
		}
		if dv.Status != http.StatusOK {
			notOK++
			t.Errorf("webhook %s answered %d %s (Redis down or not, the database was up: want 200)", dv.ID, dv.Status, dv.Err)
		}
	}
	if duringDown == 0 {
		t.Error("no webhook was sent while Redis was down: the scenario did not test anything")
	}

	// After Redis returns: every stored event processed, every window whose deadline passed closed.
	type winRow struct {
		ID       int64      `bun:"id"`
		Expires  *time.Time `bun:"window_expires_at"`
		ClosedAt *time.Time `bun:"window_closed_at"`
	}
	seenClosed := map[int64]time.Time{}
	var lastExpiry time.Time
	var st *idState
	var processedAt time.Time
	ok := waitFor(2*time.Minute, func() bool {
		var err error
		if st, err = d.idState(ctx, ackIDs); err != nil {
			return false
		}
		if st.Processed == len(ackIDs) && processedAt.IsZero() {
			processedAt = time.Now()
		}
		var ws []winRow
		if err := d.st.DB.NewSelect().TableExpr("conversations").Column("id", "window_expires_at", "window_closed_at").
			Where("type = 'whatsapp'").Scan(ctx, &ws); err != nil {
			return false
		}
		allClosed := len(ws) > 0
		for _, w := range ws {
			if w.Expires != nil && w.Expires.After(lastExpiry) {
				lastExpiry = *w.Expires
			}
			if w.ClosedAt != nil {
				if _, ok := seenClosed[w.ID]; !ok {
					seenClosed[w.ID] = time.Now()
				}
			} else {
				allClosed = false
			}
		}
		return !processedAt.IsZero() && allClosed
	})
	if !ok {
		t.Errorf("within 2 minutes of Redis' return: %d of %d stored events processed, %d windows closed", st.Processed, len(ackIDs), len(seenClosed))
	}
	// Lateness of each window's closing after max(deadline, Redis back).
	var ws []winRow
	if err := d.st.DB.NewSelect().TableExpr("conversations").Column("id", "window_expires_at", "window_closed_at").
		Where("type = 'whatsapp'").Scan(ctx, &ws); err != nil {
		t.Fatal(err)
	}
	var maxLate time.Duration
	for _, w := range ws {
		if w.Expires == nil {
			continue
		}
		due := *w.Expires
		if due.Before(back) {
			due = back
		}
		if at, ok := seenClosed[w.ID]; ok {
			if late := at.Sub(due); late > maxLate {
				maxLate = late
			}
		}
	}
	// "Within two sweep periods", with an allowance for the worker's own latency on a busy
	// machine (the poll above sees a close at most 200 ms late).
	allowance := 5 * time.Second
	var recovery time.Duration
	if at, ok := <-recovered; !ok {
		t.Errorf("the %d events acknowledged before Redis returned were not all processed within 2 minutes", len(before))
	} else if recovery = at.Sub(back); recovery > 2*sweep+allowance {
		t.Errorf("the %d events acknowledged before Redis returned were all processed %s after it returned: more than two sweep periods (%s) + %s", len(before), recovery.Round(100*time.Millisecond), 2*sweep, allowance)
	}
	if maxLate > 2*sweep+allowance {
		t.Errorf("a WhatsApp window was closed %s after its deadline (or Redis' return): more than two sweep periods (%s) + %s: its expiry was not restored", maxLate.Round(100*time.Millisecond), 2*sweep, allowance)
	}
	lost := len(st.MissingEvents) + len(st.MissingMsgs)
	if lost > 0 {
		t.Errorf("lost: acknowledged events not stored %s; without a message %s", short(st.MissingEvents), short(st.MissingMsgs))
	}
	dup := st.StoredDup + st.MessageDup
	if dup > 0 {
		t.Errorf("doubled: events %s; messages %s", short(st.StoredDupIDs), short(st.MessageDupIDs))
	}
	// Meta's side: every acknowledged customer gets exactly one reply, the LLM's to them,
	// including those whose reply task Redis lost.
	customers := customersOfDeliveries(ds)
	waitFor(2*time.Minute, func() bool { _, all := d.answeredAll(customers); return all })
	audit := d.auditWhatsApp(t, customers)
	lost += audit.Missing
	dup += audit.Doubled + audit.Foreign

	// Widget: every message answered 200 is stored once with one reply; none failed.
	wm := widgets.snapshot()
	wa := d.auditWidget(t, ctx, wm)
	wFailed, wDuring := 0, 0
	for _, m := range wm {
		if m.Start.After(down) && m.End.Before(back) {
			wDuring++
		}
		if m.Status != http.StatusOK || !m.Done {
			wFailed++
			t.Errorf("widget message %q: %d %s (complete reply: %v); the widget must keep working without Redis", m.Text, m.Status, m.Err, m.Done)
		}
	}
	if widgets.sessionErrors > 0 {
		t.Errorf("%d of %d widget sessions could not be opened", widgets.sessionErrors, widgets.sessions)
	}
	figures{
		Scenario: "2 redis down+flushed", Sent: len(ds), Acked: len(ackIDs), Stored: st.Stored, Processed: st.Processed,
		Lost: lost + wa.Lost + wa.NoReply, Duplicated: dup + wa.Doubled, Recovery: recovery,
		Notes: fmt.Sprintf("redis down %s; webhooks during outage %d (non-200 overall %d); %s; widget msgs during outage %d, failed %d; %s; windows %d, latest close after due %s; sweep %s",
			back.Sub(down).Round(100*time.Millisecond), duringDown, notOK, audit, wDuring, wFailed, wa, len(ws), maxLate.Round(100*time.Millisecond), sweep),
	}.log(t)
	d.checkAlive("after the Redis outage")
}
