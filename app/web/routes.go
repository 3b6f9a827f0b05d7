package web

import (
	"github.com/labstack/echo/v4"
)

// routes is the route table. Every route is named; dashboard routes need a login and a CSRF
// token on unsafe methods; API routes need an API key.
func (s *Server) routes(e *echo.Echo) {
	e.GET("/healthz", s.healthz).Name = "healthz"
	e.GET("/readyz", s.readyz).Name = "readyz"
	e.GET("/metrics", s.metricsEndpoint).Name = "metrics" // bearer PARLEY_METRICS_TOKEN; 404 without one (metrics.go)
	e.GET("/static/*", s.static).Name = "static"
	s.webhooks.Mount(e)

	s.widget.Mount(e)

	// Pages without a login, with CSRF.
	pub := e.Group("", s.csrfMiddleware())
	pub.GET("/", s.home).Name = "home"
	pub.GET("/login", s.loginPage).Name = "login"
	pub.POST("/login", s.login).Name = "login.submit"
	pub.POST("/logout", s.logout).Name = "logout"
	pub.GET("/setup", s.setupPage).Name = "setup"
	pub.POST("/setup", s.setup).Name = "setup.submit"

	// Dashboard.
	d := e.Group("", s.csrfMiddleware(), s.requireLogin)
	d.GET("/conversations", s.conversationsList).Name = "conversations"
	d.GET("/conversations/events", s.conversationsEvents).Name = "conversations.events"
	d.GET("/conversations/export.csv", s.exportCSV).Name = "conversations.export.csv"
	d.GET("/conversations/export.jsonl", s.exportJSONL).Name = "conversations.export.jsonl"
	d.POST("/conversations/bulk-delete", s.bulkDelete).Name = "conversations.bulkdelete"
	d.GET("/conversations/bulk-delete/:job", s.bulkDeleteStatus).Name = "conversations.bulkdelete.status"
	d.GET("/conversations/:id", s.conversationShow).Name = "conversation"
	d.GET("/conversations/:id/messages", s.conversationMessages).Name = "conversation.messages"
	d.GET("/conversations/:id/events", s.conversationEvents).Name = "conversation.events"
	d.POST("/conversations/:id/delete", s.conversationDelete).Name = "conversation.delete"
	// WhatsApp composer, AI switch and templates (whatsapp_ui.go)
	d.POST("/conversations/:id/whatsapp/send", s.waSend).Name = "conversation.whatsapp.send"
	d.POST("/conversations/:id/ai", s.waAI).Name = "conversation.ai"
	d.POST("/settings/whatsapp-templates", s.waTemplateCreate).Name = "settings.whatsapp.templates.create"
	d.POST("/settings/whatsapp-templates/waba", s.waWABASave).Name = "settings.whatsapp.templates.waba"
	d.POST("/settings/whatsapp-templates/fetch", s.waTemplatesFetch).Name = "settings.whatsapp.templates.fetch"
	d.POST("/settings/whatsapp-templates/:id/delete", s.waTemplateDelete).Name = "settings.whatsapp.templates.delete"
	d.GET("/conversations/:id/export.json", s.exportConversation).Name = "conversation.export"
	d.GET("/test-chat", s.testChatStart).Name = "testchat"
	d.POST("/test-chat/sessions", s.testChatCreate).Name = "testchat.create"
	d.GET("/test-chat/:id", s.testChatShow).Name = "testchat.session"
	d.POST("/test-chat/:id/messages", s.testChatSend).Name = "testchat.send"
	d.GET("/test-chat/:id/reply/:msg", s.testChatReply).Name = "testchat.reply"
	d.GET("/settings", s.settingsPage).Name = "settings"
	// background intelligence (analytics.go; conversations.go: conversationExtract)
	d.GET("/analytics", s.analyticsPage).Name = "analytics"
	d.GET("/analytics/export.csv", s.analyticsCSV).Name = "analytics.export.csv"
	d.POST("/conversations/:id/extract", s.conversationExtract).Name = "conversation.extract"
	d.POST("/settings/api-keys", s.apiKeyCreate).Name = "apikeys.create"
	d.POST("/settings/retention", s.retentionSave).Name = "settings.retention"
	d.POST("/settings/prices", s.pricesSave).Name = "settings.prices"
	// assistants (assistants.go)
	d.GET("/assistants", s.assistantsList).Name = "assistants"
	d.GET("/assistants/new", s.assistantNew).Name = "assistants.new"
	d.POST("/assistants", s.assistantCreate).Name = "assistants.create"
	d.GET("/assistants/variable-row", s.assistantVariableRow).Name = "assistants.variablerow"
	d.GET("/assistants/prechat-row", s.assistantPrechatRow).Name = "assistants.prechatrow"
	d.GET("/assistants/:id", s.assistantShow).Name = "assistant"
	d.POST("/assistants/:id", s.assistantUpdate).Name = "assistant.update"
	d.POST("/assistants/:id/delete", s.assistantDelete).Name = "assistant.delete"
	d.POST("/settings/api-keys/:id/revoke", s.apiKeyRevoke).Name = "apikeys.revoke"
	// asynq queues, admins only (queues.go)
	q := d.Group("/queues", s.requireAdmin)
	q.GET("", s.queuesList).Name = "queues"
	q.GET("/:queue", s.queueShow).Name = "queue"
	q.POST("/:queue/run", s.queueTaskAction("run")).Name = "queue.task.run"
	q.POST("/:queue/archive", s.queueTaskAction("archive")).Name = "queue.task.archive"
	q.POST("/:queue/delete", s.queueTaskAction("delete")).Name = "queue.task.delete"
	q.POST("/:queue/pause", s.queuePause(true)).Name = "queue.pause"
	q.POST("/:queue/resume", s.queuePause(false)).Name = "queue.resume"

	s.api.Mount(e)
}
