package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testruns"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/jsonbody"
)

// Test set runs (issue 15 item 3): start a run of a set against a version, read it, compare
// it with a baseline run. The JSON shapes are in apiRun*, spelled once here.

func apiID(c echo.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apierr.New(http.StatusNotFound, "not_found", "No such %s.", what)
	}
	return id, nil
}

func apiUnprocessable(c echo.Context, field, msg string) error {
	return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_field", assistants.Errors{{Field: field, Msg: msg}})
}

// apiTestSetRunCreate starts a run of a set of the key's workspace against a version
// (`{"version": n|"draft"}`, the draft by default): 202 with the run (its "id" first).
func (s *Handler) apiTestSetRunCreate(c echo.Context) error {
	setID, err := apiID(c, "test set")
	if err != nil {
		return err
	}
	obj, err := jsonbody.Object(c, false)
	if err != nil {
		return err
	}
	if err := jsonbody.Only(obj, "version"); err != nil {
		return err
	}
	ref, err := apiVersionField(obj)
	if err != nil {
		return apiUnprocessable(c, "version", err.Error())
	}
	ws := apiPrincipal(c).WorkspaceID
	run, err := s.TestRuns.Start(c.Request().Context(), ws, setID, ref, apiAuthor(c))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.New(http.StatusNotFound, "not_found", "No such test set.")
	case errors.Is(err, store.ErrNoDraft):
		return apiUnprocessable(c, "version", "the assistant has no draft")
	case errors.Is(err, testruns.ErrNoSuchVersion):
		return apiUnprocessable(c, "version", "the assistant has no version "+ref.String())
	case errors.Is(err, testruns.ErrNoCases):
		return apiUnprocessable(c, "test_set", "the test set has no cases")
	case err != nil:
		return err
	}
	rep, err := s.TestRuns.Load(c.Request().Context(), ws, run.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, testruns.Doc(rep, true))
}

// apiAuthor is who the API acts as: its key.
func apiAuthor(c echo.Context) store.Author {
	if p := apiPrincipal(c); p != nil && p.Key != nil {
		return store.Author{Name: "API key " + p.Key.Name}
	}
	return store.Author{Name: "API"}
}

// apiTestSetRun answers a run with its totals and its cases, turn by turn.
func (s *Handler) apiTestSetRun(c echo.Context) error {
	id, err := apiID(c, "test set run")
	if err != nil {
		return err
	}
	rep, err := s.TestRuns.Load(c.Request().Context(), apiPrincipal(c).WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.New(http.StatusNotFound, "not_found", "No such test set run.")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, testruns.Doc(rep, true))
}

// apiTestSetRunCompare compares a run with ?baseline=RUNID (a run of the same set; default:
// the latest finished run of the published version on the set, or the run itself when there
// is none) and ?tolerance= (default model.DefaultRegressionTolerance): case by case, totals,
// regressions, "worse".
func (s *Handler) apiTestSetRunCompare(c echo.Context) error {
	id, err := apiID(c, "test set run")
	if err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), apiPrincipal(c).WorkspaceID
	run, err := s.Store.TestSetRunByID(ctx, ws, id)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.New(http.StatusNotFound, "not_found", "No such test set run.")
	}
	if err != nil {
		return err
	}
	tol := model.DefaultRegressionTolerance
	if t := strings.TrimSpace(c.QueryParam("tolerance")); t != "" {
		if tol, err = strconv.ParseFloat(t, 64); err != nil || tol < 0 || tol > 5 {
			return apiUnprocessable(c, "tolerance", "must be a number from 0 to 5")
		}
	}
	var baseID int64
	if b := strings.TrimSpace(c.QueryParam("baseline")); b != "" {
		if baseID, err = strconv.ParseInt(b, 10, 64); err != nil || baseID <= 0 {
			return apiUnprocessable(c, "baseline", "must be the id of a run of the same test set")
		}
	} else if baseID, err = s.TestRuns.DefaultBaseline(ctx, run); err != nil {
		return err
	}
	cmp, err := s.TestRuns.Compare(ctx, ws, baseID, id, tol)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.New(http.StatusNotFound, "not_found", "No such test set run.")
	case errors.Is(err, testruns.ErrDifferentSets):
		return apiUnprocessable(c, "baseline", "must be a run of the same test set")
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, testruns.CompareDoc(cmp))
}
