//go:build fault

package fault

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/store"
)

// deployAllInOne runs the embedded default: `parley` with no role (web, worker and scheduler
// in one process) on its own SQLite file (parley.db in its working directory) and its
// in-process Redis; no DATABASE_URL, no REDIS_URL.
func deployAllInOne(t *testing.T, o deployOptions) *deployment {
	t.Helper()
	if o.sweep == 0 {
		o.sweep = 2 * time.Second
	}
	if o.window == 0 {
		o.window = 24 * time.Hour
	}
	dir, err := os.MkdirTemp(tmpRoot, strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	d := &deployment{t: t, dir: dir}
	d.llm = newFakeLLM(t, o.llmDelay)
	d.graph = newFakeGraph(t)
	d.webPort = freePort(t)
	d.webURL = fmt.Sprintf("http://127.0.0.1:%d", d.webPort)
	d.graph.webhookURL = d.webURL + "/webhooks/whatsapp"
	d.env = append(baseEnv(), d.parleyEnv(o)...) // baseEnv has no DATABASE_URL nor REDIS_URL
	d.web = &proc{name: "parley", args: []string{binPath}, env: d.env, dir: dir, log: filepath.Join(dir, "parley.log")}
	t.Cleanup(func() {
		d.web.stop()
		if d.st != nil {
			d.st.Close()
		}
		if t.Failed() {
			t.Logf("---- last lines of %s (%s) ----\n%s", d.web.name, d.web.log, tail(d.web.log, 60))
		}
	})
	d.web.start(t)
	d.waitReady(90 * time.Second)
	key := strings.TrimSpace(d.run("apikey", "create", "--name", "fault"))
	d.createAssistant(key)
	return d
}

// Scenario 9: the all-in-one process (embedded SQLite, in-process Redis) killed -9 twice while
// WhatsApp replies are pending, and restarted at once; Meta redelivers every webhook that was
// not acknowledged. Every customer gets exactly one reply, counted on the fake Graph API.
func TestScenario9AllInOneKill9(t *testing.T) {
	t.Parallel()
	d := deployAllInOne(t, deployOptions{llmDelay: 1500 * time.Millisecond})
	ctx := context.Background()
	hooks := &hookLoad{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.webhookLoad(ctx, hooks, "aio", 22000000000, 4, 20*time.Second, hookClient(true))
	}()
	var notes []string
	var lastRestart time.Time
	hit := 0
	for k := 0; k < 2; k++ {
		time.Sleep(6 * time.Second)
		// Kill while replies are owed: customers acknowledged without a send on Meta's side,
		// and reply calls in flight.
		var owed int
		var inFlight int64
		waitFor(5*time.Second, func() bool {
			n, _ := d.answeredAll(customersOfDeliveries(hooks.snapshot()))
			owed = len(customersOfDeliveries(hooks.snapshot())) - n
			inFlight = d.llm.Chat.InFlight.Load()
			return owed > 0 && inFlight > 0
		})
		d.web.signal(syscall.SIGKILL, 0)
		if owed > 0 {
			hit++
		}
		d.web.start(t)
		took := d.waitReady(90 * time.Second)
		lastRestart = time.Now()
		note := fmt.Sprintf("kill %d: %d acknowledged customers without a reply yet, %d reply calls in flight; back in %s", k+1, owed, inFlight, took.Round(100*time.Millisecond))
		notes = append(notes, note)
		t.Log(note)
	}
	if hit == 0 {
		t.Error("no kill found a reply owed: the scenario did not test anything")
	}
	wg.Wait()
	replayed := d.replay(hooks, 90*time.Second)
	ds := hooks.snapshot()
	ackedFirst := 0
	for _, dv := range ds {
		if dv.Attempts == 1 && dv.Acked {
			ackedFirst++
		}
	}
	customers := customersOfDeliveries(ds)
	var why string
	done := waitFor(3*time.Minute, func() bool {
		n, all := d.answeredAll(customers)
		why = fmt.Sprintf("%d of %d customers answered on Meta's side", n, len(customers))
		return all
	})
	recovery := time.Since(lastRestart)
	if !done {
		t.Errorf("3 minutes after the last restart: %s", why)
	}
	time.Sleep(4 * time.Second) // a late duplicate would show now
	audit := d.auditWhatsApp(t, customers)

	// The database, read once the process has stopped (SIGTERM).
	if exited, _ := d.web.signal(syscall.SIGTERM, 40*time.Second); !exited {
		t.Error("the all-in-one process did not exit within 40 s of SIGTERM")
	}
	st, err := store.Open(ctx, "", filepath.Join(d.dir, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	d.st = st
	is, err := d.idState(ctx, allIDs(ds))
	if err != nil {
		t.Fatal(err)
	}
	lost := len(is.MissingEvents) + len(is.MissingMsgs) + audit.Missing
	dup := is.StoredDup + is.MessageDup + audit.Doubled + audit.Foreign
	if len(is.MissingEvents)+len(is.MissingMsgs)+is.StoredDup+is.MessageDup > 0 {
		t.Errorf("database: events missing %s, messages missing %s, doubled events %d messages %d", short(is.MissingEvents), short(is.MissingMsgs), is.StoredDup, is.MessageDup)
	}
	if len(customers) != len(ds) {
		t.Errorf("%d of %d webhooks acknowledged after 90 s of redeliveries", len(customers), len(ds))
	}
	figures{
		Scenario: "9 all-in-one kill -9", Sent: len(ds), Acked: ackedFirst, Stored: is.Stored, Processed: is.Processed,
		Lost: lost, Duplicated: dup, Recovery: recovery,
		Notes: fmt.Sprintf("%s; %d redeliveries until all %d acknowledged; %s; LLM reply calls %d", strings.Join(notes, "; "), replayed, len(customers), audit, d.llm.replyCalls()),
	}.log(t)
}
