//go:build fault

package fault

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/bench"
)

// inspectable makes the queues known to asynq's Inspector again after a FLUSHALL: a running
// asynq client registers a queue (SADD asynq:queues) once per process, so after a flush the
// Inspector (and Parley's /queues page) answers "queue not found" until the processes restart.
func inspectable(redisAddr string) {
	redisDo(redisAddr, "SADD asynq:queues critical default low")
}

// activeTypes lists the task types the worker is running right now (asynq's active lists).
func activeTypes(redisAddr string) []string {
	inspectable(redisAddr)
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: redisAddr})
	defer in.Close()
	var out []string
	for _, q := range []string{"critical", "default", "low"} {
		ts, err := in.ListActiveTasks(q)
		if err != nil {
			continue
		}
		for _, t := range ts {
			out = append(out, t.Type)
		}
	}
	sort.Strings(out)
	return out
}

// hasWork tells whether the active tasks include a reply or an extraction (the jobs that
// call the LLM and Meta), not only a sweep.
func hasWork(types []string) bool {
	for _, ty := range types {
		if ty == "whatsapp:reply" || ty == "conversation:extract" {
			return true
		}
	}
	return false
}

// Scenario 1: kill -9 of the worker in the middle of reply, extraction and tally jobs,
// repeatedly, under WhatsApp load; the worker is restarted each time.
func TestScenario1WorkerKill9(t *testing.T) {
	t.Parallel()
	d := deploy(t, deployOptions{llmDelay: 1500 * time.Millisecond})
	const (
		rate  = 2.0
		dur   = 40 * time.Second
		kills = 4
	)
	ctx := context.Background()
	loadDone := make(chan *bench.WhatsAppResult, 1)
	go func() {
		res, err := bench.WhatsApp(ctx, bench.WhatsAppOptions{
			URL: d.webURL + "/webhooks/whatsapp", Secret: appSecret, PhoneNumberID: phoneNumberID,
			Rate: rate, Duration: dur, Customers: int(rate * dur.Seconds()), Prefix: "kill", Concurrency: 32,
		}, io.Discard)
		if err != nil {
			t.Errorf("bench whatsapp: %v", err)
		}
		loadDone <- res
	}()

	var killNotes []string
	inflight := map[string]int{}
	var lastRestart time.Time
	for k := 0; k < kills; k++ {
		time.Sleep(dur / (kills + 1))
		// Kill when reply or extraction calls are in flight (the LLM answers after 1.5 s) and
		// the worker's asynq active lists show the jobs making them.
		var types []string
		var llmInFlight int64
		waitFor(10*time.Second, func() bool {
			llmInFlight = d.llm.Chat.InFlight.Load() + d.llm.Structured.InFlight.Load()
			if llmInFlight == 0 {
				return false
			}
			types = activeTypes(fmt.Sprintf("127.0.0.1:%d", d.redis.port))
			return hasWork(types)
		})
		for _, ty := range types {
			inflight[ty]++
		}
		note := fmt.Sprintf("kill %d: llm calls in flight reply=%d extraction=%d; tasks %v", k+1, d.llm.Chat.InFlight.Load(), d.llm.Structured.InFlight.Load(), types)
		killNotes = append(killNotes, note)
		t.Log(note)
		d.worker.signal(syscall.SIGKILL, 0)
		if llmInFlight == 0 || !hasWork(types) {
			t.Errorf("kill %d hit no running work: %d LLM calls in flight, active tasks %v (want reply or extraction jobs running)", k+1, llmInFlight, types)
		}
		time.Sleep(time.Second)
		d.worker.start(t)
		lastRestart = time.Now()
	}
	// One more kill in the middle of a tally. A tally takes milliseconds, so it is caught by
	// holding usage_daily locked (as the rollup repair does): the next tally (every minute)
	// claims its ledger rows, then waits for the lock inside its transaction; the worker is
	// killed there, and its transaction must roll back, leaving the rows for the next tally.
	tallyKilled := false
	lockCtx, unlock := context.WithTimeout(ctx, 2*time.Minute)
	lockTx, err := d.st.DB.BeginTx(lockCtx, nil)
	if err != nil {
		t.Fatalf("begin the lock transaction: %v", err)
	}
	if _, err := lockTx.ExecContext(lockCtx, "LOCK TABLE usage_daily IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		t.Fatalf("lock usage_daily: %v", err)
	}
	if waitFor(75*time.Second, func() bool {
		for _, ty := range activeTypes(fmt.Sprintf("127.0.0.1:%d", d.redis.port)) {
			if ty == "usage:tally" {
				return true
			}
		}
		return false
	}) {
		time.Sleep(500 * time.Millisecond) // into its transaction, blocked on the lock
		inflight["usage:tally"]++
		killNotes = append(killNotes, "kill 5: during usage:tally, blocked inside its transaction")
		t.Log("kill 5: a usage:tally task was active, waiting on usage_daily inside its transaction")
		d.worker.signal(syscall.SIGKILL, 0)
		tallyKilled = true
	}
	if err := lockTx.Rollback(); err != nil {
		t.Errorf("release the usage_daily lock: %v", err)
	}
	unlock()
	if !tallyKilled {
		t.Error("no usage:tally task became active within 75s while usage_daily was locked: the tally kill did not happen")
	} else {
		time.Sleep(time.Second)
		d.worker.start(t)
		lastRestart = time.Now()
	}
	res := <-loadDone
	if res == nil {
		t.Fatal("no load result")
	}
	ids := res.IDs

	// Wait until every acknowledged message is stored, processed and answered once, every
	// extraction recorded and every usage row tallied (asynq re-runs a killed task once its
	// lease has expired: up to about three minutes).
	var (
		st    *idState
		convs []convRow
		why   string
	)
	done := waitFor(5*time.Minute, func() bool {
		var err error
		if st, err = d.idState(ctx, ids); err != nil {
			why = err.Error()
			return false
		}
		if convs, err = d.whatsappConversations(ctx); err != nil {
			why = err.Error()
			return false
		}
		if st.Processed < len(ids) || len(st.MissingMsgs) > 0 {
			why = fmt.Sprintf("%d of %d events processed", st.Processed, len(ids))
			return false
		}
		for _, c := range convs {
			if c.Sent < 1 || c.Extracted < 1 {
				why = fmt.Sprintf("conversation %d: %d replies sent, %d extraction rows", c.ID, c.Sent, c.Extracted)
				return false
			}
		}
		n, err := d.st.UntalliedUsage(ctx)
		if err != nil || n > 0 {
			why = fmt.Sprintf("%d usage rows not tallied yet", n)
			return false
		}
		return true
	})
	recovery := time.Since(lastRestart)
	if !done {
		t.Errorf("not everything completed within 5 minutes of the load: %s", why)
	}
	if st == nil {
		t.Fatal("no database state")
	}

	// Checks.
	lost := len(st.MissingEvents) + len(st.MissingMsgs)
	dup := st.StoredDup + st.MessageDup
	if len(st.MissingEvents) > 0 || len(st.MissingMsgs) > 0 {
		t.Errorf("lost: %d acknowledged events not stored (%s), %d without a message (%s)", len(st.MissingEvents), short(st.MissingEvents), len(st.MissingMsgs), short(st.MissingMsgs))
	}
	if st.StoredDup+st.MessageDup > 0 {
		t.Errorf("doubled: %d events stored twice, %d messages stored twice", st.StoredDup, st.MessageDup)
	}
	replies, ledgerMissing, ledgerDup, extractMissing := 0, 0, 0, 0
	for _, c := range convs {
		replies += c.Sent
		if c.Users != 1 {
			t.Errorf("conversation %d (%s): %d customer messages, want 1", c.ID, c.Customer, c.Users)
		}
		if c.Assistants != 1 || c.Sent != 1 {
			t.Errorf("conversation %d (%s): %d assistant replies (%d accepted by Meta, %d not), want exactly one", c.ID, c.Customer, c.Assistants, c.Sent, c.Pending)
			if c.Assistants > 1 {
				dup++
			}
		}
		switch {
		case c.Ledger < c.Assistants:
			ledgerMissing++
		case c.Ledger > c.Assistants:
			ledgerDup++
		}
		if c.Extracted != 1 {
			extractMissing++
		}
	}
	// Meta's side: one send per acknowledged customer, the LLM's reply to their message.
	customers, err := d.customersOf(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	audit := d.auditWhatsApp(t, customers)
	lost += audit.Missing
	dup += audit.Doubled + audit.Foreign
	if len(convs) != len(ids) {
		t.Errorf("%d WhatsApp conversations for %d acknowledged messages from distinct customers", len(convs), len(ids))
	}
	if ledgerMissing+ledgerDup > 0 {
		t.Errorf("usage ledger: %d replies without their row, %d with more than one", ledgerMissing, ledgerDup)
	}
	if extractMissing > 0 {
		t.Errorf("%d conversations without the ledger row of their extraction", extractMissing)
	}
	untallied, drift, err := d.usageIntegrity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if untallied > 0 || len(drift) > 0 {
		t.Errorf("usage: %d rows untallied; drift: %v", untallied, drift)
	}
	if res.ErrorCount() > 0 {
		t.Errorf("webhooks not acknowledged while only the worker was killed: %v", res.Errors)
	}
	var kinds []string
	for k, n := range inflight {
		kinds = append(kinds, fmt.Sprintf("%s×%d", k, n))
	}
	sort.Strings(kinds)
	figures{
		Scenario: "1 worker kill -9", Sent: res.Sent, Acked: res.OK, Stored: st.Stored, Processed: st.Processed,
		Lost: lost, Duplicated: dup, Recovery: recovery,
		Notes: fmt.Sprintf("%d kills; tasks killed in flight: %s; replies stored %d, Graph sends %d, LLM calls reply %d extraction %d; %s",
			len(killNotes), strings.Join(kinds, " "), replies, len(d.graph.all()), d.llm.Chat.Answered.Load(), d.llm.Structured.Answered.Load(), audit),
	}.log(t)
}
