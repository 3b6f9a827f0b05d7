package assistants

import (
	"reflect"
	"testing"

	"github.com/parleyhq/parley/app/model"
)

func TestLineDiff(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want []DiffLine
	}{
		{"same", "one\ntwo", "one\ntwo", []DiffLine{{LineSame, "one"}, {LineSame, "two"}}},
		{"changed middle line", "one\ntwo\nthree", "one\nTWO\nthree", []DiffLine{
			{LineSame, "one"}, {LineRemoved, "two"}, {LineAdded, "TWO"}, {LineSame, "three"}}},
		{"added at the end", "one", "one\ntwo", []DiffLine{{LineSame, "one"}, {LineAdded, "two"}}},
		{"from nothing", "", "hello", []DiffLine{{LineAdded, "hello"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LineDiff(tt.a, tt.b); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("LineDiff(%q, %q) = %+v, want %+v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestCompareFieldsAndItems(t *testing.T) {
	a := model.Behaviour{SystemPrompt: "Be kind.", Model: "m1", Temperature: 0.5,
		Variables:  []model.Variable{{Name: "email", Type: "email"}, {Name: "city", Type: "text"}},
		Evaluators: []model.Evaluator{{Name: "tone", Question: "Polite?", Type: model.EvaluatorBoolean, Options: []string{}, Version: 1}}}
	b := a
	b.Model = "m2"
	b.Variables = []model.Variable{{Name: "email", Type: "text"}, {Name: "order", Type: "text"}}
	c := Compare(a, b)
	changed := map[string]bool{}
	for _, f := range c.Fields {
		changed[f.Field] = f.Changed
	}
	want := map[string]bool{"system_prompt": false, "first_message": false, "model": true, "temperature": false, "variables": true, "evaluators": false}
	if !reflect.DeepEqual(changed, want) {
		t.Fatalf("changed fields = %v, want %v", changed, want)
	}
	kinds := map[string]string{}
	for _, v := range c.Variables {
		kinds[v.Name] = v.Kind
	}
	if !reflect.DeepEqual(kinds, map[string]string{"email": ItemChanged, "city": LineRemoved, "order": LineAdded}) {
		t.Fatalf("variable changes = %v", kinds)
	}
	if len(c.Evaluators) != 1 || c.Evaluators[0].Kind != LineSame {
		t.Fatalf("evaluators = %+v", c.Evaluators)
	}
	if !c.Changed() || Compare(a, a).Changed() {
		t.Fatal("Changed() is wrong")
	}
}
