package store

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/app/model"
)

// The assistants table's JSON columns, decoded here once. They are read leniently: a variable
// or pre-chat field without a type is text, a missing list is empty (never nil).

// DecodeVariables reads the variables column.
func DecodeVariables(raw string) ([]model.Variable, error) {
	vs := []model.Variable{}
	if strings.TrimSpace(raw) != "" {
		if err := json.Unmarshal([]byte(raw), &vs); err != nil {
			return nil, fmt.Errorf("variables: %w", err)
		}
	}
	if vs == nil {
		vs = []model.Variable{}
	}
	for i := range vs {
		if vs[i].Type == "" {
			vs[i].Type = model.VariableText
		}
		if vs[i].Options == nil {
			vs[i].Options = []string{}
		}
	}
	return vs, nil
}

// DecodePrechatFields reads the prechat_fields column.
func DecodePrechatFields(raw string) ([]model.PrechatField, error) {
	fs := []model.PrechatField{}
	if strings.TrimSpace(raw) != "" {
		if err := json.Unmarshal([]byte(raw), &fs); err != nil {
			return nil, fmt.Errorf("prechat_fields: %w", err)
		}
	}
	if fs == nil {
		fs = []model.PrechatField{}
	}
	for i := range fs {
		if fs[i].Type == "" {
			fs[i].Type = model.VariableText
		}
	}
	return fs, nil
}

// DecodeOrigins reads the allowed_origins column.
func DecodeOrigins(raw string) ([]string, error) {
	os := []string{}
	if strings.TrimSpace(raw) != "" {
		if err := json.Unmarshal([]byte(raw), &os); err != nil {
			return nil, fmt.Errorf("allowed_origins: %w", err)
		}
	}
	if os == nil {
		os = []string{}
	}
	return os, nil
}

// DecodeWidget reads the look of the widget from the widget_settings column (other keys it may
// hold are ignored here).
func DecodeWidget(raw string) (model.Widget, error) {
	var w model.Widget
	if strings.TrimSpace(raw) == "" {
		return w, nil
	}
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		return w, fmt.Errorf("widget_settings: %w", err)
	}
	return w, nil
}

// VariableList is the assistant's declared variables; a column that does not decode gives
// none.
func (a *Assistant) VariableList() []model.Variable {
	vs, _ := DecodeVariables(a.Variables)
	return vs
}

// VariableMap decodes the conversation's variables column (name -> value, kept current for
// the list chips); a column that does not decode gives an empty map.
func (c *Conversation) VariableMap() map[string]string {
	return decodeVariableMap(c.Variables)
}

func decodeVariableMap(raw string) map[string]string {
	vars := map[string]string{}
	if err := json.Unmarshal([]byte(raw), &vars); err != nil || vars == nil {
		return map[string]string{}
	}
	return vars
}
