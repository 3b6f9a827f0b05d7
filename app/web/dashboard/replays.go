package dashboard

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// Replays (issue 15 item 2): the conversation page's "Replay with…" card, starting a replay,
// and the replay's page (side by side, polling while it runs).

// replayListSize is how many of a conversation's replays its page lists.
const replayListSize = 20

// replayPanel is the conversation page's replay card: the versions of its assistant to
// replay with (the draft by default when there is one, else the published one) and its
// latest replays.
func (s *Handler) replayPanel(c echo.Context, conv *store.Conversation, csrf string) (*pages.ReplayPanel, error) {
	ctx := c.Request().Context()
	p := &pages.ReplayPanel{ConvID: conv.ID, CSRF: csrf, CanReplay: canReplay(c)}
	if conv.AssistantID != nil {
		a, err := s.Store.AssistantByID(ctx, conv.WorkspaceID, *conv.AssistantID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if a != nil {
			vs, err := s.Store.AssistantVersions(ctx, conv.WorkspaceID, a.ID)
			if err != nil {
				return nil, err
			}
			p.Options = replayOptions(a, vs)
		}
	}
	rs, err := s.Store.ConversationReplays(ctx, conv.WorkspaceID, conv.ID, replayListSize)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		p.Replays = append(p.Replays, pages.ReplayRow{ID: r.ID, Version: r.Version, Status: r.Status, TurnsDone: r.TurnsDone,
			TurnsTotal: r.TurnsTotal, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt})
	}
	return p, nil
}

// replayOptions are the choices of "Replay with…": the draft, the published version, then
// every other version, newest first (vs is newest first).
func replayOptions(a *store.Assistant, vs []store.AssistantVersion) []pages.ReplayOption {
	var out []pages.ReplayOption
	if a.DraftVersion > 0 {
		out = append(out, pages.ReplayOption{Value: model.VersionDraft, Label: "the draft (v" + strconv.Itoa(a.DraftVersion) + ")", Selected: true})
	}
	if a.PublishedVersion > 0 {
		out = append(out, pages.ReplayOption{Value: strconv.Itoa(a.PublishedVersion), Label: "v" + strconv.Itoa(a.PublishedVersion) + " (published)",
			Selected: a.DraftVersion == 0})
	}
	for _, v := range vs {
		if v.Number != a.DraftVersion && v.Number != a.PublishedVersion {
			out = append(out, pages.ReplayOption{Value: strconv.Itoa(v.Number), Label: "v" + strconv.Itoa(v.Number)})
		}
	}
	return out
}

// canReplay: the member may start a replay (the route's role).
func canReplay(c echo.Context) bool {
	return current(c).Role.AtLeast(routenames.Lookup(routenames.ConversationReplayCreate).Access.Role())
}

// conversationReplayCreate starts a replay of the conversation with the version the form
// names ("draft" or a number) and goes to its page.
func (s *Handler) conversationReplayCreate(c echo.Context) error {
	id, err := conversationID(c)
	if err != nil {
		return err
	}
	ref, err := model.ParseVersionRef(c.FormValue("version"))
	if err != nil {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "Version: "+err.Error()+".")
	}
	cur := current(c)
	r, err := s.Replays.Start(c.Request().Context(), cur.Workspace.ID, id, ref, assistants.Author(c.Request().Context()))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "No such conversation.")
	case errors.Is(err, replay.ErrNoDraft), errors.Is(err, replay.ErrNoVersion), errors.Is(err, replay.ErrNoTurns), errors.Is(err, replay.ErrNoAssistant):
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "Cannot replay: "+err.Error()+".")
	case err != nil:
		return err
	}
	to := routenames.URL(routenames.Replay, r.ID)
	if htmx.IsFragment(c) {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// replayPage shows a replay of the workspace side by side; an htmx request (its poll) gets
// the body only.
func (s *Handler) replayPage(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return echo.NewHTTPError(http.StatusNotFound, "No such replay.")
	}
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	r, turns, err := s.Store.ReplayWithTurns(ctx, ws, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such replay.")
	}
	if err != nil {
		return err
	}
	v := replayView(r, turns)
	if r.ConversationID != nil {
		if conv, err := s.Store.GetConversation(ctx, ws, *r.ConversationID); err == nil {
			v.ConvID, v.Customer = conv.ID, conv.Customer
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusOK, pages.ReplayBody(v))
	}
	p, err := s.page(c, "Replay #"+strconv.FormatInt(r.ID, 10), "conversations")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.ReplayPage(p, v))
}

// replayView is the replay page's view model. The costs are the turns' and the replay's
// (kept in the same transactions as the ledger rows they come from).
func replayView(r *store.Replay, turns []store.ReplayTurn) pages.ReplayView {
	v := pages.ReplayView{ID: r.ID, Version: r.Version, Status: r.Status, Error: r.Error, TurnsDone: r.TurnsDone, TurnsTotal: r.TurnsTotal,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, TotalCost: model.Money(r.CostNanos).Dollars()}
	var answers int64
	for _, t := range turns {
		tv := pages.ReplayTurnView{Index: t.Idx, Customer: t.Customer, Original: t.Original, Expected: t.Expected, Replayed: t.Replayed,
			Orig: pages.ReplayFigures{PromptTokens: t.OriginalPromptTokens, CompletionTokens: t.OriginalCompletionTokens,
				Cost: model.Money(t.OriginalCostNanos).Dollars(), LatencyMS: t.OriginalLatencyMS}}
		v.Original.PromptTokens += t.OriginalPromptTokens
		v.Original.CompletionTokens += t.OriginalCompletionTokens
		if t.OriginalLatencyMS != nil {
			v.Original.LatencyMS += *t.OriginalLatencyMS
			v.Original.Answered++
		}
		if t.Replayed != nil {
			lat := t.LatencyMS
			tv.Repl = pages.ReplayFigures{PromptTokens: t.PromptTokens, CompletionTokens: t.CompletionTokens, Cost: model.Money(t.CostNanos).Dollars(), LatencyMS: &lat}
			v.Replayed.PromptTokens += t.PromptTokens
			v.Replayed.CompletionTokens += t.CompletionTokens
			v.Replayed.LatencyMS += t.LatencyMS
			v.Replayed.Answered++
			answers += t.CostNanos
		}
		v.Turns = append(v.Turns, tv)
	}
	v.Original.Cost = model.Money(r.OriginalCostNanos).Dollars()
	v.Replayed.Cost = model.Money(answers).Dollars()
	v.EvaluationCost = model.Money(r.CostNanos - answers).Dollars()
	v.Evaluations = replayEvalRows(r.OriginalEvaluations, r.ReplayedEvaluations)
	return v
}

// replayEvalRows pairs the evaluators of both sides by name (in the replayed side's order,
// then any the original alone has).
func replayEvalRows(orig, repl store.ReplayEvaluations) []pages.ReplayEvalRow {
	show := func(e *store.ReplayEvaluation) (string, string) {
		switch {
		case e == nil:
			return "—", ""
		case e.Value != nil:
			return *e.Value, e.Reason
		case e.Error != "":
			return e.Status + ": " + e.Error, ""
		}
		return "—", e.Reason
	}
	byName := map[string]*store.ReplayEvaluation{}
	for i := range orig {
		byName[orig[i].Name] = &orig[i]
	}
	var out []pages.ReplayEvalRow
	seen := map[string]bool{}
	add := func(name string, o, r *store.ReplayEvaluation) {
		seen[name] = true
		row := pages.ReplayEvalRow{Name: name}
		row.Original, row.OriginalReason = show(o)
		row.Replayed, row.ReplayedReason = show(r)
		row.Changed = o != nil && r != nil && row.Original != row.Replayed
		out = append(out, row)
	}
	for i := range repl {
		add(repl[i].Name, byName[repl[i].Name], &repl[i])
	}
	for i := range orig {
		if !seen[orig[i].Name] {
			add(orig[i].Name, &orig[i], nil)
		}
	}
	return out
}
