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
	"github.com/parleyhq/parley/app/web/webtest"
)

// Helpers of this file carry a "rv" prefix.

type rvFixture struct {
	e              *env
	ws             *store.Workspace
	conv           *store.Conversation
	question, ans  *store.Message
	admin, viewer  *http.Client
	agentID        int64
	page           string
	csrf, viewCSRF string
}

func rvSetup(t *testing.T) *rvFixture {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	st := e.App.Store
	ws := e.User("ana@shop.test", "correct-horse")
	h, _ := auth.HashPassword("correct-horse")
	agent, err := st.CreateMemberUser(ctx, ws.ID, "bo@shop.test", "Bo Agent", h, model.UserRoleMember, model.MemberAgent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateMemberUser(ctx, ws.ID, "vic@shop.test", "", h, model.UserRoleMember, model.MemberViewer); err != nil {
		t.Fatal(err)
	}
	f := &rvFixture{e: e, ws: ws, agentID: agent.ID}
	f.conv = &store.Conversation{WorkspaceID: ws.ID, Type: model.TypeWidget, Customer: "visitor-1", StartedAt: time.Now().Add(-time.Hour)}
	if err := st.CreateConversation(ctx, f.conv); err != nil {
		t.Fatal(err)
	}
	f.question = &store.Message{WorkspaceID: ws.ID, ConversationID: f.conv.ID, Role: model.RoleUser, Content: "Where is <b>my</b> order?", CreatedAt: store.Now()}
	f.ans = &store.Message{WorkspaceID: ws.ID, ConversationID: f.conv.ID, Role: model.RoleAssistant, Content: "No idea.", CreatedAt: store.Now()}
	for _, m := range []*store.Message{f.question, f.ans} {
		if _, err := st.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	f.page = "/conversations/" + webtest.Itoa(f.conv.ID)
	f.admin, f.viewer = e.Client(), e.Client()
	e.Login(f.admin, "ana@shop.test", "correct-horse")
	e.Login(f.viewer, "vic@shop.test", "correct-horse")
	f.csrf, f.viewCSRF = e.CSRF(f.admin, f.page), e.CSRF(f.viewer, f.page)
	return f
}

func (f *rvFixture) post(t *testing.T, c *http.Client, path string, form url.Values, htmx bool) *http.Response {
	t.Helper()
	if form.Get("_csrf") == "" {
		form.Set("_csrf", f.csrf)
	}
	var hdr []string
	if htmx {
		hdr = []string{"HX-Request", "true"}
	}
	return f.e.PostForm(c, path, form, hdr...)
}

// The review panel: the status buttons, the assignee select and the tags change the review
// and answer the bar's fragment to htmx (303 to the page without it); a wrong value is a 422
// shown in the bar; notes and corrections show on the page and its messages, escaped.
func TestReviewPanelForms(t *testing.T) {
	f := rvSetup(t)
	e := f.e
	doc := webtest.Doc(t, e.Get(f.admin, f.page))
	for _, sel := range []string{"#review-bar", "#review-reviewed", "#review-flagged", "#review-assignee", "#tag-input", "#note-form", "#review-help",
		`#` + "msg-" + webtest.Itoa(f.ans.ID) + ` form.msg-correct-form`, `#msg-` + webtest.Itoa(f.question.ID) + ` form.msg-note-form`} {
		if doc.Find(sel).Length() == 0 {
			t.Errorf("the page has no %s", sel)
		}
	}
	if doc.Find("#msg-"+webtest.Itoa(f.question.ID)+" form.msg-correct-form").Length() != 0 {
		t.Error("a customer message offers a correction")
	}
	// Every form of the panel and the messages carries the CSRF token.
	doc.Find("#review form, .msg-review form").Each(func(i int, s *goquery.Selection) {
		if v, _ := s.Find(`input[name="_csrf"]`).Attr("value"); v == "" {
			t.Errorf("form %d without CSRF", i)
		}
	})

	// Flag it (htmx): the bar comes back flagged, with the reviewer.
	res := f.post(t, f.admin, f.page+"/review", url.Values{"status": {"flagged"}}, true)
	bar := webtest.Doc(t, res)
	if res.StatusCode != 200 || strings.TrimSpace(bar.Find("#review-status").Text()) != "Flagged" || !strings.Contains(bar.Text(), "by ana@shop.test") {
		t.Fatalf("flag: %d %s", res.StatusCode, bar.Text())
	}
	if _, ok := bar.Find("#review-flagged").Attr("disabled"); !ok {
		t.Error("the current status's button is not disabled")
	}
	// Without htmx: 303 back to the page.
	res = f.post(t, f.admin, f.page+"/review", url.Values{"assignee": {webtest.Itoa(f.agentID)}}, false)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != f.page {
		t.Fatalf("assign without htmx: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	c, _ := e.App.Store.GetConversation(context.Background(), f.ws.ID, f.conv.ID)
	if c.ReviewStatus != model.ReviewFlagged || c.AssigneeID == nil || *c.AssigneeID != f.agentID {
		t.Fatalf("after the forms: %s %v", c.ReviewStatus, c.AssigneeID)
	}
	// Wrong values: 422 in the bar.
	for _, form := range []url.Values{{"status": {"done"}}, {"assignee": {"999999"}}, {"assignee": {"bo"}}} {
		res = f.post(t, f.admin, f.page+"/review", form, true)
		if body := webtest.Body(t, res); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="review-error"`) {
			t.Errorf("%v: %d %s", form, res.StatusCode, body)
		}
	}
	// Tags: add two (one new name in another case), remove one.
	for _, tag := range []string{"Urgent", "urgent", "<script>x</script>"} {
		if res = f.post(t, f.admin, f.page+"/tags", url.Values{"tag": {tag}}, true); res.StatusCode != 200 {
			t.Fatalf("tag %s: %d", tag, res.StatusCode)
		}
		res.Body.Close()
	}
	res = f.post(t, f.admin, f.page+"/tags/remove", url.Values{"tag": {"URGENT"}}, true)
	bar = webtest.Doc(t, res)
	if got := bar.Find("[data-tag]").Length(); got != 1 || bar.Find("[data-tag]").AttrOr("data-tag", "") != "<script>x</script>" {
		t.Fatalf("tags after removal: %d", got)
	}
	if res = f.post(t, f.admin, f.page+"/tags", url.Values{"tag": {strings.Repeat("x", 51)}}, true); res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a long tag: %d", res.StatusCode)
	}
	res.Body.Close()

	// A note on the conversation (htmx: the notes), one on a message (a plain form: back to it).
	res = f.post(t, f.admin, f.page+"/notes", url.Values{"text": {"Call <them> back"}}, true)
	notes := webtest.Doc(t, res)
	if res.StatusCode != 200 || notes.Find(".note-text").Text() != "Call <them> back" {
		t.Fatalf("note: %d %s", res.StatusCode, notes.Text())
	}
	res = f.post(t, f.admin, f.page+"/notes", url.Values{"text": {"This question."}, "message_id": {webtest.Itoa(f.question.ID)}}, false)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != f.page+"#msg-"+webtest.Itoa(f.question.ID) {
		t.Fatalf("message note: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	// A correction: on the assistant message; a customer's is refused.
	res = f.post(t, f.admin, f.page+"/messages/"+webtest.Itoa(f.ans.ID)+"/correction", url.Values{"text": {"It ships tomorrow."}}, false)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("correction: %d", res.StatusCode)
	}
	res = f.post(t, f.admin, f.page+"/messages/"+webtest.Itoa(f.question.ID)+"/correction", url.Values{"text": {"x"}}, false)
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("correcting a customer message: %d", res.StatusCode)
	}

	// The page shows it all, the texts escaped, the notes and correction on their messages.
	body := webtest.Body(t, e.Get(f.admin, f.page))
	if strings.Contains(body, "<script>x</script>") || strings.Contains(body, "Call <them>") {
		t.Fatal("a user text is not escaped")
	}
	doc = webtest.Doc(t, e.Get(f.admin, f.page))
	if got := doc.Find("#msg-" + webtest.Itoa(f.ans.ID) + " .correction-text").Text(); got != "It ships tomorrow." {
		t.Fatalf("the correction on its message: %q", got)
	}
	if got := doc.Find("#msg-" + webtest.Itoa(f.question.ID) + " .msg-note .note-text").Text(); got != "This question." {
		t.Fatalf("the note on its message: %q", got)
	}
	if got := doc.Find("#review-notes .note").Length(); got != 2 {
		t.Fatalf("notes listed: %d", got)
	}
	if v, _ := doc.Find("#review-assignee option[selected]").Attr("value"); v != webtest.Itoa(f.agentID) {
		t.Fatalf("the selected assignee: %q", v)
	}
}

// A viewer sees the review without its forms, and every review route refuses them (403),
// changing nothing; the tags' settings are the admins'.
func TestReviewViewerCannotChange(t *testing.T) {
	f := rvSetup(t)
	e := f.e
	doc := webtest.Doc(t, e.Get(f.viewer, f.page))
	if doc.Find("#review-bar").Length() != 1 || doc.Find("#review form, .msg-review form").Length() != 0 {
		t.Fatalf("a viewer's panel: %d bars, %d forms", doc.Find("#review-bar").Length(), doc.Find("#review form, .msg-review form").Length())
	}
	m := webtest.Itoa(f.ans.ID)
	for _, p := range []struct {
		path string
		form url.Values
	}{
		{f.page + "/review", url.Values{"status": {"reviewed"}}},
		{f.page + "/tags", url.Values{"tag": {"x"}}},
		{f.page + "/tags/remove", url.Values{"tag": {"x"}}},
		{f.page + "/notes", url.Values{"text": {"x"}}},
		{f.page + "/messages/" + m + "/correction", url.Values{"text": {"x"}}},
		{f.page + "/messages/" + m + "/correction/delete", url.Values{}},
		{"/settings/tags", url.Values{"name": {"x"}}},
	} {
		p.form.Set("_csrf", f.viewCSRF)
		res := e.PostForm(f.viewer, p.path, p.form)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("a viewer posts %s: %d", p.path, res.StatusCode)
		}
	}
	if res := e.Get(f.viewer, "/settings/tags"); res.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer opens the tags' settings: %d", res.StatusCode)
	}
	c, _ := e.App.Store.GetConversation(context.Background(), f.ws.ID, f.conv.ID)
	notes, _ := e.App.Store.Notes(context.Background(), f.ws.ID, f.conv.ID)
	if c.ReviewStatus != model.ReviewUnreviewed || len(notes) != 0 {
		t.Fatalf("a viewer changed something: %s, %d notes", c.ReviewStatus, len(notes))
	}
	// Without the CSRF token, even an admin is refused.
	res := e.PostForm(f.admin, f.page+"/review", url.Values{"status": {"reviewed"}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("no CSRF: %d", res.StatusCode)
	}
}

// Settings → Tags: create, rename, recolour and delete; a refused value is shown (422).
func TestTagsSettings(t *testing.T) {
	f := rvSetup(t)
	e := f.e
	csrf := e.CSRF(f.admin, "/settings/tags")
	post := func(path string, form url.Values) *http.Response {
		form.Set("_csrf", csrf)
		return e.PostForm(f.admin, path, form, "HX-Request", "true")
	}
	res := post("/settings/tags", url.Values{"name": {"Billing"}, "color": {"blue"}})
	doc := webtest.Doc(t, res)
	if res.StatusCode != 200 || doc.Find("table.tags .tag-blue").Text() != "Billing" {
		t.Fatalf("create: %d %s", res.StatusCode, doc.Text())
	}
	for _, form := range []url.Values{{"name": {"billing"}}, {"name": {""}}, {"name": {"x"}, "color": {"url(evil)"}}} {
		res = post("/settings/tags", form)
		doc = webtest.Doc(t, res)
		if res.StatusCode != http.StatusUnprocessableEntity || doc.Find("#tags-error").Length() != 1 {
			t.Errorf("%v: %d", form, res.StatusCode)
		}
	}
	tags, _ := e.App.Store.Tags(context.Background(), f.ws.ID)
	if len(tags) != 1 {
		t.Fatalf("tags: %+v", tags)
	}
	id := webtest.Itoa(tags[0].ID)
	res = post("/settings/tags/"+id, url.Values{"name": {"Invoices"}, "color": {"#00aa00"}})
	doc = webtest.Doc(t, res)
	if st, _ := doc.Find("#tag-" + id + " .tag").Attr("style"); res.StatusCode != 200 || !strings.Contains(st, "#00aa00") {
		t.Fatalf("recolour: %d %q", res.StatusCode, st)
	}
	res = post("/settings/tags/"+id+"/delete", url.Values{})
	doc = webtest.Doc(t, res)
	if res.StatusCode != 200 || doc.Find("#no-tags").Length() != 1 {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	// The settings page links to it for admins.
	if webtest.Doc(t, e.Get(f.admin, "/settings")).Find("#tags-link a").Length() != 1 {
		t.Error("no link to the tags from Settings")
	}
}

// The list's links carry its query; the page opened from it links to its neighbours.
func TestReviewNeighbourLinks(t *testing.T) {
	f := rvSetup(t)
	e := f.e
	ctx := context.Background()
	var ids []int64
	for i := range 3 {
		c := &store.Conversation{WorkspaceID: f.ws.ID, Type: model.TypeWhatsApp, Customer: "+4917" + webtest.Itoa(int64(i)),
			StartedAt: time.Now().Add(-2 * time.Hour), LastMessageAt: time.Now().Add(-time.Duration(10+i) * time.Minute)}
		if err := e.App.Store.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	list := webtest.Doc(t, e.Get(f.admin, "/conversations?type=whatsapp"))
	href, _ := list.Find("#conv-" + webtest.Itoa(ids[1]) + " td.customer a").Attr("href")
	if href != "/conversations/"+webtest.Itoa(ids[1])+"?from="+url.QueryEscape("type=whatsapp") {
		t.Fatalf("the row's link: %q", href)
	}
	doc := webtest.Doc(t, e.Get(f.admin, href))
	prev, _ := doc.Find("#review-prev").Attr("href")
	next, _ := doc.Find("#review-next").Attr("href")
	if !strings.HasPrefix(prev, "/conversations/"+webtest.Itoa(ids[0])+"?from=") || !strings.HasPrefix(next, "/conversations/"+webtest.Itoa(ids[2])+"?from=") {
		t.Fatalf("neighbours: %q %q", prev, next)
	}
	doc = webtest.Doc(t, e.Get(f.admin, next))
	if doc.Find("#review-next").Length() != 0 || doc.Find("#review-prev").Length() != 1 {
		t.Fatal("the last of the list has a next")
	}
	// Opened without a list: no neighbours.
	if webtest.Doc(t, e.Get(f.admin, "/conversations/"+webtest.Itoa(ids[1]))).Find("#review-prev, #review-next").Length() != 0 {
		t.Fatal("neighbours without a list")
	}
}
