package assistants

import (
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Apply writes a validated update into a store row: the JSON columns (the store encodes them),
// and the WhatsApp connection (a new token is encrypted with k; no phone number id clears the
// stored token). The evaluators get their versions against the row's (VersionEvaluators).
// Keys other than title and color already in widget_settings are kept.
//
// Apply writes the behaviour into the row's columns too: it is for a new assistant (whose
// row becomes version 1). An existing assistant's behaviour changes through versions
// (Versions.Save, with ApplySettings and NextBehaviour).
func (u *Update) Apply(row *store.Assistant, k *auth.Keys) error {
	row.SetBehaviour(u.NextBehaviour(row.Behaviour()))
	return u.ApplySettings(row, k)
}

// ApplySettings writes the unversioned settings of a validated update into a store row (the
// name, pre-chat form, origins, widget, identity, CSAT, publish gate and the WhatsApp
// connection); the behaviour columns are left alone.
func (u *Update) ApplySettings(row *store.Assistant, k *auth.Keys) error {
	s := &u.AssistantSettings
	row.Name = s.Name
	row.PrechatFields, row.AllowedOrigins = s.PrechatFields, s.AllowedOrigins
	row.WidgetSettings.Widget = s.Widget
	row.IdentityRequired = s.IdentityRequired
	row.CSATWhatsApp = s.CSATWhatsApp
	row.PublishGate = s.PublishGate
	return u.applyWhatsApp(row, k)
}

// NextBehaviour is the behaviour the update asks for, its evaluators versioned against
// base's (the behaviour the edit started from: the draft's, or the published one's).
func (u *Update) NextBehaviour(base model.Behaviour) model.Behaviour {
	b := u.Behaviour()
	if b.Variables == nil {
		b.Variables = []model.Variable{}
	}
	b.Evaluators = VersionEvaluators(base.Evaluators, b.Evaluators)
	return b
}
