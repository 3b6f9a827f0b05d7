package model

import (
	"encoding/json"
	"fmt"
	"time"
)

// Variable is one piece of information an assistant must collect (an element of the
// assistants.variables JSON column, as the store decodes it).
type Variable struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Type        string   `json:"type"`
	Required    bool     `json:"required"`
	Options     []string `json:"options"` // enum only
}

// PrechatField is one input of the widget's pre-chat form; its value fills a Variable.
type PrechatField struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Type     string `json:"type"`
	Variable string `json:"variable"` // the variable it fills; "" means the variable named Name
	Required bool   `json:"required"`
}

// Fills is the name of the variable the field fills.
func (f PrechatField) Fills() string {
	if f.Variable != "" {
		return f.Variable
	}
	return f.Name
}

// Widget is the look of the web widget (the title and color keys of widget_settings).
type Widget struct {
	Title string `json:"title"`
	Color string `json:"color"` // #rrggbb, "" for the default
}

// VariableText is the type of a variable or pre-chat field that names none.
const VariableText = "text"

// WABAIDKey is where an assistant's widget_settings document keeps the WhatsApp Business
// Account id of its number (the account whose message templates Meta lists).
const WABAIDKey = "whatsapp_business_account_id"

// WidgetSettings is an assistant's widget_settings document: the widget's look, the WhatsApp
// Business Account id of its number, and any other key it holds (kept as it is, so that
// writing one part never drops another).
type WidgetSettings struct {
	Widget
	// WABAID is the WhatsApp Business Account id ("" when none is saved).
	WABAID string

	// Other holds the keys this version does not know, kept as they are.
	Other map[string]json.RawMessage

	has map[string]bool // title and color present in the stored document
}

// UnmarshalJSON reads a widget_settings document: title and color must be strings (or
// absent), the account id is read when it is a string.
func (w *WidgetSettings) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*w = WidgetSettings{}
	for _, k := range []string{"title", "color"} {
		v, ok := m[k]
		if !ok {
			continue
		}
		delete(m, k)
		if w.has == nil {
			w.has = map[string]bool{}
		}
		w.has[k] = true
		dst := &w.Title
		if k == "color" {
			dst = &w.Color
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	if v, ok := m[WABAIDKey]; ok && json.Unmarshal(v, &w.WABAID) == nil {
		delete(m, WABAIDKey)
	}
	if len(m) > 0 {
		w.Other = m
	}
	return nil
}

// MarshalJSON writes the document back: the keys it did not know as they were, title and
// color when they were there or are set, the account id when there is one.
func (w WidgetSettings) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(w.Other)+3)
	for k, v := range w.Other {
		m[k] = v
	}
	if w.Title != "" || w.has["title"] {
		m["title"] = w.Title
	}
	if w.Color != "" || w.has["color"] {
		m["color"] = w.Color
	}
	if w.WABAID != "" {
		m[WABAIDKey] = w.WABAID
	}
	return json.Marshal(m)
}

// WhatsAppConnection is an assistant's WhatsApp number: Meta's phone number id, the access
// token as stored (encrypted), the WhatsApp Business Account id of the number, and what Meta
// confirmed of it.
type WhatsAppConnection struct {
	PhoneNumberID  string
	AccessTokenEnc string
	WABAID         string
	// Number is what Meta's Graph API said of the phone number id with the stored token;
	// VerifiedAt is nil when Meta has not confirmed the connection (one made before numbers
	// were confirmed): such a number receives no inbound messages until it is.
	Number     WhatsAppNumber
	VerifiedAt *time.Time
}

// WhatsAppNumber is what Meta says of a business phone number it confirmed:
// GET {graph}/{phone_number_id}?fields=display_phone_number,verified_name.
type WhatsAppNumber struct {
	DisplayPhoneNumber string // "+1 555-010-0000", as Meta writes it
	VerifiedName       string // the business name Meta verified
}

// Connected reports a phone number id with a stored access token.
func (c WhatsAppConnection) Connected() bool { return c.PhoneNumberID != "" && c.AccessTokenEnc != "" }

// Verified reports a connection Meta confirmed: only such a number receives messages.
func (c WhatsAppConnection) Verified() bool { return c.Connected() && c.VerifiedAt != nil }

// AssistantSettings are the editable fields of an assistant, apart from the WhatsApp access
// token, which is write-only.
type AssistantSettings struct {
	Name           string
	SystemPrompt   string
	FirstMessage   string
	Model          string
	Temperature    float64
	Variables      []Variable
	PrechatFields  []PrechatField
	AllowedOrigins []string
	Widget         Widget
	// WhatsAppPhoneNumberID is the Meta phone number id; "" means not connected.
	WhatsAppPhoneNumberID string
	// IdentityRequired refuses widget sessions whose visitor id is not signed with the
	// assistant's identity secret (IdentitySecret).
	IdentityRequired bool
	// Evaluators are the assistant's custom evaluators (issue 14), each with its version;
	// the built-in ones (BuiltinEvaluators) are not listed.
	Evaluators []Evaluator
	// CSATWhatsApp asks WhatsApp customers "How did we do?" at a conversation's end, while
	// the window is open (issue 14).
	CSATWhatsApp bool
	// PublishGate: publishing a version needs a test set run of it that did not regress
	// against the published one (issue 15). Not versioned.
	PublishGate bool
}

// Assistant is an assistant as the rest of Parley reads it: its JSON columns decoded.
type Assistant struct {
	ID          int64
	WorkspaceID int64
	AssistantSettings
	PublicKey string
	// WhatsApp is the assistant's WhatsApp number (PhoneNumberID is also in the settings).
	WhatsApp WhatsAppConnection
	// IdentitySecret signs a site's visitor ids: visitor_hash = hex HMAC-SHA256(secret,
	// visitor_id). Readable by admins only; rotated, never edited.
	IdentitySecret string
	Disabled       bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// WhatsAppConnected reports a phone number id with a stored access token.
func (a *Assistant) WhatsAppConnected() bool { return a.WhatsApp.Connected() }

// Variable finds a variable by name.
func (a *Assistant) Variable(name string) (Variable, bool) {
	for _, v := range a.Variables {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}
