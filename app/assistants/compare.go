package assistants

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/parleyhq/parley/app/model"
)

// Line kinds of a line diff.
const (
	LineSame    = "same"
	LineAdded   = "added"
	LineRemoved = "removed"
)

// DiffLine is one line of a line diff: unchanged, added (only in the newer) or removed (only
// in the older).
type DiffLine struct {
	Kind string
	Text string
}

// FieldChange is one field of two versions: its values as text, and whether they differ.
type FieldChange struct {
	Field    string // the API's name: system_prompt, first_message, model, temperature, variables, evaluators
	Old, New string
	Changed  bool
}

// ItemChange is one variable or evaluator (by name) of two versions: added, removed, changed
// (with both JSON encodings) or the same.
type ItemChange struct {
	Name     string
	Kind     string // LineSame, LineAdded, LineRemoved, or ItemChanged
	Old, New string // JSON, "" where absent
}

// ItemChanged is a variable or evaluator present in both versions with different settings.
const ItemChanged = "changed"

// Comparison is two versions' behaviours compared field by field: the system prompt as a line
// diff, variables and evaluators item by item (by name).
type Comparison struct {
	Fields      []FieldChange
	PromptLines []DiffLine
	Variables   []ItemChange
	Evaluators  []ItemChange
}

// Changed reports a comparison with any difference.
func (c Comparison) Changed() bool {
	for _, f := range c.Fields {
		if f.Changed {
			return true
		}
	}
	return false
}

// Compare compares behaviour a (the older, say) with b.
func Compare(a, b model.Behaviour) Comparison {
	js := func(v any) string {
		out, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return ""
		}
		return string(out)
	}
	temp := func(t float64) string { return strconv.FormatFloat(t, 'f', -1, 64) }
	c := Comparison{
		Fields: []FieldChange{
			{Field: "system_prompt", Old: a.SystemPrompt, New: b.SystemPrompt},
			{Field: "first_message", Old: a.FirstMessage, New: b.FirstMessage},
			{Field: "model", Old: a.Model, New: b.Model},
			{Field: "temperature", Old: temp(a.Temperature), New: temp(b.Temperature)},
			{Field: "variables", Old: js(orNone(a.Variables)), New: js(orNone(b.Variables))},
			{Field: "evaluators", Old: js(orNone(a.Evaluators)), New: js(orNone(b.Evaluators))},
		},
		PromptLines: LineDiff(a.SystemPrompt, b.SystemPrompt),
		Variables:   compareItems(a.Variables, b.Variables, func(v model.Variable) string { return v.Name }),
		Evaluators:  compareItems(a.Evaluators, b.Evaluators, func(e model.Evaluator) string { return e.Name }),
	}
	for i := range c.Fields {
		c.Fields[i].Changed = c.Fields[i].Old != c.Fields[i].New
	}
	return c
}

func orNone[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// LineDiff is the line diff of two texts (every line, unchanged ones included), computed by
// github.com/aymanbagabas/go-udiff.
func LineDiff(a, b string) []DiffLine {
	if a == b {
		out := []DiffLine{}
		for _, l := range splitLines(a) {
			out = append(out, DiffLine{Kind: LineSame, Text: l})
		}
		return out
	}
	// Both end with a newline, so that a last line without one compares as a line.
	na, nb := withNewline(a), withNewline(b)
	edits := udiff.Lines(na, nb)
	u, err := udiff.ToUnifiedDiff("a", "b", na, edits, len(na)+len(nb))
	if err != nil {
		return []DiffLine{{Kind: LineRemoved, Text: a}, {Kind: LineAdded, Text: b}}
	}
	out := []DiffLine{}
	for _, h := range u.Hunks {
		for _, l := range h.Lines {
			d := DiffLine{Kind: LineSame, Text: strings.TrimSuffix(l.Content, "\n")}
			switch l.Kind {
			case udiff.Insert:
				d.Kind = LineAdded
			case udiff.Delete:
				d.Kind = LineRemoved
			}
			out = append(out, d)
		}
	}
	return out
}

func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// compareItems compares two lists by name: the items of a in their order (removed, changed
// or the same), then the items only in b (added).
func compareItems[T any](a, b []T, name func(T) string) []ItemChange {
	js := func(v T) string {
		out, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(out)
	}
	inB := map[string]T{}
	for _, x := range b {
		inB[name(x)] = x
	}
	seen := map[string]bool{}
	out := []ItemChange{}
	for _, x := range a {
		n := name(x)
		seen[n] = true
		y, ok := inB[n]
		switch {
		case !ok:
			out = append(out, ItemChange{Name: n, Kind: LineRemoved, Old: js(x)})
		case reflect.DeepEqual(x, y):
			out = append(out, ItemChange{Name: n, Kind: LineSame, Old: js(x), New: js(y)})
		default:
			out = append(out, ItemChange{Name: n, Kind: ItemChanged, Old: js(x), New: js(y)})
		}
	}
	for _, y := range b {
		if !seen[name(y)] {
			out = append(out, ItemChange{Name: name(y), Kind: LineAdded, New: js(y)})
		}
	}
	return out
}
