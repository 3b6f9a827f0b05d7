//go:build fault

package fault

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Scenario 4: the same webhook delivered 10 times concurrently, then replayed "a day later"
// (after processing finished, and after Redis lost every trace of it), with its original
// timestamp: one event, one message, one reply.
func TestScenario4DuplicateDeliveries(t *testing.T) {
	t.Parallel()
	d := deploy(t, deployOptions{llmDelay: 100 * time.Millisecond})
	ctx := context.Background()
	const messages, copies = 5, 10
	written := time.Now().Add(-2 * time.Minute) // the customer wrote a little before
	var ds []*delivery
	for i := 0; i < messages; i++ {
		ds = append(ds, newDelivery("dup", i, 18000000000, written))
	}
	var mu sync.Mutex
	hc := hookClient(false)
	statuses := map[int]int{}
	sent := 0
	var wg sync.WaitGroup
	for _, dv := range ds {
		for c := 0; c < copies; c++ {
			sent++
			wg.Add(1)
			go func() {
				defer wg.Done()
				cp := &delivery{ID: dv.ID, Body: dv.Body, Sig: dv.Sig}
				d.post(hc, cp, &mu)
				mu.Lock()
				statuses[cp.Status]++
				if cp.Acked {
					dv.Acked = true
				}
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if statuses[http.StatusOK] != sent {
		t.Errorf("concurrent copies: answers %v, want all %d answered 200 (a duplicate is acknowledged, not refused)", statuses, sent)
	}
	ids := make([]string, len(ds))
	for i, dv := range ds {
		ids[i] = dv.ID
	}
	t0 := time.Now()
	var st *idState
	processed := func() bool {
		var err error
		st, err = d.idState(ctx, ids)
		if err != nil || st.Processed < len(ids) {
			return false
		}
		convs, err := d.whatsappConversations(ctx)
		if err != nil || len(convs) < len(ids) {
			return false
		}
		for _, c := range convs {
			if c.Sent < 1 {
				return false
			}
		}
		return true
	}
	if !waitFor(90*time.Second, processed) {
		t.Fatalf("the messages were not processed and answered within 90 s")
	}
	firstDone := time.Since(t0)
	sendsBefore := len(d.graph.all())

	// "A day later": Redis no longer remembers anything of these deliveries (task ids and
	// their retention are gone), the database does. Meta replays the same bodies, each a few
	// times, with their original timestamps.
	if r := d.redis.do("FLUSHALL"); r != "+OK" {
		t.Fatalf("FLUSHALL: %q", r)
	}
	replayStatus := map[int]int{}
	for _, dv := range ds {
		for c := 0; c < 2; c++ {
			sent++
			cp := &delivery{ID: dv.ID, Body: dv.Body, Sig: dv.Sig}
			d.post(hc, cp, &mu)
			replayStatus[cp.Status]++
		}
	}
	if replayStatus[http.StatusOK] != 2*len(ds) {
		t.Errorf("replays a day later: answers %v, want 200", replayStatus)
	}
	// Give the workers time to (wrongly) do something with the replays: two sweep periods and
	// a reply debounce, then check.
	time.Sleep(8 * time.Second)
	st, err := d.idState(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	convs, err := d.whatsappConversations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dup := st.StoredDup + st.MessageDup
	lost := len(st.MissingEvents) + len(st.MissingMsgs)
	if dup > 0 || lost > 0 {
		t.Errorf("events stored %d (dups %d, missing %d), messages %d (dups %d, missing %d); want each once",
			st.Stored, st.StoredDup, len(st.MissingEvents), st.Messages, st.MessageDup, len(st.MissingMsgs))
	}
	if len(convs) != messages {
		t.Errorf("%d conversations, want %d", len(convs), messages)
	}
	for _, c := range convs {
		if c.Users != 1 || c.Assistants != 1 {
			t.Errorf("conversation %d: %d customer messages, %d replies; want one of each", c.ID, c.Users, c.Assistants)
			if c.Assistants > 1 {
				dup += c.Assistants - 1
			}
		}
	}
	if n := len(d.graph.all()); n != messages || n != sendsBefore {
		t.Errorf("Meta received %d sends (%d before the replays), want %d", n, sendsBefore, messages)
		if n > messages {
			dup += n - messages
		}
	}
	// Meta's side: each of the 5 customers got exactly one send, the LLM's reply to them.
	audit := d.auditWhatsApp(t, customersOfDeliveries(func() []delivery {
		out := make([]delivery, len(ds))
		for i, dv := range ds {
			out[i] = *dv
		}
		return out
	}()))
	// The stored message keeps the customer's original timestamp.
	var late int64
	late, err = d.st.DB.NewSelect().TableExpr("messages").Where("role = 'user' AND created_at > ?", written.Add(2*time.Second)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if late > 0 {
		t.Errorf("%d customer messages do not carry the webhook's timestamp", late)
	}
	figures{
		Scenario: "4 duplicate deliveries", Sent: sent, Acked: statuses[http.StatusOK] + replayStatus[http.StatusOK], Stored: st.Stored, Processed: st.Processed,
		Lost: lost, Duplicated: dup, Recovery: firstDone,
		Notes: fmt.Sprintf("%d messages × %d concurrent copies, then 2 replays each after processing and a Redis FLUSHALL; Graph sends %d; %s; recovery = first delivery to all answered", messages, copies, len(d.graph.all()), audit),
	}.log(t)
}
