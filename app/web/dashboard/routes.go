package dashboard

import (
	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/web/routenames"
)

// Mount registers the dashboard: the pages without a login (a per-client limit, a session
// and CSRF), and the logged-in product (a session, CSRF, a login, and each route's access
// from the route table checked by guard: a workspace role, or the installation admin for the
// queues).
func (s *Handler) Mount(e *echo.Echo) {
	pub := e.Group("", s.limitPublic, s.loadSession, s.csrfMiddleware())
	routenames.AddAll(pub, "", s.guard, []routenames.Named{
		// Pages without a login, with CSRF.
		{Name: routenames.Home, Handler: s.home},
		{Name: routenames.Login, Handler: s.loginPage},
		{Name: routenames.LoginSubmit, Handler: s.login},
		{Name: routenames.Logout, Handler: s.logout},
		{Name: routenames.Setup, Handler: s.setupPage},
		{Name: routenames.SetupSubmit, Handler: s.setup},
		{Name: routenames.Signup, Handler: s.signupPage},
		{Name: routenames.SignupSubmit, Handler: s.signup},
		// invite links (invites.go): never a login redirect
		{Name: routenames.Invite, Handler: s.invitePage},
		{Name: routenames.InviteAccept, Handler: s.inviteAccept},
		// password reset by one-time link (account_reset.go)
		{Name: routenames.Reset, Handler: s.resetPage},
		{Name: routenames.ResetRequest, Handler: s.resetRequest},
		{Name: routenames.ResetToken, Handler: s.resetTokenPage},
		{Name: routenames.ResetTokenSubmit, Handler: s.resetTokenSubmit},
	}...)

	d := e.Group("", s.loadSession, s.csrfMiddleware(), s.requireLogin)
	routenames.AddAll(d, "", s.guard, []routenames.Named{
		// Dashboard.
		{Name: routenames.Conversations, Handler: s.conversationsList},
		{Name: routenames.ConversationsEvents, Handler: s.conversationsEvents},
		{Name: routenames.ConversationsExportCSV, Handler: s.exportCSV},
		{Name: routenames.ConversationsExportJSONL, Handler: s.exportJSONL},
		{Name: routenames.ConversationsBulkDelete, Handler: s.bulkDelete},
		{Name: routenames.ConversationsBulkDeleteStatus, Handler: s.bulkDeleteStatus},
		// issue 14: saved views (views.go)
		{Name: routenames.ConversationsViewCreate, Handler: s.viewCreate},
		{Name: routenames.ConversationsViewRename, Handler: s.viewRename},
		{Name: routenames.ConversationsViewDelete, Handler: s.viewDelete},
		{Name: routenames.Conversation, Handler: s.conversationShow},
		{Name: routenames.ConversationMessages, Handler: s.conversationMessages},
		{Name: routenames.ConversationEvents, Handler: s.conversationEvents},
		{Name: routenames.ConversationDelete, Handler: s.conversationDelete},
		// WhatsApp composer, AI switch and templates (whatsapp_ui.go)
		{Name: routenames.ConversationWhatsAppSend, Handler: s.waSend},
		{Name: routenames.ConversationAI, Handler: s.waAI},
		{Name: routenames.SettingsWhatsAppTemplatesCreate, Handler: s.waTemplateCreate},
		{Name: routenames.SettingsWhatsAppTemplatesWABA, Handler: s.waWABASave},
		{Name: routenames.SettingsWhatsAppTemplatesFetch, Handler: s.waTemplatesFetch},
		{Name: routenames.SettingsWhatsAppTemplatesDelete, Handler: s.waTemplateDelete},
		{Name: routenames.ConversationExport, Handler: s.exportConversation},
		{Name: routenames.TestChat, Handler: s.testChatStart},
		{Name: routenames.TestChatCreate, Handler: s.testChatCreate},
		{Name: routenames.TestChatSession, Handler: s.testChatShow},
		{Name: routenames.TestChatSend, Handler: s.testChatSend},
		{Name: routenames.TestChatReply, Handler: s.testChatReply},
		{Name: routenames.Settings, Handler: s.settingsPage},
		// background intelligence (analytics.go; conversations.go: conversationExtract)
		{Name: routenames.Analytics, Handler: s.analyticsPage},
		{Name: routenames.AnalyticsExportCSV, Handler: s.analyticsCSV},
		{Name: routenames.ConversationExtract, Handler: s.conversationExtract},
		{Name: routenames.APIKeysCreate, Handler: s.apiKeyCreate},
		{Name: routenames.SettingsRetention, Handler: s.retentionSave},
		{Name: routenames.SettingsPrices, Handler: s.pricesSave},
		// your sessions (auth_sessions.go)
		{Name: routenames.SettingsSessionsRevoke, Handler: s.sessionRevoke},
		{Name: routenames.SettingsSessionsRevokeAll, Handler: s.sessionRevokeAll},
		// your account: name, email, password (account.go)
		{Name: routenames.SettingsAccount, Handler: s.accountPage},
		{Name: routenames.SettingsAccountUpdate, Handler: s.accountUpdate},
		{Name: routenames.SettingsAccountPassword, Handler: s.accountPassword},
		// assistants (assistants.go)
		{Name: routenames.Assistants, Handler: s.assistantsList},
		{Name: routenames.AssistantsNew, Handler: s.assistantNew},
		{Name: routenames.AssistantsCreate, Handler: s.assistantCreate},
		{Name: routenames.AssistantsVariableRow, Handler: s.assistantVariableRow},
		{Name: routenames.AssistantsPrechatRow, Handler: s.assistantPrechatRow},
		{Name: routenames.Assistant, Handler: s.assistantShow},
		{Name: routenames.AssistantUpdate, Handler: s.assistantUpdate},
		{Name: routenames.AssistantDelete, Handler: s.assistantDelete},
		{Name: routenames.AssistantIdentityRotate, Handler: s.assistantIdentityRotate},
		{Name: routenames.APIKeysRevoke, Handler: s.apiKeyRevoke},
		// workspaces and members (team.go)
		{Name: routenames.WorkspacesSwitch, Handler: s.workspaceSwitch},
		{Name: routenames.WorkspacesNew, Handler: s.workspaceNew},
		{Name: routenames.WorkspacesCreate, Handler: s.workspaceCreate},
		{Name: routenames.SettingsMembers, Handler: s.membersPage},
		{Name: routenames.SettingsMemberRole, Handler: s.memberRole},
		{Name: routenames.SettingsMemberRemove, Handler: s.memberRemove},
		{Name: routenames.SettingsMembersLeave, Handler: s.memberLeave},
		{Name: routenames.SettingsInvitesCreate, Handler: s.inviteCreate},
		{Name: routenames.SettingsInviteRevoke, Handler: s.inviteRevoke},
		{Name: routenames.SettingsWorkspaceDelete, Handler: s.workspaceDelete},
		// audit log, the workspace's admins (audit_log.go)
		{Name: routenames.SettingsAuditLog, Handler: s.auditLogPage},
		{Name: routenames.SettingsAuditLogExport, Handler: s.auditLogCSV},
		// issue 14: ends (ends.go)
		{Name: routenames.ConversationEnd, Handler: s.conversationEnd},
		{Name: routenames.TestChatSessionClose, Handler: s.testChatClose},
		// issue 14: evaluators (evaluate.go)
		{Name: routenames.ConversationEvaluate, Handler: s.conversationEvaluate},
		{Name: routenames.ConversationsBulkEvaluateConfirm, Handler: s.bulkEvaluateConfirm},
		{Name: routenames.ConversationsBulkEvaluate, Handler: s.bulkEvaluate},
		{Name: routenames.ConversationsBulkEvaluateStatus, Handler: s.bulkEvaluateStatus},
		{Name: routenames.AssistantsEvaluatorRow, Handler: s.assistantEvaluatorRow},
		// issue 14: review (review.go, tags.go)
		{Name: routenames.ConversationReview, Handler: s.conversationReview},
		{Name: routenames.ConversationTagsAdd, Handler: s.conversationTagAdd},
		{Name: routenames.ConversationTagsRemove, Handler: s.conversationTagRemove},
		{Name: routenames.ConversationNotes, Handler: s.conversationNote},
		{Name: routenames.ConversationCorrection, Handler: s.conversationCorrection},
		{Name: routenames.ConversationCorrectionDelete, Handler: s.conversationCorrectionDelete},
		// issue 15: versions (versions.go)
		{Name: routenames.AssistantVersions, Handler: s.assistantVersions},
		{Name: routenames.AssistantVersionsCompare, Handler: s.assistantVersionsCompare},
		{Name: routenames.AssistantPublish, Handler: s.assistantPublish},
		{Name: routenames.SettingsTags, Handler: s.tagsPage},
		{Name: routenames.SettingsTagsCreate, Handler: s.tagCreate},
		{Name: routenames.SettingsTagUpdate, Handler: s.tagUpdate},
		{Name: routenames.SettingsTagDelete, Handler: s.tagDelete},
		// issue 15: replays (replays.go)
		{Name: routenames.ConversationReplayCreate, Handler: s.conversationReplayCreate},
		{Name: routenames.Replay, Handler: s.replayPage},
		// issue 15: test sets and their cases (testsets.go)
		{Name: routenames.TestSets, Handler: s.testSetsList},
		{Name: routenames.TestSetsCreate, Handler: s.testSetCreate},
		{Name: routenames.TestSet, Handler: s.testSetShow},
		{Name: routenames.TestSetRename, Handler: s.testSetRename},
		{Name: routenames.TestSetDelete, Handler: s.testSetDelete},
		{Name: routenames.TestSetCaseDelete, Handler: s.testSetCaseDelete},
		{Name: routenames.ConversationTestSetAdd, Handler: s.conversationTestSetAdd},
		{Name: routenames.ConversationsBulkTestSetConfirm, Handler: s.bulkTestSetConfirm},
		{Name: routenames.ConversationsBulkTestSet, Handler: s.bulkTestSet},
		// issue 15: test set runs (testruns.go)
		{Name: routenames.TestSetRuns, Handler: s.testSetRunsPage},
		{Name: routenames.TestSetRunsCreate, Handler: s.testSetRunsCreate},
		{Name: routenames.TestSetRun, Handler: s.testSetRunPage},
		{Name: routenames.TestSetRunCompare, Handler: s.testSetRunComparePage},
	}...)

	// asynq queues, the installation's admins only (queues.go)
	q := d.Group("/queues")
	routenames.AddAll(q, "/queues", s.guard, []routenames.Named{
		// asynq queues, admins only (queues.go)
		{Name: routenames.Queues, Handler: s.queuesList},
		{Name: routenames.Queue, Handler: s.queueShow},
		{Name: routenames.QueueTaskRun, Handler: s.queueTaskAction("run")},
		{Name: routenames.QueueTaskArchive, Handler: s.queueTaskAction("archive")},
		{Name: routenames.QueueTaskDelete, Handler: s.queueTaskAction("delete")},
		{Name: routenames.QueuePause, Handler: s.queuePause(true)},
		{Name: routenames.QueueResume, Handler: s.queuePause(false)},
	}...)
}
