package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app/web/webtest"
)

// Helpers of this file carry a "ver" prefix.

func verSave(t *testing.T, e *env, c *http.Client, id int64, form url.Values) {
	t.Helper()
	res := e.PostForm(c, "/assistants/"+webtest.Itoa(id), form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", res.StatusCode, webtest.Body(t, res))
	}
	res.Body.Close()
}

func verText(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

func TestVersionsEditDraftListCompareAndPublish(t *testing.T) {
	e := newEnv(t)
	ws, c := asstLogin(e, "ana@shop.test")
	csrf := e.CSRF(c, "/assistants/new")
	id := asstCreate(t, e, c, asstForm(csrf))
	ctx := context.Background()

	// Saving a new prompt makes the draft v2; customers are still answered by v1.
	form := asstForm(csrf)
	form.Set("system_prompt", "You sell things.\nBe kind.")
	form.Set("name", "Sales bot 2")
	verSave(t, e, c, id, form)
	row, err := e.App.Store.AssistantByID(ctx, ws.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if row.SystemPrompt != "You sell things." || row.DraftVersion != 2 || row.PublishedVersion != 1 || row.Name != "Sales bot 2" {
		t.Fatalf("after saving: prompt %q draft %d published %d name %q", row.SystemPrompt, row.DraftVersion, row.PublishedVersion, row.Name)
	}
	d := webtest.Doc(t, e.Get(c, "/assistants/"+webtest.Itoa(id)))
	if got := verText(d.Find("#draft-state")); got != "Draft v2, not published." {
		t.Fatalf("draft state %q", got)
	}
	if got := d.Find("#a-system-prompt").Text(); got != "You sell things.\nBe kind." {
		t.Fatalf("the form shows %q, want the draft", got)
	}
	if d.Find("#publish-draft").Length() != 1 || d.Find(`#version-bar form input[name="_csrf"]`).Length() != 1 {
		t.Fatal("no Publish (with its CSRF token) for the draft")
	}

	// A third version changes a variable's options.
	form.Set("var_options", "")
	form["var_options"] = []string{"", "free, pro", ""}
	verSave(t, e, c, id, form)

	// The versions list: v3 draft, v2, v1 published, who saved them.
	d = webtest.Doc(t, e.Get(c, "/assistants/"+webtest.Itoa(id)+"/versions"))
	var nums []string
	d.Find("#versions tbody tr").Each(func(_ int, s *goquery.Selection) { nums = append(nums, s.AttrOr("data-version", "")) })
	if strings.Join(nums, ",") != "3,2,1" {
		t.Fatalf("versions listed %v", nums)
	}
	if verText(d.Find("#version-3 .state")) != "Draft" || verText(d.Find("#version-1 .state")) != "Published" || verText(d.Find("#version-2 .state")) != "" {
		t.Fatalf("states: v3 %q v2 %q v1 %q", verText(d.Find("#version-3 .state")), verText(d.Find("#version-2 .state")), verText(d.Find("#version-1 .state")))
	}
	if got := verText(d.Find("#version-2 .created-by")); got != "ana@shop.test" {
		t.Fatalf("v2 saved by %q", got)
	}
	if !strings.Contains(verText(d.Find("#version-2 .published-by")), "never") {
		t.Fatalf("v2 published: %q", verText(d.Find("#version-2 .published-by")))
	}
	if d.Find("#publish-3").Length() != 1 || d.Find("#publish-2").Length() != 1 || d.Find("#publish-1").Length() != 0 {
		t.Fatal("publish buttons: the draft and older versions, not the published one")
	}

	// Compare v1 with v3: the prompt line by line, the variable that changed.
	d = webtest.Doc(t, e.Get(c, "/assistants/"+webtest.Itoa(id)+"/versions/compare?a=1&b=draft"))
	if d.Find("#comparison").AttrOr("data-b", "") != "3" {
		t.Fatalf("compared to %q", d.Find("#comparison").AttrOr("data-b", ""))
	}
	var lines []string
	d.Find("#prompt-diff .diff-line").Each(func(_ int, s *goquery.Selection) {
		lines = append(lines, s.AttrOr("data-kind", "")+":"+strings.TrimSpace(s.Text()))
	})
	if strings.Join(lines, "|") != "same:You sell things.|added:+ Be kind." {
		t.Fatalf("prompt diff %q", lines)
	}
	changed := map[string]bool{}
	d.Find("#compare-fields tbody tr").Each(func(_ int, s *goquery.Selection) { changed[s.AttrOr("data-field", "")] = s.HasClass("changed") })
	if !changed["system_prompt"] || !changed["variables"] || changed["model"] || changed["temperature"] || changed["evaluators"] {
		t.Fatalf("changed fields %v", changed)
	}
	plan := d.Find(`#variables-diff tr[data-name="plan"]`)
	if plan.AttrOr("data-kind", "") != "changed" || !strings.Contains(plan.Text(), `"team"`) {
		t.Fatalf("plan variable: %q %q", plan.AttrOr("data-kind", ""), plan.Text())
	}
	if d.Find(`#variables-diff tr[data-name="email"]`).AttrOr("data-kind", "") != "same" {
		t.Fatal("email variable should be the same")
	}
	// A bad or missing version.
	for q, want := range map[string]int{"a=x&b=1": 422, "a=1": 422, "a=1&b=99": 404} {
		res := e.Get(c, "/assistants/"+webtest.Itoa(id)+"/versions/compare?"+q)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("compare %s: %d, want %d", q, res.StatusCode, want)
		}
	}

	// Publish the draft; then roll back to v1.
	res := e.PostForm(c, "/assistants/"+webtest.Itoa(id)+"/publish", url.Values{"_csrf": {csrf}, "version": {"draft"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/assistants/"+webtest.Itoa(id)+"/versions?published=3" {
		t.Fatalf("publish: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res.Body.Close()
	if row, _ = e.App.Store.AssistantByID(ctx, ws.ID, id); row.PublishedVersion != 3 || row.DraftVersion != 0 || row.SystemPrompt != "You sell things.\nBe kind." {
		t.Fatalf("after publishing: %d %d %q", row.PublishedVersion, row.DraftVersion, row.SystemPrompt)
	}
	d = webtest.Doc(t, e.Get(c, "/assistants/"+webtest.Itoa(id)+"/versions?published=3"))
	if !strings.Contains(d.Find("#versions-notice").Text(), "Published v3") || !strings.Contains(d.Find("#version-3 .published-by").Text(), "ana@shop.test") {
		t.Fatalf("after publishing: %q / %q", d.Find("#versions-notice").Text(), d.Find("#version-3 .published-by").Text())
	}
	res = e.PostForm(c, "/assistants/"+webtest.Itoa(id)+"/publish", url.Values{"_csrf": {csrf}, "version": {"1"}})
	res.Body.Close()
	if row, _ = e.App.Store.AssistantByID(ctx, ws.ID, id); row.PublishedVersion != 1 || row.SystemPrompt != "You sell things." {
		t.Fatalf("after the rollback: %d %q", row.PublishedVersion, row.SystemPrompt)
	}
	// No CSRF token: refused.
	res = e.PostForm(c, "/assistants/"+webtest.Itoa(id)+"/publish", url.Values{"version": {"3"}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("publish without CSRF: %d", res.StatusCode)
	}

	// "Save and publish" publishes at once.
	form.Set("system_prompt", "Fourth.")
	form.Set("publish", "1")
	res = e.PostForm(c, "/assistants/"+webtest.Itoa(id), form)
	res.Body.Close()
	if res.Header.Get("Location") != "/assistants/"+webtest.Itoa(id)+"?saved=1&published=4" {
		t.Fatalf("save and publish: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	d = webtest.Doc(t, e.Get(c, res.Header.Get("Location")))
	if !strings.Contains(d.Find("#published-notice").Text(), "Published v4") || !strings.Contains(d.Find("#draft-state").Text(), "No draft") {
		t.Fatalf("after save and publish: %q %q", d.Find("#published-notice").Text(), d.Find("#draft-state").Text())
	}
}

// With the publish gate on and no passing run, publishing is refused with a clear error and
// nothing changes.
func TestVersionsPublishGateRefusal(t *testing.T) {
	e := newEnv(t)
	ws, c := asstLogin(e, "ana@shop.test")
	csrf := e.CSRF(c, "/assistants/new")
	id := asstCreate(t, e, c, asstForm(csrf))
	form := asstForm(csrf)
	form.Set("system_prompt", "Gated.")
	form.Set("publish_gate", "1")
	verSave(t, e, c, id, form)
	ctx := context.Background()
	row, _ := e.App.Store.AssistantByID(ctx, ws.ID, id)
	if !row.PublishGate || row.DraftVersion != 2 {
		t.Fatalf("gate %v draft %d", row.PublishGate, row.DraftVersion)
	}
	d := webtest.Doc(t, e.Get(c, "/assistants/"+webtest.Itoa(id)))
	if _, ok := d.Find("#a-publish-gate").Attr("checked"); !ok || d.Find("#save-and-publish").Length() != 0 {
		t.Fatal("the gate switch is on and there is no Save and publish")
	}
	res := e.PostForm(c, "/assistants/"+webtest.Itoa(id)+"/publish", url.Values{"_csrf": {csrf}, "version": {"draft"}, "back": {"edit"}})
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("gated publish: %d", res.StatusCode)
	}
	d = webtest.Doc(t, res)
	if got := d.Find("#publish-error").Text(); !strings.Contains(got, "Not published") || !strings.Contains(got, "publish gate") {
		t.Fatalf("refusal shown as %q", got)
	}
	// "Save and publish" sent anyway: nothing is saved.
	form.Set("system_prompt", "Gated again.")
	form.Set("publish", "1")
	res = e.PostForm(c, "/assistants/"+webtest.Itoa(id), form)
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("save and publish through the gate: %d", res.StatusCode)
	}
	if got := webtest.Doc(t, res).Find("#publish-error").Text(); !strings.Contains(got, "Nothing was saved") {
		t.Fatalf("refusal shown as %q", got)
	}
	if row, _ := e.App.Store.AssistantByID(ctx, ws.ID, id); row.PublishedVersion != 1 || row.DraftVersion != 2 {
		t.Fatalf("a refused publish changed versions: published %d draft %d", row.PublishedVersion, row.DraftVersion)
	}
}

// Test Chat chats with the version chosen; the conversation page says which version it
// started with and which version answered each message.
func TestVersionsTestChatAndConversationPage(t *testing.T) {
	e := newEnv(t)
	ws, c := asstLogin(e, "ana@shop.test")
	csrf := e.CSRF(c, "/assistants/new")
	form := asstForm(csrf)
	form.Set("whatsapp_phone_number_id", "")
	form.Set("whatsapp_access_token", "")
	form["pf_key"], form["pf_name"], form["pf_label"], form["pf_type"], form["pf_variable"], form["pf_required"] = nil, nil, nil, nil, nil, nil
	id := asstCreate(t, e, c, form)
	form.Set("first_message", "Hello from the draft")
	verSave(t, e, c, id, form)

	d := webtest.Doc(t, e.Get(c, "/test-chat?assistant="+webtest.Itoa(id)))
	var opts []string
	d.Find("#tc-version option").Each(func(_ int, s *goquery.Selection) {
		mark := ""
		if _, ok := s.Attr("selected"); ok {
			mark = "*"
		}
		opts = append(opts, s.AttrOr("value", "")+mark+"="+s.Text())
	})
	if strings.Join(opts, ",") != "2*=v2 (draft),1=v1 (published)" {
		t.Fatalf("version options %v", opts)
	}
	for version, want := range map[string]string{"2": "Hello from the draft", "1": "Hello!"} {
		res := e.PostForm(c, "/test-chat/sessions", url.Values{"_csrf": {csrf}, "assistant_id": {webtest.Itoa(id)}, "version": {version}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("start on v%s: %d %s", version, res.StatusCode, webtest.Body(t, res))
		}
		res.Body.Close()
		session := res.Header.Get("Location")
		convID := strings.TrimPrefix(session, "/test-chat/")
		d = webtest.Doc(t, e.Get(c, session))
		if d.Find("#session-version").AttrOr("data-version", "") != version {
			t.Fatalf("session on v%s says %q", version, d.Find("#session-version").Text())
		}
		d = webtest.Doc(t, e.Get(c, "/conversations/"+convID))
		if got := verText(d.Find("#info-version")); got != "started with v"+version {
			t.Fatalf("conversation info %q", got)
		}
		first := d.Find(`.version[data-version]`).First()
		if first.AttrOr("data-version", "") != version || verText(first) != "answered by v"+version {
			t.Fatalf("first message: %q", verText(first))
		}
		if !strings.Contains(first.Closest("li").Find(".content").Text(), want) {
			t.Fatalf("first message of v%s: %q", version, first.Closest("li").Find(".content").Text())
		}
	}
	// A version that does not exist.
	res := e.PostForm(c, "/test-chat/sessions", url.Values{"_csrf": {csrf}, "assistant_id": {webtest.Itoa(id)}, "version": {"9"}})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("start on v9: %d", res.StatusCode)
	}
	_ = ws
}
