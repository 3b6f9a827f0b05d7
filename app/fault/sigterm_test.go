//go:build fault

package fault

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Scenario 5: SIGTERM of the web and then the worker process during webhook and widget load;
// each is restarted once it has exited.
func TestScenario5GracefulShutdown(t *testing.T) {
	t.Parallel()
	d := deploy(t, deployOptions{llmDelay: 2 * time.Second})
	ctx := context.Background()
	hooks := &hookLoad{}
	widgets := &widgetLoad{}
	wctx, stopWidgets := context.WithCancel(ctx)
	var wg, hookWG sync.WaitGroup
	hookWG.Add(1)
	go func() {
		defer hookWG.Done()
		// One connection per request, so that a refused connection is told apart from a
		// request the server accepted.
		d.webhookLoad(ctx, hooks, "term", 19000000000, 4, 20*time.Second, hookClient(false))
	}()
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.widgetVisitor(wctx, widgets, fmt.Sprintf("visitor-term-%d", i), 300*time.Millisecond, i != 2, hookClient(false))
		}()
	}

	time.Sleep(6 * time.Second)
	webTerm := time.Now()
	exited, took := d.web.signal(syscall.SIGTERM, 40*time.Second)
	if !exited {
		t.Errorf("the web process did not exit within 40 s of SIGTERM")
	} else if err := d.web.exitErr(); err != nil {
		t.Errorf("the web process exited with %v after SIGTERM, want a clean exit", err)
	}
	webDown := took
	d.web.start(t)
	d.waitReady(60 * time.Second)
	webBack := time.Now()

	time.Sleep(3 * time.Second)
	// SIGTERM the worker while it is busy: jobs active in asynq and LLM calls in flight.
	var active []string
	var inflightLLM int64
	waitFor(10*time.Second, func() bool {
		inflightLLM = d.llm.Chat.InFlight.Load() + d.llm.Structured.InFlight.Load()
		active = activeTypes(fmt.Sprintf("127.0.0.1:%d", d.redis.port))
		return inflightLLM > 0 && hasWork(active)
	})
	if inflightLLM == 0 || !hasWork(active) {
		t.Errorf("the worker was not busy at SIGTERM: active tasks %v, %d LLM calls in flight (want reply or extraction jobs running)", active, inflightLLM)
	}
	exited, workerTook := d.worker.signal(syscall.SIGTERM, 40*time.Second)
	if !exited {
		t.Errorf("the worker did not exit within 40 s of SIGTERM")
	} else if err := d.worker.exitErr(); err != nil {
		t.Errorf("the worker exited with %v after SIGTERM, want a clean exit", err)
	}
	workerRestart := time.Now()
	d.worker.start(t)
	hookWG.Wait() // the webhook load ends first
	stopWidgets()
	wg.Wait()

	// Requests the web process had accepted when SIGTERM came (begun at least 200 ms before it,
	// not answered yet) must complete; any other failure must be a refused connection (never
	// accepted, so never acknowledged: Meta and the widget retry).
	accepted := webTerm.Add(-200 * time.Millisecond)
	inFlight, inFlightOK := 0, 0
	errs := map[string]int{}
	for _, dv := range hooks.snapshot() {
		if dv.Err != "" {
			errs["webhook "+dv.Err]++
		} else if dv.Status != http.StatusOK {
			errs[fmt.Sprintf("webhook HTTP %d", dv.Status)]++
		}
		if dv.Start.Before(accepted) && dv.End.After(webTerm) {
			inFlight++
			if dv.Status == http.StatusOK {
				inFlightOK++
			} else {
				t.Errorf("webhook %s in flight at SIGTERM: %d %s, want 200", dv.ID, dv.Status, dv.Err)
			}
		}
		if dv.Err != "" && dv.Err != "refused" && dv.Start.Before(accepted) {
			t.Errorf("webhook %s sent before SIGTERM failed with %s: an accepted request was cut", dv.ID, dv.Err)
		}
	}
	wm := widgets.snapshot()
	for _, m := range wm {
		if m.Err != "" {
			errs["widget "+m.Err]++
		} else if m.Status != http.StatusOK {
			errs[fmt.Sprintf("widget HTTP %d", m.Status)]++
		}
		if m.Start.Before(accepted) && m.End.After(webTerm) {
			inFlight++
			if m.Status == http.StatusOK && m.Done {
				inFlightOK++
			} else {
				t.Errorf("widget message %q in flight at SIGTERM: %d %s (complete: %v), want a complete reply", m.Text, m.Status, m.Err, m.Done)
			}
		}
		if m.Err != "" && m.Err != "refused" && m.Start.Before(accepted) {
			t.Errorf("widget message %q sent before SIGTERM failed with %s: an accepted request was cut", m.Text, m.Err)
		}
	}
	if inFlight == 0 {
		t.Error("no request was in flight when the web process got SIGTERM: the scenario did not test anything")
	}

	// Meta retries what was not acknowledged.
	replayed := d.replay(hooks, 60*time.Second)
	ds := hooks.snapshot()
	ids := allIDs(ds)
	var st *idState
	var convs []convRow
	ok := waitFor(4*time.Minute, func() bool {
		var err error
		if st, err = d.idState(ctx, ids); err != nil || st.Processed < len(ids) || len(st.MissingMsgs) > 0 {
			return false
		}
		if convs, err = d.whatsappConversations(ctx); err != nil {
			return false
		}
		for _, c := range convs {
			if c.Sent < 1 {
				return false
			}
		}
		return true
	})
	recovery := time.Since(workerRestart)
	if !ok {
		t.Errorf("not every webhook was processed and answered within 4 minutes of the worker's restart")
	}
	if st == nil {
		t.Fatal("no state")
	}
	lost := len(st.MissingEvents) + len(st.MissingMsgs)
	dup := st.StoredDup + st.MessageDup
	if lost+dup > 0 {
		t.Errorf("lost %d (%s %s), doubled %d", lost, short(st.MissingEvents), short(st.MissingMsgs), dup)
	}
	for _, c := range convs {
		if c.Users != 1 || c.Assistants != 1 || c.Sent != 1 {
			t.Errorf("conversation %d: %d customer messages, %d replies (%d accepted by Meta); want one each", c.ID, c.Users, c.Assistants, c.Sent)
			if c.Assistants > 1 {
				dup += c.Assistants - 1
			}
		}
	}
	// Meta's side (every webhook was acknowledged in the end) and the widget's.
	audit := d.auditWhatsApp(t, customersOfDeliveries(ds))
	lost += audit.Missing
	dup += audit.Doubled + audit.Foreign
	wa := d.auditWidget(t, ctx, wm)
	var ek []string
	for k, n := range errs {
		ek = append(ek, fmt.Sprintf("%s×%d", k, n))
	}
	sort.Strings(ek)
	ackedFirst := 0
	for _, dv := range ds {
		if dv.Attempts == 1 && dv.Acked {
			ackedFirst++
		}
	}
	figures{
		Scenario: "5 SIGTERM web+worker", Sent: len(ds), Acked: ackedFirst, Stored: st.Stored, Processed: st.Processed,
		Lost: lost + wa.Lost + wa.NoReply, Duplicated: dup + wa.Doubled, Recovery: recovery,
		Notes: fmt.Sprintf("web stopped in %s, back after %s; worker stopped in %s with tasks %v active and %d LLM calls in flight; requests in flight at SIGTERM %d, completed %d; failures %s (replayed %d); %s; %s",
			webDown.Round(10*time.Millisecond), webBack.Sub(webTerm).Round(10*time.Millisecond), workerTook.Round(10*time.Millisecond), active, inflightLLM, inFlight, inFlightOK, strings.Join(ek, " "), replayed, audit, wa),
	}.log(t)
	d.checkAlive("at the end")
}
