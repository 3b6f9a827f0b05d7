package routenames

import (
	"net/http"

	"github.com/parleyhq/parley/app/model"
)

// The accesses of the table's rows, short.
const (
	public       = model.AccessPublic
	installation = model.AccessInstallation
	apiKey       = model.AccessAPIKey
	owner        = model.Access(model.MemberOwner)
	admin        = model.Access(model.MemberAdmin)
	agent        = model.Access(model.MemberAgent)
	viewer       = model.Access(model.MemberViewer)
)

// Route names: every route of every surface is named here, and named exactly as before the
// split into surfaces.
const (
	Healthz                         = "healthz"
	Readyz                          = "readyz"
	Metrics                         = "metrics"
	Static                          = "static"
	WebhooksWhatsAppVerify          = "webhooks.whatsapp.verify"
	WebhooksWhatsApp                = "webhooks.whatsapp"
	WidgetPage                      = "widget.page"
	WidgetStart                     = "widget.start"
	WidgetSend                      = "widget.send"
	WidgetReply                     = "widget.reply"
	APIWidgetAssistant              = "api.widget.assistant"
	APIWidgetAssistantPreflight     = "api.widget.assistant.preflight"
	APIWidgetSessionsCreate         = "api.widget.sessions.create"
	APIWidgetSessionsPreflight      = "api.widget.sessions.preflight"
	APIWidgetMessages               = "api.widget.messages"
	APIWidgetSend                   = "api.widget.send"
	APIWidgetMessagesPreflight      = "api.widget.messages.preflight"
	Home                            = "home"
	Login                           = "login"
	LoginSubmit                     = "login.submit"
	Logout                          = "logout"
	Setup                           = "setup"
	SetupSubmit                     = "setup.submit"
	Signup                          = "signup"
	SignupSubmit                    = "signup.submit"
	Reset                           = "reset"
	ResetRequest                    = "reset.request"
	ResetToken                      = "reset.token"
	ResetTokenSubmit                = "reset.token.submit"
	SettingsAccount                 = "settings.account"
	SettingsAccountUpdate           = "settings.account.update"
	SettingsAccountPassword         = "settings.account.password"
	Conversations                   = "conversations"
	ConversationsEvents             = "conversations.events"
	ConversationsExportCSV          = "conversations.export.csv"
	ConversationsExportJSONL        = "conversations.export.jsonl"
	ConversationsBulkDelete         = "conversations.bulkdelete"
	ConversationsBulkDeleteStatus   = "conversations.bulkdelete.status"
	Conversation                    = "conversation"
	ConversationMessages            = "conversation.messages"
	ConversationEvents              = "conversation.events"
	ConversationDelete              = "conversation.delete"
	ConversationWhatsAppSend        = "conversation.whatsapp.send"
	ConversationAI                  = "conversation.ai"
	SettingsWhatsAppTemplatesCreate = "settings.whatsapp.templates.create"
	SettingsWhatsAppTemplatesWABA   = "settings.whatsapp.templates.waba"
	SettingsWhatsAppTemplatesFetch  = "settings.whatsapp.templates.fetch"
	SettingsWhatsAppTemplatesDelete = "settings.whatsapp.templates.delete"
	ConversationExport              = "conversation.export"
	TestChat                        = "testchat"
	TestChatCreate                  = "testchat.create"
	TestChatSession                 = "testchat.session"
	TestChatSend                    = "testchat.send"
	TestChatReply                   = "testchat.reply"
	Settings                        = "settings"
	Analytics                       = "analytics"
	AnalyticsExportCSV              = "analytics.export.csv"
	ConversationExtract             = "conversation.extract"
	APIKeysCreate                   = "apikeys.create"
	SettingsRetention               = "settings.retention"
	SettingsPrices                  = "settings.prices"
	SettingsSessionsRevoke          = "settings.sessions.revoke"
	SettingsSessionsRevokeAll       = "settings.sessions.revokeall"
	Assistants                      = "assistants"
	AssistantsNew                   = "assistants.new"
	AssistantsCreate                = "assistants.create"
	AssistantsVariableRow           = "assistants.variablerow"
	AssistantsPrechatRow            = "assistants.prechatrow"
	Assistant                       = "assistant"
	AssistantUpdate                 = "assistant.update"
	AssistantDelete                 = "assistant.delete"
	AssistantIdentityRotate         = "assistant.identity.rotate"
	APIKeysRevoke                   = "apikeys.revoke"
	Queues                          = "queues"
	Queue                           = "queue"
	QueueTaskRun                    = "queue.task.run"
	QueueTaskArchive                = "queue.task.archive"
	QueueTaskDelete                 = "queue.task.delete"
	QueuePause                      = "queue.pause"
	QueueResume                     = "queue.resume"
	WorkspacesSwitch                = "workspaces.switch"
	WorkspacesNew                   = "workspaces.new"
	WorkspacesCreate                = "workspaces.create"
	SettingsMembers                 = "settings.members"
	SettingsMemberRole              = "settings.members.role"
	SettingsMemberRemove            = "settings.members.remove"
	SettingsMembersLeave            = "settings.members.leave"
	SettingsInvitesCreate           = "settings.invites.create"
	SettingsInviteRevoke            = "settings.invites.revoke"
	Invite                          = "invite"
	InviteAccept                    = "invite.accept"
	SettingsWorkspaceDelete         = "settings.workspace.delete"
	APIMe                           = "api.me"
	APIConversations                = "api.conversations"
	APIConversation                 = "api.conversation"
	APIConversationDelete           = "api.conversation.delete"
	APIAssistants                   = "api.assistants"
	APIAssistantsCreate             = "api.assistants.create"
	APIAssistant                    = "api.assistant"
	APIAssistantUpdate              = "api.assistant.update"
	APIAssistantDelete              = "api.assistant.delete"
	APIInvitesCreate                = "api.invites.create"
	SettingsAuditLog                = "settings.auditlog"
	SettingsAuditLogExport          = "settings.auditlog.export"
	APIAuditLog                     = "api.auditlog"
	// issue 14: ends
	APIConversationEnd   = "api.conversation.end"
	ConversationEnd      = "conversation.end"
	TestChatSessionClose = "testchat.session.close"
	// issue 14: evaluators
	ConversationEvaluate             = "conversation.evaluate"
	ConversationsBulkEvaluate        = "conversations.bulkevaluate"
	ConversationsBulkEvaluateConfirm = "conversations.bulkevaluate.confirm"
	ConversationsBulkEvaluateStatus  = "conversations.bulkevaluate.status"
	AssistantsEvaluatorRow           = "assistants.evaluatorrow"
	APIConversationEvaluate          = "api.conversation.evaluate"
	// issue 14: review
	ConversationReview           = "conversation.review"
	ConversationTagsAdd          = "conversation.tags.add"
	ConversationTagsRemove       = "conversation.tags.remove"
	ConversationNotes            = "conversation.notes"
	ConversationCorrection       = "conversation.correction"
	ConversationCorrectionDelete = "conversation.correction.delete"
	SettingsTags                 = "settings.tags"
	SettingsTagsCreate           = "settings.tags.create"
	SettingsTagUpdate            = "settings.tags.update"
	SettingsTagDelete            = "settings.tags.delete"
	APIConversationReview        = "api.conversation.review"
	APIConversationTagsAdd       = "api.conversation.tags.add"
	APIConversationTagsRemove    = "api.conversation.tags.remove"
	APIConversationNotes         = "api.conversation.notes"
	// issue 14: verdict
	APIWidgetEnd               = "api.widget.end"
	APIWidgetEndPreflight      = "api.widget.end.preflight"
	APIWidgetFeedback          = "api.widget.feedback"
	APIWidgetFeedbackPreflight = "api.widget.feedback.preflight"
	APIWidgetCSAT              = "api.widget.csat"
	APIWidgetCSATPreflight     = "api.widget.csat.preflight"
	WidgetEnd                  = "widget.end"
	WidgetFeedback             = "widget.feedback"
	WidgetCSAT                 = "widget.csat"
	// issue 14: views
	ConversationsViewCreate = "conversations.views.create"
	ConversationsViewRename = "conversations.views.rename"
	ConversationsViewDelete = "conversations.views.delete"
	// issue 15: versions
	APIAssistantVersions     = "api.assistant.versions"
	APIAssistantVersion      = "api.assistant.version"
	APIAssistantPublish      = "api.assistant.publish"
	AssistantVersions        = "assistant.versions"
	AssistantVersionsCompare = "assistant.versions.compare"
	AssistantPublish         = "assistant.publish"
	// issue 15: replays
	ConversationReplayCreate = "conversation.replays.create"
	Replay                   = "replay"
	APIConversationReplays   = "api.conversation.replays"
	APIReplay                = "api.replay"
	// issue 15: test sets and their cases (C1)
	APITestSets                     = "api.testsets"
	APITestSetsCreate               = "api.testsets.create"
	APITestSet                      = "api.testset"
	APITestSetUpdate                = "api.testset.update"
	APITestSetDelete                = "api.testset.delete"
	APITestSetCasesCreate           = "api.testset.cases.create"
	APITestSetCaseDelete            = "api.testset.case.delete"
	TestSets                        = "testsets"
	TestSetsCreate                  = "testsets.create"
	TestSet                         = "testset"
	TestSetRename                   = "testset.rename"
	TestSetDelete                   = "testset.delete"
	TestSetCaseDelete               = "testset.case.delete"
	ConversationTestSetAdd          = "conversation.testset.add"
	ConversationsBulkTestSetConfirm = "conversations.bulktestset.confirm"
	ConversationsBulkTestSet        = "conversations.bulktestset"
	// issue 15: test set runs
	APITestSetRunsCreate = "api.testsets.runs.create"
	APITestSetRun        = "api.testsetrun"
	APITestSetRunCompare = "api.testsetrun.compare"
	TestSetRuns          = "testsets.runs"
	TestSetRunsCreate    = "testsets.runs.create"
	TestSetRun           = "testsetrun"
	TestSetRunCompare    = "testsetrun.compare"
)

// table is every named route: its method, its name, its full path and the access it asks
// for (public; a workspace role, which every higher role has too; an installation admin; an
// API key). The surfaces register from it (AddAll, which puts the surface's guard of that
// access in front of the handler), and URL reverses it.
var table = []Route{
	{http.MethodGet, Healthz, "/healthz", public},
	{http.MethodGet, Readyz, "/readyz", public},
	{http.MethodGet, Metrics, "/metrics", public},
	{http.MethodGet, Static, "/static/*", public},
	{http.MethodGet, WebhooksWhatsAppVerify, "/webhooks/whatsapp", public},
	{http.MethodPost, WebhooksWhatsApp, "/webhooks/whatsapp", public},
	{http.MethodGet, WidgetPage, "/widget/:key", public},
	{http.MethodPost, WidgetStart, "/widget/:key/session", public},
	{http.MethodPost, WidgetSend, "/widget/:key/messages", public},
	{http.MethodGet, WidgetReply, "/widget/:key/reply/:msg", public},
	{http.MethodGet, APIWidgetAssistant, "/api/widget/v1/assistants/:key", public},
	{http.MethodOptions, APIWidgetAssistantPreflight, "/api/widget/v1/assistants/:key", public},
	{http.MethodPost, APIWidgetSessionsCreate, "/api/widget/v1/sessions", public},
	{http.MethodOptions, APIWidgetSessionsPreflight, "/api/widget/v1/sessions", public},
	{http.MethodGet, APIWidgetMessages, "/api/widget/v1/sessions/:id/messages", public},
	{http.MethodPost, APIWidgetSend, "/api/widget/v1/sessions/:id/messages", public},
	{http.MethodOptions, APIWidgetMessagesPreflight, "/api/widget/v1/sessions/:id/messages", public},
	{http.MethodGet, Home, "/", public},
	{http.MethodGet, Login, "/login", public},
	{http.MethodPost, LoginSubmit, "/login", public},
	{http.MethodPost, Logout, "/logout", public},
	{http.MethodGet, Setup, "/setup", public},
	{http.MethodPost, SetupSubmit, "/setup", public},
	{http.MethodGet, Signup, "/signup", public},
	{http.MethodPost, SignupSubmit, "/signup", public},
	{http.MethodGet, Reset, "/reset", public},
	{http.MethodPost, ResetRequest, "/reset", public},
	{http.MethodGet, ResetToken, "/reset/:token", public},
	{http.MethodPost, ResetTokenSubmit, "/reset/:token", public},
	{http.MethodGet, SettingsAccount, "/settings/account", viewer},
	{http.MethodPost, SettingsAccountUpdate, "/settings/account", viewer},
	{http.MethodPost, SettingsAccountPassword, "/settings/account/password", viewer},
	{http.MethodGet, Conversations, "/conversations", viewer},
	{http.MethodGet, ConversationsEvents, "/conversations/events", viewer},
	{http.MethodGet, ConversationsExportCSV, "/conversations/export.csv", admin},
	{http.MethodGet, ConversationsExportJSONL, "/conversations/export.jsonl", admin},
	{http.MethodPost, ConversationsBulkDelete, "/conversations/bulk-delete", admin},
	{http.MethodGet, ConversationsBulkDeleteStatus, "/conversations/bulk-delete/:job", admin},
	{http.MethodGet, Conversation, "/conversations/:id", viewer},
	{http.MethodGet, ConversationMessages, "/conversations/:id/messages", viewer},
	{http.MethodGet, ConversationEvents, "/conversations/:id/events", viewer},
	{http.MethodPost, ConversationDelete, "/conversations/:id/delete", admin},
	{http.MethodPost, ConversationWhatsAppSend, "/conversations/:id/whatsapp/send", agent},
	{http.MethodPost, ConversationAI, "/conversations/:id/ai", agent},
	{http.MethodPost, SettingsWhatsAppTemplatesCreate, "/settings/whatsapp-templates", admin},
	{http.MethodPost, SettingsWhatsAppTemplatesWABA, "/settings/whatsapp-templates/waba", admin},
	{http.MethodPost, SettingsWhatsAppTemplatesFetch, "/settings/whatsapp-templates/fetch", admin},
	{http.MethodPost, SettingsWhatsAppTemplatesDelete, "/settings/whatsapp-templates/:id/delete", admin},
	{http.MethodGet, ConversationExport, "/conversations/:id/export.json", admin},
	{http.MethodGet, TestChat, "/test-chat", agent},
	{http.MethodPost, TestChatCreate, "/test-chat/sessions", agent},
	{http.MethodGet, TestChatSession, "/test-chat/:id", agent},
	{http.MethodPost, TestChatSend, "/test-chat/:id/messages", agent},
	{http.MethodGet, TestChatReply, "/test-chat/:id/reply/:msg", agent},
	{http.MethodGet, Settings, "/settings", viewer},
	{http.MethodGet, Analytics, "/analytics", viewer},
	{http.MethodGet, AnalyticsExportCSV, "/analytics/export.csv", admin},
	{http.MethodPost, ConversationExtract, "/conversations/:id/extract", agent},
	{http.MethodPost, APIKeysCreate, "/settings/api-keys", admin},
	{http.MethodPost, SettingsRetention, "/settings/retention", admin},
	{http.MethodPost, SettingsPrices, "/settings/prices", admin},
	{http.MethodPost, SettingsSessionsRevoke, "/settings/sessions/:id/revoke", viewer},
	{http.MethodPost, SettingsSessionsRevokeAll, "/settings/sessions/revoke-all", viewer},
	{http.MethodGet, Assistants, "/assistants", agent},
	{http.MethodGet, AssistantsNew, "/assistants/new", admin},
	{http.MethodPost, AssistantsCreate, "/assistants", admin},
	{http.MethodGet, AssistantsVariableRow, "/assistants/variable-row", admin},
	{http.MethodGet, AssistantsPrechatRow, "/assistants/prechat-row", admin},
	{http.MethodGet, Assistant, "/assistants/:id", agent},
	{http.MethodPost, AssistantUpdate, "/assistants/:id", admin},
	{http.MethodPost, AssistantDelete, "/assistants/:id/delete", admin},
	{http.MethodPost, AssistantIdentityRotate, "/assistants/:id/identity-secret", admin},
	{http.MethodPost, APIKeysRevoke, "/settings/api-keys/:id/revoke", admin},
	{http.MethodGet, Queues, "/queues", installation},
	{http.MethodGet, Queue, "/queues/:queue", installation},
	{http.MethodPost, QueueTaskRun, "/queues/:queue/run", installation},
	{http.MethodPost, QueueTaskArchive, "/queues/:queue/archive", installation},
	{http.MethodPost, QueueTaskDelete, "/queues/:queue/delete", installation},
	{http.MethodPost, QueuePause, "/queues/:queue/pause", installation},
	{http.MethodPost, QueueResume, "/queues/:queue/resume", installation},
	{http.MethodPost, WorkspacesSwitch, "/workspaces/switch", viewer},
	{http.MethodGet, WorkspacesNew, "/workspaces/new", viewer},
	{http.MethodPost, WorkspacesCreate, "/workspaces", viewer},
	{http.MethodGet, SettingsMembers, "/settings/members", admin},
	{http.MethodPost, SettingsMemberRole, "/settings/members/:id/role", admin},
	{http.MethodPost, SettingsMemberRemove, "/settings/members/:id/remove", admin},
	{http.MethodPost, SettingsMembersLeave, "/settings/members/leave", viewer},
	{http.MethodPost, SettingsInvitesCreate, "/settings/invites", admin},
	{http.MethodPost, SettingsInviteRevoke, "/settings/invites/:id/revoke", admin},
	{http.MethodGet, Invite, "/invite/:token", public},
	{http.MethodPost, InviteAccept, "/invite/:token", public},
	{http.MethodPost, SettingsWorkspaceDelete, "/settings/workspace/delete", owner},
	{http.MethodGet, APIMe, "/api/v1/me", apiKey},
	{http.MethodGet, APIConversations, "/api/v1/conversations", apiKey},
	{http.MethodGet, APIConversation, "/api/v1/conversations/:id", apiKey},
	{http.MethodDelete, APIConversationDelete, "/api/v1/conversations/:id", apiKey},
	{http.MethodGet, APIAssistants, "/api/v1/assistants", apiKey},
	{http.MethodPost, APIAssistantsCreate, "/api/v1/assistants", apiKey},
	{http.MethodGet, APIAssistant, "/api/v1/assistants/:id", apiKey},
	{http.MethodPatch, APIAssistantUpdate, "/api/v1/assistants/:id", apiKey},
	{http.MethodDelete, APIAssistantDelete, "/api/v1/assistants/:id", apiKey},
	{http.MethodPost, APIInvitesCreate, "/api/v1/invites", apiKey},
	{http.MethodGet, SettingsAuditLog, "/settings/audit-log", admin},
	{http.MethodGet, SettingsAuditLogExport, "/settings/audit-log/export.csv", admin},
	{http.MethodGet, APIAuditLog, "/api/v1/audit-log", apiKey},
	// issue 14: ends
	{http.MethodPost, APIConversationEnd, "/api/v1/conversations/:id/end", apiKey},
	{http.MethodPost, ConversationEnd, "/conversations/:id/end", agent},
	{http.MethodPost, TestChatSessionClose, "/test-chat/:id/close", agent},
	// issue 14: evaluators
	{http.MethodPost, ConversationEvaluate, "/conversations/:id/evaluate", agent},
	{http.MethodGet, ConversationsBulkEvaluateConfirm, "/conversations/bulk-evaluate", admin},
	{http.MethodPost, ConversationsBulkEvaluate, "/conversations/bulk-evaluate", admin},
	{http.MethodGet, ConversationsBulkEvaluateStatus, "/conversations/bulk-evaluate/:job", admin},
	{http.MethodGet, AssistantsEvaluatorRow, "/assistants/evaluator-row", admin},
	{http.MethodPost, APIConversationEvaluate, "/api/v1/conversations/:id/evaluate", apiKey},
	// issue 14: review
	{http.MethodPost, ConversationReview, "/conversations/:id/review", agent},
	{http.MethodPost, ConversationTagsAdd, "/conversations/:id/tags", agent},
	{http.MethodPost, ConversationTagsRemove, "/conversations/:id/tags/remove", agent},
	{http.MethodPost, ConversationNotes, "/conversations/:id/notes", agent},
	{http.MethodPost, ConversationCorrection, "/conversations/:id/messages/:msg/correction", agent},
	{http.MethodPost, ConversationCorrectionDelete, "/conversations/:id/messages/:msg/correction/delete", agent},
	{http.MethodGet, SettingsTags, "/settings/tags", admin},
	{http.MethodPost, SettingsTagsCreate, "/settings/tags", admin},
	{http.MethodPost, SettingsTagUpdate, "/settings/tags/:id", admin},
	{http.MethodPost, SettingsTagDelete, "/settings/tags/:id/delete", admin},
	{http.MethodPut, APIConversationReview, "/api/v1/conversations/:id/review", apiKey},
	{http.MethodPost, APIConversationTagsAdd, "/api/v1/conversations/:id/tags", apiKey},
	{http.MethodDelete, APIConversationTagsRemove, "/api/v1/conversations/:id/tags", apiKey},
	{http.MethodPost, APIConversationNotes, "/api/v1/conversations/:id/notes", apiKey},
	// issue 14: verdict
	{http.MethodPost, APIWidgetEnd, "/api/widget/v1/sessions/:id/end", public},
	{http.MethodOptions, APIWidgetEndPreflight, "/api/widget/v1/sessions/:id/end", public},
	{http.MethodPost, APIWidgetFeedback, "/api/widget/v1/sessions/:id/messages/:msg/feedback", public},
	{http.MethodOptions, APIWidgetFeedbackPreflight, "/api/widget/v1/sessions/:id/messages/:msg/feedback", public},
	{http.MethodPost, APIWidgetCSAT, "/api/widget/v1/sessions/:id/csat", public},
	{http.MethodOptions, APIWidgetCSATPreflight, "/api/widget/v1/sessions/:id/csat", public},
	{http.MethodPost, WidgetEnd, "/widget/:key/end", public},
	{http.MethodPost, WidgetFeedback, "/widget/:key/messages/:msg/feedback", public},
	{http.MethodPost, WidgetCSAT, "/widget/:key/csat", public},
	// issue 14: views (any member saves personal views; the service lets only admins share)
	{http.MethodPost, ConversationsViewCreate, "/conversations/views", viewer},
	{http.MethodPost, ConversationsViewRename, "/conversations/views/:id/rename", viewer},
	{http.MethodPost, ConversationsViewDelete, "/conversations/views/:id/delete", viewer},
	// issue 15: versions (reading them as the assistant page; publishing as editing it)
	{http.MethodGet, APIAssistantVersions, "/api/v1/assistants/:id/versions", apiKey},
	{http.MethodGet, APIAssistantVersion, "/api/v1/assistants/:id/versions/:n", apiKey},
	{http.MethodPost, APIAssistantPublish, "/api/v1/assistants/:id/publish", apiKey},
	{http.MethodGet, AssistantVersions, "/assistants/:id/versions", agent},
	{http.MethodGet, AssistantVersionsCompare, "/assistants/:id/versions/compare", agent},
	{http.MethodPost, AssistantPublish, "/assistants/:id/publish", admin},
	// issue 15: replays (starting one spends on the LLM: agents, like "Evaluate again")
	{http.MethodPost, ConversationReplayCreate, "/conversations/:id/replays", agent},
	{http.MethodGet, Replay, "/replays/:id", viewer},
	{http.MethodPost, APIConversationReplays, "/api/v1/conversations/:id/replays", apiKey},
	{http.MethodGet, APIReplay, "/api/v1/replays/:id", apiKey},
	// issue 15: test sets and their cases (C1). Reading is for agents (who test the
	// assistants), changing them too: a set is a tool of whoever improves an assistant.
	{http.MethodGet, APITestSets, "/api/v1/test-sets", apiKey},
	{http.MethodPost, APITestSetsCreate, "/api/v1/test-sets", apiKey},
	{http.MethodGet, APITestSet, "/api/v1/test-sets/:id", apiKey},
	{http.MethodPatch, APITestSetUpdate, "/api/v1/test-sets/:id", apiKey},
	{http.MethodDelete, APITestSetDelete, "/api/v1/test-sets/:id", apiKey},
	{http.MethodPost, APITestSetCasesCreate, "/api/v1/test-sets/:id/cases", apiKey},
	{http.MethodDelete, APITestSetCaseDelete, "/api/v1/test-sets/:id/cases/:case", apiKey},
	{http.MethodGet, TestSets, "/test-sets", agent},
	{http.MethodPost, TestSetsCreate, "/test-sets", agent},
	{http.MethodGet, TestSet, "/test-sets/:id", agent},
	{http.MethodPost, TestSetRename, "/test-sets/:id/rename", agent},
	{http.MethodPost, TestSetDelete, "/test-sets/:id/delete", agent},
	{http.MethodPost, TestSetCaseDelete, "/test-sets/:id/cases/:case/delete", agent},
	{http.MethodPost, ConversationTestSetAdd, "/conversations/:id/test-set", agent},
	{http.MethodGet, ConversationsBulkTestSetConfirm, "/conversations/bulk-test-set", agent},
	{http.MethodPost, ConversationsBulkTestSet, "/conversations/bulk-test-set", agent},
	// issue 15: test set runs
	{http.MethodPost, APITestSetRunsCreate, "/api/v1/test-sets/:id/runs", apiKey},
	{http.MethodGet, APITestSetRun, "/api/v1/test-set-runs/:id", apiKey},
	{http.MethodGet, APITestSetRunCompare, "/api/v1/test-set-runs/:id/compare", apiKey},
	{http.MethodGet, TestSetRuns, "/test-sets/:id/runs", agent},
	{http.MethodPost, TestSetRunsCreate, "/test-sets/:id/runs", admin},
	{http.MethodGet, TestSetRun, "/test-set-runs/:id", agent},
	{http.MethodGet, TestSetRunCompare, "/test-set-runs/:id/compare", agent},
}
