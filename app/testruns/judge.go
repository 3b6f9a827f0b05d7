package testruns

import (
	"encoding/json"
	"strings"

	"github.com/parleyhq/parley/app/llm"
)

// JudgeSchemaName is the name of the structured output a judgement asks for.
const JudgeSchemaName = "answer_judgement"

// judgeMaxTokens bounds a judgement's reply; judgeMaxChars bounds each text sent.
const (
	judgeMaxTokens = 400
	judgeMaxChars  = 4000
	maxReason      = 500
)

// JudgeSchema is the strict structured output of a judgement: {"same": bool, "reason": string}.
func JudgeSchema() *llm.JSONSchema {
	return &llm.JSONSchema{Name: JudgeSchemaName, Strict: true,
		Description: "whether an answer says the same thing as the expected answer",
		Schema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"same":   map[string]any{"type": "boolean", "description": "true when the answer says the same thing as the expected answer"},
				"reason": map[string]any{"type": "string", "description": "one line: what differs, or why they agree"},
			},
			"required":             []any{"same", "reason"},
			"additionalProperties": false,
		}}
}

// JudgeRequest is the call that judges one turn: the customer's turn, the expected answer and
// the replayed one, asking whether the replayed answer says the same thing (ToolFallback as
// app/evaluation does, for servers without structured output).
func JudgeRequest(model, customer, expected, replayed, requestID string) llm.Request {
	sys := "You grade an assistant's answer against the answer a reviewer expected. " +
		"Decide whether the answer says the same thing as the expected answer: the same facts, commitments and next step; " +
		"wording, tone and length do not matter. Answer with one JSON object that follows the schema, " +
		"with a one-line reason."
	user := "Customer:\n" + cut(customer) + "\n\nExpected answer:\n" + cut(expected) + "\n\nAnswer to grade:\n" + cut(replayed)
	return llm.Request{Model: model, MaxTokens: judgeMaxTokens, JSONSchema: JudgeSchema(), ToolFallback: true, RequestID: requestID,
		Messages: []llm.Message{{Role: llm.RoleSystem, Content: sys}, {Role: llm.RoleUser, Content: user}}}
}

// ParseJudgement reads a judgement's reply; a reply that is not the schema's object is a
// judgement with an error (the turn counts as not the same).
func ParseJudgement(content string) Judgement {
	var v struct {
		Same   *bool  `json:"same"`
		Reason string `json:"reason"`
	}
	j := Judgement{Method: MethodLLM}
	if err := json.Unmarshal([]byte(strings.TrimSpace(content)), &v); err != nil || v.Same == nil {
		j.Error = "the judge's answer is not the expected JSON"
		return j
	}
	j.Same, j.Reason = *v.Same, oneLine(v.Reason)
	return j
}

func cut(s string) string {
	if r := []rune(s); len(r) > judgeMaxChars {
		return string(r[:judgeMaxChars]) + "…"
	}
	return s
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxReason {
		s = string(r[:maxReason]) + "…"
	}
	return s
}
