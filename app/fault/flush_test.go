//go:build fault

package fault

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

// queuedReplies counts the whatsapp:reply tasks Redis holds: scheduled (inside their
// debounce), pending (due, waiting for a worker) and active.
func queuedReplies(redisAddr string) (scheduled, pending, active int) {
	inspectable(redisAddr)
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: redisAddr})
	defer in.Close()
	count := func(ts []*asynq.TaskInfo, err error) int {
		n := 0
		for _, t := range ts {
			if t.Type == "whatsapp:reply" {
				n++
			}
		}
		return n
	}
	for _, q := range []string{"critical", "default", "low"} {
		scheduled += count(in.ListScheduledTasks(q, asynq.PageSize(1000)))
		pending += count(in.ListPendingTasks(q, asynq.PageSize(1000)))
		active += count(in.ListActiveTasks(q, asynq.PageSize(1000)))
	}
	return
}

// unanswered counts the customers whose message is stored (its event processed) and who have
// no send on Meta's side yet: replies the product owes right now.
func (d *deployment) unanswered(ctx context.Context, ds []delivery) (int, error) {
	ids := make([]string, 0, len(ds))
	from := map[string]string{}
	for _, dv := range ds {
		ids = append(ids, dv.ID)
		from[dv.ID] = dv.From
	}
	stored, err := d.countBy(ctx, "messages", "provider_message_id", ids, "")
	if err != nil {
		return 0, err
	}
	perTo := d.graph.byRecipient()
	n := 0
	for id, c := range stored {
		if c > 0 && perTo[from[id]] == 0 {
			n++
		}
	}
	return n, nil
}

// Scenario 8: Redis flushed (FLUSHALL) three times while WhatsApp replies are pending, inside
// their debounce or queued: every acknowledged customer still gets exactly one reply, counted
// on the fake Graph API's records.
func TestScenario8FlushWhileRepliesPending(t *testing.T) {
	t.Parallel()
	d := deploy(t, deployOptions{llmDelay: 1500 * time.Millisecond})
	ctx := context.Background()
	redisAddr := fmt.Sprintf("127.0.0.1:%d", d.redis.port)
	hooks := &hookLoad{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.webhookLoad(ctx, hooks, "flush", 21000000000, 4, 21*time.Second, hookClient(true))
	}()

	var notes []string
	hit := 0
	var lastFlush time.Time
	for i := 0; i < 3; i++ {
		time.Sleep(5 * time.Second)
		// Flush when replies are owed: reply tasks waiting in Redis and customers without a send.
		var sch, pend, act, owed int
		waitFor(5*time.Second, func() bool {
			sch, pend, act = queuedReplies(redisAddr)
			owed, _ = d.unanswered(ctx, hooks.snapshot())
			return sch+pend > 0 && owed > 0
		})
		if r := d.redis.do("FLUSHALL"); r != "+OK" {
			t.Fatalf("FLUSHALL: %q", r)
		}
		lastFlush = time.Now()
		if sch+pend > 0 {
			hit++
		}
		note := fmt.Sprintf("flush %d: reply tasks in Redis scheduled %d pending %d active %d; customers owed a reply %d", i+1, sch, pend, act, owed)
		notes = append(notes, note)
		t.Log(note)
	}
	if hit == 0 {
		t.Error("no flush found a reply task waiting in Redis: the scenario did not test anything")
	}
	wg.Wait()

	ds := hooks.snapshot()
	customers := customersOfDeliveries(ds)
	ids := acked(ds)
	var st *idState
	var convs []convRow
	var why string
	done := waitFor(3*time.Minute, func() bool {
		var err error
		if st, err = d.idState(ctx, ids); err != nil || st.Processed < len(ids) {
			why = fmt.Sprintf("events processed: %v", st)
			return false
		}
		if n, all := d.answeredAll(customers); !all {
			why = fmt.Sprintf("%d of %d customers answered on Meta's side", n, len(customers))
			return false
		}
		if convs, err = d.whatsappConversations(ctx); err != nil {
			return false
		}
		for _, c := range convs {
			if c.Extracted < 1 {
				why = fmt.Sprintf("conversation %d: the extraction of its message is not recorded", c.ID)
				return false
			}
		}
		return true
	})
	recovery := time.Since(lastFlush)
	if !done {
		t.Errorf("3 minutes after the load: %s", why)
	}
	time.Sleep(4 * time.Second) // a late duplicate would show now
	if st == nil {
		t.Fatal("no database state")
	}
	lost := len(st.MissingEvents) + len(st.MissingMsgs)
	dup := st.StoredDup + st.MessageDup
	if lost+dup > 0 {
		t.Errorf("events: lost %d (%s %s), doubled %d", lost, short(st.MissingEvents), short(st.MissingMsgs), dup)
	}
	audit := d.auditWhatsApp(t, customers)
	lost += audit.Missing
	dup += audit.Doubled + audit.Foreign
	convs, err := d.whatsappConversations(ctx) // again: the wait may have stopped before reading them
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != len(ids) {
		t.Errorf("%d WhatsApp conversations for %d acknowledged customers", len(convs), len(ids))
	}
	extractMissing := 0
	for _, c := range convs {
		if c.Extracted != 1 {
			extractMissing++
		}
	}
	if extractMissing > 0 {
		t.Errorf("%d of %d conversations without the extraction of their customer message (its debounced task was flushed)", extractMissing, len(convs))
	}
	if n := len(ds) - len(ids); n > 0 {
		t.Errorf("%d webhooks not acknowledged (only Redis was flushed)", n)
	}
	figures{
		Scenario: "8 flush with replies pending", Sent: len(ds), Acked: len(ids), Stored: st.Stored, Processed: st.Processed,
		Lost: lost, Duplicated: dup, Recovery: recovery,
		Notes: fmt.Sprintf("%s; %s; extractions missing %d; LLM reply calls %d", strings.Join(notes, "; "), audit, extractMissing, d.llm.replyCalls()),
	}.log(t)
	d.checkAlive("after the flushes")
}
