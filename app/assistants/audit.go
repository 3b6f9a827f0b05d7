package assistants

import (
	"context"
	"reflect"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/store"
)

// AuditEntries makes the audit entries of an assistant's creation (id 0: the store fills in
// the new id) or update by the context's actor: the action's, and a slot for the WhatsApp
// connection (nil unless DescribeChange finds one). Hand them to the store method with
// `entries...` (the store reads these same slots, so DescribeChange may fill them inside a
// ModifyAssistant function).
func AuditEntries(ctx context.Context, workspaceID, id int64, action audit.Action) []*store.AuditEntry {
	return []*store.AuditEntry{audit.New(ctx, workspaceID, action, audit.On(audit.TargetAssistant, id), nil), nil}
}

// DescribeChange writes into es (from AuditEntries) what changed from before (nil for a new
// assistant) to after: the name and the settings changed (names only: no prompt, no token),
// and a WhatsApp connection entry when after holds a number Meta confirmed that before did
// not.
func DescribeChange(es []*store.AuditEntry, before, after *store.Assistant) {
	if len(es) == 0 || es[0] == nil {
		return
	}
	d := map[string]any{"name": after.Name}
	if before != nil {
		d["changed"] = changedSettings(before, after)
	}
	audit.SetDetails(es[0], d)
	if len(es) < 2 {
		return
	}
	es[1] = nil
	if after.WhatsAppVerifiedAt != nil && (before == nil || before.WhatsAppVerifiedAt == nil || !SameConnection(before, after)) {
		e := *es[0]
		e.Action = string(audit.AssistantWhatsAppConnect)
		audit.SetDetails(&e, map[string]any{"name": after.Name, "phone_number_id": after.PhoneNumberID(),
			"display_phone_number": after.WhatsAppDisplayPhoneNumber, "verified_name": after.WhatsAppVerifiedName})
		es[1] = &e
	}
}

// changedSettings names the settings that differ between two versions of an assistant.
func changedSettings(a, b *store.Assistant) []string {
	out := []string{}
	add := func(name string, same bool) {
		if !same {
			out = append(out, name)
		}
	}
	add("name", a.Name == b.Name)
	add("system_prompt", a.SystemPrompt == b.SystemPrompt)
	add("first_message", a.FirstMessage == b.FirstMessage)
	add("model", a.Model == b.Model)
	add("temperature", a.Temperature == b.Temperature)
	add("variables", reflect.DeepEqual(a.Variables, b.Variables))
	add("prechat_fields", reflect.DeepEqual(a.PrechatFields, b.PrechatFields))
	add("allowed_origins", reflect.DeepEqual(a.AllowedOrigins, b.AllowedOrigins))
	add("widget", reflect.DeepEqual(a.WidgetSettings, b.WidgetSettings))
	add("whatsapp", SameConnection(a, b))
	add("identity_required", a.IdentityRequired == b.IdentityRequired)
	add("evaluators", reflect.DeepEqual(a.Evaluators, b.Evaluators))
	add("csat_whatsapp", a.CSATWhatsApp == b.CSATWhatsApp)
	add("publish_gate", a.PublishGate == b.PublishGate)
	return out
}
