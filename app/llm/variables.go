package llm

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// Variable types.
const (
	TypeText    = "text"
	TypeEmail   = "email"
	TypePhone   = "phone"
	TypeNumber  = "number"
	TypeDate    = "date"
	TypeBoolean = "boolean"
	TypeEnum    = "enum"
)

// VariablesSchemaName is the name of the structured-output schema built by VariablesSchema.
const VariablesSchemaName = "collected_variables"

// VariablesSchema is the structured output an extraction call asks for: one JSON object with
// every variable as a key, whose value is the string found in the conversation or null.
// It is strict (every key required, no others), which OpenAI's structured outputs need.
// The offline provider answers extraction calls in this shape.
func VariablesSchema(vars []VariableSpec) *JSONSchema {
	props := make(map[string]any, len(vars))
	required := make([]string, 0, len(vars))
	for _, v := range vars {
		desc := v.Description
		if desc == "" {
			desc = Humanize(v.Name)
		}
		switch typeOf(v) {
		case TypeEmail:
			desc += " (an email address)"
		case TypePhone:
			desc += " (a phone number, with country code when given)"
		case TypeNumber:
			desc += " (a number, digits only)"
		case TypeDate:
			desc += " (a date as YYYY-MM-DD)"
		case TypeBoolean:
			desc += ` ("true" or "false")`
		}
		p := map[string]any{"type": []string{"string", "null"}, "description": desc}
		if typeOf(v) == TypeEnum && len(v.Options) > 0 {
			enum := make([]any, 0, len(v.Options)+1)
			for _, o := range v.Options {
				enum = append(enum, o)
			}
			p["enum"] = append(enum, nil)
		}
		props[v.Name] = p
		required = append(required, v.Name)
	}
	return &JSONSchema{
		Name:        VariablesSchemaName,
		Description: "Values the customer gave in the conversation; null for those not given.",
		Strict:      true,
		Schema: map[string]any{
			"type":                 "object",
			"properties":           props,
			"required":             required,
			"additionalProperties": false,
		},
	}
}

// ParseVariables reads a reply to a VariablesSchema call: the values given, by name. Nulls,
// blank values and names that are not in vars are dropped.
func ParseVariables(content string, vars []VariableSpec) (map[string]string, error) {
	s := strings.TrimSpace(content)
	// Some local models wrap JSON in a Markdown fence despite the schema.
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(s, "```json")
		s = strings.TrimPrefix(s, "```")
		s = strings.TrimSuffix(strings.TrimSpace(s), "```")
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("extraction reply is not a JSON object: %w", err)
	}
	out := map[string]string{}
	for _, v := range vars {
		val, ok := raw[v.Name]
		if !ok || val == nil {
			continue
		}
		var str string
		switch x := val.(type) {
		case string:
			str = x
		case bool:
			str = fmt.Sprint(x)
		case float64:
			b, _ := json.Marshal(x)
			str = string(b)
		default:
			continue
		}
		if str = strings.TrimSpace(str); str != "" && !strings.EqualFold(str, "null") {
			out[v.Name] = str
		}
	}
	return out, nil
}

// Missing returns the required variables without a (non-blank) collected value, in order.
func Missing(vars []VariableSpec, collected map[string]string) []VariableSpec {
	var out []VariableSpec
	for _, v := range vars {
		if v.Required && strings.TrimSpace(collected[v.Name]) == "" {
			out = append(out, v)
		}
	}
	return out
}

// Humanize turns a variable name into words: "phone_number", "phoneNumber" and
// "phone-number" all become "phone number". Acronyms stay as they are ("VAT id").
func Humanize(name string) string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	rs := []rune(strings.TrimSpace(name))
	for i, r := range rs {
		switch {
		case r == '_' || r == '-' || r == '.' || unicode.IsSpace(r):
			flush()
		case unicode.IsUpper(r) && len(cur) > 0 && (unicode.IsLower(cur[len(cur)-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	for i, w := range words {
		if !isAcronym(w) {
			words[i] = strings.ToLower(w)
		}
	}
	return strings.Join(words, " ")
}

func isAcronym(w string) bool {
	n := 0
	for _, r := range w {
		if unicode.IsLower(r) {
			return false
		}
		if unicode.IsUpper(r) {
			n++
		}
	}
	return n > 1
}

func typeOf(v VariableSpec) string {
	t := strings.ToLower(strings.TrimSpace(v.Type))
	if t == "" {
		return TypeText
	}
	return t
}
