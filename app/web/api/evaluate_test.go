package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Helpers of this file carry an "evalAPI" prefix.

type evalAPIFixture struct {
	e        *env
	ws       *store.Workspace
	key      string
	asst     *store.Assistant
	judged   *store.Conversation // ended, evaluated (run 0 done)
	open     *store.Conversation // never ended, never evaluated
	version  int
	otherKey string
}

func strp(s string) *string { return &s }

func newEvalAPIFixture(t *testing.T) *evalAPIFixture {
	t.Helper()
	ctx := context.Background()
	f := &evalAPIFixture{e: newEnv(t)}
	f.ws = f.e.User("eve@example.com", "correct-horse")
	f.key = asstAPIKey(t, f.e, f.ws.ID)
	other := f.e.User("oscar@example.com", "correct-horse")
	f.otherKey = asstAPIKey(t, f.e, other.ID)
	st := f.e.App.Store
	f.asst = &store.Assistant{WorkspaceID: f.ws.ID, Name: "Support", Evaluators: store.Evaluators{
		{Name: "refund_asked", Question: "Refund?", Type: model.EvaluatorBoolean, Options: []string{}, Version: 1},
		{Name: "politeness", Question: "Polite?", Type: model.EvaluatorRating, Options: []string{}, Version: 3},
		{Name: "topic", Question: "Topic?", Type: model.EvaluatorOption, Options: []string{"billing", "shipping"}, Version: 2},
		{Name: "wish", Question: "What did they wish for?", Type: model.EvaluatorText, Options: []string{}, Version: 1},
	}}
	if err := st.CreateAssistant(ctx, f.asst); err != nil {
		t.Fatal(err)
	}
	f.version = model.EvaluatorsVersion(f.asst.Evaluators)
	at := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	for i, c := range []**store.Conversation{&f.judged, &f.open} {
		conv := &store.Conversation{WorkspaceID: f.ws.ID, AssistantID: &f.asst.ID, Type: model.TypeWidget, Customer: "v" + strconv.Itoa(i),
			StartedAt: at, LastMessageAt: at.Add(time.Duration(i) * time.Minute)}
		if err := st.CreateConversation(ctx, conv); err != nil {
			t.Fatal(err)
		}
		*c = conv
	}
	if _, err := st.EndConversation(ctx, f.ws.ID, f.judged.ID, model.EndVisitor, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// The costs: 1000 in all, 200 extraction, 300 evaluation.
	if _, err := st.DB.NewUpdate().Model((*store.Conversation)(nil)).Set("cost_nanos = 1000, cost_extraction_nanos = 200, cost_evaluation_nanos = 300").
		Where("id = ?", f.judged.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	f.finishRun(t, 1, 0, map[string]*string{
		"summary": strp("Wanted a refund for order 7; got it."), "outcome": strp(model.OutcomeResolved), "sentiment": strp(model.SentimentPositive),
		"csat_estimate": strp("4"), "language": strp("en"), "refund_asked": strp("true"), "politeness": strp("4"), "topic": strp("billing"), "wish": nil,
	})
	return f
}

// finishRun writes a finished run of the judged conversation as the engine does: its values
// (nil: failed), latest moved to them, the conversation's built-in columns.
func (f *evalAPIFixture) finishRun(t *testing.T, endSeq, run int, values map[string]*string) {
	t.Helper()
	ctx := context.Background()
	st := f.e.App.Store
	var r *store.EvaluationRun
	var existing []store.EvaluationRun
	if err := st.DB.NewSelect().Model(&existing).Where("conversation_id = ? AND end_seq = ? AND run = ?", f.judged.ID, endSeq, run).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if len(existing) == 1 {
		r = &existing[0]
		r.Status, r.Provider, r.CostNanos, r.FinishedAt = model.EvalDone, "gpt-4o-mini", 300, &now
		if _, err := st.DB.NewUpdate().Model(r).WherePK().Exec(ctx); err != nil {
			t.Fatal(err)
		}
	} else {
		r = &store.EvaluationRun{WorkspaceID: f.ws.ID, ConversationID: f.judged.ID, EndSeq: endSeq, Run: run, EvaluatorsVersion: f.version,
			Status: model.EvalDone, Provider: "gpt-4o-mini", CostNanos: 300, CreatedAt: now, FinishedAt: &now}
		if _, err := st.DB.NewInsert().Model(r).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.DB.NewUpdate().Model((*store.EvaluationValue)(nil)).Set("latest = false").Where("conversation_id = ?", f.judged.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	versions := map[string]int{}
	for _, e := range f.asst.Evaluators {
		versions[e.Name] = e.Version
	}
	for _, name := range []string{"summary", "outcome", "sentiment", "csat_estimate", "language", "refund_asked", "politeness", "topic", "wish"} {
		v := values[name]
		status, errText := model.EvalDone, ""
		if v == nil {
			status, errText = model.EvalFailed, "not in the reply"
		}
		ver := versions[name]
		if ver == 0 {
			ver = 1
		}
		row := &store.EvaluationValue{WorkspaceID: f.ws.ID, ConversationID: f.judged.ID, RunID: r.ID, Name: name, Builtin: model.IsBuiltinEvaluator(name),
			Value: v, Reason: "because " + name, Status: status, Error: errText, EvaluatorVersion: ver, Latest: true}
		if _, err := st.DB.NewInsert().Model(row).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.DB.NewUpdate().Model((*store.Conversation)(nil)).
		Set("summary = ?, outcome = ?, sentiment = ?, csat_estimate = ?, language = ?, evaluation_status = ?",
			*values["summary"], *values["outcome"], *values["sentiment"], 4, "en", model.EvalDone).
		Where("id = ?", f.judged.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

func (f *evalAPIFixture) detail(t *testing.T) map[string]any {
	t.Helper()
	r := asstAPIDo(t, f.e, "GET", "/api/v1/conversations/"+strconv.FormatInt(f.judged.ID, 10), f.key, "")
	if r.Status != http.StatusOK {
		t.Fatalf("detail: %d %s", r.Status, r.Body)
	}
	return r.obj(t)
}

func evalAPIJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAPIConversationEvaluationFields(t *testing.T) {
	f := newEvalAPIFixture(t)
	r := asstAPIDo(t, f.e, "GET", "/api/v1/conversations", f.key, "")
	if r.Status != http.StatusOK {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	var list struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.Body), &list); err != nil || len(list.Data) != 2 {
		t.Fatalf("list %v: %s", err, r.Body)
	}
	want := map[int64]map[string]string{
		f.judged.ID: {"summary": `"Wanted a refund for order 7; got it."`, "outcome": `"resolved"`, "sentiment": `"positive"`, "csat_estimate": `4`,
			"evaluation_status": `"done"`, "cost_breakdown": `{"reply":"0.000000500","extraction":"0.000000200","evaluation":"0.000000300"}`},
		f.open.ID: {"summary": `null`, "outcome": `null`, "sentiment": `null`, "csat_estimate": `null`, "evaluation_status": `null`,
			"cost_breakdown": `{"reply":"0.000000000","extraction":"0.000000000","evaluation":"0.000000000"}`},
	}
	for _, item := range list.Data {
		var id int64
		_ = json.Unmarshal(item["id"], &id)
		for k, v := range want[id] {
			got, ok := item[k]
			if !ok || string(got) != v {
				t.Errorf("list item %d: %s = %s, want %s", id, k, got, v)
			}
		}
		if _, ok := item["evaluations"]; ok {
			t.Errorf("the list carries evaluations (detail only)")
		}
	}

	d := f.detail(t)
	want[f.judged.ID]["cost_breakdown"] = `{"evaluation":"0.000000300","extraction":"0.000000200","reply":"0.000000500"}` // a map, keys sorted
	for k, v := range want[f.judged.ID] {
		if got := evalAPIJSON(d[k]); got != v {
			t.Errorf("detail %s = %s, want %s", k, got, v)
		}
	}
	wantEvals := `[{"evaluator_version":1,"name":"summary","reason":"because summary","status":"done","value":"Wanted a refund for order 7; got it."},` +
		`{"evaluator_version":1,"name":"outcome","reason":"because outcome","status":"done","value":"resolved"},` +
		`{"evaluator_version":1,"name":"sentiment","reason":"because sentiment","status":"done","value":"positive"},` +
		`{"evaluator_version":1,"name":"csat_estimate","reason":"because csat_estimate","status":"done","value":4},` +
		`{"evaluator_version":1,"name":"language","reason":"because language","status":"done","value":"en"},` +
		`{"evaluator_version":1,"name":"refund_asked","reason":"because refund_asked","status":"done","value":true},` +
		`{"evaluator_version":3,"name":"politeness","reason":"because politeness","status":"done","value":4},` +
		`{"evaluator_version":2,"name":"topic","reason":"because topic","status":"done","value":"billing"},` +
		`{"evaluator_version":1,"name":"wish","reason":"because wish","status":"failed","value":null}]`
	if got := evalAPIJSON(d["evaluations"]); got != wantEvals {
		t.Fatalf("evaluations\n%s\nwant\n%s", got, wantEvals)
	}
	// A conversation never evaluated: an empty list, never null.
	r = asstAPIDo(t, f.e, "GET", "/api/v1/conversations/"+strconv.FormatInt(f.open.ID, 10), f.key, "")
	if got := evalAPIJSON(r.obj(t)["evaluations"]); got != `[]` {
		t.Fatalf("evaluations of an unevaluated conversation: %s", got)
	}
}

func TestAPIConversationEvaluateAgain(t *testing.T) {
	f := newEvalAPIFixture(t)
	path := "/api/v1/conversations/" + strconv.FormatInt(f.judged.ID, 10) + "/evaluate"

	r := asstAPIDo(t, f.e, "POST", path, f.key, "")
	if r.Status != http.StatusAccepted || r.Body != "{\"run\":1,\"status\":\"pending\"}\n" {
		t.Fatalf("evaluate: %d %q", r.Status, r.Body)
	}
	// Asked again while pending: the same run.
	if r = asstAPIDo(t, f.e, "POST", path, f.key, ""); r.Status != http.StatusAccepted || r.Body != "{\"run\":1,\"status\":\"pending\"}\n" {
		t.Fatalf("evaluate twice: %d %q", r.Status, r.Body)
	}
	// The detail shows the latest run, pending; the summary is still the last finished one's.
	d := f.detail(t)
	if d["evaluation_status"] != "pending" || d["summary"] != "Wanted a refund for order 7; got it." {
		t.Fatalf("pending detail: %v %v", d["evaluation_status"], d["summary"])
	}
	evals := d["evaluations"].([]any)
	if len(evals) != 9 {
		t.Fatalf("pending evaluations: %s", evalAPIJSON(evals))
	}
	for _, e := range evals {
		m := e.(map[string]any)
		if m["status"] != "pending" || m["value"] != nil {
			t.Fatalf("pending evaluation %v", m)
		}
	}
	// The engine finishes it: the detail shows run 1, and run 0 stays in the history.
	f.finishRun(t, 1, 1, map[string]*string{
		"summary": strp("Asked for a refund again."), "outcome": strp(model.OutcomeUnresolved), "sentiment": strp(model.SentimentNegative),
		"csat_estimate": strp("2"), "language": strp("en"), "refund_asked": strp("false"), "politeness": strp("2"), "topic": strp("shipping"), "wish": strp("a call"),
	})
	d = f.detail(t)
	byName := map[string]any{}
	for _, e := range d["evaluations"].([]any) {
		m := e.(map[string]any)
		byName[m["name"].(string)] = m["value"]
	}
	if byName["refund_asked"] != false || byName["politeness"] != 2.0 || byName["topic"] != "shipping" || byName["wish"] != "a call" || d["summary"] != "Asked for a refund again." {
		t.Fatalf("after run 1: %v %v", byName, d["summary"])
	}
	runs, err := f.e.App.Store.EvaluationRuns(context.Background(), f.ws.ID, f.judged.ID, 10)
	if err != nil || len(runs) != 2 || runs[0].Run != 1 || runs[1].Run != 0 {
		t.Fatalf("history %+v %v", runs, err)
	}
	// Next: run 2. An open conversation that never ended: end 0, run 1.
	if r = asstAPIDo(t, f.e, "POST", path, f.key, ""); r.Status != http.StatusAccepted || r.Body != "{\"run\":2,\"status\":\"pending\"}\n" {
		t.Fatalf("evaluate after run 1: %d %q", r.Status, r.Body)
	}
	openPath := "/api/v1/conversations/" + strconv.FormatInt(f.open.ID, 10) + "/evaluate"
	if r = asstAPIDo(t, f.e, "POST", openPath, f.key, ""); r.Status != http.StatusAccepted || r.Body != "{\"run\":1,\"status\":\"pending\"}\n" {
		t.Fatalf("evaluate an open conversation: %d %q", r.Status, r.Body)
	}
	// Not found: another workspace's conversation, a bad id; a read-only key may not.
	for _, p := range []struct{ path, key string }{{path, f.otherKey}, {"/api/v1/conversations/999999/evaluate", f.key}, {"/api/v1/conversations/x/evaluate", f.key}} {
		if r = asstAPIDo(t, f.e, "POST", p.path, p.key, ""); r.Status != http.StatusNotFound {
			t.Fatalf("%s: %d %s", p.path, r.Status, r.Body)
		}
	}
	ro := scopeKey(t, f.e, f.ws.ID, model.ScopeRead)
	if r = asstAPIDo(t, f.e, "POST", path, ro, ""); r.Status != http.StatusForbidden {
		t.Fatalf("read-only key: %d %s", r.Status, r.Body)
	}
	if runs, _ := f.e.App.Store.EvaluationRuns(context.Background(), f.ws.ID, f.judged.ID, 10); len(runs) != 3 {
		t.Fatalf("runs after refused requests: %d", len(runs))
	}
}
