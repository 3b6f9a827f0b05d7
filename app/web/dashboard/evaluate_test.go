package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/cli"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/workers"
)

// Helpers of this file carry an "evalUI" prefix.

// The evaluators editor: rows are added with htmx, errors show beside their fields with
// nothing saved, a saved set shows its versions, and a change bumps only what changed.
func TestAssistantEvaluatorsEditor(t *testing.T) {
	e := newEnv(t)
	ws, c := asstLogin(e, "eddie@example.com")
	tok := e.CSRF(c, "/assistants/new")
	form := asstForm(tok)
	form.Set("ev_key", "")
	form["ev_key"] = []string{"e1", "e2", "e3"}
	form["ev_name"] = []string{"refund_asked", "topic", ""}
	form["ev_question"] = []string{"Did the customer ask for a refund?", "What was it about?", ""}
	form["ev_type"] = []string{"boolean", "option", "text"}
	form["ev_options"] = []string{"", "billing, shipping", ""}
	id := asstCreate(t, e, c, form)
	a := asstOnly(t, e, ws.ID)
	if len(a.Evaluators) != 2 || a.Evaluators[0].Name != "refund_asked" || a.Evaluators[0].Version != 1 ||
		a.Evaluators[1].Type != model.EvaluatorOption || strings.Join(a.Evaluators[1].Options, "|") != "billing|shipping" {
		t.Fatalf("stored evaluators %+v (the empty row is dropped)", a.Evaluators)
	}
	path := "/assistants/" + strconv.FormatInt(id, 10)
	d := webtest.Doc(t, e.Get(c, path))
	rows := d.Find("#evaluators tr.evaluator-row")
	if rows.Length() != 2 || rows.Eq(1).Find(`input[name="ev_options"]`).AttrOr("value", "") != "billing, shipping" ||
		rows.Eq(1).Find(`select[name="ev_type"] option[selected]`).AttrOr("value", "") != "option" || strings.TrimSpace(rows.Eq(0).Find(".ev-version").Text()) != "v1" {
		t.Fatalf("editor rows: %s", rows.Text())
	}
	// "Add evaluator" answers a blank row; "Remove" an empty body.
	rd := asstRowDoc(t, e.Get(c, "/assistants/evaluator-row", "HX-Request", "true"))
	if rd.Find(`tr.evaluator-row input[name="ev_name"]`).Length() != 1 || rd.Find(`input[name="ev_key"]`).AttrOr("value", "") == "" {
		t.Fatal("no blank evaluator row")
	}
	if res := e.Get(c, "/assistants/evaluator-row?remove=1", "HX-Request", "true"); webtest.Body(t, res) != "" {
		t.Fatal("remove answers a row")
	}

	// Errors beside the fields; nothing saved.
	bad := asstForm(tok)
	bad["ev_key"] = []string{"e1", "e2", "e3"}
	bad["ev_name"] = []string{"refund_asked", "summary", "topic"}
	bad["ev_question"] = []string{"Did the customer ask for a refund?", "A summary", "What was it about?"}
	bad["ev_type"] = []string{"boolean", "text", "option"}
	bad["ev_options"] = []string{"", "", "billing"}
	res := e.PostForm(c, path, bad, "HX-Request", "true")
	d = webtest.Doc(t, res)
	if res.StatusCode != http.StatusOK || d.Find("#form-errors").Length() != 1 {
		t.Fatalf("invalid: %d %s", res.StatusCode, d.Text())
	}
	if msg := asstFieldErr(d, "evaluators[1].name"); !strings.Contains(msg, "built-in") {
		t.Fatalf("built-in name error %q", msg)
	}
	if msg := asstFieldErr(d, "evaluators[2].options"); !strings.Contains(msg, "at least 2") {
		t.Fatalf("options error %q", msg)
	}
	if asstFieldErr(d, "evaluators[0].name") != "" {
		t.Fatal("an error on a valid row")
	}
	if got := asstOnly(t, e, ws.ID); len(got.Evaluators) != 2 || got.Evaluators[1].Name != "topic" {
		t.Fatalf("an invalid form changed the evaluators: %+v", got.Evaluators)
	}

	// A change of topic's options bumps its version only; refund_asked keeps 1.
	ok := asstForm(tok)
	ok["ev_key"] = []string{"e1", "e2"}
	ok["ev_name"] = []string{"refund_asked", "topic"}
	ok["ev_question"] = []string{"Did the customer ask for a refund?", "What was it about?"}
	ok["ev_type"] = []string{"boolean", "option"}
	ok["ev_options"] = []string{"", "billing, shipping, returns"}
	ok.Set("publish", "1") // "Save and publish": the row holds the published evaluators (issue 15)
	res = e.PostForm(c, path, ok, "HX-Request", "true")
	d = webtest.Doc(t, res)
	if d.Find("#saved").Length() != 1 {
		t.Fatalf("not saved: %s", d.Find("#form-errors").Text())
	}
	got := asstOnly(t, e, ws.ID)
	if got.Evaluators[0].Version != 1 || got.Evaluators[1].Version != 2 {
		t.Fatalf("versions %+v", got.Evaluators)
	}
	if v := strings.TrimSpace(d.Find("#evaluators tr.evaluator-row").Eq(1).Find(".ev-version").Text()); v != "v2" {
		t.Fatalf("shown version %q", v)
	}
}

// evalUIConv is an ended widget conversation of the fixture whose automatic run is done.
func evalUIConv(t *testing.T, e *env, f *fixture) *store.Conversation {
	t.Helper()
	ctx := context.Background()
	st := e.App.Store
	conv := f.convs[model.TypeWidget]
	if _, err := st.EndConversation(ctx, f.ws.ID, conv.ID, model.EndVisitor, time.Time{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	run := &store.EvaluationRun{WorkspaceID: f.ws.ID, ConversationID: conv.ID, EndSeq: 1, Run: 0, EvaluatorsVersion: model.EvaluatorsVersion(nil),
		Status: model.EvalDone, Provider: "offline", CreatedAt: now, FinishedAt: &now}
	if _, err := st.DB.NewInsert().Model(run).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct{ name, value string }{{"summary", "The visitor <b>asked</b> about prices."}, {"outcome", "resolved"}, {"csat_estimate", ""}} {
		row := &store.EvaluationValue{WorkspaceID: f.ws.ID, ConversationID: conv.ID, RunID: run.ID, Name: v.name, Builtin: true,
			Reason: "“prices?”", Status: model.EvalDone, EvaluatorVersion: 1, Latest: true}
		if v.value == "" {
			row.Status, row.Error = model.EvalFailed, "not a number from 1 to 5"
		} else {
			row.Value = &v.value
		}
		if _, err := st.DB.NewInsert().Model(row).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.DB.NewUpdate().Model((*store.Conversation)(nil)).Set("summary = ?, outcome = ?, evaluation_status = ?", "The visitor <b>asked</b> about prices.", "resolved", model.EvalDone).
		Where("id = ?", conv.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return conv
}

// The conversation page shows the summary and the latest run's evaluators; "Evaluate again"
// (agent, CSRF) adds a pending run on top and keeps the earlier one in the history; a viewer
// may not.
func TestConversationEvaluationPanelAndEvaluateAgain(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	conv := evalUIConv(t, e, f)
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	page := "/conversations/" + strconv.FormatInt(conv.ID, 10)
	d := webtest.Doc(t, e.Get(c, page))
	if got := d.Find("#evaluation #eval-summary").Text(); got != "The visitor <b>asked</b> about prices." {
		t.Fatalf("summary %q (escaped text)", got)
	}
	latest := d.Find("#eval-latest")
	if latest.AttrOr("data-status", "") != "done" || latest.Find(`[data-offline="true"]`).Length() != 1 ||
		latest.Find(`tr[data-name="outcome"] .eval-value`).Text() != "resolved" ||
		latest.Find(`tr[data-name="csat_estimate"]`).AttrOr("data-status", "") != "failed" ||
		!strings.Contains(latest.Find(`tr[data-name="csat_estimate"]`).Text(), "not a number from 1 to 5") {
		t.Fatalf("latest run: %s", latest.Text())
	}
	if d.Find("#eval-history").Length() != 0 {
		t.Fatal("a history with one run")
	}
	// Any page of the conversation gives the panel; an unevaluated one says so.
	other := webtest.Doc(t, e.Get(c, "/conversations/"+strconv.FormatInt(f.convs[model.TypeTest].ID, 10)))
	if !strings.Contains(other.Find("#eval-summary").Text(), "Not evaluated yet") {
		t.Fatalf("unevaluated: %q", other.Find("#eval-summary").Text())
	}

	tok := e.CSRF(c, page)
	if res := e.PostForm(c, page+"/evaluate", url.Values{}, "HX-Request", "true"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("no CSRF: %d", res.StatusCode)
	}
	res := e.PostForm(c, page+"/evaluate", url.Values{"_csrf": {tok}}, "HX-Request", "true")
	d = webtest.Doc(t, res)
	if res.StatusCode != http.StatusOK || d.Find("#evaluation").Length() != 1 {
		t.Fatalf("evaluate again: %d", res.StatusCode)
	}
	latest = d.Find("#eval-latest")
	if latest.AttrOr("data-status", "") != "pending" || latest.AttrOr("data-run", "") != "1" || latest.Find(`tr[data-status="pending"]`).Length() != 5 {
		t.Fatalf("pending run: %s", latest.Text())
	}
	if d.Find("#eval-history .eval-run").Length() != 1 || d.Find(`#eval-history .eval-run[data-run="0"]`).AttrOr("data-status", "") != "done" {
		t.Fatal("the earlier run is not in the history")
	}
	// Without htmx: back to the page.
	if res := e.PostForm(c, page+"/evaluate", url.Values{"_csrf": {tok}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != page {
		t.Fatalf("plain post: %d %q", res.StatusCode, res.Header.Get("Location"))
	}

	// A viewer may not.
	h, _ := auth.HashPassword("password-456")
	if _, err := e.App.Store.CreateMemberUser(context.Background(), f.ws.ID, "vic@example.com", "", h, model.UserRoleMember, model.MemberViewer); err != nil {
		t.Fatal(err)
	}
	vc := e.Client()
	e.Login(vc, "vic@example.com", "password-456")
	vtok := e.CSRF(vc, page)
	if res := e.PostForm(vc, page+"/evaluate", url.Values{"_csrf": {vtok}}, "HX-Request", "true"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer: %d", res.StatusCode)
	}
	// Another workspace's conversation does not exist.
	e.fixture("bob@example.com")
	bc := e.Client()
	e.Login(bc, "bob@example.com", "correct-horse")
	btok := e.CSRF(bc, "/settings")
	if res := e.PostForm(bc, page+"/evaluate", url.Values{"_csrf": {btok}}, "HX-Request", "true"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("another workspace: %d", res.StatusCode)
	}
	if runs, _ := e.App.Store.EvaluationRuns(context.Background(), f.ws.ID, conv.ID, 10); len(runs) != 2 {
		t.Fatalf("runs %d, want 2 (the pending one is reused)", len(runs))
	}
}

// Bulk "Evaluate again": the confirm step counts and estimates (offline: free), the job runs
// in the background with its progress.
func TestBulkEvaluateEstimateAndProgress(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	e.fixture("bob@example.com")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")

	list := webtest.Doc(t, e.Get(c, "/conversations?type=whatsapp"))
	link := list.Find("#bulk-evaluate-link").AttrOr("href", "")
	if link != "/conversations/bulk-evaluate?type=whatsapp" {
		t.Fatalf("link %q", link)
	}
	d := webtest.Doc(t, e.Get(c, link))
	if got := d.Find("#bulk-evaluate-count").Text(); !strings.HasPrefix(got, "1 conversations") {
		t.Fatalf("count %q", got)
	}
	if got := d.Find("#bulk-evaluate-estimate").Text(); got != "free (offline provider)" {
		t.Fatalf("estimate %q", got)
	}
	action := d.Find("#bulk-evaluate form").AttrOr("hx-post", "")
	tok := e.CSRF(c, "/settings")
	res := e.PostForm(c, action, url.Values{"_csrf": {tok}}, "HX-Request", "true")
	d = webtest.Doc(t, res)
	if res.StatusCode != http.StatusAccepted || d.Find("#bulk-evaluate-progress").AttrOr("data-state", "") != "queued" {
		t.Fatalf("start: %d %s", res.StatusCode, d.Text())
	}
	poll := d.Find("#bulk-evaluate-progress").AttrOr("hx-get", "")
	insp := asynq.NewInspectorFromRedisClient(e.App.Redis)
	pending, err := insp.ListPendingTasks(workers.QueueDefault)
	if err != nil || len(pending) != 1 || pending[0].Type != workers.TypeConversationsEvaluate {
		t.Fatalf("pending: %+v %v", pending, err)
	}
	h := cli.Handlers(e.App)
	if err := h.Reeval.HandleEvaluateMatching(context.Background(), asynq.NewTask(pending[0].Type, pending[0].Payload)); err != nil {
		t.Fatal(err)
	}
	d = webtest.Doc(t, e.Get(c, poll, "HX-Request", "true"))
	if d.Find("#bulk-evaluate-progress").AttrOr("data-state", "") != "done" || !strings.Contains(d.Text(), "Requested 1 evaluations") {
		t.Fatalf("status after: %q", d.Text())
	}
	for typ, conv := range f.convs {
		runs, err := e.App.Store.EvaluationRuns(context.Background(), f.ws.ID, conv.ID, 10)
		want := 0
		if typ == model.TypeWhatsApp {
			want = 1
		}
		if err != nil || len(runs) != want {
			t.Fatalf("%s: %d runs %v", typ, len(runs), err)
		}
	}
	// The full status page loads directly; another workspace cannot read the job.
	if res := e.Get(c, poll); res.StatusCode != http.StatusOK {
		t.Fatalf("status page: %d", res.StatusCode)
	}
	bc := e.Client()
	e.Login(bc, "bob@example.com", "correct-horse")
	if res := e.Get(bc, poll, "HX-Request", "true"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("another workspace's job: %d", res.StatusCode)
	}
}
