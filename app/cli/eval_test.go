package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/testruns"
)

// evalFake is an LLM whose answers depend on the version asked: the published prompt answers
// "It ships on Monday.", the draft's "Please ask again later."; the judge says "same" when
// the answer mentions Monday; evaluations get valid values.
func evalFake(t *testing.T) *testkit.FakeLLM {
	l := testkit.NewFakeLLM(t)
	l.Answer = func(n int, r testkit.LLMRequest) testkit.LLMAnswer {
		body := fmt.Sprint(r.Body["messages"])
		if _, judge := r.Schema["same"]; judge {
			answer := body[strings.Index(body, "Answer to grade"):]
			if strings.Contains(answer, "Monday") {
				return testkit.LLMAnswer{Content: `{"same": true, "reason": "same day"}`}
			}
			return testkit.LLMAnswer{Content: `{"same": false, "reason": "no day given"}`}
		}
		if r.Schema != nil {
			vals := map[string]any{}
			for k, p := range r.Schema {
				ps, _ := p.(map[string]any)
				props, _ := ps["properties"].(map[string]any)
				vs, _ := props["value"].(map[string]any)
				var v any = "text"
				if k == model.EvalLanguage {
					v = "en"
				}
				if enum, ok := vs["enum"].([]any); ok && len(enum) > 0 {
					v = enum[0]
				} else if vs["type"] == "boolean" {
					v = true
				}
				vals[k] = map[string]any{"value": v, "reason": "r"}
			}
			b, _ := json.Marshal(vals)
			return testkit.LLMAnswer{Content: string(b)}
		}
		if strings.Contains(body, "draft prompt") {
			return testkit.LLMAnswer{Content: "Please ask again later."}
		}
		return testkit.LLMAnswer{Content: "It ships on Monday."}
	}
	return l
}

// `parley eval run`: the exit status follows the regression rule (1 when the draft's pass
// rate is lower than the published version's, 0 when the run is its own baseline or not
// worse, 2 on usage errors); --json prints the comparison; the baseline's finished run is
// reused unless --rerun-baseline.
func TestEvalRunExitCodes(t *testing.T) {
	db := testkit.NewDB(t)
	l := evalFake(t)
	env := map[string]string{"DATABASE_URL": db.DatabaseURL, "PARLEY_SECRET_KEY": strings.Repeat("s", 32),
		"PARLEY_LLM_API_KEY": "sk-fake", "PARLEY_LLM_BASE_URL": l.URL + "/v1"}
	if db.Dialect != store.Postgres {
		env["DATABASE_URL"] = "sqlite://" + db.SQLitePath
	}
	s := db.Open(t)
	ctx := context.Background()
	ws, _, err := s.CreateWorkspaceWithUser(ctx, "one", "a@x.test", "h")
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "Support", Model: "gpt-4o-mini", SystemPrompt: "published prompt"}
	if err := s.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := a.Behaviour()
	b.SystemPrompt = "draft prompt"
	if _, _, err := s.SaveAssistantVersion(ctx, ws.ID, a.ID, b, store.Author{Name: "t"}, false); err != nil {
		t.Fatal(err)
	}
	set := &store.TestSet{WorkspaceID: ws.ID, AssistantID: a.ID, Name: "ci", NameKey: "ci", CreatedAt: time.Now().UTC()}
	if _, err := s.DB.NewInsert().Model(set).Returning("id").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for _, turns := range []store.TestCaseTurns{
		{{Customer: "When does it ship?", Expected: "On Monday."}},
		{{Customer: "hello"}},
	} {
		c := &store.TestCase{WorkspaceID: ws.ID, TestSetID: set.ID, Turns: turns, CreatedAt: time.Now().UTC()}
		if _, err := s.DB.NewInsert().Model(c).Returning("id").Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	runsOf := func(version int) int {
		rs, err := s.TestSetRuns(ctx, ws.ID, set.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rs {
			if r.Version == version {
				n++
			}
		}
		return n
	}
	sid := itoa(set.ID)

	// The draft against the published version: worse (the pass rate 50% < 100%): exit 1.
	code, out, stderr := run(t, env, "eval", "run", "--test-set", sid, "--version", "draft")
	if code != 1 || !strings.Contains(stderr, "worse than the baseline") || !strings.Contains(out, "REGRESSED") || !strings.Contains(out, "pass rate") {
		t.Fatalf("draft vs published: %d\n%s\n%s", code, out, stderr)
	}
	if runsOf(1) != 1 || runsOf(2) != 1 {
		t.Fatalf("runs: v1 %d, v2 %d", runsOf(1), runsOf(2))
	}
	// A wide tolerance does not excuse a lower pass rate.
	if code, out, stderr := run(t, env, "eval", "run", "--test-set", sid, "--version", "2", "--baseline", "1", "--tolerance", "4"); code != 1 {
		t.Fatalf("tolerance 4: %d\n%s\n%s", code, out, stderr)
	}
	if runsOf(1) != 1 {
		t.Fatalf("the baseline's finished run was not reused: %d runs of v1", runsOf(1))
	}
	// --json: the comparison's document, worse, still exit 1.
	code, out, _ = run(t, env, "eval", "run", "--test-set", sid, "--version", "draft", "--json")
	var doc testruns.ComparisonJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 1 || !doc.Worse || doc.Baseline.Version != 1 || doc.Run.Version != 2 || len(doc.Cases) != 2 || !doc.Cases[0].Regressed {
		t.Fatalf("--json: %d %v\n%s", code, err, out)
	}
	// The published version against itself, and the draft against itself: not worse, exit 0.
	for _, args := range [][]string{{"--version", "1"}, {"--version", "draft", "--baseline", "draft"}, {"--version", "1", "--baseline", "1", "--rerun-baseline"}} {
		if code, out, stderr := run(t, env, append([]string{"eval", "run", "--test-set", sid}, args...)...); code != 0 || !strings.Contains(out, "not worse") {
			t.Fatalf("%v: %d\n%s\n%s", args, code, out, stderr)
		}
	}
	// The published version against the draft as the baseline: better, exit 0; --rerun-baseline runs v2 again.
	before := runsOf(2)
	if code, out, stderr := run(t, env, "eval", "run", "--test-set", sid, "--version", "1", "--baseline", "2", "--rerun-baseline"); code != 0 {
		t.Fatalf("published vs draft: %d\n%s\n%s", code, out, stderr)
	}
	if runsOf(2) != before+1 {
		t.Fatalf("--rerun-baseline did not run v2: %d -> %d", before, runsOf(2))
	}

	// Usage errors: exit 2, nothing run.
	total := runsOf(1) + runsOf(2)
	for _, args := range [][]string{
		{"eval"},
		{"eval", "start"},
		{"eval", "run", "--version", "1"},
		{"eval", "run", "--test-set", sid},
		{"eval", "run", "--test-set", sid, "--version", "latest"},
		{"eval", "run", "--test-set", sid, "--version", "0"},
		{"eval", "run", "--test-set", sid, "--version", "1", "--baseline", "x"},
		{"eval", "run", "--test-set", sid, "--version", "1", "--tolerance", "-1"},
		{"eval", "run", "--test-set", sid, "--version", "9"},
		{"eval", "run", "--test-set", "99999", "--version", "1"},
		{"eval", "run", "--test-set", sid, "--version", "1", "extra"},
	} {
		if code, out, stderr := run(t, env, args...); code != 2 || !strings.Contains(stderr, "usage: parley eval") {
			t.Errorf("%v: %d %q %q", args, code, out, stderr)
		}
	}
	if runsOf(1)+runsOf(2) != total {
		t.Fatalf("usage errors ran something")
	}
	if code, out, _ := run(t, nil, "eval", "--help"); code != 0 || !strings.Contains(out, "--tolerance") || !strings.Contains(out, "Exit status") {
		t.Errorf("eval --help: %d %q", code, out)
	}
}
