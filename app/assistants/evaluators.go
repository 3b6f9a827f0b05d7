package assistants

import (
	"fmt"
	"slices"
	"strings"

	"github.com/parleyhq/parley/app/model"
)

// Limits of the custom evaluators (issue 14).
const (
	MaxEvaluators        = 20
	MaxEvaluatorNameLen  = 40
	MaxQuestionLen       = 500
	MinEvaluatorOptions  = 2
	MaxEvaluatorOptions  = 20
	MaxEvaluatorOptionLn = 100
)

// normalizeEvaluators trims the evaluators' text fields, lower-cases their types and drops
// empty options; every evaluator gets a non-nil options list.
func normalizeEvaluators(es []model.Evaluator) []model.Evaluator {
	if es == nil {
		return []model.Evaluator{}
	}
	for i := range es {
		e := &es[i]
		e.Name = strings.TrimSpace(e.Name)
		e.Question = strings.TrimSpace(e.Question)
		e.Type = strings.ToLower(strings.TrimSpace(e.Type))
		opts := []string{}
		for _, o := range e.Options {
			if o = strings.TrimSpace(o); o != "" {
				opts = append(opts, o)
			}
		}
		e.Options = opts
	}
	return es
}

// validateEvaluators checks the custom evaluators, each error named by its path in the API's
// JSON ("evaluators[1].options").
func validateEvaluators(evs []model.Evaluator) Errors {
	var es Errors
	if len(evs) > MaxEvaluators {
		es.add("evaluators", "at most %d evaluators", MaxEvaluators)
		return es
	}
	seen := map[string]bool{}
	for i, e := range evs {
		p := fmt.Sprintf("evaluators[%d]", i)
		switch {
		case e.Name == "":
			es.add(p+".name", "is required")
		case !ValidName(e.Name):
			es.add(p+".name", "must start with a lower-case letter and use only a-z, 0-9 and _ (at most %d characters)", MaxEvaluatorNameLen)
		case model.IsBuiltinEvaluator(e.Name):
			es.add(p+".name", "%q is a built-in evaluator", e.Name)
		case seen[e.Name]:
			es.add(p+".name", "%q is already used by another evaluator", e.Name)
		}
		seen[e.Name] = true
		switch {
		case e.Question == "":
			es.add(p+".question", "is required")
		case tooLong(e.Question, MaxQuestionLen):
			es.add(p+".question", "must be at most %d characters", MaxQuestionLen)
		case hasControl(e.Question):
			es.add(p+".question", "must not contain control characters")
		}
		if !slices.Contains(model.EvaluatorTypes, e.Type) {
			es.add(p+".type", "must be one of %s", strings.Join(model.EvaluatorTypes, ", "))
			continue
		}
		if e.Type != model.EvaluatorOption {
			if len(e.Options) > 0 {
				es.add(p+".options", "only option evaluators have options")
			}
			continue
		}
		switch {
		case len(e.Options) < MinEvaluatorOptions:
			es.add(p+".options", "an option evaluator needs at least %d options", MinEvaluatorOptions)
		case len(e.Options) > MaxEvaluatorOptions:
			es.add(p+".options", "at most %d options", MaxEvaluatorOptions)
		default:
			seenOpt := map[string]bool{}
			for _, o := range e.Options {
				if tooLong(o, MaxEvaluatorOptionLn) {
					es.add(p+".options", "each option must be at most %d characters", MaxEvaluatorOptionLn)
					break
				}
				if strings.Contains(o, ",") || hasControl(o) {
					es.add(p+".options", "an option must not contain commas or control characters")
					break
				}
				if seenOpt[o] {
					es.add(p+".options", "%q is listed twice", o)
					break
				}
				seenOpt[o] = true
			}
		}
	}
	return es
}

// VersionEvaluators gives each of the new evaluators its version against the stored ones
// (old): an evaluator whose question, type or options changed gets the stored version + 1, a
// new name version 1, an unchanged one keeps its version. The versions a client sends are
// ignored: this is the one place they are decided, so a change applies to later evaluations
// only.
func VersionEvaluators(old, next []model.Evaluator) []model.Evaluator {
	out := make([]model.Evaluator, len(next))
	for i, e := range next {
		e.Version = 1
		e.Builtin = false
		if e.Options == nil {
			e.Options = []string{}
		}
		for _, o := range old {
			if o.Name != e.Name {
				continue
			}
			e.Version = max(o.Version, 1)
			if o.Question != e.Question || o.Type != e.Type || !slices.Equal(o.Options, e.Options) {
				e.Version++
			}
			break
		}
		out[i] = e
	}
	return out
}
