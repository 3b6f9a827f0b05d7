package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testruns"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/app/web/webtest"
)

// The runs of a set on the dashboard: "Run against…" (the draft by default, with "Draft vs
// published"), starting both runs, the comparison page and a run's page; an agent reads them
// without the form and may not start a run; a version that does not resolve is refused on the
// page (422) and starts nothing.
func TestDashboardTestRuns(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws := e.User("ada@shop.test", "correct-horse")
	st := e.App.Store
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "Support", SystemPrompt: "v1"}
	if err := st.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := a.Behaviour()
	b.SystemPrompt = "v2 <b>draft</b>"
	if _, _, err := st.SaveAssistantVersion(ctx, ws.ID, a.ID, b, store.Author{Name: "t"}, false); err != nil {
		t.Fatal(err)
	}
	set := &store.TestSet{WorkspaceID: ws.ID, AssistantID: a.ID, Name: "Refunds <i>", NameKey: "refunds <i>", CreatedAt: time.Now().UTC()}
	if _, err := st.DB.NewInsert().Model(set).Returning("id").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	tc := &store.TestCase{WorkspaceID: ws.ID, TestSetID: set.ID, CreatedAt: time.Now().UTC(),
		Turns: store.TestCaseTurns{{Customer: "<script>alert(1)</script> refund?", Expected: "Refunds take 5 days."}}}
	if _, err := st.DB.NewInsert().Model(tc).Returning("id").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	admin := e.Client()
	e.Login(admin, "ada@shop.test", "correct-horse")
	runsURL := routenames.URL(routenames.TestSetRuns, set.ID)

	doc := webtest.Doc(t, e.Get(admin, runsURL))
	form := doc.Find("#test-run-form")
	if form.Length() != 1 || form.Find(`input[name="_csrf"]`).AttrOr("value", "") == "" {
		t.Fatal("no run form with a CSRF token")
	}
	if sel := form.Find(`select[name="version"] option[selected]`); sel.AttrOr("value", "") != "draft" {
		t.Fatalf("the draft is not the default: %q", sel.AttrOr("value", ""))
	}
	if form.Find(`option[value="1"]`).Length() != 1 || form.Find("#test-run-both").Length() != 1 {
		t.Fatal("no published version or no Draft vs published")
	}
	if !strings.Contains(doc.Find("h1").Text(), "Refunds <i>") || doc.Find("h1 i").Length() != 0 {
		t.Fatal("the set's name is not escaped")
	}
	csrf := form.Find(`input[name="_csrf"]`).AttrOr("value", "")

	// A version that does not resolve: 422 on the page, nothing started.
	res := e.PostForm(admin, runsURL, url.Values{"_csrf": {csrf}, "version": {"9"}})
	if d := webtest.Doc(t, res); res.StatusCode != http.StatusUnprocessableEntity || d.Find("#test-runs-error").Length() != 1 {
		t.Fatalf("v9: %d", res.StatusCode)
	}
	// Draft vs published: two runs, then the comparison. The button is a second "version"
	// field: a browser sends the select's value first (version=draft&version=both).
	res = e.PostForm(admin, runsURL, url.Values{"_csrf": {csrf}, "version": {"draft", "both"}})
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "/compare?baseline=") {
		t.Fatalf("both: %d %q", res.StatusCode, loc)
	}
	runs, err := st.TestSetRuns(ctx, ws.ID, set.ID, 0)
	if err != nil || len(runs) != 2 || runs[0].Version != 2 || runs[1].Version != 1 {
		t.Fatalf("runs %+v %v", runs, err)
	}
	// While they run, the page polls itself.
	doc = webtest.Doc(t, e.Get(admin, loc))
	if doc.Find("#test-compare-body[hx-trigger]").Length() != 1 || doc.Find("#test-compare-running").Length() != 1 {
		t.Fatal("a comparison of unfinished runs does not poll")
	}
	for _, r := range runs {
		if err := e.App.TestRuns.Execute(ctx, testruns.Exec{WorkspaceID: ws.ID, RunID: r.ID}); err != nil {
			t.Fatal(err)
		}
	}
	doc = webtest.Doc(t, e.Get(admin, loc))
	body := doc.Find("#test-compare-body")
	if body.Length() != 1 || body.AttrOr("hx-trigger", "") != "" || doc.Find("#test-compare-verdict").Length() != 1 {
		t.Fatal("the finished comparison: no verdict, or still polling")
	}
	if doc.Find("#test-compare-pass-rate").Length() != 1 || doc.Find(".test-compare-case").Length() != 1 {
		t.Fatal("no totals or cases")
	}
	if doc.Find(".side.baseline .customer").Length() != 1 || doc.Find(".side.now .replayed").Length() != 1 {
		t.Fatal("the case is not side by side")
	}
	if doc.Find("script").FilterFunction(func(_ int, s *goquery.Selection) bool { return strings.Contains(s.Text(), "alert(1)") }).Length() != 0 {
		t.Fatal("a customer's text became markup")
	}
	if !strings.Contains(doc.Find(".side.now .customer").Text(), "<script>alert(1)</script>") {
		t.Fatal("the customer's text is not shown as text")
	}
	// A run's page, and the list.
	doc = webtest.Doc(t, e.Get(admin, routenames.URL(routenames.TestSetRun, runs[0].ID)))
	if doc.Find("#test-run-body").AttrOr("data-status", "") != model.JobDone || doc.Find(".test-case .judgement").Length() != 1 {
		t.Fatal("the run's page lacks its status or the judgement")
	}
	doc = webtest.Doc(t, e.Get(admin, runsURL))
	if doc.Find("#test-runs-list tbody tr").Length() != 2 || doc.Find(".compare-link").Length() != 1 {
		t.Fatalf("the list: %d rows, %d compare links", doc.Find("#test-runs-list tbody tr").Length(), doc.Find(".compare-link").Length())
	}

	// An agent reads, without the form, and may not start a run.
	h, _ := auth.HashPassword("correct-horse")
	if _, err := st.CreateMemberUser(ctx, ws.ID, "bo@shop.test", "Bo", h, model.UserRoleMember, model.MemberAgent); err != nil {
		t.Fatal(err)
	}
	agent := e.Client()
	e.Login(agent, "bo@shop.test", "correct-horse")
	res = e.Get(agent, runsURL)
	if doc := webtest.Doc(t, res); res.StatusCode != http.StatusOK || doc.Find("#test-run-form").Length() != 0 || doc.Find("#test-runs-list").Length() != 1 {
		t.Fatalf("agent's view: %d", res.StatusCode)
	}
	tok := e.CSRF(agent, runsURL)
	if res := e.PostForm(agent, runsURL, url.Values{"_csrf": {tok}, "version": {"1"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("an agent started a run: %d", res.StatusCode)
	}
	if runs, _ := st.TestSetRuns(ctx, ws.ID, set.ID, 0); len(runs) != 2 {
		t.Fatalf("%d runs after refusals, want 2", len(runs))
	}
}
