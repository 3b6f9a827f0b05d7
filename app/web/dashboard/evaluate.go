package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/llm"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/reeval"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
	"github.com/parleyhq/parley/workers"
)

// evalHistoryRuns is how many runs the conversation page shows (the latest and its history).
const evalHistoryRuns = 20

// evalPanel is the conversation page's evaluation panel.
func (s *Handler) evalPanel(ctx context.Context, conv *store.Conversation, csrf string) (pages.EvalPanel, error) {
	p := pages.EvalPanel{ConvID: conv.ID, CSRF: csrf, Summary: conv.Summary, Status: conv.EvaluationStatus}
	runs, err := reeval.History(ctx, s.Store, conv, evalHistoryRuns)
	if err != nil {
		return p, err
	}
	for i, r := range runs {
		v := evalRunView(r)
		if i == 0 {
			p.Latest = &v
			continue
		}
		p.History = append(p.History, v)
	}
	return p, nil
}

func evalRunView(r reeval.Result) pages.EvalRunView {
	v := pages.EvalRunView{
		ID: r.Run.ID, EndSeq: r.Run.EndSeq, Run: r.Run.Run, Status: r.Run.Status, Error: r.Run.Error,
		Provider: r.Run.Provider, Offline: r.Run.Provider == llm.OfflineModel, Cost: model.Money(r.Run.CostNanos).Dollars(),
		CreatedAt: r.Run.CreatedAt, FinishedAt: r.Run.FinishedAt,
	}
	for _, x := range r.Values {
		val := ""
		if x.Value != nil {
			val = *x.Value
		}
		v.Values = append(v.Values, pages.EvalValueView{Name: x.Name, Builtin: x.Builtin, Value: val, Reason: x.Reason,
			Status: x.Status, Error: x.Error, Version: x.Version})
	}
	return v
}

// evalSignature is what a live update compares to tell whether the panel changed: the latest
// run and its status, and the conversation's evaluation status.
func evalSignature(p pages.EvalPanel) string {
	if p.Latest == nil {
		return p.Status
	}
	return p.Status + "/" + strconv.FormatInt(p.Latest.ID, 10) + "/" + p.Latest.Status
}

// conversationEvaluate asks for a new evaluation of the conversation ("Evaluate again"):
// the panel again for htmx, else back to the page.
func (s *Handler) conversationEvaluate(c echo.Context) error {
	id, err := conversationID(c)
	if err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	if _, err := s.Reeval.Again(ctx, ws, id); errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such conversation.")
	} else if err != nil {
		return err
	}
	if !htmx.IsFragment(c) {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversation, id))
	}
	conv, err := s.Store.GetConversation(ctx, ws, id)
	if err != nil {
		return err
	}
	p, err := s.evalPanel(ctx, conv, csrfToken(c))
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.EvaluationPanel(p))
}

// bulkEvaluateConfirm shows how many conversations match the list's filters and what
// evaluating them again is expected to cost, with the button that starts it.
func (s *Handler) bulkEvaluateConfirm(c echo.Context) error {
	q, f, err := conversation.ParseQuery(c.QueryParams(), time.Now())
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "Bad filter: "+err.Error())
	}
	est, err := s.Reeval.EstimateMatching(c.Request().Context(), current(c).Workspace.ID, f)
	if err != nil {
		return err
	}
	d := pages.BulkEvalConfirm{CSRF: csrfToken(c), QueryString: q.Values().Encode(), Count: est.Conversations, Estimate: est.Label()}
	p, err := s.page(c, "Evaluate again", "conversations")
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return htmx.Render(c, http.StatusOK, pages.BulkEvaluateConfirmPage(p, d))
}

// bulkEvaluate starts a background job that asks for a new evaluation of every conversation
// matching the filters in the URL.
func (s *Handler) bulkEvaluate(c echo.Context) error {
	ctx := c.Request().Context()
	ws := current(c).Workspace.ID
	now := time.Now()
	q, f, err := conversation.ParseQuery(c.QueryParams(), now)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "Bad filter: "+err.Error())
	}
	f.Sort = ""
	total, err := s.Store.CountMatching(ctx, ws, f)
	if err != nil {
		return err
	}
	id := conversation.NewJobID()
	if err := s.Reeval.StartBulk(ctx, ws, id, total); err != nil {
		return err
	}
	task, err := s.Tasks.EvaluateMatching(workers.EvaluateMatchingPayload{WorkspaceID: ws, JobID: id, Query: q.Values().Encode(), AskedAt: now})
	if err != nil {
		return err
	}
	if err := s.Tasks.Enqueue(ctx, task); err != nil {
		return err
	}
	j := pages.BulkJobView{ID: id, State: "queued", Total: total}
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusAccepted, pages.BulkEvaluateStatus(j))
	}
	return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.ConversationsBulkEvaluateStatus, id))
}

func (s *Handler) bulkEvaluateStatus(c echo.Context) error {
	j, err := s.Reeval.Job(c.Request().Context(), current(c).Workspace.ID, c.Param("job"))
	if errors.Is(err, conversation.ErrNoJob) {
		return echo.NewHTTPError(http.StatusNotFound, "No such evaluation job (they are kept for a day).")
	}
	if err != nil {
		return err
	}
	v := pages.BulkJobView{ID: j.ID, State: j.State, Deleted: j.Deleted, Total: j.Total, Error: j.Error}
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusOK, pages.BulkEvaluateStatus(v))
	}
	p, err := s.page(c, "Evaluate again", "conversations")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.BulkEvaluatePage(p, v))
}

// ---- the assistant page's evaluators ----

// evaluatorRows are the form rows of an assistant's evaluators.
func evaluatorRows(es []model.Evaluator) []pages.AssistantEvaluatorRow {
	var out []pages.AssistantEvaluatorRow
	for i, e := range es {
		out = append(out, pages.AssistantEvaluatorRow{
			Key: rowKey(), Name: e.Name, Question: e.Question, Type: e.Type, Options: strings.Join(e.Options, ", "),
			Version: e.Version, Types: model.EvaluatorTypes, Index: i, Errs: map[string]string{},
		})
	}
	return out
}

// parseEvaluatorRows reads the form's evaluator rows (parallel lists); rows left entirely
// empty are dropped.
func parseEvaluatorRows(form map[string][]string) []model.Evaluator {
	at := func(vs []string, i int) string {
		if i < len(vs) {
			return vs[i]
		}
		return ""
	}
	out := []model.Evaluator{}
	for i := range form["ev_key"] {
		e := model.Evaluator{Name: at(form["ev_name"], i), Question: at(form["ev_question"], i), Type: at(form["ev_type"], i),
			Options: assistants.ParseOptions(at(form["ev_options"], i))}
		if strings.TrimSpace(e.Name) == "" && strings.TrimSpace(e.Question) == "" && len(e.Options) == 0 {
			continue
		}
		out = append(out, e)
	}
	return out
}

// assistantEvaluatorRow answers a blank evaluator row ("Add evaluator"); with remove=1 an
// empty body, for the "Remove" buttons that delete their row.
func (s *Handler) assistantEvaluatorRow(c echo.Context) error {
	if c.QueryParam("remove") != "" {
		return c.NoContent(http.StatusOK)
	}
	return htmx.Render(c, http.StatusOK, pages.AssistantEvaluatorRowView(pages.AssistantEvaluatorRow{
		Key: rowKey(), Type: model.EvaluatorBoolean, Types: model.EvaluatorTypes, Index: -1,
	}))
}
