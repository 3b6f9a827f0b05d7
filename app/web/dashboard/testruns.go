package dashboard

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testruns"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// Test set runs (issue 15 item 3): a set's runs with "Run against…" (the draft by default,
// the published version, any version, or the draft and the published version together), a
// run's page, and the comparison of two runs. Starting a run is an admin's (it costs LLM
// calls); reading is an agent's. Pages of a run that is not finished poll themselves.

// TestRunsOf is the "Run against…" form and the runs list of a set, for the set's page.
func (s *Handler) testRunsOf(c echo.Context, set *store.TestSet, msg string) (pages.TestRunsView, error) {
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	v := pages.TestRunsView{SetID: set.ID, SetName: set.Name, CSRF: csrfToken(c), Error: msg,
		CanStart: current(c).Role.AtLeast(model.MemberAdmin)}
	a, err := s.Store.AssistantByID(ctx, ws, set.AssistantID)
	if err != nil {
		return v, err
	}
	v.AssistantName, v.Published, v.Draft = a.Name, a.PublishedVersion, a.DraftVersion
	versions, err := s.Store.AssistantVersions(ctx, ws, a.ID)
	if err != nil {
		return v, err
	}
	for _, ver := range versions {
		v.Versions = append(v.Versions, ver.Number)
	}
	runs, err := s.Store.TestSetRuns(ctx, ws, set.ID, 50)
	if err != nil {
		return v, err
	}
	for i := range runs {
		v.Runs = append(v.Runs, runRow(&runs[i], a.PublishedVersion))
	}
	if b, err := s.Store.LatestFinishedTestSetRun(ctx, ws, set.ID, a.PublishedVersion); err == nil {
		v.BaselineRunID, v.BaselineExists = b.ID, true
	} else if !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	return v, nil
}

func (s *Handler) testSetOf(c echo.Context) (*store.TestSet, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, echo.NewHTTPError(http.StatusNotFound, "No such test set.")
	}
	set, err := s.Store.TestSetByID(c.Request().Context(), current(c).Workspace.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "No such test set.")
	}
	return set, err
}

// testSetRunsPage is a set's runs: "Run against…" and the list.
func (s *Handler) testSetRunsPage(c echo.Context) error {
	set, err := s.testSetOf(c)
	if err != nil {
		return err
	}
	return s.testSetRunsRender(c, http.StatusOK, set, "")
}

func (s *Handler) testSetRunsRender(c echo.Context, status int, set *store.TestSet, msg string) error {
	v, err := s.testRunsOf(c, set, msg)
	if err != nil {
		return err
	}
	if htmx.IsFragment(c) {
		return htmx.Render(c, status, pages.TestRunsPanel(v))
	}
	p, err := s.page(c, "Runs of "+set.Name, "conversations")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.TestRunsPage(p, v))
}

// testSetRunsCreate starts a run: version "draft", a number, or "both" (the draft and the
// published version, then the comparison of the two).
func (s *Handler) testSetRunsCreate(c echo.Context) error {
	set, err := s.testSetOf(c)
	if err != nil {
		return err
	}
	ctx, cur := c.Request().Context(), current(c)
	by := store.Author{ID: &cur.User.ID, Name: cur.User.Name}
	if by.Name == "" {
		by.Name = cur.User.Email
	}
	choice := strings.TrimSpace(c.FormValue("version"))
	// "Draft vs published" is a submit button named version: a browser sends the select's
	// value too (version=draft&version=both), so "both" wins wherever it comes.
	if form, err := c.FormParams(); err == nil && slices.Contains(form["version"], "both") {
		choice = "both"
	}
	refs := []model.VersionRef{}
	if choice == "both" {
		a, err := s.Store.AssistantByID(ctx, cur.Workspace.ID, set.AssistantID)
		if err != nil {
			return err
		}
		refs = append(refs, model.VersionRef{Number: a.PublishedVersion}, model.VersionRef{Draft: true})
	} else {
		ref, err := model.ParseVersionRef(choice)
		if err != nil {
			return s.testSetRunsRender(c, http.StatusUnprocessableEntity, set, "Version: "+err.Error()+".")
		}
		refs = append(refs, ref)
	}
	// Both refs are checked before the first run is written: "both" without a draft writes none.
	for _, ref := range refs {
		if msg := s.versionProblem(c, set, ref); msg != "" {
			return s.testSetRunsRender(c, http.StatusUnprocessableEntity, set, msg)
		}
	}
	var ids []int64
	for _, ref := range refs {
		run, err := s.TestRuns.Start(ctx, cur.Workspace.ID, set.ID, ref, by)
		if msg := startProblem(err); msg != "" {
			return s.testSetRunsRender(c, http.StatusUnprocessableEntity, set, msg)
		}
		if err != nil {
			return err
		}
		ids = append(ids, run.ID)
	}
	to := routenames.URL(routenames.TestSetRun, ids[0])
	if len(ids) == 2 {
		to = routenames.URL(routenames.TestSetRunCompare, ids[1]) + "?baseline=" + strconv.FormatInt(ids[0], 10)
	}
	return htmx.Redirect(c, to)
}

// versionProblem says what is wrong with ref for the set's assistant ("" when it resolves).
func (s *Handler) versionProblem(c echo.Context, set *store.TestSet, ref model.VersionRef) string {
	ctx := c.Request().Context()
	a, err := s.Store.AssistantByID(ctx, current(c).Workspace.ID, set.AssistantID)
	if err != nil {
		return "The assistant is gone."
	}
	_, err = s.Store.ResolveVersion(ctx, a, ref)
	return startProblem(err)
}

func startProblem(err error) string {
	switch {
	case errors.Is(err, store.ErrNoDraft):
		return "The assistant has no draft: edit it first, or run a version."
	case errors.Is(err, store.ErrNotFound), errors.Is(err, testruns.ErrNoSuchVersion):
		return "The assistant has no such version."
	case errors.Is(err, testruns.ErrNoCases):
		return "The test set has no cases yet: add conversations to it first."
	}
	return ""
}

// publishedOf is the published version of an assistant of the workspace (0 when it is gone).
func (s *Handler) publishedOf(c echo.Context, assistantID int64) int {
	a, err := s.Store.AssistantByID(c.Request().Context(), current(c).Workspace.ID, assistantID)
	if err != nil {
		return 0
	}
	return a.PublishedVersion
}

func (s *Handler) testRunID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such test set run.")
	}
	return id, nil
}

// testSetRunPage is one run: progress, totals, the cases turn by turn.
func (s *Handler) testSetRunPage(c echo.Context) error {
	id, err := s.testRunID(c)
	if err != nil {
		return err
	}
	rep, err := s.TestRuns.Load(c.Request().Context(), current(c).Workspace.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such test set run.")
	}
	if err != nil {
		return err
	}
	v := runPageView(rep, s.publishedOf(c, rep.Run.AssistantID))
	if set, err := s.Store.TestSetByID(c.Request().Context(), current(c).Workspace.ID, rep.Run.TestSetID); err == nil {
		v.SetName = set.Name
	}
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusOK, pages.TestRunBody(v))
	}
	p, err := s.page(c, "Test run "+strconv.FormatInt(id, 10), "conversations")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.TestRunPage(p, v))
}

// testSetRunComparePage compares a run with ?baseline= (default: the published version's
// latest finished run on the set): case by case, totals, regressions highlighted.
func (s *Handler) testSetRunComparePage(c echo.Context) error {
	id, err := s.testRunID(c)
	if err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	run, err := s.Store.TestSetRunByID(ctx, ws, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such test set run.")
	}
	if err != nil {
		return err
	}
	var baseID int64
	if b := strings.TrimSpace(c.QueryParam("baseline")); b != "" {
		if baseID, err = strconv.ParseInt(b, 10, 64); err != nil || baseID <= 0 {
			return echo.NewHTTPError(http.StatusNotFound, "No such baseline run.")
		}
	} else if baseID, err = s.TestRuns.DefaultBaseline(ctx, run); err != nil {
		return err
	}
	cmp, err := s.TestRuns.Compare(ctx, ws, baseID, id, model.DefaultRegressionTolerance)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "No such baseline run.")
	case errors.Is(err, testruns.ErrDifferentSets):
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "The baseline is a run of another test set.")
	case err != nil:
		return err
	}
	v := compareView(cmp, s.publishedOf(c, run.AssistantID))
	if set, err := s.Store.TestSetByID(ctx, ws, run.TestSetID); err == nil {
		v.SetName = set.Name
	}
	if htmx.IsFragment(c) {
		return htmx.Render(c, http.StatusOK, pages.TestCompareBody(v))
	}
	p, err := s.page(c, "Comparison", "conversations")
	if err != nil {
		return err
	}
	return htmx.Render(c, http.StatusOK, pages.TestComparePage(p, v))
}
