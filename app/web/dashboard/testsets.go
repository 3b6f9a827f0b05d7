package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testsets"
	"github.com/parleyhq/parley/app/web/htmx"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/views/pages"
)

// Test sets (issue 15 item 3): the Test sets page, a set's page with its cases, "Add to
// test set" on the conversation page and for every conversation matching the list's
// filter. Each action is one call of app/testsets; a refused value is shown on the page
// (422).

// testSetsEditable reports whether the member may change test sets (the route table's
// access of creating one).
func testSetsEditable(c echo.Context) bool {
	return current(c).Role.AtLeast(routenames.Lookup(routenames.TestSetsCreate).Access.Role())
}

// testSetMessage is the text of a refusal of the test sets service ("" for none); other
// errors are returned.
func testSetMessage(err error) (string, error) {
	var fe *testsets.FieldError
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &fe):
		field := strings.ReplaceAll(strings.TrimSuffix(fe.Field, "_id"), "_", " ")
		return strings.ToUpper(field[:1]) + field[1:] + " " + fe.Message + ".", nil
	case errors.Is(err, testsets.ErrNameTaken):
		return "The assistant has a test set of this name already (names are compared without case).", nil
	case errors.Is(err, testsets.ErrSetFull):
		return "The test set is full: it holds at most " + strconv.Itoa(model.MaxTestCases) + " cases.", nil
	}
	return "", err
}

func testSetRow(s *store.TestSetSummary) pages.TestSetRow {
	r := pages.TestSetRow{ID: s.ID, Name: s.Name, AssistantID: s.AssistantID, AssistantName: s.AssistantName,
		Cases: s.Cases, CreatedBy: s.CreatedBy, CreatedAt: s.CreatedAt}
	if l := s.Latest; l != nil {
		r.RunStatus, r.RunVersion, r.RunPassed, r.RunTotal, r.RunCost = l.Status, l.Version, l.CasesPassed, l.CasesTotal, model.Money(l.CostNanos).Dollars()
	}
	return r
}

func (s *Handler) testSetAssistants(ctx context.Context, ws int64) ([]pages.TestSetAssistant, error) {
	as, err := s.Store.Assistants(ctx, ws)
	if err != nil {
		return nil, err
	}
	out := make([]pages.TestSetAssistant, len(as))
	for i := range as {
		out[i] = pages.TestSetAssistant{ID: as[i].ID, Name: as[i].Name}
	}
	return out, nil
}

// formID is a positive id of a form field (0 when absent or not one).
func formID(c echo.Context, name string) int64 {
	id, err := strconv.ParseInt(strings.TrimSpace(c.FormValue(name)), 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

func (s *Handler) testSetsData(c echo.Context, assistantID int64) (pages.TestSetsData, error) {
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	d := pages.TestSetsData{CSRF: csrfToken(c), AssistantID: assistantID, CanEdit: testSetsEditable(c)}
	sets, err := s.TestSets.Sets(ctx, ws, assistantID)
	if err != nil {
		return d, err
	}
	for i := range sets {
		d.Sets = append(d.Sets, testSetRow(&sets[i]))
	}
	d.Assistants, err = s.testSetAssistants(ctx, ws)
	return d, err
}

func (s *Handler) testSetsRender(c echo.Context, status int, d pages.TestSetsData) error {
	if htmx.IsFragment(c) {
		return htmx.Render(c, status, pages.TestSetsBody(d))
	}
	p, err := s.page(c, "Test sets", "test-sets")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.TestSetsPage(p, d))
}

// testSetsList is the Test sets page: every set (of one assistant with ?assistant=).
func (s *Handler) testSetsList(c echo.Context) error {
	var aid int64
	if v := c.QueryParam("assistant"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "assistant: must be an assistant id")
		}
		aid = id
	}
	d, err := s.testSetsData(c, aid)
	if err != nil {
		return err
	}
	return s.testSetsRender(c, http.StatusOK, d)
}

// testSetCreate makes a set (name, assistant_id): its page, or the list again with the
// refusal.
func (s *Handler) testSetCreate(c echo.Context) error {
	aid := formID(c, "assistant_id")
	ts, err := s.TestSets.Create(c.Request().Context(), current(c).Workspace.ID, aid, c.FormValue("name"))
	msg, err := testSetMessage(err)
	if err != nil {
		return err
	}
	if msg == "" {
		return htmx.Redirect(c, routenames.URL(routenames.TestSet, ts.ID))
	}
	d, err := s.testSetsData(c, 0)
	if err != nil {
		return err
	}
	d.Error, d.Name, d.AssistantID = msg, c.FormValue("name"), aid
	return s.testSetsRender(c, http.StatusUnprocessableEntity, d)
}

func testSetID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such test set.")
	}
	return id, nil
}

// testSetPage renders a set's page with status and the refusal msg.
func (s *Handler) testSetPage(c echo.Context, id int64, status int, msg string) error {
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	ts, cases, err := s.TestSets.Set(ctx, ws, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such test set.")
	}
	if err != nil {
		return err
	}
	a, err := s.Store.AssistantByID(ctx, ws, ts.AssistantID)
	if err != nil {
		return err
	}
	d := pages.TestSetData{CSRF: csrfToken(c), ID: ts.ID, Name: ts.Name, AssistantID: ts.AssistantID, AssistantName: a.Name,
		MaxCases: model.MaxTestCases, CanEdit: testSetsEditable(c), Error: msg}
	for i := range cases {
		tc := &cases[i]
		v := pages.TestCaseView{ID: tc.ID, Title: tc.Title, CreatedBy: tc.CreatedBy, CreatedAt: tc.CreatedAt}
		if tc.ConversationID != nil {
			v.ConvURL = routenames.URL(routenames.Conversation, *tc.ConversationID)
		}
		for _, t := range tc.Turns {
			v.Turns = append(v.Turns, pages.TestCaseTurnView{Customer: t.Customer, Expected: t.Expected})
			if t.Expected != "" {
				v.Expected++
			}
		}
		d.Cases = append(d.Cases, v)
	}
	runs, err := s.testRunsOf(c, ts, "")
	if err != nil {
		return err
	}
	d.Runs = pages.TestRunsPanel(runs)
	p, err := s.page(c, ts.Name, "test-sets")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.TestSetPage(p, d))
}

// testSetShow is a set's page: its cases, with their turns and expected answers.
func (s *Handler) testSetShow(c echo.Context) error {
	id, err := testSetID(c)
	if err != nil {
		return err
	}
	return s.testSetPage(c, id, http.StatusOK, "")
}

// testSetRename renames a set: back to its page, or the page with the refusal.
func (s *Handler) testSetRename(c echo.Context) error {
	id, err := testSetID(c)
	if err != nil {
		return err
	}
	_, err = s.TestSets.Rename(c.Request().Context(), current(c).Workspace.ID, id, c.FormValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such test set.")
	}
	msg, err := testSetMessage(err)
	if err != nil {
		return err
	}
	if msg != "" {
		return s.testSetPage(c, id, http.StatusUnprocessableEntity, msg)
	}
	return htmx.Redirect(c, routenames.URL(routenames.TestSet, id))
}

// testSetDelete deletes a set with its cases and runs: to the list.
func (s *Handler) testSetDelete(c echo.Context) error {
	id, err := testSetID(c)
	if err != nil {
		return err
	}
	err = s.TestSets.Delete(c.Request().Context(), current(c).Workspace.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such test set.")
	}
	if err != nil {
		return err
	}
	return htmx.Redirect(c, routenames.URL(routenames.TestSets))
}

// testSetCaseDelete removes a case: back to the set's page.
func (s *Handler) testSetCaseDelete(c echo.Context) error {
	id, err := testSetID(c)
	if err != nil {
		return err
	}
	caseID, err := strconv.ParseInt(c.Param("case"), 10, 64)
	if err != nil || caseID <= 0 {
		return echo.NewHTTPError(http.StatusNotFound, "No such test case.")
	}
	err = s.TestSets.RemoveCase(c.Request().Context(), current(c).Workspace.ID, id, caseID)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such test case.")
	}
	if err != nil {
		return err
	}
	return htmx.Redirect(c, routenames.URL(routenames.TestSet, id))
}

// testSetPanel is the conversation page's "Add to test set" for a member who may change
// sets, of a conversation that has an assistant (nil otherwise).
func (s *Handler) testSetPanel(c echo.Context, conv *store.Conversation) (*pages.TestSetAddView, error) {
	if conv.AssistantID == nil || !testSetsEditable(c) {
		return nil, nil
	}
	sets, err := s.TestSets.Sets(c.Request().Context(), conv.WorkspaceID, *conv.AssistantID)
	if err != nil {
		return nil, err
	}
	v := &pages.TestSetAddView{ConvID: conv.ID, CSRF: csrfToken(c)}
	for _, ts := range sets {
		v.Sets = append(v.Sets, pages.TestSetOption{ID: ts.ID, Name: ts.Name})
	}
	return v, nil
}

// conversationTestSetAdd adds the conversation to a set (test_set_id), or to a new set of
// its assistant named name: the panel again with the outcome for htmx, else back to the
// conversation (refused: the conversation's page with the panel saying why, 422).
func (s *Handler) conversationTestSetAdd(c echo.Context) error {
	conv, err := s.loadConversation(c)
	if err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), conv.WorkspaceID
	if conv.AssistantID == nil {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "This conversation has no assistant: it cannot be a test case.")
	}
	setID := formID(c, "test_set_id")
	name := c.FormValue("name")
	var ts *store.TestSet
	var msg string
	if setID == 0 || strings.TrimSpace(name) != "" {
		ts, err = s.TestSets.Create(ctx, ws, *conv.AssistantID, name)
	} else {
		ts, err = s.Store.TestSetByID(ctx, ws, setID)
		if errors.Is(err, store.ErrNotFound) {
			err = &testsets.FieldError{Field: "test_set_id", Message: "is not a test set of this workspace"}
		}
	}
	var added bool
	if err == nil {
		_, added, err = s.TestSets.Add(ctx, ws, ts.ID, conv.ID)
	}
	if msg, err = testSetMessage(err); err != nil {
		return err
	}
	v, perr := s.testSetPanel(c, conv)
	if perr != nil {
		return perr
	}
	status := http.StatusOK
	switch {
	case msg != "":
		v.Error, status = msg, http.StatusUnprocessableEntity
	case added:
		v.Message, v.SetURL = "Added to “"+ts.Name+"”.", routenames.URL(routenames.TestSet, ts.ID)
	default:
		v.Message, v.SetURL = "“"+ts.Name+"” has it already: its turns and expected answers were copied again.", routenames.URL(routenames.TestSet, ts.ID)
	}
	if htmx.IsFragment(c) {
		return htmx.Render(c, status, pages.TestSetAddPanel(*v))
	}
	if msg == "" {
		return c.Redirect(http.StatusSeeOther, routenames.URL(routenames.Conversation, conv.ID))
	}
	// Refused, without htmx: the conversation's page, its panel showing why.
	d, err := s.detailData(c, conv, true)
	if err != nil {
		return err
	}
	d.TestSet = v
	p, err := s.page(c, "Add to test set", "conversations")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.ConversationPage(p, d))
}

// selection is the conversations chosen on the list (id=..., the rows' checkboxes): at
// most model.MaxTestCases.
func selection(c echo.Context) ([]int64, error) {
	raw := c.QueryParams()["id"]
	if len(raw) > model.MaxTestCases {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "Choose at most "+strconv.Itoa(model.MaxTestCases)+" conversations.")
	}
	ids := make([]int64, 0, len(raw))
	for _, v := range raw {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return nil, echo.NewHTTPError(http.StatusBadRequest, "id: must be a conversation id")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// bulkTestSetData is the bulk addition's page for the list's filter in the URL, or for the
// conversations selected (id=...) when there are.
func (s *Handler) bulkTestSetData(c echo.Context) (pages.BulkTestSetData, store.Filter, error) {
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	q, f, err := conversation.ParseQueryFor(c.QueryParams(), time.Now(), current(c).User.ID)
	if err != nil {
		return pages.BulkTestSetData{}, f, echo.NewHTTPError(http.StatusBadRequest, "Bad filter: "+err.Error())
	}
	ids, err := selection(c)
	if err != nil {
		return pages.BulkTestSetData{}, f, err
	}
	f.Sort = ""
	qs := q.Values()
	if len(ids) > 0 {
		f = store.Filter{IDs: ids}
		qs = url.Values{"id": c.QueryParams()["id"]}
	}
	d := pages.BulkTestSetData{CSRF: csrfToken(c), QueryString: qs.Encode(), AssistantID: f.AssistantID, Selection: len(ids) > 0}
	if d.Count, err = s.Store.CountMatching(ctx, ws, f); err != nil {
		return d, f, err
	}
	sets, err := s.TestSets.Sets(ctx, ws, f.AssistantID)
	if err != nil {
		return d, f, err
	}
	for i := range sets {
		d.Sets = append(d.Sets, testSetRow(&sets[i]))
	}
	d.Assistants, err = s.testSetAssistants(ctx, ws)
	return d, f, err
}

// bulkTestSetConfirm shows how many conversations match the list's filters and the sets to
// add them to.
func (s *Handler) bulkTestSetConfirm(c echo.Context) error {
	d, _, err := s.bulkTestSetData(c)
	if err != nil {
		return err
	}
	p, err := s.page(c, "Add to a test set", "conversations")
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return htmx.Render(c, http.StatusOK, pages.BulkTestSetPage(p, d))
}

// bulkTestSet adds every conversation matching the list's filters (of the set's assistant)
// to a set (test_set_id), or to a new one (name, assistant_id); at most model.MaxTestCases
// conversations, in batches. The page again with what was done.
func (s *Handler) bulkTestSet(c echo.Context) error {
	d, f, err := s.bulkTestSetData(c)
	if err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), current(c).Workspace.ID
	setID := formID(c, "test_set_id")
	var ts *store.TestSet
	if setID == 0 || strings.TrimSpace(c.FormValue("name")) != "" {
		ts, err = s.TestSets.Create(ctx, ws, formID(c, "assistant_id"), c.FormValue("name"))
	} else if ts, err = s.Store.TestSetByID(ctx, ws, setID); errors.Is(err, store.ErrNotFound) {
		err = &testsets.FieldError{Field: "test_set_id", Message: "is not a test set of this workspace"}
	}
	var r testsets.Result
	if err == nil {
		r, err = s.TestSets.AddMatching(ctx, ws, ts.ID, f, d.QueryString)
	}
	msg, err := testSetMessage(err)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if ts != nil && (msg == "" || r.Added+r.Refreshed > 0) {
		d.Done, d.Added, d.Refreshed, d.Skipped = true, r.Added, r.Refreshed, r.Skipped
		d.SetURL, d.SetName = routenames.URL(routenames.TestSet, ts.ID), ts.Name
	}
	if msg != "" {
		d.Error, status = msg, http.StatusUnprocessableEntity
	}
	p, err := s.page(c, "Add to a test set", "conversations")
	if err != nil {
		return err
	}
	return htmx.Render(c, status, pages.BulkTestSetPage(p, d))
}
