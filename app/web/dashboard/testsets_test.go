package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/review"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// Helpers of this file carry a "tst" prefix.

type tstFixture struct {
	e             *env
	ws            *store.Workspace
	a, b          *store.Assistant
	admin, viewer *http.Client
	csrf          string
	n             int
}

func tstSetup(t *testing.T) *tstFixture {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	st := e.App.Store
	f := &tstFixture{e: e, ws: e.User("ana@shop.test", "correct-horse")}
	h, _ := auth.HashPassword("correct-horse")
	if _, err := st.CreateMemberUser(ctx, f.ws.ID, "vic@shop.test", "", h, model.UserRoleMember, model.MemberViewer); err != nil {
		t.Fatal(err)
	}
	for _, a := range []**store.Assistant{&f.a, &f.b} {
		*a = &store.Assistant{WorkspaceID: f.ws.ID, Name: "Support", Model: "gpt-4o-mini"}
		if *a == f.b {
			f.b.Name = "Sales"
		}
		if err := st.CreateAssistant(ctx, *a); err != nil {
			t.Fatal(err)
		}
	}
	f.admin, f.viewer = e.Client(), e.Client()
	e.Login(f.admin, "ana@shop.test", "correct-horse")
	e.Login(f.viewer, "vic@shop.test", "correct-horse")
	f.csrf = e.CSRF(f.admin, "/test-sets")
	return f
}

// conv makes a conversation of a with messages "role", "text", ...
func (f *tstFixture) conv(t *testing.T, a *store.Assistant, customer string, pairs ...string) (*store.Conversation, []int64) {
	t.Helper()
	ctx := context.Background()
	aid := a.ID
	f.n++
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second).Add(time.Duration(f.n) * time.Second)
	c := &store.Conversation{WorkspaceID: f.ws.ID, AssistantID: &aid, Type: model.TypeWidget, Customer: customer, StartedAt: at, LastMessageAt: at}
	if err := f.e.App.Conversations.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := 0; i+1 < len(pairs); i += 2 {
		m := &store.Message{WorkspaceID: f.ws.ID, ConversationID: c.ID, Role: pairs[i], Content: pairs[i+1], CreatedAt: at.Add(time.Duration(i) * time.Millisecond)}
		if _, err := f.e.App.Conversations.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	return c, ids
}

func (f *tstFixture) post(t *testing.T, path string, form url.Values, htmx bool) *http.Response {
	t.Helper()
	form.Set("_csrf", f.csrf)
	var hdr []string
	if htmx {
		hdr = []string{"HX-Request", "true"}
	}
	return f.e.PostForm(f.admin, path, form, hdr...)
}

func tstStatus(t *testing.T, what string, res *http.Response, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s: %d, want %d: %.500s", what, res.StatusCode, want, webtest.Body(t, res))
	}
}

// The Test sets page lists the sets per assistant and creates one (a refused name is shown,
// 422); a set's page lists its cases with their turns, expected answers marked, and removes
// one; the conversation page adds its conversation to a set of its assistant or a new one;
// a viewer gets neither. Everything shown is escaped.
func TestDashboardTestSets(t *testing.T) {
	f := tstSetup(t)
	ctx := context.Background()
	st := f.e.App.Store

	// The nav entry, and the empty page.
	d := webtest.Doc(t, f.e.Get(f.admin, "/test-sets"))
	if d.Find(`nav.side a[href="/test-sets"]`).Length() != 1 || d.Find("#no-testsets").Length() != 1 || d.Find("#testset-create").Length() != 1 {
		t.Fatal("the empty Test sets page: no nav entry, empty state or form")
	}

	// Create; a name taken is refused on the page.
	res := f.post(t, "/test-sets", url.Values{"name": {"Refunds <b>"}, "assistant_id": {webtest.Itoa(f.a.ID)}}, false)
	tstStatus(t, "create", res, http.StatusSeeOther)
	setPath := res.Header.Get("Location")
	sets, _ := f.e.App.TestSets.Sets(ctx, f.ws.ID, f.a.ID)
	if len(sets) != 1 || setPath != "/test-sets/"+webtest.Itoa(sets[0].ID) {
		t.Fatalf("created: %v to %q", sets, setPath)
	}
	setID := sets[0].ID
	res = f.post(t, "/test-sets", url.Values{"name": {"REFUNDS <B>"}, "assistant_id": {webtest.Itoa(f.a.ID)}}, true)
	tstStatus(t, "the same name", res, http.StatusUnprocessableEntity)
	if d := webtest.Doc(t, res); !strings.Contains(d.Find("#testsets-error").Text(), "name already") || d.Find(`#testset-name`).AttrOr("value", "") != "REFUNDS <B>" {
		t.Fatal("the refusal is not shown with the name typed")
	}
	res = f.post(t, "/test-sets", url.Values{"name": {""}, "assistant_id": {webtest.Itoa(f.a.ID)}}, true)
	tstStatus(t, "no name", res, http.StatusUnprocessableEntity)

	// The conversation page: "Add to test set" lists the sets of the conversation's
	// assistant; adding copies the turns, the correction is the expected answer.
	conv, ids := f.conv(t, f.a, "visitor-1", "user", "Can I <i>return</i> it?", "assistant", "No.", "user", "Why?", "assistant", "Policy.")
	if _, err := (&review.Service{Store: st}).Correct(ctx, f.ws.ID, conv.ID, ids[1], "Yes, within 30 days."); err != nil {
		t.Fatal(err)
	}
	convPath := "/conversations/" + webtest.Itoa(conv.ID)
	d = webtest.Doc(t, f.e.Get(f.admin, convPath))
	opts := d.Find(`#testset-add select[name="test_set_id"] option`)
	if opts.Length() != 2 || opts.First().AttrOr("value", "") != webtest.Itoa(setID) || opts.First().Text() != "Refunds <b>" {
		t.Fatalf("the panel's sets: %d options", opts.Length())
	}
	if d.Find(`#testset-add-form input[name="_csrf"]`).Length() != 1 {
		t.Fatal("the panel's form has no CSRF token")
	}
	res = f.post(t, convPath+"/test-set", url.Values{"test_set_id": {webtest.Itoa(setID)}}, true)
	tstStatus(t, "add", res, http.StatusOK)
	if d := webtest.Doc(t, res); !strings.HasPrefix(d.Find("#testset-add-done").Text(), "Added to") || d.Find(`#testset-add-done a`).AttrOr("href", "") != setPath {
		t.Fatal("the panel does not say it was added")
	}
	res = f.post(t, convPath+"/test-set", url.Values{"test_set_id": {webtest.Itoa(setID)}}, true)
	tstStatus(t, "add again", res, http.StatusOK)
	if d := webtest.Doc(t, res); !strings.Contains(d.Find("#testset-add-done").Text(), "has it already") {
		t.Fatal("adding again does not say the set had it")
	}
	// Without htmx: back to the conversation.
	res = f.post(t, convPath+"/test-set", url.Values{"test_set_id": {webtest.Itoa(setID)}}, false)
	tstStatus(t, "add, plain", res, http.StatusSeeOther)
	if res.Header.Get("Location") != convPath {
		t.Fatalf("plain add to %q", res.Header.Get("Location"))
	}
	// A new set named in the panel.
	res = f.post(t, convPath+"/test-set", url.Values{"test_set_id": {""}, "name": {"Returns"}}, true)
	tstStatus(t, "add to a new set", res, http.StatusOK)
	if sets, _ := f.e.App.TestSets.Sets(ctx, f.ws.ID, f.a.ID); len(sets) != 2 || sets[1].Name != "Returns" || sets[1].Cases != 1 {
		t.Fatalf("the new set: %+v", sets)
	}
	// Another assistant's set is refused, in the panel.
	salesSet, err := f.e.App.TestSets.Create(ctx, f.ws.ID, f.b.ID, "Sales set")
	if err != nil {
		t.Fatal(err)
	}
	res = f.post(t, convPath+"/test-set", url.Values{"test_set_id": {webtest.Itoa(salesSet.ID)}}, true)
	tstStatus(t, "another assistant's set", res, http.StatusUnprocessableEntity)
	if d := webtest.Doc(t, res); !strings.Contains(d.Find("#testset-add-error").Text(), "test set's assistant") {
		t.Fatal("the refusal is not shown")
	}
	// Without htmx, the refusal is the whole page.
	res = f.post(t, convPath+"/test-set", url.Values{"test_set_id": {webtest.Itoa(salesSet.ID)}}, false)
	tstStatus(t, "another assistant's set, plain", res, http.StatusUnprocessableEntity)
	if d := webtest.Doc(t, res); d.Find("#timeline").Length() != 1 || !strings.Contains(d.Find("#testset-add-error").Text(), "test set's assistant") {
		t.Fatal("the plain refusal is not the conversation's page with the error")
	}

	// The set's page: the case, its turns, the expected answer marked; escaped.
	res = f.e.Get(f.admin, setPath)
	tstStatus(t, "set page", res, http.StatusOK)
	d = webtest.Doc(t, res)
	if d.Find("#testset-title").Text() != "Refunds <b>" || d.Find("#testset-title b").Length() != 0 {
		t.Fatal("the set's name is not shown escaped")
	}
	cases := d.Find("li.testcase")
	if cases.Length() != 1 {
		t.Fatalf("%d cases shown", cases.Length())
	}
	turns := cases.Find("li.turn")
	if turns.Length() != 2 || !strings.Contains(turns.Eq(0).Find(".customer").Text(), "Can I <i>return</i> it?") || turns.Eq(0).Find("i").Length() != 0 {
		t.Fatalf("turns: %d", turns.Length())
	}
	if e := turns.Eq(0).Find(".expected"); e.Length() != 1 || !strings.Contains(e.Text(), "Yes, within 30 days.") || e.Find(".badge").Text() != "Expected" {
		t.Fatal("the expected answer is not marked")
	}
	if turns.Eq(1).Find(".expected").Length() != 0 {
		t.Fatal("a turn without a correction shows an expected answer")
	}
	if cases.Find(`a[href="`+convPath+`"]`).Length() != 1 {
		t.Fatal("no link to the conversation")
	}
	if d.Find("#testset-runs").Length() != 1 {
		t.Fatal("no place for the runs")
	}
	caseID := strings.TrimPrefix(cases.AttrOr("id", ""), "case-")
	if d.Find(`form[action="`+setPath+`/cases/`+caseID+`/delete"] input[name="_csrf"]`).Length() != 1 {
		t.Fatal("no remove form with its CSRF token")
	}

	// The list shows the set with its count.
	d = webtest.Doc(t, f.e.Get(f.admin, "/test-sets?assistant="+webtest.Itoa(f.a.ID)))
	row := d.Find("#testset-" + webtest.Itoa(setID))
	if row.Length() != 1 || row.Find("td.num").Text() != "1" || !strings.Contains(row.Text(), "never run") || d.Find("#testset-"+webtest.Itoa(salesSet.ID)).Length() != 0 {
		t.Fatalf("the list of a: %q", row.Text())
	}

	// A viewer may not see the sets (they are the agents' tool) nor add to them.
	tstStatus(t, "a viewer's Test sets page", f.e.Get(f.viewer, "/test-sets"), http.StatusForbidden)
	if d := webtest.Doc(t, f.e.Get(f.viewer, convPath)); d.Find("#testset-add").Length() != 0 {
		t.Fatal("a viewer sees Add to test set")
	}

	// Rename, refused and done.
	res = f.post(t, setPath+"/rename", url.Values{"name": {"returns"}}, false)
	tstStatus(t, "rename onto another's name", res, http.StatusUnprocessableEntity)
	res = f.post(t, setPath+"/rename", url.Values{"name": {"Refund questions"}}, false)
	tstStatus(t, "rename", res, http.StatusSeeOther)

	// Remove the case, then delete the set.
	res = f.post(t, setPath+"/cases/"+caseID+"/delete", url.Values{}, false)
	tstStatus(t, "remove", res, http.StatusSeeOther)
	if d := webtest.Doc(t, f.e.Get(f.admin, setPath)); d.Find("#no-cases").Length() != 1 {
		t.Fatal("the case is still shown")
	}
	res = f.post(t, setPath+"/cases/"+caseID+"/delete", url.Values{}, false)
	tstStatus(t, "remove again", res, http.StatusNotFound)
	res = f.post(t, setPath+"/delete", url.Values{}, false)
	tstStatus(t, "delete", res, http.StatusSeeOther)
	res = f.e.Get(f.admin, setPath)
	tstStatus(t, "deleted set", res, http.StatusNotFound)
}

// "Add all matching to a test set": the list's bulk card links to it with the filter; its
// page counts the matching conversations and adds exactly those of the set's assistant.
func TestDashboardBulkTestSet(t *testing.T) {
	f := tstSetup(t)
	ctx := context.Background()
	set, err := f.e.App.TestSets.Create(ctx, f.ws.ID, f.a.ID, "Bulk")
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, name := range []string{"match-1", "match-2", "match-3"} {
		c, _ := f.conv(t, f.a, name, "user", "question", "assistant", "answer")
		want = append(want, c.ID)
	}
	f.conv(t, f.a, "other", "user", "question")       // not matching
	f.conv(t, f.b, "match-sales", "user", "question") // another assistant
	f.conv(t, f.a, "match-silent", "assistant", "hi") // no customer turn

	d := webtest.Doc(t, f.e.Get(f.admin, "/conversations?customer=match"))
	link := d.Find("#bulk-testset-link").AttrOr("href", "")
	if link != "/conversations/bulk-test-set?customer=match" {
		t.Fatalf("the bulk link: %q", link)
	}
	d = webtest.Doc(t, f.e.Get(f.admin, link))
	if !strings.HasPrefix(d.Find("#bulk-testset-count").Text(), "5 conversations match") {
		t.Fatalf("count: %q", d.Find("#bulk-testset-count").Text())
	}
	if d.Find(`#bulk-testset-form input[name="_csrf"]`).Length() != 1 || d.Find(`#bulk-testset-set option[value="`+webtest.Itoa(set.ID)+`"]`).Length() != 1 {
		t.Fatal("the form has no CSRF token or no set to choose")
	}
	res := f.post(t, link, url.Values{"test_set_id": {webtest.Itoa(set.ID)}}, false)
	tstStatus(t, "bulk add", res, http.StatusOK)
	d = webtest.Doc(t, res)
	if txt := strings.Join(strings.Fields(d.Find("#bulk-testset-done").Text()), " "); !strings.HasPrefix(txt, "3 added, 0 refreshed (in the set already), 1 left out") {
		t.Fatalf("done: %q", txt)
	}
	cases, err := f.e.App.Store.TestCases(ctx, f.ws.ID, set.ID)
	if err != nil || len(cases) != 3 {
		t.Fatalf("cases: %v %v", cases, err)
	}
	got := map[int64]bool{}
	for _, c := range cases {
		got[*c.ConversationID] = true
	}
	for _, id := range want {
		if !got[id] {
			t.Fatalf("conversation %d is not a case", id)
		}
	}
	// Again: refreshed, not added twice.
	res = f.post(t, link, url.Values{"test_set_id": {webtest.Itoa(set.ID)}}, false)
	tstStatus(t, "bulk add again", res, http.StatusOK)
	if txt := strings.Join(strings.Fields(webtest.Doc(t, res).Find("#bulk-testset-done").Text()), " "); !strings.HasPrefix(txt, "0 added, 3 refreshed") {
		t.Fatalf("again: %q", txt)
	}
	// A new set, named on the page, of the assistant chosen.
	res = f.post(t, link, url.Values{"test_set_id": {""}, "name": {"Fresh"}, "assistant_id": {webtest.Itoa(f.b.ID)}}, false)
	tstStatus(t, "bulk add to a new set", res, http.StatusOK)
	if sets, _ := f.e.App.TestSets.Sets(ctx, f.ws.ID, f.b.ID); len(sets) != 1 || sets[0].Name != "Fresh" || sets[0].Cases != 1 {
		t.Fatalf("the new set of b: %+v", sets)
	}
	// A selection: the rows' checkboxes belong to the selection's form, which asks for the
	// page with their ids; only the set's assistant's conversations are added.
	picked, _ := f.conv(t, f.a, "picked", "user", "pick me")
	sales, _ := f.conv(t, f.b, "picked-sales", "user", "pick me")
	d = webtest.Doc(t, f.e.Get(f.admin, "/conversations"))
	if d.Find(`form#conv-select[method="get"][action="/conversations/bulk-test-set"]`).Length() != 1 ||
		d.Find(`#conv-`+webtest.Itoa(picked.ID)+` input[type="checkbox"][name="id"][form="conv-select"]`).AttrOr("value", "") != webtest.Itoa(picked.ID) {
		t.Fatal("no selection form or checkbox")
	}
	sel := "/conversations/bulk-test-set?id=" + webtest.Itoa(picked.ID) + "&id=" + webtest.Itoa(sales.ID)
	d = webtest.Doc(t, f.e.Get(f.admin, sel))
	if txt := strings.Join(strings.Fields(d.Find("#bulk-testset-count").Text()), " "); !strings.HasPrefix(txt, "2 conversations selected") {
		t.Fatalf("selection count: %q", txt)
	}
	if action := d.Find("#bulk-testset-form").AttrOr("action", ""); action != sel {
		t.Fatalf("the selection's form posts to %q", action)
	}
	res = f.post(t, sel, url.Values{"test_set_id": {webtest.Itoa(set.ID)}}, false)
	tstStatus(t, "selection add", res, http.StatusOK)
	if txt := strings.Join(strings.Fields(webtest.Doc(t, res).Find("#bulk-testset-done").Text()), " "); !strings.HasPrefix(txt, "1 added, 0 refreshed") {
		t.Fatalf("selection: %q", txt)
	}
	if _, err := f.e.App.Store.TestCaseOf(ctx, f.ws.ID, set.ID, picked.ID); err != nil {
		t.Fatalf("the picked conversation: %v", err)
	}
	tstStatus(t, "a bad id", f.e.Get(f.admin, "/conversations/bulk-test-set?id=x"), http.StatusBadRequest)
	// A bad filter is refused.
	res = f.e.Get(f.admin, "/conversations/bulk-test-set?type=nope")
	tstStatus(t, "bad filter", res, http.StatusBadRequest)
}
