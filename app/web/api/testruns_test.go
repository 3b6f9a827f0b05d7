package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testruns"
)

// Helpers of this file carry a "trAPI" prefix.

type trAPIFixture struct {
	e        *env
	ws       *store.Workspace
	key      string
	otherKey string
	asst     *store.Assistant
	set      *store.TestSet
	empty    *store.TestSet
}

func trAPISet(t *testing.T, st *store.Store, ws, asst int64, name string, cases ...[]model.TestCaseTurn) *store.TestSet {
	t.Helper()
	ctx := context.Background()
	set := &store.TestSet{WorkspaceID: ws, AssistantID: asst, Name: name, NameKey: name, CreatedAt: time.Now().UTC()}
	if _, err := st.DB.NewInsert().Model(set).Returning("id").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for _, turns := range cases {
		c := &store.TestCase{WorkspaceID: ws, TestSetID: set.ID, Turns: turns, CreatedAt: time.Now().UTC()}
		if _, err := st.DB.NewInsert().Model(c).Returning("id").Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return set
}

func newTRAPIFixture(t *testing.T) *trAPIFixture {
	t.Helper()
	ctx := context.Background()
	f := &trAPIFixture{e: newEnv(t)}
	f.ws = f.e.User("tina@example.com", "correct-horse")
	f.key = asstAPIKey(t, f.e, f.ws.ID)
	other := f.e.User("otto@example.com", "correct-horse")
	f.otherKey = asstAPIKey(t, f.e, other.ID)
	st := f.e.App.Store
	f.asst = &store.Assistant{WorkspaceID: f.ws.ID, Name: "Support", SystemPrompt: "v1"}
	if err := st.CreateAssistant(ctx, f.asst); err != nil {
		t.Fatal(err)
	}
	b := f.asst.Behaviour()
	b.SystemPrompt = "v2"
	var err error
	if _, f.asst, err = st.SaveAssistantVersion(ctx, f.ws.ID, f.asst.ID, b, store.Author{Name: "t"}, false); err != nil {
		t.Fatal(err)
	}
	f.set = trAPISet(t, st, f.ws.ID, f.asst.ID, "main",
		[]model.TestCaseTurn{{Customer: "When does it ship?", Expected: "On Monday."}, {Customer: "Thanks"}},
		[]model.TestCaseTurn{{Customer: "hello"}})
	f.empty = trAPISet(t, st, f.ws.ID, f.asst.ID, "empty")
	return f
}

func (f *trAPIFixture) execute(t *testing.T, id int64) {
	t.Helper()
	if err := f.e.App.TestRuns.Execute(context.Background(), testruns.Exec{WorkspaceID: f.ws.ID, RunID: id}); err != nil {
		t.Fatal(err)
	}
}

type trAPIError struct {
	Error struct {
		Code   string `json:"code"`
		Fields []struct {
			Field string `json:"field"`
		} `json:"fields"`
	} `json:"error"`
}

func (f *trAPIFixture) startRun(t *testing.T, body string) int64 {
	t.Helper()
	r := asstAPIDo(t, f.e, http.MethodPost, fmt.Sprintf("/api/v1/test-sets/%d/runs", f.set.ID), f.key, body)
	if r.Status != http.StatusAccepted {
		t.Fatalf("start %s: %d %s", body, r.Status, r.Body)
	}
	var run testruns.RunJSON
	if err := json.Unmarshal([]byte(r.Body), &run); err != nil || run.ID <= 0 {
		t.Fatalf("%v %s", err, r.Body)
	}
	return run.ID
}

// POST /api/v1/test-sets/{id}/runs: 202 with the run ({"id"}, pending, the version
// resolved); a bad version is a 422 naming "version"; another workspace's set a 404; a set
// without cases a 422 naming "test_set"; nothing is written for a refusal.
func TestAPITestSetRunCreate(t *testing.T) {
	f := newTRAPIFixture(t)
	path := fmt.Sprintf("/api/v1/test-sets/%d/runs", f.set.ID)
	for _, c := range []struct {
		body    string
		version int
	}{{`{"version": "draft"}`, 2}, {`{"version": 1}`, 1}, {`{}`, 2}, {`{"version": "v1"}`, 1}} {
		r := asstAPIDo(t, f.e, http.MethodPost, path, f.key, c.body)
		if r.Status != http.StatusAccepted {
			t.Fatalf("%s: %d %s", c.body, r.Status, r.Body)
		}
		m := r.obj(t)
		if m["id"] == nil || m["version"] != float64(c.version) || m["status"] != model.JobPending {
			t.Fatalf("%s: %s", c.body, r.Body)
		}
		if p, _ := m["progress"].(map[string]any); p["total"] != float64(2) || p["done"] != float64(0) {
			t.Fatalf("%s: progress %v", c.body, m["progress"])
		}
	}
	before, _ := f.e.App.Store.TestSetRuns(context.Background(), f.ws.ID, f.set.ID, 0)
	for _, c := range []struct {
		path, key, body string
		status          int
		field           string
	}{
		{path, f.key, `{"version": 0}`, http.StatusUnprocessableEntity, "version"},
		{path, f.key, `{"version": "latest"}`, http.StatusUnprocessableEntity, "version"},
		{path, f.key, `{"version": true}`, http.StatusUnprocessableEntity, "version"},
		{path, f.key, `{"version": 1.5}`, http.StatusUnprocessableEntity, "version"},
		{path, f.key, `{"version": 9}`, http.StatusUnprocessableEntity, "version"},
		{path, f.key, `{"versions": 1}`, http.StatusBadRequest, ""},
		{path, f.otherKey, `{"version": 1}`, http.StatusNotFound, ""},
		{fmt.Sprintf("/api/v1/test-sets/%d/runs", f.empty.ID), f.key, `{"version": 1}`, http.StatusUnprocessableEntity, "test_set"},
		{"/api/v1/test-sets/nope/runs", f.key, `{"version": 1}`, http.StatusNotFound, ""},
	} {
		r := asstAPIDo(t, f.e, http.MethodPost, c.path, c.key, c.body)
		if r.Status != c.status {
			t.Fatalf("%s %s: %d %s", c.path, c.body, r.Status, r.Body)
		}
		var e trAPIError
		if err := json.Unmarshal([]byte(r.Body), &e); err != nil || e.Error.Code == "" {
			t.Fatalf("not the API's error: %s", r.Body)
		}
		if c.field != "" && (len(e.Error.Fields) == 0 || e.Error.Fields[0].Field != c.field) {
			t.Fatalf("%s: want the field %s named: %s", c.body, c.field, r.Body)
		}
	}
	after, _ := f.e.App.Store.TestSetRuns(context.Background(), f.ws.ID, f.set.ID, 0)
	if len(after) != len(before) {
		t.Fatalf("refusals wrote runs: %d -> %d", len(before), len(after))
	}
	// No draft any more: "draft" names nothing.
	if _, _, err := f.e.App.Store.PublishAssistantVersion(context.Background(), f.ws.ID, f.asst.ID, 2, store.Author{}); err != nil {
		t.Fatal(err)
	}
	if r := asstAPIDo(t, f.e, http.MethodPost, path, f.key, `{"version": "draft"}`); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("no draft: %d %s", r.Status, r.Body)
	}
}

// GET /api/v1/test-set-runs/{id}: status, version, progress, totals, the cases with their
// turns (customer, expected, replayed, judgement), evaluations, passed.
func TestAPITestSetRunGet(t *testing.T) {
	f := newTRAPIFixture(t)
	id := f.startRun(t, `{"version": "draft"}`)
	f.execute(t, id)
	path := fmt.Sprintf("/api/v1/test-set-runs/%d", id)
	r := asstAPIDo(t, f.e, http.MethodGet, path, f.key, "")
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var m struct {
		ID       int64  `json:"id"`
		Status   string `json:"status"`
		Version  int    `json:"version"`
		Progress struct {
			Done, Total int
		} `json:"progress"`
		Totals map[string]any `json:"totals"`
		Cases  []struct {
			Passed      *bool            `json:"passed"`
			Evaluations []map[string]any `json:"evaluations"`
			Turns       []map[string]any `json:"turns"`
		} `json:"cases"`
	}
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != id || m.Status != model.JobDone || m.Version != 2 || m.Progress.Done != 2 || m.Progress.Total != 2 || len(m.Cases) != 2 {
		t.Fatalf("%s", r.Body)
	}
	for _, k := range []string{"pass_rate", "ratings", "cost_usd", "avg_latency_ms"} {
		if _, ok := m.Totals[k]; !ok {
			t.Fatalf("totals lack %s: %s", k, r.Body)
		}
	}
	c := m.Cases[0]
	if c.Passed == nil || len(c.Evaluations) == 0 || len(c.Turns) != 2 {
		t.Fatalf("case %s", r.Body)
	}
	t0, t1 := c.Turns[0], c.Turns[1]
	if t0["customer"] != "When does it ship?" || t0["expected"] != "On Monday." || t0["replayed"] == nil || t0["judgement"] == nil {
		t.Fatalf("turn 0 %v", t0)
	}
	if j, _ := t0["judgement"].(map[string]any); j["method"] != testruns.MethodOffline || j["reason"] == "" {
		t.Fatalf("judgement %v", t0["judgement"])
	}
	if t1["judgement"] != nil || t1["expected"] != "" {
		t.Fatalf("turn 1 without an expected answer was judged: %v", t1)
	}
	if r := asstAPIDo(t, f.e, http.MethodGet, path, f.otherKey, ""); r.Status != http.StatusNotFound {
		t.Fatalf("another workspace: %d", r.Status)
	}
	if r := asstAPIDo(t, f.e, http.MethodGet, "/api/v1/test-set-runs/999999", f.key, ""); r.Status != http.StatusNotFound {
		t.Fatalf("unknown: %d", r.Status)
	}
}

// GET /api/v1/test-set-runs/{id}/compare?baseline=RUNID: both runs, the cases side by side,
// regressions and "worse"; a missing or foreign baseline is refused.
func TestAPITestSetRunCompare(t *testing.T) {
	f := newTRAPIFixture(t)
	a := f.startRun(t, `{"version": 1}`)
	b := f.startRun(t, `{"version": "draft"}`)
	f.execute(t, a)
	f.execute(t, b)
	path := fmt.Sprintf("/api/v1/test-set-runs/%d/compare", b)
	r := asstAPIDo(t, f.e, http.MethodGet, fmt.Sprintf("%s?baseline=%d&tolerance=0.5", path, a), f.key, "")
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var cmp testruns.ComparisonJSON
	if err := json.Unmarshal([]byte(r.Body), &cmp); err != nil {
		t.Fatal(err)
	}
	m := r.obj(t)
	for _, k := range []string{"baseline", "run", "worse", "regressions", "cases", "tolerance"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("no %s: %s", k, r.Body)
		}
	}
	if cmp.Baseline.ID != a || cmp.Run.ID != b || cmp.Tolerance != 0.5 || len(cmp.Cases) != 2 || cmp.Regressions == nil {
		t.Fatalf("%s", r.Body)
	}
	// The offline provider answers both versions alike: not worse.
	if cmp.Worse {
		t.Fatalf("offline runs of two versions differ: %s", r.Body)
	}
	// Without ?baseline: the published version's latest finished run (a).
	if r := asstAPIDo(t, f.e, http.MethodGet, path, f.key, ""); r.Status != http.StatusOK || r.obj(t)["baseline"].(map[string]any)["id"] != float64(a) {
		t.Fatalf("default baseline: %d %s", r.Status, r.Body)
	}
	other := trAPISet(t, f.e.App.Store, f.ws.ID, f.asst.ID, "other", []model.TestCaseTurn{{Customer: "x"}})
	foreign := asstAPIDo(t, f.e, http.MethodPost, fmt.Sprintf("/api/v1/test-sets/%d/runs", other.ID), f.key, `{"version": 1}`).obj(t)["id"]
	for _, c := range []struct {
		q      string
		key    string
		status int
	}{
		{"?baseline=x", f.key, http.StatusUnprocessableEntity},
		{fmt.Sprintf("?baseline=%d&tolerance=-1", a), f.key, http.StatusUnprocessableEntity},
		{fmt.Sprintf("?baseline=%v", foreign), f.key, http.StatusUnprocessableEntity},
		{"?baseline=999999", f.key, http.StatusNotFound},
		{fmt.Sprintf("?baseline=%d", a), f.otherKey, http.StatusNotFound},
	} {
		if r := asstAPIDo(t, f.e, http.MethodGet, path+c.q, c.key, ""); r.Status != c.status {
			t.Fatalf("%s: %d %s", c.q, r.Status, r.Body)
		}
	}
}
