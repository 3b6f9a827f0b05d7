package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/usage"
)

type fixture struct {
	st   *store.Store
	ws   int64
	a    *store.Assistant
	conv *store.Conversation
}

// setup makes a workspace, an assistant (version 1 published, prompt "published prompt")
// with a draft (version 2, prompt "draft prompt") and a conversation of type typ.
func setup(t *testing.T, st *store.Store, typ string) *fixture {
	t.Helper()
	ctx := context.Background()
	w, _, err := st.CreateWorkspaceWithUser(ctx, "X", fmt.Sprintf("x%d@example.com", time.Now().UnixNano()), "hash")
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Assistant{WorkspaceID: w.ID, Name: "Support", Model: "gpt-4o-mini", SystemPrompt: "published prompt"}
	if err := st.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := a.Behaviour()
	b.SystemPrompt = "draft prompt"
	if _, a, err = st.SaveAssistantVersion(ctx, w.ID, a.ID, b, store.Author{Name: "test"}, false); err != nil {
		t.Fatal(err)
	}
	aid := a.ID
	conv := &store.Conversation{WorkspaceID: w.ID, AssistantID: &aid, Type: typ, Customer: "c1", AIEnabled: true, Charged: true}
	if err := st.CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, ws: w.ID, a: a, conv: conv}
}

// say adds messages a second apart: "A:" marks an assistant's (costing 1000 nanos), "F:" a
// fallback text (an assistant message with an error), anything else the customer's.
func (f *fixture) say(t *testing.T, lines ...string) {
	t.Helper()
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i, l := range lines {
		m := &store.Message{WorkspaceID: f.ws, ConversationID: f.conv.ID, Role: model.RoleUser, Content: l, ContentType: "text",
			CreatedAt: base.Add(time.Duration(i) * time.Second)}
		switch {
		case strings.HasPrefix(l, "A:"):
			m.Role, m.Content, m.CostNanos = model.RoleAssistant, strings.TrimPrefix(l, "A:"), 1000
			v := 1
			m.AssistantVersion = &v
		case strings.HasPrefix(l, "F:"):
			m.Role, m.Content, m.Error = model.RoleAssistant, strings.TrimPrefix(l, "F:"), "provider down"
		}
		if _, err := f.st.AddMessage(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}

func fakeProvider(t *testing.T, l *testkit.FakeLLM) llm.Provider {
	t.Helper()
	p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: l.URL + "/v1", APIKey: "sk-fake", DefaultModel: "gpt-4o-mini", Timeout: 5 * time.Second, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// prices price gpt-4o-mini so that costs are not zero.
func prices(t *testing.T) *usage.Table {
	t.Helper()
	return usage.Default()
}

// messagesOf is what a recorded request sent: "role: content" per message.
func messagesOf(r testkit.LLMRequest) []string {
	var out []string
	msgs, _ := r.Body["messages"].([]any)
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		c, _ := mm["content"].(string)
		out = append(out, fmt.Sprintf("%v: %s", mm["role"], c))
	}
	return out
}

func TestTurnsOf(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 12, 1, 10, 0, s, 0, time.UTC) }
	v3 := 3
	msgs := []store.Message{
		{ID: 1, Role: model.RoleAssistant, Content: "Hello!", CreatedAt: at(0)}, // the greeting: no turn
		{ID: 2, Role: model.RoleUser, Content: "hi", CreatedAt: at(1)},
		{ID: 3, Role: model.RoleUser, Content: "", ContentType: "image", CreatedAt: at(2)},
		{ID: 4, Role: model.RoleAssistant, Content: "Nice picture", CostNanos: 70, AssistantVersion: &v3, CreatedAt: at(5)},
		{ID: 5, Role: model.RoleHuman, Content: "I'm Ann from the team", CreatedAt: at(9)},
		{ID: 6, Role: model.RoleSystem, Content: "conversation taken over", CreatedAt: at(9)},
		{ID: 7, Role: model.RoleUser, Content: "where is my order?", CreatedAt: at(10)},
		{ID: 8, Role: model.RoleAssistant, Content: "Sorry, something went wrong", Error: "timeout", CreatedAt: at(40)},
		{ID: 9, Role: model.RoleUser, Content: "hello?", CreatedAt: at(50)},
	}
	got := replay.TurnsOf(msgs)
	if len(got) != 3 {
		t.Fatalf("turns = %d, want 3: %+v", len(got), got)
	}
	if got[0].Customer != "hi\n\n[image message]" || got[0].Original != "Nice picture\n\nI'm Ann from the team" {
		t.Errorf("turn 0 = %q / %q", got[0].Customer, got[0].Original)
	}
	if got[0].OriginalCostNanos != 70 || got[0].OriginalMessageID == nil || *got[0].OriginalMessageID != 4 ||
		got[0].OriginalVersion == nil || *got[0].OriginalVersion != 3 || got[0].OriginalLatencyMS == nil || *got[0].OriginalLatencyMS != 3000 {
		t.Errorf("turn 0 original facts = %+v", got[0])
	}
	// the fallback text is not an answer: turn 1 has none, and turn 2 (the customer wrote
	// again after it) is a turn of its own.
	if got[1].Customer != "where is my order?" || got[1].Original != "" || got[1].OriginalLatencyMS != nil {
		t.Errorf("turn 1 = %+v", got[1])
	}
	if got[2].Customer != "hello?" || got[2].Original != "" {
		t.Errorf("turn 2 = %+v", got[2])
	}

	var many []store.Message
	for i := range model.MaxCaseTurns + 5 {
		many = append(many, store.Message{Role: model.RoleUser, Content: "q"}, store.Message{Role: model.RoleAssistant, Content: fmt.Sprint("a", i)})
	}
	if n := len(replay.TurnsOf(many)); n != model.MaxCaseTurns {
		t.Errorf("turns of a long conversation = %d, want %d", n, model.MaxCaseTurns)
	}
	if n := len(replay.TurnsFromCase(make([]model.TestCaseTurn, model.MaxCaseTurns+1))); n != model.MaxCaseTurns {
		t.Errorf("turns of a long case = %d", n)
	}
}

// convState is what a replay must never change: the original's messages and totals.
func convState(t *testing.T, f *fixture) string {
	t.Helper()
	ctx := context.Background()
	c, err := f.st.GetConversation(ctx, f.ws, f.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := f.st.AllMessages(ctx, f.ws, f.conv.ID, func(*store.Message) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	led, err := f.st.ConversationUsage(ctx, f.ws, f.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("messages=%d ledger=%d tokens=%d/%d cost=%d", n, len(led), c.PromptTokens, c.CompletionTokens, c.CostNanos)
}

func TestReplayRegeneratesEveryTurnFromTheReplayedTranscript(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := setup(t, st, model.TypeWidget)
		f.say(t, "where is my parcel?", "A:original one", "it is 123", "A:original two", "thanks", "A:original three")
		before := convState(t, f)

		fake := testkit.NewFakeLLM(t)
		fake.Answer = func(n int, r testkit.LLMRequest) testkit.LLMAnswer {
			if r.Schema != nil {
				return testkit.LLMAnswer{Content: `{"outcome":{"value":"resolved","reason":"r"}}`}
			}
			return testkit.LLMAnswer{Content: fmt.Sprintf("replayed %d", n), Usage: &testkit.LLMUsage{Prompt: 100, Completion: 10}}
		}
		svc := &replay.Service{Store: st}
		r, err := svc.Start(ctx, f.ws, f.conv.ID, model.VersionRef{Draft: true}, store.Author{Name: "tester"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Version != 2 || r.TurnsTotal != 3 || r.OriginalCostNanos != 3000 || r.Status != model.JobPending {
			t.Fatalf("replay row = %+v", r)
		}
		eng := &replay.Engine{Store: st, LLM: fakeProvider(t, fake), Prices: prices(t)}
		res, err := eng.Execute(ctx, replay.Run{WorkspaceID: f.ws, ReplayID: r.ID})
		if err != nil || res.Status != model.JobDone || res.Answered != 3 {
			t.Fatalf("execute = %+v, %v", res, err)
		}
		reqs := fake.Requests()
		var chats []testkit.LLMRequest
		for _, q := range reqs {
			if q.Schema == nil {
				chats = append(chats, q)
			}
		}
		if len(chats) != 3 || len(reqs) != 5 {
			t.Fatalf("calls: %d chat, %d in all; want 3 and 5 (two evaluations)", len(chats), len(reqs))
		}
		for k, q := range chats {
			sent := strings.Join(messagesOf(q), "\n")
			if !strings.Contains(sent, "system: draft prompt") {
				t.Errorf("turn %d not asked with the draft's prompt:\n%s", k, sent)
			}
			if strings.Contains(sent, "original") {
				t.Errorf("turn %d was sent an original answer:\n%s", k, sent)
			}
			for j := 0; j < k; j++ {
				if !strings.Contains(sent, fmt.Sprintf("assistant: replayed %d", j+1)) {
					t.Errorf("turn %d's transcript lacks the replayed answer of turn %d:\n%s", k, j, sent)
				}
			}
			if strings.Contains(sent, fmt.Sprintf("replayed %d", k+1)) {
				t.Errorf("turn %d's transcript holds its own answer", k)
			}
		}
		got, turns, err := st.ReplayWithTurns(ctx, f.ws, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != model.JobDone || got.TurnsDone != 3 || got.FinishedAt == nil || got.StartedAt == nil {
			t.Errorf("replay = %+v", got)
		}
		for i, tr := range turns {
			if tr.Replayed == nil || *tr.Replayed != fmt.Sprintf("replayed %d", i+1) || tr.PromptTokens != 100 || tr.CompletionTokens != 10 || tr.CostNanos <= 0 {
				t.Errorf("turn %d = %+v", i, tr)
			}
		}
		if len(got.OriginalEvaluations) == 0 || len(got.ReplayedEvaluations) == 0 {
			t.Errorf("evaluations: %+v / %+v", got.OriginalEvaluations, got.ReplayedEvaluations)
		}
		// the ledger: one row per turn and per evaluated side, purpose replay, on no
		// conversation; the replay's cost is theirs.
		led, err := st.ReplayLedger(ctx, f.ws, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		ids := map[string]bool{}
		for _, e := range led {
			sum += e.CostNanos
			ids[e.RequestID] = true
			if e.Purpose != store.PurposeReplay || e.ConversationID != nil {
				t.Errorf("ledger row %+v", e)
			}
		}
		for _, id := range []string{store.ReplayTurnRequestID(r.ID, 0), store.ReplayTurnRequestID(r.ID, 1), store.ReplayTurnRequestID(r.ID, 2),
			store.ReplayEvalRequestID(r.ID, "original"), store.ReplayEvalRequestID(r.ID, "replayed")} {
			if !ids[id] {
				t.Errorf("no ledger row %s in %v", id, ids)
			}
		}
		if len(led) != 5 || sum != got.CostNanos || sum <= 0 {
			t.Errorf("ledger rows = %d, sum %d, replay cost %d", len(led), sum, got.CostNanos)
		}
		if after := convState(t, f); after != before {
			t.Errorf("the original changed: %s -> %s", before, after)
		}
		// a duplicate task does nothing
		res, err = eng.Execute(ctx, replay.Run{WorkspaceID: f.ws, ReplayID: r.ID})
		if err != nil || res.Skipped == "" || fake.Calls() != 5 {
			t.Errorf("second execute = %+v, %v, calls %d", res, err, fake.Calls())
		}
	})
}

func TestReplayResumesAfterAFailureAndChargesEachTurnOnce(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := setup(t, st, model.TypeWidget)
		f.say(t, "one", "A:o1", "two", "A:o2", "three", "A:o3")
		fake := testkit.NewFakeLLM(t)
		fake.Answer = func(n int, r testkit.LLMRequest) testkit.LLMAnswer {
			if n == 2 { // the second turn's first try: the provider is down
				return testkit.LLMAnswer{Status: 503, Message: "overloaded", Type: "server_error"}
			}
			if r.Schema != nil {
				return testkit.LLMAnswer{Content: `{}`}
			}
			return testkit.LLMAnswer{Content: fmt.Sprintf("answer to %d", n)}
		}
		svc := &replay.Service{Store: st}
		r, err := svc.Start(ctx, f.ws, f.conv.ID, model.VersionRef{Number: 1}, store.Author{Name: "tester"})
		if err != nil {
			t.Fatal(err)
		}
		eng := &replay.Engine{Store: st, LLM: fakeProvider(t, fake), Prices: prices(t)}
		if _, err := eng.Execute(ctx, replay.Run{WorkspaceID: f.ws, ReplayID: r.ID}); err == nil || !llm.IsRetryable(err) {
			t.Fatalf("execute with the provider down = %v, want a retryable error", err)
		}
		mid, _ := st.ReplayByID(ctx, f.ws, r.ID)
		if mid.Status != model.JobRunning || mid.TurnsDone != 1 {
			t.Fatalf("after the failure: %+v", mid)
		}
		res, err := eng.Execute(ctx, replay.Run{WorkspaceID: f.ws, ReplayID: r.ID})
		if err != nil || res.Status != model.JobDone || res.Answered != 2 {
			t.Fatalf("resumed = %+v, %v", res, err)
		}
		// turn 0 was not asked again: calls 1 (turn 0), 2 (failed), 3 and 4 (turns 1, 2)
		reqs := fake.Requests()
		if sent := strings.Join(messagesOf(reqs[2]), "\n"); !strings.Contains(sent, "assistant: answer to 1") || strings.Contains(sent, "o1") {
			t.Errorf("the resumed turn's transcript:\n%s", sent)
		}
		led, _ := st.ReplayLedger(ctx, f.ws, r.ID)
		turnRows := map[string]int{}
		for _, e := range led {
			if !strings.Contains(e.RequestID, ":eval:") {
				turnRows[e.RequestID]++
			}
		}
		if len(turnRows) != 3 {
			t.Errorf("turn ledger rows: %v", turnRows)
		}
		for id, n := range turnRows {
			if n != 1 {
				t.Errorf("%s recorded %d times", id, n)
			}
		}
	})
}

func TestReplayFailsForGoodOnALastAttempt(t *testing.T) {
	st := testkit.Store(t)
	ctx := context.Background()
	f := setup(t, st, model.TypeWidget)
	f.say(t, "one", "A:o1")
	fake := testkit.NewFakeLLM(t)
	fake.Answer = func(int, testkit.LLMRequest) testkit.LLMAnswer {
		return testkit.LLMAnswer{Status: 503, Message: "overloaded", Type: "server_error"}
	}
	r, err := (&replay.Service{Store: st}).Start(ctx, f.ws, f.conv.ID, model.VersionRef{Draft: true}, store.Author{})
	if err != nil {
		t.Fatal(err)
	}
	eng := &replay.Engine{Store: st, LLM: fakeProvider(t, fake), Prices: prices(t)}
	res, err := eng.Execute(ctx, replay.Run{WorkspaceID: f.ws, ReplayID: r.ID, LastAttempt: true})
	if err != nil || res.Status != model.JobFailed || !strings.Contains(res.Error, "turn 1") {
		t.Fatalf("execute = %+v, %v", res, err)
	}
	got, _ := st.ReplayByID(ctx, f.ws, r.ID)
	if got.Status != model.JobFailed || got.Error == "" || got.FinishedAt == nil {
		t.Errorf("replay = %+v", got)
	}
}

func TestReplayWithTheOfflineProviderIsDeterministic(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := setup(t, st, model.TypeWidget)
		f.say(t, "hello", "A:hi", "my email is ann@example.com", "A:ok", "thanks, that worked", "A:bye")
		svc := &replay.Service{Store: st}
		eng := &replay.Engine{Store: st, LLM: llm.NewOffline(llm.OfflineOptions{DefaultModel: "gpt-4o-mini"}), Prices: prices(t)}
		var answers [2]string
		for i := range answers {
			r, err := svc.Start(ctx, f.ws, f.conv.ID, model.VersionRef{Draft: true}, store.Author{})
			if err != nil {
				t.Fatal(err)
			}
			if res, err := eng.Execute(ctx, replay.Run{WorkspaceID: f.ws, ReplayID: r.ID}); err != nil || res.Status != model.JobDone {
				t.Fatalf("offline execute = %+v, %v", res, err)
			}
			got, turns, _ := st.ReplayWithTurns(ctx, f.ws, r.ID)
			var b strings.Builder
			for _, tr := range turns {
				if tr.Replayed == nil || *tr.Replayed == "" {
					t.Fatalf("turn %d not answered", tr.Idx)
				}
				b.WriteString(*tr.Replayed + "|")
			}
			answers[i] = b.String()
			if len(got.OriginalEvaluations) == 0 || len(got.ReplayedEvaluations) == 0 {
				t.Errorf("offline evaluations missing: %+v", got)
			}
			led, _ := st.ReplayLedger(ctx, f.ws, r.ID)
			if len(led) != 3 { // one per turn; the offline heuristics make no call
				t.Errorf("offline ledger rows = %d", len(led))
			}
		}
		if answers[0] != answers[1] {
			t.Errorf("offline answers differ:\n%s\n%s", answers[0], answers[1])
		}
	})
}

func TestReplayOfATestCaseHasNoConversation(t *testing.T) {
	st := testkit.Store(t)
	ctx := context.Background()
	f := setup(t, st, model.TypeWidget)
	r := &store.Replay{WorkspaceID: f.ws, AssistantID: f.a.ID, Version: 2}
	turns := replay.TurnsFromCase([]model.TestCaseTurn{{Customer: "hi", Expected: "hello"}, {Customer: "bye"}})
	if _, err := st.CreateReplay(ctx, r, turns); err != nil {
		t.Fatal(err)
	}
	eng := &replay.Engine{Store: st, LLM: llm.NewOffline(llm.OfflineOptions{}), Prices: prices(t)}
	if res, err := eng.Execute(ctx, replay.Run{WorkspaceID: f.ws, ReplayID: r.ID}); err != nil || res.Status != model.JobDone {
		t.Fatalf("execute = %+v, %v", res, err)
	}
	got, ts, _ := st.ReplayWithTurns(ctx, f.ws, r.ID)
	if len(got.OriginalEvaluations) != 0 || len(got.ReplayedEvaluations) == 0 || ts[0].Expected != "hello" || ts[1].Replayed == nil {
		t.Errorf("case replay = %+v %+v", got, ts)
	}
	b, _ := json.Marshal(got.ReplayedEvaluations)
	if !strings.Contains(string(b), `"name"`) {
		t.Errorf("evaluations json %s", b)
	}
}

func TestStartErrors(t *testing.T) {
	st := testkit.Store(t)
	ctx := context.Background()
	f := setup(t, st, model.TypeWidget)
	svc := &replay.Service{Store: st}
	if _, err := svc.Start(ctx, f.ws, f.conv.ID, model.VersionRef{Draft: true}, store.Author{}); err != replay.ErrNoTurns {
		t.Errorf("no customer turn: %v", err)
	}
	f.say(t, "hi")
	if _, err := svc.Start(ctx, f.ws, f.conv.ID, model.VersionRef{Number: 9}, store.Author{}); err != replay.ErrNoVersion {
		t.Errorf("version 9: %v", err)
	}
	if _, err := svc.Start(ctx, f.ws+1000, f.conv.ID, model.VersionRef{Draft: true}, store.Author{}); err != store.ErrNotFound {
		t.Errorf("another workspace: %v", err)
	}
	if _, _, err := st.PublishAssistantVersion(ctx, f.ws, f.a.ID, 2, store.Author{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Start(ctx, f.ws, f.conv.ID, model.VersionRef{Draft: true}, store.Author{}); err != replay.ErrNoDraft {
		t.Errorf("no draft: %v", err)
	}
	var enqueued []int64
	svc.Enqueue = func(_ context.Context, r *store.Replay) error { enqueued = append(enqueued, r.ID); return nil }
	r, err := svc.Start(ctx, f.ws, f.conv.ID, model.VersionRef{Number: 1}, store.Author{})
	if err != nil || len(enqueued) != 1 || enqueued[0] != r.ID {
		t.Errorf("start: %v, enqueued %v", err, enqueued)
	}
	// the sweep finds it once it is old enough
	svc.Now = func() time.Time { return time.Now().Add(time.Hour) }
	due, err := svc.Due(ctx, time.Minute, 10)
	if err != nil || len(due) != 1 || due[0].ID != r.ID {
		t.Errorf("due = %+v, %v", due, err)
	}
}
