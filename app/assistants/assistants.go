// Package assistants holds the rules of an assistant: its settings, the variables it collects,
// the widget's pre-chat form, allowed origins and look, and its WhatsApp connection; how they
// are validated, and how they are kept in the assistants table's JSON columns. It knows nothing
// of HTTP or templates.
//
// The typed assistant is model.Assistant (store.Assistant.AsModel: the store decodes the JSON
// columns when it reads a row); this package validates an Update of its settings and applies
// it to a row (Apply), and decrypts the WhatsApp token (AccessToken). It may use app/store's
// row type and app/auth's keys; it never imports app/web, views or workers.
package assistants

import (
	"slices"
	"strings"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// DefaultModel is the model of a new assistant when the configuration names none.
const DefaultModel = "gpt-4o-mini"

// DefaultTemperature is the temperature of a new assistant.
const DefaultTemperature = 0.7

// MaxTemperature is the highest temperature accepted (the OpenAI range is 0..2).
const MaxTemperature = 2.0

// Limits.
const (
	MaxNameLen         = 100
	MaxSystemPromptLen = 20000
	MaxFirstMessageLen = 2000
	MaxModelLen        = 200
	MaxVariables       = 50
	MaxDescriptionLen  = 500
	MaxOptions         = 50
	MaxOptionLen       = 100
	MaxPrechatFields   = 20
	MaxLabelLen        = 100
	MaxOrigins         = 50
	MaxTitleLen        = 100
	MaxPhoneIDLen      = 32
	MaxAccessTokenLen  = 4096
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

// VariableTypes lists the types of a variable, in display order.
var VariableTypes = []string{TypeText, TypeEmail, TypePhone, TypeNumber, TypeDate, TypeBoolean, TypeEnum}

// PrechatTypes lists the input types of a pre-chat field, in display order.
var PrechatTypes = []string{TypeText, TypeEmail, TypePhone}

// NewSettings are the settings of a new assistant: model is the configured default model
// (DefaultModel when empty).
func NewSettings(modelName string) model.AssistantSettings {
	if strings.TrimSpace(modelName) == "" {
		modelName = DefaultModel
	}
	return model.AssistantSettings{Model: modelName, Temperature: DefaultTemperature, Variables: []model.Variable{}, PrechatFields: []model.PrechatField{}, AllowedOrigins: []string{}, Evaluators: []model.Evaluator{}}
}

// OriginAllowed reports whether a browser Origin header is one of the allowed origins
// (compared after normalisation: scheme and host are case-insensitive).
func OriginAllowed(allowed []string, origin string) bool {
	o, err := NormalizeOrigin(origin)
	if err != nil {
		return false
	}
	return slices.Contains(allowed, o)
}

// AccessToken decrypts the stored WhatsApp access token ("" when none is stored).
func AccessToken(k *auth.Keys, row *store.Assistant) (string, error) {
	return k.Decrypt(row.WhatsAppAccessTokenEnc)
}

// ParseOptions splits a comma-separated list of enum options, as the dashboard form sends it.
func ParseOptions(s string) []string {
	out := []string{}
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// ParseOriginLines splits the dashboard's one-origin-per-line text.
func ParseOriginLines(s string) []string {
	out := []string{}
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
