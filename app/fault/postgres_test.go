//go:build fault

package fault

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Scenario 3: the (private) PostgreSQL stopped (-m immediate) and restarted during webhook load.
func TestScenario3PostgresDown(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp(tmpRoot, "pg-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	pg := startPGCluster(t, dir)
	d := deploy(t, deployOptions{pgAdminURL: pg.adminURL(), llmDelay: 100 * time.Millisecond})
	ctx := context.Background()

	hooks := &hookLoad{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.webhookLoad(ctx, hooks, "pg", 17000000000, 4, 22*time.Second, hookClient(true))
	}()
	time.Sleep(6 * time.Second)
	down := time.Now()
	pg.stopImmediate(t)
	stopped := time.Now() // requests begun after this met a PostgreSQL that was down
	time.Sleep(8 * time.Second)
	upStart := time.Now()
	pg.start(t)
	back := time.Now()
	t.Logf("PostgreSQL down for %s (restart took %s)", back.Sub(down).Round(time.Millisecond), back.Sub(upStart).Round(time.Millisecond))
	wg.Wait()

	first := hooks.snapshot()
	// While it was down (requests begun after the stop and answered before the restart began):
	// 503, never 200.
	codes := map[string]int{}
	var duringDown, firstAcked int
	for _, dv := range first {
		if dv.Acked {
			firstAcked++
		}
		if dv.Start.After(stopped) && dv.End.Before(upStart) {
			duringDown++
			k := fmt.Sprint(dv.Status)
			if dv.Err != "" {
				k = dv.Err
			}
			codes[k]++
			if dv.Status != http.StatusServiceUnavailable {
				t.Errorf("webhook %s sent while PostgreSQL was down: %d %s, want 503", dv.ID, dv.Status, dv.Err)
			}
		}
	}
	if duringDown == 0 {
		t.Error("no webhook was sent while PostgreSQL was down: the scenario did not test anything")
	}
	// Every 200 before the replays must be stored (checked below with the rest); now Meta's
	// retries: every webhook not acknowledged is delivered again until it is.
	replayed := d.replay(hooks, 90*time.Second)
	final := hooks.snapshot()
	for _, dv := range final {
		if !dv.Acked {
			t.Errorf("webhook %s still not acknowledged after 90 s of retries: %d %s", dv.ID, dv.Status, dv.Err)
		}
	}
	ids := allIDs(final)
	var st *idState
	ok := waitFor(3*time.Minute, func() bool {
		var err error
		st, err = d.idState(ctx, ids)
		return err == nil && st.Processed == len(ids) && len(st.MissingMsgs) == 0
	})
	recovery := time.Since(back)
	if !ok {
		if st == nil {
			t.Fatalf("the database never answered the test after the restart")
		}
		t.Errorf("3 minutes after the restart: %d of %d events processed, %d without a message", st.Processed, len(ids), len(st.MissingMsgs))
	}
	lost := len(st.MissingEvents) + len(st.MissingMsgs)
	if lost > 0 {
		t.Errorf("lost: not stored %s; without a message %s", short(st.MissingEvents), short(st.MissingMsgs))
	}
	dup := st.StoredDup + st.MessageDup
	if dup > 0 {
		t.Errorf("present more than once: events %s; messages %s", short(st.StoredDupIDs), short(st.MessageDupIDs))
	}
	// Meta's side: every customer (all acknowledged in the end) answered exactly once.
	customers := customersOfDeliveries(final)
	waitFor(2*time.Minute, func() bool { _, all := d.answeredAll(customers); return all })
	audit := d.auditWhatsApp(t, customers)
	lost += audit.Missing
	dup += audit.Doubled + audit.Foreign
	d.checkAlive("after the PostgreSQL restart")
	var ks []string
	for k, n := range codes {
		ks = append(ks, fmt.Sprintf("%s×%d", k, n))
	}
	sort.Strings(ks)
	figures{
		Scenario: "3 postgres down", Sent: len(first), Acked: firstAcked, Stored: st.Stored, Processed: st.Processed,
		Lost: lost, Duplicated: dup, Recovery: recovery,
		Notes: fmt.Sprintf("postgres down %s; answers while down: %s; %d redeliveries (Meta-style) until all %d acknowledged; processes restarted: none; %s",
			back.Sub(down).Round(100*time.Millisecond), strings.Join(ks, " "), replayed, len(final), audit),
	}.log(t)
}
