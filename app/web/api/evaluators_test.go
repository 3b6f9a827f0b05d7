package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// evalAPIErrFields is the field names of a JSON error answer.
func evalAPIErrFields(t *testing.T, r asstAPIResp) []string {
	t.Helper()
	var b struct {
		Error struct {
			Fields []struct {
				Field string `json:"field"`
			} `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil {
		t.Fatalf("%v in %s", err, r.Body)
	}
	var out []string
	for _, f := range b.Error.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestAPIAssistantEvaluatorsValidation(t *testing.T) {
	e := newEnv(t)
	ws := e.User("eva@example.com", "correct-horse")
	key := asstAPIKey(t, e, ws.ID)
	ok := `{"name":"refund_asked","question":"Did the customer ask for a refund?","type":"boolean"}`
	many := make([]string, 21)
	for i := range many {
		many[i] = `{"name":"e` + strconv.Itoa(i) + `","question":"q?","type":"text"}`
	}
	for _, tc := range []struct {
		name, evaluators, field string
	}{
		{"no name", `[{"question":"q?","type":"text"}]`, "evaluators[0].name"},
		{"bad name", `[` + ok + `,{"name":"Bad Name","question":"q?","type":"text"}]`, "evaluators[1].name"},
		{"long name", `[{"name":"` + strings.Repeat("a", 41) + `","question":"q?","type":"text"}]`, "evaluators[0].name"},
		{"built-in name", `[{"name":"sentiment","question":"q?","type":"text"}]`, "evaluators[0].name"},
		{"duplicate name", `[` + ok + `,` + ok + `]`, "evaluators[1].name"},
		{"no question", `[{"name":"x","question":" ","type":"text"}]`, "evaluators[0].question"},
		{"long question", `[{"name":"x","question":"` + strings.Repeat("q", 501) + `","type":"text"}]`, "evaluators[0].question"},
		{"bad type", `[{"name":"x","question":"q?","type":"number"}]`, "evaluators[0].type"},
		{"options on boolean", `[{"name":"x","question":"q?","type":"boolean","options":["a","b"]}]`, "evaluators[0].options"},
		{"option without options", `[` + ok + `,{"name":"x","question":"q?","type":"option"}]`, "evaluators[1].options"},
		{"one option", `[{"name":"x","question":"q?","type":"option","options":["a"]}]`, "evaluators[0].options"},
		{"repeated option", `[{"name":"x","question":"q?","type":"option","options":["a","b","a"]}]`, "evaluators[0].options"},
		{"too many", `[` + strings.Join(many, ",") + `]`, "evaluators"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := asstAPIDo(t, e, "POST", "/api/v1/assistants", key, `{"name":"A","evaluators":`+tc.evaluators+`}`)
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if fs := evalAPIErrFields(t, r); len(fs) != 1 || fs[0] != tc.field {
				t.Fatalf("fields %v, want [%s]: %s", fs, tc.field, r.Body)
			}
		})
	}
	// Nothing was written.
	if r := asstAPIDo(t, e, "GET", "/api/v1/assistants", key, ""); strings.TrimSpace(r.Body) != `{"data":[]}` {
		t.Fatalf("an invalid assistant was created: %s", r.Body)
	}
}

func TestAPIAssistantEvaluatorsVersions(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ver@example.com", "correct-horse")
	key := asstAPIKey(t, e, ws.ID)
	r := asstAPIDo(t, e, "POST", "/api/v1/assistants", key, `{"name":"A","evaluators":[
		{"name":"refund_asked","question":"Did the customer ask for a refund?","type":"boolean","version":7},
		{"name":"politeness","question":"How polite was the assistant?","type":"rating"},
		{"name":"topic","question":"What was it about?","type":"option","options":["billing","shipping"]}]}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := strconv.FormatInt(int64(r.obj(t)["id"].(float64)), 10)
	versions := func(r asstAPIResp) string {
		t.Helper()
		var a struct {
			Evaluators []struct {
				Name    string   `json:"name"`
				Type    string   `json:"type"`
				Options []string `json:"options"`
				Version int      `json:"version"`
			} `json:"evaluators"`
		}
		if err := json.Unmarshal([]byte(r.Body), &a); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, e := range a.Evaluators {
			if e.Options == nil {
				t.Fatalf("options must be a list: %s", r.Body)
			}
			parts = append(parts, e.Name+"="+strconv.Itoa(e.Version))
		}
		return strings.Join(parts, ",")
	}
	if got := versions(r); got != "refund_asked=1,politeness=1,topic=1" {
		t.Fatalf("created versions %s (a client's version is ignored)", got)
	}
	path := "/api/v1/assistants/" + id
	steps := []struct{ body, want string }{
		// Another field changes: versions stay.
		{`{"name":"B"}`, "refund_asked=1,politeness=1,topic=1"},
		// The same evaluators again (reordered, spaces trimmed): versions stay.
		{`{"evaluators":[
			{"name":"topic","question":"What was it about?","type":"option","options":[" billing","shipping"]},
			{"name":"refund_asked","question":" Did the customer ask for a refund?","type":"boolean"},
			{"name":"politeness","question":"How polite was the assistant?","type":"rating"}]}`, "topic=1,refund_asked=1,politeness=1"},
		// A question, a type and an option change; one removed, one new.
		{`{"evaluators":[
			{"name":"topic","question":"What was it about?","type":"option","options":["billing","shipping","returns"]},
			{"name":"refund_asked","question":"Did they want their money back?","type":"boolean"},
			{"name":"politeness","question":"How polite was the assistant?","type":"text"},
			{"name":"language_ok","question":"Did the assistant answer in the customer's language?","type":"boolean"}]}`, "topic=2,refund_asked=2,politeness=2,language_ok=1"},
		{`{"evaluators":[{"name":"topic","question":"What was it about?","type":"option","options":["billing","shipping"]}]}`, "topic=3"},
	}
	for i, s := range steps {
		// Published at once: the assistant shows the published version's evaluators (issue 15).
		p := asstAPIDo(t, e, "PATCH", path, key, `{"publish":true,`+strings.TrimPrefix(strings.TrimSpace(s.body), "{"))
		if p.Status != http.StatusOK {
			t.Fatalf("step %d: %d %s", i, p.Status, p.Body)
		}
		if got := versions(p); got != s.want {
			t.Fatalf("step %d: versions %s, want %s", i, got, s.want)
		}
		if got := versions(asstAPIDo(t, e, "GET", path, key, "")); got != s.want {
			t.Fatalf("step %d: stored versions %s, want %s", i, got, s.want)
		}
	}
	// An invalid change writes nothing.
	p := asstAPIDo(t, e, "PATCH", path, key, `{"name":"C","evaluators":[{"name":"topic","question":"?","type":"option","options":["x"]}]}`)
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid patch: %d %s", p.Status, p.Body)
	}
	g := asstAPIDo(t, e, "GET", path, key, "")
	if versions(g) != "topic=3" || g.obj(t)["name"] != "B" {
		t.Fatalf("an invalid patch changed the assistant: %s", g.Body)
	}
}
