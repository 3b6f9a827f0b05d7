// Package api is the JSON API v1 surface (/api/v1/...): conversations and assistants of the
// workspace an API key belongs to. It owns its routes, the API-key authentication and the
// JSON answers (errors included: never an HTML page), and the 404 of any unknown /api/ path.
// It calls the store and the feature services; it may not import another surface
// (dashboard, widget, webhooks), sessions or CSRF.
package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/reeval"
	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/testruns"
	"github.com/parleyhq/parley/app/testsets"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/app/whatsapp"
	"github.com/parleyhq/parley/config"
)

// Handler holds what the JSON API needs.
type Handler struct {
	Config *config.Config
	Log    *slog.Logger
	Store  *store.Store
	Keys   *auth.Keys
	// Conversations deletes conversations and tells the dashboards.
	Conversations *conversation.Service
	// WhatsApp confirms a WhatsApp number with Meta before an assistant is connected to it.
	WhatsApp *whatsapp.Service
	// Team makes invites.
	Team *team.Service
	// Audit is the audit log (GET /api/v1/audit-log).
	Audit *audit.Service
	// Reeval is "Evaluate again" (POST /api/v1/conversations/{id}/evaluate).
	Reeval *reeval.Service
	// Review is the review workflow (review.go): status, assignee, tags, notes.
	Review *review.Service
	// Versions saves and publishes assistant versions (issue 15: versions.go, assistants.go).
	Versions *assistants.Versions
	// issue 15: Replays starts replays of conversations (replays.go).
	Replays *replay.Service
	// TestSets is the test sets and their cases (testsets.go; issue 15).
	TestSets *testsets.Service
	// issue 15: test set runs (testruns.go)
	TestRuns *testruns.Service
}

// Mount registers the API's routes on /api/v1 behind the API key, and answers a JSON 404 for
// every other /api/ path.
func (s *Handler) Mount(e *echo.Echo) {
	const prefix = "/api/v1"
	g := e.Group(prefix, s.requireAPIKey)
	routenames.AddAll(g, prefix, nil, []routenames.Named{
		{Name: routenames.APIMe, Handler: s.apiMe},
		// conversations (conversations.go)
		{Name: routenames.APIConversations, Handler: s.apiConversations},
		{Name: routenames.APIConversation, Handler: s.apiConversation},
		{Name: routenames.APIConversationDelete, Handler: s.apiConversationDelete},
		// assistants (assistants.go)
		{Name: routenames.APIAssistants, Handler: s.apiAssistants},
		{Name: routenames.APIAssistantsCreate, Handler: s.apiAssistantCreate},
		{Name: routenames.APIAssistant, Handler: s.apiAssistant},
		{Name: routenames.APIAssistantUpdate, Handler: s.apiAssistantUpdate},
		{Name: routenames.APIAssistantDelete, Handler: s.apiAssistantDelete},
		// invites (invites.go)
		{Name: routenames.APIInvitesCreate, Handler: s.apiInviteCreate},
		// audit log (audit.go)
		{Name: routenames.APIAuditLog, Handler: s.apiAuditLog},
		// issue 14: ends (ends.go)
		{Name: routenames.APIConversationEnd, Handler: s.apiConversationEnd},
		// issue 14: evaluators (evaluate.go)
		{Name: routenames.APIConversationEvaluate, Handler: s.apiConversationEvaluate},
		// issue 14: review (review.go)
		{Name: routenames.APIConversationReview, Handler: s.apiConversationReview},
		{Name: routenames.APIConversationTagsAdd, Handler: s.apiConversationTagAdd},
		{Name: routenames.APIConversationTagsRemove, Handler: s.apiConversationTagRemove},
		{Name: routenames.APIConversationNotes, Handler: s.apiConversationNoteCreate},
		// issue 15: versions (versions.go)
		{Name: routenames.APIAssistantVersions, Handler: s.apiAssistantVersions},
		{Name: routenames.APIAssistantVersion, Handler: s.apiAssistantVersion},
		{Name: routenames.APIAssistantPublish, Handler: s.apiAssistantPublish},
		// issue 15: replays (replays.go)
		{Name: routenames.APIConversationReplays, Handler: s.apiConversationReplayCreate},
		{Name: routenames.APIReplay, Handler: s.apiReplay},
		// issue 15: test sets and their cases (testsets.go)
		{Name: routenames.APITestSets, Handler: s.apiTestSets},
		{Name: routenames.APITestSetsCreate, Handler: s.apiTestSetCreate},
		{Name: routenames.APITestSet, Handler: s.apiTestSet},
		{Name: routenames.APITestSetUpdate, Handler: s.apiTestSetUpdate},
		{Name: routenames.APITestSetDelete, Handler: s.apiTestSetDelete},
		{Name: routenames.APITestSetCasesCreate, Handler: s.apiTestSetCaseCreate},
		{Name: routenames.APITestSetCaseDelete, Handler: s.apiTestSetCaseDelete},
		// issue 15: test set runs (testruns.go)
		{Name: routenames.APITestSetRunsCreate, Handler: s.apiTestSetRunCreate},
		{Name: routenames.APITestSetRun, Handler: s.apiTestSetRun},
		{Name: routenames.APITestSetRunCompare, Handler: s.apiTestSetRunCompare},
	}...)
	e.Any("/api/*", s.apiNotFound)
}

// APIPrincipal is the workspace an API key belongs to.
type APIPrincipal struct {
	Key         *store.APIKey
	WorkspaceID int64
}

func apiPrincipal(c echo.Context) *APIPrincipal {
	p, _ := c.Get("api").(*APIPrincipal)
	return p
}

// requireAPIKey authenticates `Authorization: Bearer <key>`; 401 with a JSON error otherwise.
// A key may use only the methods its scope allows (a read key: the safe ones); 403 otherwise.
func (s *Handler) requireAPIKey(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		scheme, key, ok := strings.Cut(h, " ")
		if h == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="parley"`)
			return apierr.New(http.StatusUnauthorized, "missing_api_key", "Send an API key as `Authorization: Bearer <key>`; create one in Settings.")
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="parley"`)
			return apierr.New(http.StatusUnauthorized, "invalid_authorization", "The Authorization header must be `Bearer <key>`.")
		}
		k, err := s.Store.APIKeyByHash(c.Request().Context(), auth.HashAPIKey(key))
		if errors.Is(err, store.ErrNotFound) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="parley", error="invalid_token"`)
			return apierr.New(http.StatusUnauthorized, "invalid_api_key", "The API key is unknown or has been revoked.")
		}
		if err != nil {
			return err
		}
		_ = s.Store.TouchAPIKey(c.Request().Context(), k.ID)
		// The one place a key's scope is enforced: every /api/v1 route passes here.
		if m := c.Request().Method; !model.ScopeAllows(k.Scope, m) {
			return apierr.New(http.StatusForbidden, "read_only_key",
				"This API key is read-only (scope %q): it may read (GET), not %s. Use a key with scope %q to make changes; create one in Settings.", k.Scope, m, model.ScopeWrite)
		}
		c.Set("api", &APIPrincipal{Key: k, WorkspaceID: k.WorkspaceID})
		// What the request changes is recorded as the key's doing (app/audit).
		c.SetRequest(c.Request().WithContext(audit.WithActor(c.Request().Context(), audit.KeyActor(k))))
		return next(c)
	}
}

func (s *Handler) apiNotFound(c echo.Context) error {
	return apierr.New(http.StatusNotFound, "not_found", "No API route %s %s.", c.Request().Method, c.Request().URL.Path)
}
