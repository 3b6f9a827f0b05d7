package workers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/cli"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/workers"
)

// A replay of a WhatsApp conversation, run by the product's whole worker (every handler), never
// reaches the Graph API and never changes the original; a replay whose task was lost is
// enqueued again by the sweep; each replay's ledger rows are one per turn, purpose replay,
// and add up to its cost.
func TestReplayOfAWhatsAppConversation(t *testing.T) {
	g := testkit.NewFakeGraph(t)
	cfg := testkit.Config(t)
	cfg.WhatsAppAppSecret = waSecret
	cfg.WhatsAppGraphURL = g.URL + "/v21.0"
	a := testkit.App(t, cfg)
	if !a.LLM.Offline() {
		t.Fatal("the test app should answer with the offline provider")
	}
	ctx := context.Background()
	w, _, err := a.Store.CreateWorkspaceWithUser(ctx, "Shop", "owner@shop.test", "hash")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Keys.Encrypt(waToken)
	if err != nil {
		t.Fatal(err)
	}
	pid := waPhoneID
	as := testkit.Verified(&store.Assistant{WorkspaceID: w.ID, Name: "Shop assistant", SystemPrompt: "v1", WhatsAppPhoneNumberID: &pid, WhatsAppAccessTokenEnc: tok})
	if err := a.Store.CreateAssistant(ctx, as); err != nil {
		t.Fatal(err)
	}
	b := as.Behaviour()
	b.SystemPrompt = "v2: be brief"
	if _, _, err := a.Store.SaveAssistantVersion(ctx, w.ID, as.ID, b, store.Author{Name: "t"}, false); err != nil {
		t.Fatal(err)
	}
	conv := &store.Conversation{WorkspaceID: w.ID, AssistantID: &as.ID, Type: model.TypeWhatsApp, Customer: "15550001111", AIEnabled: true, Charged: true}
	if err := a.Store.CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	for i, l := range []string{"do you ship to Spain?", "A:yes", "how long does it take?", "A:3 days"} {
		m := &store.Message{WorkspaceID: w.ID, ConversationID: conv.ID, Role: model.RoleUser, Content: l, ContentType: "text",
			CreatedAt: time.Now().Add(time.Duration(i-10) * time.Second)}
		if strings.HasPrefix(l, "A:") {
			m.Role, m.Content, m.CostNanos = model.RoleAssistant, l[2:], 5000
		}
		if _, err := a.Store.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	state := func() string {
		c, _ := a.Store.GetConversation(ctx, w.ID, conv.ID)
		n := 0
		_ = a.Store.AllMessages(ctx, w.ID, conv.ID, func(*store.Message) error { n++; return nil })
		return fmt.Sprintf("messages=%d tokens=%d/%d cost=%d last=%s", n, c.PromptTokens, c.CompletionTokens, c.CostNanos, c.LastMessageAt)
	}
	before := state()

	// One replay started by the app (its task enqueued), one whose task was lost.
	queued, err := a.Replays.Start(ctx, w.ID, conv.ID, model.VersionRef{Draft: true}, store.Author{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	lost, err := (&replay.Service{Store: a.Store}).Start(ctx, w.ID, conv.ID, model.VersionRef{Number: 1}, store.Author{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Tasks.EnqueueReplay(ctx, queued); err != nil { // a duplicate enqueue is success
		t.Fatal(err)
	}
	h := cli.Handlers(a)
	h.Replay.Age = time.Nanosecond
	if err := h.Replay.HandleSweep(ctx, nil); err != nil {
		t.Fatal(err)
	}
	srv := asynq.NewServerFromRedisClient(a.Redis, asynq.Config{Concurrency: 2, Queues: workers.QueuePriorities, Logger: quiet{}})
	if err := srv.Start(workers.NewMux(h)); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	deadline := time.Now().Add(20 * time.Second)
	for {
		q, _ := a.Store.ReplayByID(ctx, w.ID, queued.ID)
		l, _ := a.Store.ReplayByID(ctx, w.ID, lost.ID)
		if q.Finished() && l.Finished() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replays not finished: %+v / %+v", q, l)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range []int64{queued.ID, lost.ID} {
		r, turns, err := a.Store.ReplayWithTurns(ctx, w.ID, id)
		if err != nil || r.Status != model.JobDone || r.TurnsDone != 2 || len(turns) != 2 {
			t.Fatalf("replay %d: %+v %v", id, r, err)
		}
		led, _ := a.Store.ReplayLedger(ctx, w.ID, id)
		var sum int64
		for _, e := range led {
			sum += e.CostNanos
			if e.Purpose != store.PurposeReplay || e.ConversationID != nil {
				t.Errorf("ledger row %+v", e)
			}
		}
		if len(led) != 2 || sum != r.CostNanos {
			t.Errorf("replay %d: %d ledger rows (want one per turn), sum %d, cost %d", id, len(led), sum, r.CostNanos)
		}
	}
	if n := len(g.Requests()); n != 0 {
		t.Errorf("the replays reached the Graph API %d times", n)
	}
	if after := state(); after != before {
		t.Errorf("the original changed: %s -> %s", before, after)
	}
	if led, _ := a.Store.ConversationUsage(ctx, w.ID, conv.ID); len(led) != 0 {
		t.Errorf("the original's ledger has %d rows", len(led))
	}
	found := false
	for _, e := range (workers.Schedule{Tasks: a.Tasks}).Entries() {
		found = found || e.Task.Type() == workers.TypeReplaySweep
	}
	if !found {
		t.Error("the replay sweep is not scheduled")
	}
}

// A bad payload is not retried.
func TestReplayBadPayload(t *testing.T) {
	h := &workers.Replay{}
	err := h.HandleRun(context.Background(), asynq.NewTask(workers.TypeReplayRun, []byte(`{"replay_id":0}`)))
	if err == nil || !strings.Contains(err.Error(), asynq.SkipRetry.Error()) {
		t.Fatalf("err %v", err)
	}
}
