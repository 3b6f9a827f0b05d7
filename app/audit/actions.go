package audit

// Action is what an entry records, spelt "<noun>.<verb>"; the spelling is stored and shown in
// the API, so a constant is never renamed.
type Action string

// Actions recorded. Members, roles, invites and accounts (issue 13 items 1 to 4) have theirs
// here too, for the code that makes those changes.
const (
	SignIn       Action = "user.sign_in"
	SignInFailed Action = "user.sign_in_failed"

	APIKeyCreate Action = "api_key.create"
	APIKeyRevoke Action = "api_key.revoke"

	AssistantCreate          Action = "assistant.create"
	AssistantUpdate          Action = "assistant.update"
	AssistantDelete          Action = "assistant.delete"
	AssistantIdentityRotate  Action = "assistant.identity_secret.rotate"
	AssistantWhatsAppConnect Action = "assistant.whatsapp.connect"

	PricesUpdate    Action = "settings.prices.update"
	RetentionUpdate Action = "settings.retention.update"

	ConversationsExport Action = "conversations.export"
	ConversationExport  Action = "conversation.export"
	AnalyticsExport     Action = "analytics.export"
	AuditLogExport      Action = "audit_log.export"

	ConversationDelete  Action = "conversation.delete"
	ConversationsDelete Action = "conversations.bulk_delete"

	WhatsAppSend     Action = "conversation.whatsapp.send"
	WhatsAppTakeover Action = "conversation.takeover"
	WhatsAppHandBack Action = "conversation.hand_back"
	// ConversationEnd: a member or an API key ended a conversation (issue 14).
	ConversationEnd Action = "conversation.end"

	MemberInvite       Action = "member.invite"
	MemberInviteRevoke Action = "member.invite.revoke"
	MemberJoin         Action = "member.join"
	MemberRoleChange   Action = "member.role.change"
	MemberRemove       Action = "member.remove"
	WorkspaceCreate    Action = "workspace.create"
	PasswordChange     Action = "user.password.change"
	PasswordReset      Action = "user.password.reset"
	AccountUpdate      Action = "user.update"

	// issue 14: review
	ConversationReview           Action = "conversation.review"
	ConversationAssign           Action = "conversation.assign"
	ConversationTag              Action = "conversation.tag"
	ConversationUntag            Action = "conversation.untag"
	ConversationNote             Action = "conversation.note"
	ConversationCorrection       Action = "conversation.correction"
	ConversationCorrectionDelete Action = "conversation.correction.delete"
	TagCreate                    Action = "tag.create"
	TagUpdate                    Action = "tag.update"
	TagDelete                    Action = "tag.delete"

	// issue 15: versions
	AssistantVersionSave Action = "assistant.version.save"
	AssistantPublish     Action = "assistant.version.publish"
	// issue 15: test sets and their cases (app/testsets)
	TestSetCreate  Action = "test_set.create"
	TestSetRename  Action = "test_set.rename"
	TestSetDelete  Action = "test_set.delete"
	TestCaseAdd    Action = "test_set.case.add"
	TestCasesAdd   Action = "test_set.cases.add"
	TestCaseRemove Action = "test_set.case.remove"
)

// Actions is every action with its label, in the order the filter lists them.
var Actions = []struct {
	Action Action
	Label  string
}{
	{SignIn, "Signed in"},
	{SignInFailed, "Sign-in failed"},
	{APIKeyCreate, "API key created"},
	{APIKeyRevoke, "API key revoked"},
	{AssistantCreate, "Assistant created"},
	{AssistantUpdate, "Assistant changed"},
	{AssistantDelete, "Assistant deleted"},
	{AssistantIdentityRotate, "Identity secret rotated"},
	{AssistantWhatsAppConnect, "WhatsApp connected"},
	{PricesUpdate, "Prices changed"},
	{RetentionUpdate, "Retention changed"},
	{ConversationsExport, "Conversations exported"},
	{ConversationExport, "Conversation exported"},
	{AnalyticsExport, "Analytics exported"},
	{AuditLogExport, "Audit log exported"},
	{ConversationDelete, "Conversation deleted"},
	{ConversationsDelete, "Conversations deleted (bulk)"},
	{WhatsAppSend, "WhatsApp message sent"},
	{WhatsAppTakeover, "Took over (AI off)"},
	{WhatsAppHandBack, "Handed back (AI on)"},
	{ConversationEnd, "Conversation ended"},
	{MemberInvite, "Member invited"},
	{MemberInviteRevoke, "Invite revoked"},
	{MemberJoin, "Member joined"},
	{MemberRoleChange, "Role changed"},
	{MemberRemove, "Member removed"},
	{WorkspaceCreate, "Workspace created"},
	{PasswordChange, "Password changed"},
	{PasswordReset, "Password reset"},
	{AccountUpdate, "Account changed"},
	// issue 14: review
	{ConversationReview, "Review status changed"},
	{ConversationAssign, "Conversation assigned"},
	{ConversationTag, "Tag added"},
	{ConversationUntag, "Tag removed"},
	{ConversationNote, "Note written"},
	{ConversationCorrection, "Answer corrected"},
	{ConversationCorrectionDelete, "Correction removed"},
	{TagCreate, "Tag created"},
	{TagUpdate, "Tag changed"},
	{TagDelete, "Tag deleted"},
	// issue 15: versions
	{AssistantVersionSave, "Assistant version saved"},
	{AssistantPublish, "Assistant version published"},
	// issue 15: test sets and their cases
	{TestSetCreate, "Test set created"},
	{TestSetRename, "Test set renamed"},
	{TestSetDelete, "Test set deleted"},
	{TestCaseAdd, "Test case added"},
	{TestCasesAdd, "Test cases added (bulk)"},
	{TestCaseRemove, "Test case removed"},
}

// Known reports whether a is one of Actions (a filter naming another matches nothing).
func Known(a string) bool {
	for _, x := range Actions {
		if string(x.Action) == a {
			return true
		}
	}
	return false
}

// Label is the action's label, or the action itself when it has none.
func Label(a string) string {
	for _, x := range Actions {
		if string(x.Action) == a {
			return x.Label
		}
	}
	return a
}
