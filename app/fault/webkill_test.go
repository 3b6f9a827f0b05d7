//go:build fault

package fault

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Scenario 6: kill -9 of the web process in the middle of widget replies (streamed and not),
// twice, restarted at once as a supervisor would. Every visitor message the web process
// stored must end with exactly one reply, the LLM's; the ones cut off by a kill can only be
// finished by the product's sweep in a worker (their visitors moved to new conversations).
func TestScenario6WebKill9MidWidgetReply(t *testing.T) {
	t.Parallel()
	d := deploy(t, deployOptions{llmDelay: 2 * time.Second})
	ctx := context.Background()
	widgets := &widgetLoad{renew: true}
	wctx, stopWidgets := context.WithCancel(ctx)
	var wg sync.WaitGroup
	const visitors = 6
	for i := 0; i < visitors; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Even visitors stream their replies, odd ones take the JSON answer.
			d.widgetVisitor(wctx, widgets, fmt.Sprintf("visitor-webkill-%d", i), 200*time.Millisecond, i%2 == 0, hookClient(true))
		}()
	}

	var notes []string
	cut := 0
	var lastKill time.Time
	for k := 0; k < 2; k++ {
		time.Sleep(6 * time.Second)
		// Kill while replies are being written: reply calls in flight at the LLM.
		waitFor(5*time.Second, func() bool { return d.llm.Chat.InFlight.Load() >= 2 })
		inFlight := d.llm.Chat.InFlight.Load()
		d.web.signal(syscall.SIGKILL, 0)
		lastKill = time.Now()
		cut += int(inFlight)
		note := fmt.Sprintf("kill %d: %d widget reply calls in flight", k+1, inFlight)
		notes = append(notes, note)
		t.Log(note)
		if inFlight == 0 {
			t.Errorf("kill %d of the web process hit no reply in progress", k+1)
		}
		d.web.start(t)
		d.waitReady(60 * time.Second)
	}
	time.Sleep(4 * time.Second)
	stopWidgets()
	wg.Wait()
	callsAtEnd := d.llm.replyCalls()

	wm := widgets.snapshot()
	var why string
	done := waitFor(3*time.Minute, func() bool {
		n, err := d.pendingWidget(ctx, wm)
		why = fmt.Sprintf("%d stored visitor messages without a reply (%v)", n, err)
		return err == nil && n == 0
	})
	recovery := time.Since(lastKill)
	if !done {
		t.Errorf("3 minutes after the last kill: %s", why)
	}
	time.Sleep(4 * time.Second) // a late duplicate would show now
	wa := d.auditWidget(t, ctx, wm)
	interrupted := 0
	for _, m := range wm {
		if !m.Done {
			interrupted++
		}
	}
	if interrupted == 0 {
		t.Error("no widget request was cut off by the kills: the scenario did not test anything")
	}
	figures{
		Scenario: "6 web kill -9 widget", Sent: wa.Sent, Acked: wa.Acked, Stored: wa.Stored, Processed: wa.Answered,
		Lost: wa.Lost + wa.NoReply, Duplicated: wa.Doubled, Recovery: recovery,
		Notes: fmt.Sprintf("%s; requests cut off %d (LLM calls cut %d); %s; LLM reply calls %d during the load, %d after it (the sweep's)",
			strings.Join(notes, "; "), interrupted, cut, wa, callsAtEnd, d.llm.replyCalls()-callsAtEnd),
	}.log(t)
	d.checkAlive("at the end")
}
