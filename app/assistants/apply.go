package assistants

import (
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/store"
)

// Apply writes a validated update into a store row: the JSON columns (the store encodes them),
// and the WhatsApp connection (a new token is encrypted with k; no phone number id clears the
// stored token). The evaluators get their versions against the row's (VersionEvaluators).
// Keys other than title and color already in widget_settings are kept.
func (u *Update) Apply(row *store.Assistant, k *auth.Keys) error {
	s := &u.AssistantSettings
	row.Name, row.SystemPrompt, row.FirstMessage = s.Name, s.SystemPrompt, s.FirstMessage
	row.Model, row.Temperature = s.Model, s.Temperature
	row.Variables, row.PrechatFields, row.AllowedOrigins = s.Variables, s.PrechatFields, s.AllowedOrigins
	row.WidgetSettings.Widget = s.Widget
	row.IdentityRequired = s.IdentityRequired
	row.Evaluators = VersionEvaluators(row.Evaluators, s.Evaluators)
	row.CSATWhatsApp = s.CSATWhatsApp
	return u.applyWhatsApp(row, k)
}
