// Package dashboard is the logged-in product: conversations (list, detail, live updates,
// exports, bulk deletion), Test Chat, assistants, analytics, settings (API keys, prices,
// retention, WhatsApp templates), the WhatsApp composer and the admins' queue pages, with the
// login and setup pages. It owns its routes and its middleware stack: the server-side session
// (loadSession), CSRF on unsafe methods, the session user (requireLogin), requireAdmin for
// /queues. A handler file holds one action or a small family: bind, one call to the store or a feature service, render. It may
// not import another surface (widget, api, webhooks) or answer API keys.
package dashboard

import (
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/account"
	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/chat"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/events"
	"github.com/parleyhq/parley/app/ratelimit"
	"github.com/parleyhq/parley/app/reeval"
	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/session"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/testruns"
	"github.com/parleyhq/parley/app/testsets"
	"github.com/parleyhq/parley/app/web/sse"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/app/workspace"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/workers"
)

// Handler holds what the dashboard needs.
type Handler struct {
	Config        *config.Config
	Log           *slog.Logger
	Store         *store.Store
	Keys          *auth.Keys
	Tasks         *workers.Tasks
	Events        *events.Bus
	Redis         redis.UniversalClient
	Conversations *conversation.Service
	Chat          *chat.Responder
	// Workspace reads and atomically changes workspace settings.
	Workspace *workspace.Service
	// WhatsApp sends and receives WhatsApp messages (built once by the container).
	WhatsApp *whatsapp.Service
	// Accounts signs people in, with throttling.
	Accounts *account.Service
	// Team: memberships, roles, the workspace each person works in.
	Team *team.Service
	// Limits bounds each client's requests to the pages without a login (auth_middleware.go).
	Limits *ratelimit.Limiter
	// Sessions keeps the dashboard's sessions on the server (auth_middleware.go loads them).
	Sessions *session.Manager
	// Audit is the audit log: exports and bulk deletions are recorded with it, the Audit log
	// page reads it.
	Audit *audit.Service
	// Reeval is "Evaluate again", of one conversation or in bulk (evaluate.go).
	Reeval *reeval.Service
	// Versions saves and publishes assistant versions (issue 15: versions.go).
	Versions *assistants.Versions
	// Review is the review workflow (review.go, tags.go): status, assignee, tags, notes, corrections.
	Review *review.Service
	// TestSets is the test sets and their cases (testsets.go; issue 15).
	TestSets *testsets.Service
	// TestRuns starts and compares test set runs (testruns.go, issue 15).
	TestRuns *testruns.Service
	// Closing is closed when the server shuts down: open event streams end.
	Closing <-chan struct{}
	// issue 15: Replays starts replays of conversations (replays.go).
	Replays *replay.Service

	// streams caps each user's open live streams (live.go).
	streams sse.Cap
}
