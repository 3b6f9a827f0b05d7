//go:build fault

package fault

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"
)

// activeSweeps lists the sweep tasks the worker is running right now.
func activeSweeps(redisAddr string) []string {
	var out []string
	for _, ty := range activeTypes(redisAddr) {
		if strings.HasSuffix(ty, ":sweep") || strings.HasSuffix(ty, "_sweep") {
			out = append(out, ty)
		}
	}
	return out
}

// holdMidSweep locks (FOR UPDATE) the middle one of the reply intents that are not done, so
// that the reply sweep, which reschedules its due intents one by one, stops half-way: the
// intents before it enqueued, those after not yet. It returns nil when the database has no
// reply outbox (pending_replies) to lock.
func (d *deployment) holdMidSweep(ctx context.Context) (bun.Tx, int, bool) {
	var n int
	if err := d.st.DB.NewRaw("SELECT count(*) FROM pending_replies WHERE done_at IS NULL").Scan(ctx, &n); err != nil || n == 0 {
		return bun.Tx{}, 0, false
	}
	tx, err := d.st.DB.BeginTx(ctx, &sql.TxOptions{})
	if err != nil {
		d.t.Fatalf("begin the lock transaction: %v", err)
	}
	var id int64
	if err := tx.NewRaw("SELECT id FROM pending_replies WHERE done_at IS NULL ORDER BY due_at, id LIMIT 1 OFFSET ? FOR UPDATE", n/2).Scan(ctx, &id); err != nil {
		_ = tx.Rollback()
		d.t.Fatalf("lock a reply intent: %v", err)
	}
	return tx, n, true
}

// Scenario 7: kill -9 of the scheduler in the middle of a sweep, then of the scheduler and the
// worker running the sweep together, and restarts. Replies are first made owed to the
// database only (held at the LLM, then the worker killed and Redis flushed), so only the
// sweeps can bring them back; one reply intent is kept locked so that the reply sweep stops
// half-way through them. Nothing may be lost or doubled, counted on the fake Graph API.
func TestScenario7SchedulerKill9MidSweep(t *testing.T) {
	t.Parallel()
	d := deploy(t, deployOptions{llmDelay: 300 * time.Millisecond, env: []string{"PARLEY_WORKER_CONCURRENCY=100"}})
	ctx := context.Background()
	redisAddr := fmt.Sprintf("127.0.0.1:%d", d.redis.port)

	// 1. 30 customers write; their replies are held at the LLM (50 s) until every message is
	// stored, then the worker dies and Redis loses every task.
	d.llm.replyDelay.Store(int64(50 * time.Second))
	hooks := &hookLoad{}
	d.webhookLoad(ctx, hooks, "sched", 23000000000, 10, 3*time.Second, hookClient(true))
	ds := hooks.snapshot()
	ids := acked(ds)
	if !waitFor(60*time.Second, func() bool {
		st, err := d.idState(ctx, ids)
		return err == nil && st.Processed == len(ids) && d.llm.Chat.InFlight.Load() > 0
	}) {
		t.Fatalf("the %d messages were not all processed with replies at the LLM within 60 s", len(ids))
	}
	held := d.llm.Chat.InFlight.Load()
	d.worker.signal(syscall.SIGKILL, 0)
	if r := d.redis.do("FLUSHALL"); r != "+OK" {
		t.Fatalf("FLUSHALL: %q", r)
	}
	d.llm.replyDelay.Store(0)
	owed, _ := d.unanswered(ctx, ds)
	t.Logf("%d messages stored, %d replies held at the LLM when the worker was killed and Redis flushed; %d customers owed a reply", len(ids), held, owed)
	lockTx, intents, locked := d.holdMidSweep(ctx)
	d.worker.start(t)

	// 2. A sweep running (stopped on the locked intent): kill -9 the scheduler.
	var notes []string
	var sweeps []string
	waitFor(90*time.Second, func() bool {
		sweeps = activeSweeps(redisAddr)
		return len(sweeps) > 0 && (!locked || hasType(sweeps, "reply:sweep"))
	})
	answeredAt1, _ := d.answeredAll(customersOfDeliveries(ds))
	d.sched.signal(syscall.SIGKILL, 0)
	notes = append(notes, fmt.Sprintf("kill 1 (scheduler): sweeps running %v, customers answered %d of %d", sweeps, answeredAt1, len(ids)))
	if len(sweeps) == 0 {
		t.Error("kill 1: no sweep was running when the scheduler was killed")
	}
	time.Sleep(time.Second)
	d.sched.start(t)
	time.Sleep(3 * time.Second)

	// 3. The same, and the worker running the sweep with it (the machine of both dies).
	waitFor(30*time.Second, func() bool { sweeps = activeSweeps(redisAddr); return len(sweeps) > 0 })
	answeredAt2, _ := d.answeredAll(customersOfDeliveries(ds))
	d.sched.signal(syscall.SIGKILL, 0)
	d.worker.signal(syscall.SIGKILL, 0)
	notes = append(notes, fmt.Sprintf("kill 2 (scheduler + worker): sweeps running %v, customers answered %d of %d", sweeps, answeredAt2, len(ids)))
	if len(sweeps) == 0 {
		t.Error("kill 2: no sweep was running when the scheduler and the worker were killed")
	}
	if locked {
		if err := lockTx.Rollback(); err != nil {
			t.Errorf("release the intent lock: %v", err)
		}
	}
	time.Sleep(time.Second)
	d.worker.start(t)
	d.sched.start(t)
	restarted := time.Now()
	for _, n := range notes {
		t.Log(n)
	}

	customers := customersOfDeliveries(ds)
	var why string
	done := waitFor(4*time.Minute, func() bool {
		n, all := d.answeredAll(customers)
		why = fmt.Sprintf("%d of %d customers answered on Meta's side", n, len(customers))
		return all
	})
	recovery := time.Since(restarted)
	if !done {
		t.Errorf("4 minutes after the restarts: %s", why)
	}
	time.Sleep(6 * time.Second) // a late duplicate (a second sweep's task) would show now
	audit := d.auditWhatsApp(t, customers)
	st, err := d.idState(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	lost := len(st.MissingEvents) + len(st.MissingMsgs) + audit.Missing
	dup := st.StoredDup + st.MessageDup + audit.Doubled + audit.Foreign
	if len(ds) != len(ids) {
		t.Errorf("%d of %d webhooks acknowledged", len(ids), len(ds))
	}
	lockNote := "no reply outbox to lock"
	if locked {
		lockNote = fmt.Sprintf("the middle one of %d reply intents locked", intents)
	}
	figures{
		Scenario: "7 scheduler kill -9 sweep", Sent: len(ds), Acked: len(ids), Stored: st.Stored, Processed: st.Processed,
		Lost: lost, Duplicated: dup, Recovery: recovery,
		Notes: fmt.Sprintf("%d replies held at the LLM, worker killed and Redis flushed (%d owed); %s; %s; %s; LLM reply calls %d",
			held, owed, lockNote, strings.Join(notes, "; "), audit, d.llm.replyCalls()),
	}.log(t)
	d.checkAlive("at the end")
}

func hasType(types []string, ty string) bool {
	for _, x := range types {
		if x == ty {
			return true
		}
	}
	return false
}
