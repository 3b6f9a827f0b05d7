package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/convjson"
	"github.com/parleyhq/parley/app/web/jsonbody"
)

// Replays of conversations (issue 15 item 2): POST /api/v1/conversations/{id}/replays
// starts one (202 {"id"}), GET /api/v1/replays/{id} answers its progress, turns side by side
// and the evaluators of both sides.

// apiVersionField reads a "version" field as decodeVersionRef does (a number or "draft");
// an absent field (or null) is the draft. A bad value is model.ErrVersionRef (the caller
// answers 422 naming "version": apiVersionError).
func apiVersionField(obj map[string]json.RawMessage) (model.VersionRef, error) {
	raw, ok := obj["version"]
	if !ok || jsonbody.IsNull(raw) {
		return model.VersionRef{Draft: true}, nil
	}
	return decodeVersionRef(raw)
}

// apiVersionError answers 422 invalid_field naming "version" with msg.
func apiVersionError(c echo.Context, msg string) error {
	return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_field", assistants.Errors{{Field: "version", Msg: msg}})
}

// apiConversationReplayCreate replays a conversation of the key's workspace with a version of
// its assistant ({"version": n|"draft"}, the draft by default): 202 {"id"}; the replay runs
// in the background. 404 for a conversation of another workspace; 422 naming "version" for a
// bad value, a version that does not exist or a draft the assistant does not have; 422 for a
// conversation with nothing to replay.
func (s *Handler) apiConversationReplayCreate(c echo.Context) error {
	id, err := apiConversationID(c)
	if err != nil {
		return err
	}
	obj := map[string]json.RawMessage{}
	if c.Request().ContentLength != 0 {
		if obj, err = jsonbody.Object(c, false); err != nil {
			return err
		}
	}
	if err := jsonbody.Only(obj, "version"); err != nil {
		return unprocessable(err)
	}
	ref, err := apiVersionField(obj)
	if err != nil {
		return apiVersionError(c, err.Error())
	}
	r, err := s.Replays.Start(c.Request().Context(), apiPrincipal(c).WorkspaceID, id, ref, assistants.Author(c.Request().Context()))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return convjson.ErrNotFound()
	case errors.Is(err, replay.ErrNoDraft), errors.Is(err, replay.ErrNoVersion):
		return apiVersionError(c, err.Error())
	case errors.Is(err, replay.ErrNoAssistant), errors.Is(err, replay.ErrNoTurns):
		return apierr.New(http.StatusUnprocessableEntity, "nothing_to_replay", "%s.", err.Error())
	case err != nil:
		return err
	}
	return c.JSON(http.StatusAccepted, struct {
		ID int64 `json:"id"`
	}{r.ID})
}

// apiTokens are one side's tokens of a turn.
type apiTokens struct {
	Prompt     int `json:"prompt"`
	Cached     int `json:"cached"`
	Completion int `json:"completion"`
}

// apiReplayTurn is one turn side by side. Replayed and its figures are null until the turn
// is answered; Expected is a test case's expected answer.
type apiReplayTurn struct {
	Index             int       `json:"index"`
	Customer          string    `json:"customer"`
	Original          string    `json:"original"`
	Replayed          *string   `json:"replayed"`
	Expected          string    `json:"expected,omitempty"`
	OriginalCostUSD   string    `json:"original_cost_usd"`
	ReplayedCostUSD   *string   `json:"replayed_cost_usd"`
	OriginalTokens    apiTokens `json:"original_tokens"`
	ReplayedTokens    apiTokens `json:"replayed_tokens"`
	OriginalLatencyMS *int64    `json:"original_latency_ms"`
	ReplayedLatencyMS *int64    `json:"replayed_latency_ms"`
	OriginalVersion   *int      `json:"original_version"`
	Model             string    `json:"model,omitempty"`
}

// apiReplay is a replay as GET /api/v1/replays/{id} answers it.
type apiReplay struct {
	ID              int64                              `json:"id"`
	Status          string                             `json:"status"`
	Error           string                             `json:"error"`
	ConversationID  *int64                             `json:"conversation_id"`
	AssistantID     int64                              `json:"assistant_id"`
	Version         int                                `json:"version"`
	TurnsDone       int                                `json:"turns_done"`
	TurnsTotal      int                                `json:"turns_total"`
	CostUSD         string                             `json:"cost_usd"`
	ReplayedCostUSD string                             `json:"replayed_cost_usd"`
	OriginalCostUSD string                             `json:"original_cost_usd"`
	CreatedBy       string                             `json:"created_by"`
	CreatedAt       string                             `json:"created_at"`
	StartedAt       *string                            `json:"started_at"`
	FinishedAt      *string                            `json:"finished_at"`
	Turns           []apiReplayTurn                    `json:"turns"`
	Evaluations     map[string]store.ReplayEvaluations `json:"evaluations"`
}

// apiReplayOf is the API's document of a replay: cost_usd is everything the replay spent
// (its answers and its evaluations: the ledger's rows of it), replayed_cost_usd the answers'
// part, original_cost_usd what the original answers cost.
func apiReplayOf(r *store.Replay, turns []store.ReplayTurn) apiReplay {
	out := apiReplay{ID: r.ID, Status: r.Status, Error: r.Error, ConversationID: r.ConversationID, AssistantID: r.AssistantID,
		Version: r.Version, TurnsDone: r.TurnsDone, TurnsTotal: r.TurnsTotal,
		CostUSD: model.Money(r.CostNanos).Exact(), OriginalCostUSD: model.Money(r.OriginalCostNanos).Exact(),
		CreatedBy: r.CreatedBy, CreatedAt: convjson.Time(r.CreatedAt), Turns: []apiReplayTurn{},
		Evaluations: map[string]store.ReplayEvaluations{store.ReplaySideOriginal: r.OriginalEvaluations, store.ReplaySideReplayed: r.ReplayedEvaluations}}
	for side, v := range out.Evaluations {
		if v == nil {
			out.Evaluations[side] = store.ReplayEvaluations{}
		}
	}
	if r.StartedAt != nil {
		t := convjson.Time(*r.StartedAt)
		out.StartedAt = &t
	}
	if r.FinishedAt != nil {
		t := convjson.Time(*r.FinishedAt)
		out.FinishedAt = &t
	}
	var replayed int64
	for _, t := range turns {
		at := apiReplayTurn{Index: t.Idx, Customer: t.Customer, Original: t.Original, Replayed: t.Replayed, Expected: t.Expected,
			OriginalCostUSD:   model.Money(t.OriginalCostNanos).Exact(),
			OriginalTokens:    apiTokens{t.OriginalPromptTokens, t.OriginalCachedTokens, t.OriginalCompletionTokens},
			OriginalLatencyMS: t.OriginalLatencyMS, OriginalVersion: t.OriginalVersion, Model: t.Model}
		if t.Replayed != nil {
			cost, latency := model.Money(t.CostNanos).Exact(), t.LatencyMS
			at.ReplayedCostUSD, at.ReplayedLatencyMS = &cost, &latency
			at.ReplayedTokens = apiTokens{t.PromptTokens, t.CachedTokens, t.CompletionTokens}
			replayed += t.CostNanos
		}
		out.Turns = append(out.Turns, at)
	}
	out.ReplayedCostUSD = model.Money(replayed).Exact()
	return out
}

// apiReplay answers one replay of the key's workspace (404 for another workspace's).
func (s *Handler) apiReplay(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return apiReplayNotFound()
	}
	r, turns, err := s.Store.ReplayWithTurns(c.Request().Context(), apiPrincipal(c).WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return apiReplayNotFound()
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiReplayOf(r, turns))
}

func apiReplayNotFound() error {
	return apierr.New(http.StatusNotFound, "not_found", "No such replay.")
}
