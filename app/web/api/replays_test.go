package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/routenames"
)

// Helpers of this file carry a "replayAPI" prefix.

type replayAPIFixture struct {
	e        *env
	ws       *store.Workspace
	key      string
	otherKey string
	asst     *store.Assistant
	conv     *store.Conversation
}

func newReplayAPIFixture(t *testing.T) *replayAPIFixture {
	t.Helper()
	ctx := context.Background()
	f := &replayAPIFixture{e: newEnv(t)}
	f.ws = f.e.User("rita@example.com", "correct-horse")
	f.key = asstAPIKey(t, f.e, f.ws.ID)
	other := f.e.User("otto@example.com", "correct-horse")
	f.otherKey = asstAPIKey(t, f.e, other.ID)
	st := f.e.App.Store
	f.asst = &store.Assistant{WorkspaceID: f.ws.ID, Name: "Support", Model: "gpt-4o-mini", SystemPrompt: "v1"}
	if err := st.CreateAssistant(ctx, f.asst); err != nil {
		t.Fatal(err)
	}
	b := f.asst.Behaviour()
	b.SystemPrompt = "v2"
	if _, _, err := st.SaveAssistantVersion(ctx, f.ws.ID, f.asst.ID, b, store.Author{Name: "t"}, false); err != nil {
		t.Fatal(err)
	}
	f.conv = &store.Conversation{WorkspaceID: f.ws.ID, AssistantID: &f.asst.ID, Type: model.TypeWidget, Customer: "v1"}
	if err := st.CreateConversation(ctx, f.conv); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for i, m := range []store.Message{
		{Role: model.RoleUser, Content: "where is my order?"},
		{Role: model.RoleAssistant, Content: "It ships today.", PromptTokens: 50, CompletionTokens: 5, CostNanos: 2500},
		{Role: model.RoleUser, Content: "thanks"},
		{Role: model.RoleAssistant, Content: "You're welcome.", PromptTokens: 70, CompletionTokens: 4, CostNanos: 3000},
	} {
		m.WorkspaceID, m.ConversationID, m.ContentType, m.CreatedAt = f.ws.ID, f.conv.ID, "text", at.Add(time.Duration(i)*2*time.Second)
		if _, err := st.AddMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *replayAPIFixture) start(t *testing.T, key, body string) asstAPIResp {
	t.Helper()
	return asstAPIDo(t, f.e, http.MethodPost, routenames.URL(routenames.APIConversationReplays, f.conv.ID), key, body)
}

func TestAPIReplaysRoutesAreNamed(t *testing.T) {
	if got := routenames.URL(routenames.APIConversationReplays, 7); got != "/api/v1/conversations/7/replays" {
		t.Errorf("replays route %s", got)
	}
	if got := routenames.URL(routenames.APIReplay, 9); got != "/api/v1/replays/9" {
		t.Errorf("replay route %s", got)
	}
}

func TestAPIReplayStartValidates(t *testing.T) {
	f := newReplayAPIFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		body    string
		status  int
		version int // of the replay created (202)
	}{
		{"", http.StatusAccepted, 2},
		{`{}`, http.StatusAccepted, 2},
		{`{"version": "draft"}`, http.StatusAccepted, 2},
		{`{"version": null}`, http.StatusAccepted, 2},
		{`{"version": 1}`, http.StatusAccepted, 1},
		{`{"version": 0}`, http.StatusUnprocessableEntity, 0},
		{`{"version": -3}`, http.StatusUnprocessableEntity, 0},
		{`{"version": 1.5}`, http.StatusUnprocessableEntity, 0},
		{`{"version": "latest"}`, http.StatusUnprocessableEntity, 0},
		{`{"version": true}`, http.StatusUnprocessableEntity, 0},
		{`{"version": 9}`, http.StatusUnprocessableEntity, 0}, // no such version
		{`{"versio": 1}`, http.StatusUnprocessableEntity, 0},
	} {
		t.Run(tc.body, func(t *testing.T) {
			before, _ := f.e.App.Store.ConversationReplays(ctx, f.ws.ID, f.conv.ID, 100)
			r := f.start(t, f.key, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			after, _ := f.e.App.Store.ConversationReplays(ctx, f.ws.ID, f.conv.ID, 100)
			if tc.status != http.StatusAccepted {
				code, msg := r.errMsg(t)
				field := "version"
				if strings.Contains(tc.body, "versio\"") {
					field = "versio"
				}
				if code != "invalid_field" || !strings.HasPrefix(msg, field+":") {
					t.Errorf("error %s %q, want invalid_field naming %s", code, msg, field)
				}
				if len(after) != len(before) {
					t.Errorf("a refused request wrote a replay")
				}
				return
			}
			obj := r.obj(t)
			if keys := keysOf(obj); !slices.Equal(keys, []string{"id"}) {
				t.Errorf("202 body keys %v, want [id]", keys)
			}
			id := int64(obj["id"].(float64))
			got, err := f.e.App.Store.ReplayByID(ctx, f.ws.ID, id)
			if err != nil || got.Version != tc.version || got.TurnsTotal != 2 || got.Status != model.JobPending || got.CreatedBy != "API key assistants" {
				t.Errorf("replay %+v %v", got, err)
			}
		})
	}
	// No draft left: the draft is a 422 naming version.
	if _, _, err := f.e.App.Store.PublishAssistantVersion(ctx, f.ws.ID, f.asst.ID, 2, store.Author{}); err != nil {
		t.Fatal(err)
	}
	r := f.start(t, f.key, "")
	if code, msg := r.errMsg(t); r.Status != http.StatusUnprocessableEntity || code != "invalid_field" || !strings.Contains(msg, "version: the assistant has no draft") {
		t.Errorf("no draft: %d %s", r.Status, r.Body)
	}
	// Another workspace's conversation is not found, nothing written.
	r = f.start(t, f.otherKey, `{"version": 1}`)
	if r.Status != http.StatusNotFound {
		t.Errorf("another workspace's conversation: %d %s", r.Status, r.Body)
	}
	r = asstAPIDo(t, f.e, http.MethodPost, "/api/v1/conversations/abc/replays", f.key, "")
	if r.Status != http.StatusNotFound {
		t.Errorf("a bad id: %d", r.Status)
	}
}

func TestAPIReplayDocument(t *testing.T) {
	f := newReplayAPIFixture(t)
	ctx := context.Background()
	fake := testkit.NewFakeLLM(t)
	fake.Answer = func(n int, r testkit.LLMRequest) testkit.LLMAnswer {
		if r.Schema != nil {
			return testkit.LLMAnswer{Content: `{"outcome":{"value":"resolved","reason":"said thanks"}}`, Usage: &testkit.LLMUsage{Prompt: 300, Completion: 30}}
		}
		return testkit.LLMAnswer{Content: fmt.Sprintf("replayed %d", n), Usage: &testkit.LLMUsage{Prompt: 100 * n, Completion: 10}}
	}
	p, err := llm.NewOpenAI(llm.OpenAIOptions{BaseURL: fake.URL + "/v1", APIKey: "sk", Timeout: 5 * time.Second, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	f.e.App.ReplayEngine.LLM = p
	f.e.App.Evaluations.LLM = p

	r := f.start(t, f.key, `{"version": "draft"}`)
	if r.Status != http.StatusAccepted {
		t.Fatalf("start %d %s", r.Status, r.Body)
	}
	id := int64(r.obj(t)["id"].(float64))
	path := routenames.URL(routenames.APIReplay, id)

	// Before it runs: pending, no replayed answers yet.
	doc := asstAPIDo(t, f.e, http.MethodGet, path, f.key, "").obj(t)
	if doc["status"] != "pending" || doc["turns_done"] != float64(0) || doc["turns_total"] != float64(2) {
		t.Errorf("pending document: %v", doc)
	}
	turns := doc["turns"].([]any)
	if t0 := turns[0].(map[string]any); t0["replayed"] != nil || t0["replayed_cost_usd"] != nil || t0["original"] != "It ships today." {
		t.Errorf("pending turn: %v", t0)
	}

	if res, err := f.e.App.ReplayEngine.Execute(ctx, replay.Run{WorkspaceID: f.ws.ID, ReplayID: id}); err != nil || res.Status != model.JobDone {
		t.Fatalf("execute %+v %v", res, err)
	}
	resp := asstAPIDo(t, f.e, http.MethodGet, path, f.key, "")
	if resp.Status != http.StatusOK {
		t.Fatalf("get %d %s", resp.Status, resp.Body)
	}
	doc = resp.obj(t)
	want := []string{"assistant_id", "conversation_id", "cost_usd", "created_at", "created_by", "error", "evaluations", "finished_at",
		"id", "original_cost_usd", "replayed_cost_usd", "started_at", "status", "turns", "turns_done", "turns_total", "version"}
	if keys := keysOf(doc); !slices.Equal(keys, want) {
		t.Errorf("keys %v\nwant %v", keys, want)
	}
	if doc["status"] != "done" || doc["version"] != float64(2) || doc["conversation_id"] != float64(f.conv.ID) || doc["turns_done"] != float64(2) {
		t.Errorf("document %v", doc)
	}
	turns = doc["turns"].([]any)
	t0 := turns[0].(map[string]any)
	turnKeys := []string{"customer", "index", "model", "original", "original_cost_usd", "original_latency_ms", "original_tokens", "original_version",
		"replayed", "replayed_cost_usd", "replayed_latency_ms", "replayed_tokens"}
	if keys := keysOf(t0); !slices.Equal(keys, turnKeys) {
		t.Errorf("turn keys %v\nwant %v", keys, turnKeys)
	}
	if t0["customer"] != "where is my order?" || t0["replayed"] != "replayed 1" || t0["original_cost_usd"] != model.Money(2500).Exact() ||
		t0["original_latency_ms"] != float64(2000) {
		t.Errorf("turn 0: %v", t0)
	}
	if tok := t0["original_tokens"].(map[string]any); tok["prompt"] != float64(50) || tok["completion"] != float64(5) {
		t.Errorf("original tokens %v", tok)
	}
	if tok := t0["replayed_tokens"].(map[string]any); tok["prompt"] != float64(100) || tok["completion"] != float64(10) {
		t.Errorf("replayed tokens %v", tok)
	}
	evs := doc["evaluations"].(map[string]any)
	for _, side := range []string{"original", "replayed"} {
		list, _ := evs[side].([]any)
		if len(list) == 0 {
			t.Fatalf("no %s evaluations: %v", side, evs)
		}
		found := false
		for _, v := range list {
			m := v.(map[string]any)
			found = found || (m["name"] == "outcome" && m["value"] == "resolved" && m["status"] == "done")
		}
		if !found {
			t.Errorf("%s evaluations lack the outcome: %v", side, list)
		}
	}
	// The costs shown are the ledger's.
	led, err := f.e.App.Store.ReplayLedger(ctx, f.ws.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	var all, answers int64
	for _, e := range led {
		all += e.CostNanos
		if !strings.Contains(e.RequestID, ":eval:") {
			answers += e.CostNanos
		}
	}
	if all <= answers || answers <= 0 {
		t.Fatalf("ledger sums: all %d, answers %d", all, answers)
	}
	if doc["cost_usd"] != model.Money(all).Exact() || doc["replayed_cost_usd"] != model.Money(answers).Exact() || doc["original_cost_usd"] != model.Money(5500).Exact() {
		t.Errorf("costs %v / %v / %v, ledger %s / %s", doc["cost_usd"], doc["replayed_cost_usd"], doc["original_cost_usd"], model.Money(all).Exact(), model.Money(answers).Exact())
	}
	var turnSum int64
	for i, v := range turns {
		if v.(map[string]any)["replayed_cost_usd"] != model.Money(led[i].CostNanos).Exact() {
			t.Errorf("turn %d cost %v, ledger %d", i, v.(map[string]any)["replayed_cost_usd"], led[i].CostNanos)
		}
		turnSum += led[i].CostNanos
	}
	if turnSum != answers {
		t.Errorf("turn costs %d, ledger answers %d", turnSum, answers)
	}

	// Another workspace's key: 404, as for an id that does not exist.
	for _, p := range []string{path, routenames.URL(routenames.APIReplay, id+1000), "/api/v1/replays/x"} {
		key := f.otherKey
		if p != path {
			key = f.key
		}
		if r := asstAPIDo(t, f.e, http.MethodGet, p, key, ""); r.Status != http.StatusNotFound {
			t.Errorf("GET %s: %d", p, r.Status)
		} else if code, _ := r.errMsg(t); code != "not_found" {
			t.Errorf("GET %s: code %s", p, code)
		}
	}
}
