package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/app/model"
)

// The assistants table's JSON columns are decoded here once, when a row is read, and encoded
// when it is written (the same JSON text as always: no migration). They are read leniently: a
// variable or pre-chat field without a type is text, a missing list is empty (never nil). A
// column that is not JSON fails the read.

// Variables is the assistants.variables column: the variables the assistant collects.
type Variables []model.Variable

// PrechatFields is the assistants.prechat_fields column: the widget's pre-chat form.
type PrechatFields []model.PrechatField

// Evaluators is the assistants.evaluators column: the assistant's custom evaluators.
type Evaluators []model.Evaluator

// Origins is the assistants.allowed_origins column: the origins that may embed the widget.
type Origins []string

// WidgetSettings is the assistants.widget_settings column: the widget's look, the WhatsApp
// Business Account id and any other key (kept as it is).
type WidgetSettings model.WidgetSettings

// columnText reads a text column as the drivers hand it over.
func columnText(col string, src any) (string, error) {
	switch v := src.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("%s: cannot scan %T", col, src)
}

func decodeList[T any](col string, src any, v *[]T) error {
	raw, err := columnText(col, src)
	if err != nil {
		return err
	}
	*v = []T{}
	if strings.TrimSpace(raw) != "" {
		if err := json.Unmarshal([]byte(raw), v); err != nil {
			return fmt.Errorf("%s: %w", col, err)
		}
	}
	if *v == nil {
		*v = []T{}
	}
	return nil
}

func encodeList[T any](v []T) (driver.Value, error) {
	if v == nil {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// Scan implements sql.Scanner.
func (vs *Variables) Scan(src any) error {
	var l []model.Variable
	if err := decodeList("variables", src, &l); err != nil {
		return err
	}
	for i := range l {
		if l[i].Type == "" {
			l[i].Type = model.VariableText
		}
		if l[i].Options == nil {
			l[i].Options = []string{}
		}
	}
	*vs = l
	return nil
}

// Value implements driver.Valuer.
func (vs Variables) Value() (driver.Value, error) { return encodeList(vs) }

// Scan implements sql.Scanner.
func (fs *PrechatFields) Scan(src any) error {
	var l []model.PrechatField
	if err := decodeList("prechat_fields", src, &l); err != nil {
		return err
	}
	for i := range l {
		if l[i].Type == "" {
			l[i].Type = model.VariableText
		}
	}
	*fs = l
	return nil
}

// Value implements driver.Valuer.
func (fs PrechatFields) Value() (driver.Value, error) { return encodeList(fs) }

// Scan implements sql.Scanner.
func (os *Origins) Scan(src any) error {
	var l []string
	if err := decodeList("allowed_origins", src, &l); err != nil {
		return err
	}
	*os = l
	return nil
}

// Value implements driver.Valuer.
func (os Origins) Value() (driver.Value, error) { return encodeList(os) }

// Scan implements sql.Scanner.
func (w *WidgetSettings) Scan(src any) error {
	raw, err := columnText("widget_settings", src)
	if err != nil {
		return err
	}
	*w = WidgetSettings{}
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	if err := w.UnmarshalJSON([]byte(raw)); err != nil {
		return fmt.Errorf("widget_settings: %w", err)
	}
	return nil
}

// Value implements driver.Valuer.
func (w WidgetSettings) Value() (driver.Value, error) {
	b, err := w.MarshalJSON()
	return string(b), err
}

// AsModel is the assistant as the rest of Parley reads it (app/model).
func (a *Assistant) AsModel() *model.Assistant {
	m := &model.Assistant{
		ID: a.ID, WorkspaceID: a.WorkspaceID, PublicKey: a.PublicKey, Disabled: a.Disabled,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		AssistantSettings: model.AssistantSettings{
			Name: a.Name, SystemPrompt: a.SystemPrompt, FirstMessage: a.FirstMessage,
			Model: a.Model, Temperature: a.Temperature,
			Variables:        orEmpty(a.Variables),
			PrechatFields:    orEmpty(a.PrechatFields),
			AllowedOrigins:   orEmpty(a.AllowedOrigins),
			Widget:           a.WidgetSettings.Widget,
			IdentityRequired: a.IdentityRequired,
			Evaluators:       orEmpty(a.Evaluators),
			CSATWhatsApp:     a.CSATWhatsApp,
			PublishGate:      a.PublishGate,
		},
		IdentitySecret: a.IdentitySecret,
		WhatsApp: model.WhatsAppConnection{AccessTokenEnc: a.WhatsAppAccessTokenEnc, WABAID: a.WidgetSettings.WABAID,
			Number:     model.WhatsAppNumber{DisplayPhoneNumber: a.WhatsAppDisplayPhoneNumber, VerifiedName: a.WhatsAppVerifiedName},
			VerifiedAt: a.WhatsAppVerifiedAt},
	}
	if a.WhatsAppPhoneNumberID != nil {
		m.WhatsAppPhoneNumberID = *a.WhatsAppPhoneNumberID
		m.WhatsApp.PhoneNumberID = *a.WhatsAppPhoneNumberID
	}
	return m
}

// PhoneNumberID is the WhatsApp phone number id the assistant is connected to ("" when none).
func (a *Assistant) PhoneNumberID() string {
	if a.WhatsAppPhoneNumberID == nil {
		return ""
	}
	return *a.WhatsAppPhoneNumberID
}

// orEmpty is a copy of l (the model's lists never share the row's), empty when l is nil.
func orEmpty[T any](l []T) []T {
	return append([]T{}, l...)
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

// MarshalJSON writes the document as the column holds it.
func (w WidgetSettings) MarshalJSON() ([]byte, error) { return json.Marshal(model.WidgetSettings(w)) }

// UnmarshalJSON reads the document as the column holds it.
func (w *WidgetSettings) UnmarshalJSON(b []byte) error {
	return json.Unmarshal(b, (*model.WidgetSettings)(w))
}

// Scan implements sql.Scanner.
func (es *Evaluators) Scan(src any) error {
	var l []model.Evaluator
	if err := decodeList("evaluators", src, &l); err != nil {
		return err
	}
	for i := range l {
		if l[i].Options == nil {
			l[i].Options = []string{}
		}
	}
	*es = l
	return nil
}

// Value implements driver.Valuer.
func (es Evaluators) Value() (driver.Value, error) { return encodeList(es) }
