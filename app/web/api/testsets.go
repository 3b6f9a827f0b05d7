package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testsets"
	"github.com/parleyhq/parley/app/web/apierr"
	"github.com/parleyhq/parley/app/web/convjson"
	"github.com/parleyhq/parley/app/web/jsonbody"
)

// Test sets and their cases (issue 15 item 3). A set or case of another workspace is 404;
// a wrong value is 422 naming the field; a name another set of the assistant has is 409;
// a case that would pass the limit of a set is 409 too.

// apiTestSetRun is a run's summary as a set carries its latest.
type apiTestSetRun struct {
	ID          int64   `json:"id"`
	Version     int     `json:"version"`
	Status      string  `json:"status"`
	CasesTotal  int     `json:"cases_total"`
	CasesDone   int     `json:"cases_done"`
	CasesPassed int     `json:"cases_passed"`
	CostUSD     string  `json:"cost_usd"`
	CreatedAt   string  `json:"created_at"`
	FinishedAt  *string `json:"finished_at"`
}

// apiTestSet is a test set as lists show it.
type apiTestSet struct {
	ID          int64          `json:"id"`
	Name        string         `json:"name"`
	AssistantID int64          `json:"assistant_id"`
	CreatedBy   string         `json:"created_by"`
	CreatedAt   string         `json:"created_at"`
	CasesCount  int            `json:"cases_count"`
	LatestRun   *apiTestSetRun `json:"latest_run"`
}

// apiTestSetDetail is a set with its cases.
type apiTestSetDetail struct {
	apiTestSet
	Cases []apiTestCase `json:"cases"`
}

// apiTestCaseTurn is a customer turn and the answer expected there (null when none).
type apiTestCaseTurn struct {
	Customer string  `json:"customer"`
	Expected *string `json:"expected"`
}

// apiTestCase is a case: the conversation it was made of (null once that is deleted), its
// title and turns.
type apiTestCase struct {
	ID             int64             `json:"id"`
	TestSetID      int64             `json:"test_set_id"`
	ConversationID *int64            `json:"conversation_id"`
	Title          string            `json:"title"`
	Turns          []apiTestCaseTurn `json:"turns"`
	CreatedBy      string            `json:"created_by"`
	CreatedAt      string            `json:"created_at"`
}

func toAPITestSet(ts *store.TestSet, count int, latest *store.TestSetRun) apiTestSet {
	out := apiTestSet{ID: ts.ID, Name: ts.Name, AssistantID: ts.AssistantID, CreatedBy: ts.CreatedBy,
		CreatedAt: convjson.Time(ts.CreatedAt), CasesCount: count}
	if r := latest; r != nil {
		out.LatestRun = &apiTestSetRun{ID: r.ID, Version: r.Version, Status: r.Status, CasesTotal: r.CasesTotal,
			CasesDone: r.CasesDone, CasesPassed: r.CasesPassed, CostUSD: model.Money(r.CostNanos).Exact(), CreatedAt: convjson.Time(r.CreatedAt)}
		if r.FinishedAt != nil {
			f := convjson.Time(*r.FinishedAt)
			out.LatestRun.FinishedAt = &f
		}
	}
	return out
}

func toAPITestCase(c *store.TestCase) apiTestCase {
	out := apiTestCase{ID: c.ID, TestSetID: c.TestSetID, ConversationID: c.ConversationID, Title: c.Title,
		Turns: make([]apiTestCaseTurn, len(c.Turns)), CreatedBy: c.CreatedBy, CreatedAt: convjson.Time(c.CreatedAt)}
	for i, t := range c.Turns {
		out.Turns[i].Customer = t.Customer
		if t.Expected != "" {
			e := t.Expected
			out.Turns[i].Expected = &e
		}
	}
	return out
}

func errTestSetNotFound() *apierr.Error {
	return apierr.New(http.StatusNotFound, "not_found", "No such test set.")
}

// testSetErr answers the test sets service's errors.
func testSetErr(c echo.Context, err error) error {
	var fe *testsets.FieldError
	switch {
	case errors.As(err, &fe):
		return apierr.FieldsStatus(c, http.StatusUnprocessableEntity, "invalid_field", assistants.Errors{{Field: fe.Field, Msg: fe.Message}})
	case errors.Is(err, testsets.ErrNameTaken):
		return apierr.FieldsStatus(c, http.StatusConflict, "conflict", assistants.Errors{{Field: "name", Msg: "the assistant has a test set of this name"}})
	case errors.Is(err, testsets.ErrSetFull):
		return apierr.New(http.StatusConflict, "test_set_full", "The test set has %d cases, the most it may hold: remove some first.", model.MaxTestCases)
	case errors.Is(err, store.ErrNotFound):
		return errTestSetNotFound()
	}
	return err
}

// apiPathID reads a positive integer path parameter; anything else names nothing (404).
func apiPathID(c echo.Context, name string, notFound func() *apierr.Error) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound()
	}
	return id, nil
}

// requiredID is the positive integer field name of obj (422 naming it otherwise).
func requiredID(obj map[string]json.RawMessage, name string) (int64, error) {
	raw, ok := obj[name]
	if !ok || jsonbody.IsNull(raw) {
		return 0, &testsets.FieldError{Field: name, Message: "is required"}
	}
	var id int64
	if err := json.Unmarshal(raw, &id); err != nil || id <= 0 {
		return 0, &testsets.FieldError{Field: name, Message: "must be a positive integer id"}
	}
	return id, nil
}

// apiTestSets is GET /api/v1/test-sets[?assistant_id=]: the workspace's sets (of one
// assistant), by assistant then name, each with its cases_count and latest_run: {"data": [...]}.
func (s *Handler) apiTestSets(c echo.Context) error {
	var assistantID int64
	if v := c.QueryParam("assistant_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return apierr.New(http.StatusBadRequest, "invalid_parameter", "assistant_id: must be an assistant id")
		}
		assistantID = id
	}
	sets, err := s.TestSets.Sets(c.Request().Context(), apiPrincipal(c).WorkspaceID, assistantID)
	if err != nil {
		return err
	}
	out := make([]apiTestSet, len(sets))
	for i := range sets {
		out[i] = toAPITestSet(&sets[i].TestSet, sets[i].Cases, sets[i].Latest)
	}
	return c.JSON(http.StatusOK, map[string]any{"data": out})
}

// apiTestSetCreate is POST /api/v1/test-sets {"name", "assistant_id"}: 201 with the set.
func (s *Handler) apiTestSetCreate(c echo.Context) error {
	obj, err := reviewBody(c, "name", "assistant_id")
	if err != nil {
		return err
	}
	name, err := requiredString(obj, "name")
	if err != nil {
		return reviewErr(c, err)
	}
	aid, err := requiredID(obj, "assistant_id")
	if err != nil {
		return testSetErr(c, err)
	}
	ts, err := s.TestSets.Create(c.Request().Context(), apiPrincipal(c).WorkspaceID, aid, name)
	if err != nil {
		return testSetErr(c, err)
	}
	return c.JSON(http.StatusCreated, toAPITestSet(ts, 0, nil))
}

// testSetDetail answers a set with its cases.
func (s *Handler) testSetDetail(c echo.Context, status int, id int64) error {
	ctx := c.Request().Context()
	ws := apiPrincipal(c).WorkspaceID
	ts, cases, err := s.TestSets.Set(ctx, ws, id)
	if err != nil {
		return testSetErr(c, err)
	}
	sums, err := s.TestSets.Sets(ctx, ws, ts.AssistantID)
	if err != nil {
		return err
	}
	var latest *store.TestSetRun
	for i := range sums {
		if sums[i].ID == ts.ID {
			latest = sums[i].Latest
		}
	}
	out := apiTestSetDetail{apiTestSet: toAPITestSet(ts, len(cases), latest), Cases: make([]apiTestCase, len(cases))}
	for i := range cases {
		out.Cases[i] = toAPITestCase(&cases[i])
	}
	return c.JSON(status, out)
}

// apiTestSet is GET /api/v1/test-sets/{id}: the set with its cases, oldest first.
func (s *Handler) apiTestSet(c echo.Context) error {
	id, err := apiPathID(c, "id", errTestSetNotFound)
	if err != nil {
		return err
	}
	return s.testSetDetail(c, http.StatusOK, id)
}

// apiTestSetUpdate is PATCH /api/v1/test-sets/{id} {"name"}: renamed, 200 with the set.
func (s *Handler) apiTestSetUpdate(c echo.Context) error {
	id, err := apiPathID(c, "id", errTestSetNotFound)
	if err != nil {
		return err
	}
	obj, err := reviewBody(c, "name")
	if err != nil {
		return err
	}
	name, err := requiredString(obj, "name")
	if err != nil {
		return reviewErr(c, err)
	}
	if _, err := s.TestSets.Rename(c.Request().Context(), apiPrincipal(c).WorkspaceID, id, name); err != nil {
		return testSetErr(c, err)
	}
	return s.testSetDetail(c, http.StatusOK, id)
}

// apiTestSetDelete is DELETE /api/v1/test-sets/{id}: the set, its cases and runs; 204.
func (s *Handler) apiTestSetDelete(c echo.Context) error {
	id, err := apiPathID(c, "id", errTestSetNotFound)
	if err != nil {
		return err
	}
	if err := s.TestSets.Delete(c.Request().Context(), apiPrincipal(c).WorkspaceID, id); err != nil {
		return testSetErr(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

// apiTestSetCaseCreate is POST /api/v1/test-sets/{id}/cases {"conversation_id"}: a case of
// the conversation's customer turns (a reviewer's correction of an answer is that turn's
// expected answer). 201 with the case; 200 with it when the set had a case of that
// conversation already (refreshed: its turns and expected answers copied again).
func (s *Handler) apiTestSetCaseCreate(c echo.Context) error {
	id, err := apiPathID(c, "id", errTestSetNotFound)
	if err != nil {
		return err
	}
	obj, err := reviewBody(c, "conversation_id")
	if err != nil {
		return err
	}
	conv, err := requiredID(obj, "conversation_id")
	if err != nil {
		return testSetErr(c, err)
	}
	tc, added, err := s.TestSets.Add(c.Request().Context(), apiPrincipal(c).WorkspaceID, id, conv)
	if err != nil {
		return testSetErr(c, err)
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	return c.JSON(status, toAPITestCase(tc))
}

// apiTestSetCaseDelete is DELETE /api/v1/test-sets/{id}/cases/{case}: 204.
func (s *Handler) apiTestSetCaseDelete(c echo.Context) error {
	id, err := apiPathID(c, "id", errTestSetNotFound)
	if err != nil {
		return err
	}
	noCase := func() *apierr.Error { return apierr.New(http.StatusNotFound, "not_found", "No such test case.") }
	caseID, err := apiPathID(c, "case", noCase)
	if err != nil {
		return err
	}
	err = s.TestSets.RemoveCase(c.Request().Context(), apiPrincipal(c).WorkspaceID, id, caseID)
	if errors.Is(err, store.ErrNotFound) {
		return noCase()
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
