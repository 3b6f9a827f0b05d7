package evaluation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// SchemaName is the name of the structured output an evaluation asks for.
const SchemaName = "conversation_evaluation"

// MaxText bounds a text value (a summary, a custom text evaluator) and MaxReason a reason, in
// characters; longer ones are cut.
const (
	MaxText   = 2000
	MaxReason = 500
)

// Evaluators is the evaluator set of a conversation of assistant a: the built-in evaluators,
// then the assistant's custom ones (a nil assistant has the built-in ones only). A custom
// evaluator named like a built-in one is left out (the built-in one answers).
func Evaluators(a *store.Assistant) []model.Evaluator {
	out := model.BuiltinEvaluators()
	if a == nil {
		return out
	}
	for _, e := range a.Evaluators {
		if strings.TrimSpace(e.Name) == "" || model.IsBuiltinEvaluator(e.Name) || !slices.Contains(model.EvaluatorTypes, e.Type) {
			continue
		}
		if slices.ContainsFunc(out, func(o model.Evaluator) bool { return o.Name == e.Name }) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Version is the evaluators version of assistant a's evaluator set
// (model.EvaluatorsVersion of its custom evaluators; a nil assistant has none): a run records
// it, and its request id carries it.
func Version(a *store.Assistant) int {
	if a == nil {
		return model.EvaluatorsVersion(nil)
	}
	return model.EvaluatorsVersion(a.Evaluators)
}

// valueSchema is the JSON Schema of one evaluator's value.
func valueSchema(e model.Evaluator) map[string]any {
	switch e.Type {
	case model.EvaluatorBoolean:
		return map[string]any{"type": "boolean"}
	case model.EvaluatorRating:
		enum := []any{}
		for i := model.CSATMin; i <= model.CSATMax; i++ {
			enum = append(enum, i)
		}
		return map[string]any{"type": "integer", "enum": enum, "description": "an integer from 1 (worst) to 5 (best)"}
	case model.EvaluatorOption:
		enum := make([]any, 0, len(e.Options))
		for _, o := range e.Options {
			enum = append(enum, o)
		}
		return map[string]any{"type": "string", "enum": enum}
	}
	return map[string]any{"type": "string"}
}

// Schema is the strict structured output of an evaluation: one property per evaluator, each
// an object {"value", "reason"} (the value typed by the evaluator's type: boolean, an integer
// 1 to 5 for a rating, one of the options for an option, a string for text; the reason a
// one-line string quoting the customer), every property required and no other allowed.
func Schema(evs []model.Evaluator) *llm.JSONSchema {
	props := make(map[string]any, len(evs))
	required := make([]string, 0, len(evs))
	for _, e := range evs {
		props[e.Name] = map[string]any{
			"type":        "object",
			"description": e.Question,
			"properties": map[string]any{
				"value":  valueSchema(e),
				"reason": map[string]any{"type": "string", "description": "one line, quoting the customer's words that support the value"},
			},
			"required":             []string{"value", "reason"},
			"additionalProperties": false,
		}
		required = append(required, e.Name)
	}
	return &llm.JSONSchema{
		Name:        SchemaName,
		Description: "The evaluation of a customer conversation: every evaluator's value with a one-line reason.",
		Strict:      true,
		Schema: map[string]any{
			"type":                 "object",
			"properties":           props,
			"required":             required,
			"additionalProperties": false,
		},
	}
}

// Parsed is a reply read against an evaluator set.
type Parsed struct {
	// Values has one value per evaluator, in the set's order: done with its value, or failed
	// with the error.
	Values []store.EvaluationValue
	// Err says what was wrong with the reply ("" when nothing); NotJSON is set when the reply
	// is not a JSON object at all (every value failed).
	Err     string
	NotJSON bool
}

// Parse reads an evaluation reply: each evaluator's value is checked against its type and
// kept when valid (status done), or stored failed with the error when missing or invalid. A
// reply that is not a JSON object fails every value. Values are stored as text: booleans
// "true"/"false", ratings "1".."5", options as the evaluator spells them.
func Parse(content string, evs []model.Evaluator) Parsed {
	var out Parsed
	s := strings.TrimSpace(content)
	if strings.HasPrefix(s, "```") { // some local models fence JSON despite the schema
		s = strings.TrimPrefix(s, "```json")
		s = strings.TrimPrefix(s, "```")
		s = strings.TrimSuffix(strings.TrimSpace(s), "```")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil || raw == nil {
		out.NotJSON = true
		out.Err = "the model's reply is not a JSON object"
		for _, e := range evs {
			out.Values = append(out.Values, failed(e, out.Err))
		}
		return out
	}
	var problems []string
	for _, e := range evs {
		v, err := parseOne(raw[e.Name], e)
		if err != "" {
			problems = append(problems, fmt.Sprintf("%s: %s", e.Name, err))
			out.Values = append(out.Values, failed(e, err))
			continue
		}
		out.Values = append(out.Values, v)
	}
	var extra []string
	for k := range raw {
		if !slices.ContainsFunc(evs, func(e model.Evaluator) bool { return e.Name == k }) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		problems = append(problems, "keys not in the schema: "+strings.Join(extra, ", "))
	}
	if len(problems) > 0 {
		out.Err = "the model's reply breaks the schema: " + strings.Join(problems, "; ")
	}
	return out
}

func failed(e model.Evaluator, msg string) store.EvaluationValue {
	return store.EvaluationValue{Name: e.Name, Builtin: e.Builtin, Status: model.EvalFailed, Error: msg, EvaluatorVersion: e.Version}
}

func parseOne(raw json.RawMessage, e model.Evaluator) (store.EvaluationValue, string) {
	if raw == nil {
		return store.EvaluationValue{}, "missing"
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return store.EvaluationValue{}, `not an object {"value", "reason"}`
	}
	rv, ok := obj["value"]
	if !ok || bytes.Equal(bytes.TrimSpace(rv), []byte("null")) {
		return store.EvaluationValue{}, "the value is missing"
	}
	val, err := checkValue(rv, e)
	if err != "" {
		return store.EvaluationValue{}, err
	}
	var reason string
	if r, ok := obj["reason"]; ok {
		_ = json.Unmarshal(r, &reason) // a reason that is not a string is left empty
	}
	return store.EvaluationValue{Name: e.Name, Builtin: e.Builtin, Value: &val, Reason: oneLine(reason, MaxReason),
		Status: model.EvalDone, EvaluatorVersion: e.Version}, ""
}

var bcp47 = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

// checkValue returns the stored text of a value, or what is wrong with it.
func checkValue(rv json.RawMessage, e model.Evaluator) (string, string) {
	switch e.Type {
	case model.EvaluatorBoolean:
		var b bool
		if err := json.Unmarshal(rv, &b); err != nil {
			return "", "the value is not a boolean"
		}
		return strconv.FormatBool(b), ""
	case model.EvaluatorRating:
		var f float64
		if err := json.Unmarshal(rv, &f); err != nil || f != math.Trunc(f) {
			return "", "the value is not an integer"
		}
		if f < model.CSATMin || f > model.CSATMax {
			return "", fmt.Sprintf("the rating %v is not from %d to %d", f, model.CSATMin, model.CSATMax)
		}
		return strconv.Itoa(int(f)), ""
	case model.EvaluatorOption:
		var s string
		if err := json.Unmarshal(rv, &s); err != nil {
			return "", "the value is not a string"
		}
		for _, o := range e.Options {
			if strings.EqualFold(strings.TrimSpace(s), o) {
				return o, ""
			}
		}
		return "", fmt.Sprintf("%q is not one of the options", oneLine(s, 40))
	}
	var s string
	if err := json.Unmarshal(rv, &s); err != nil {
		return "", "the value is not a string"
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "the value is empty"
	}
	if e.Builtin && e.Name == model.EvalLanguage {
		if !bcp47.MatchString(s) {
			return "", fmt.Sprintf("%q is not a BCP 47 language tag", oneLine(s, 40))
		}
		return canonicalTag(s), ""
	}
	return cut(s, MaxText), ""
}

// canonicalTag writes a BCP 47 tag in its usual case: language lower, region upper.
func canonicalTag(s string) string {
	parts := strings.Split(s, "-")
	parts[0] = strings.ToLower(parts[0])
	for i := 1; i < len(parts); i++ {
		switch len(parts[i]) {
		case 2:
			parts[i] = strings.ToUpper(parts[i])
		case 4:
			parts[i] = strings.ToUpper(parts[i][:1]) + strings.ToLower(parts[i][1:])
		default:
			parts[i] = strings.ToLower(parts[i])
		}
	}
	return strings.Join(parts, "-")
}

// oneLine joins s on one line and cuts it to n characters.
func oneLine(s string, n int) string {
	return cut(strings.Join(strings.Fields(s), " "), n)
}

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
