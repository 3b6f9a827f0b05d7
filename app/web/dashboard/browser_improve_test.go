package dashboard_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/cli"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/workers"
)

// What the fake LLM of the improvement test answers: the assistant answers well only when its
// system prompt tells it about carrier traces; the judge says "same" when the graded answer
// promises the trace the reviewer's correction promised.
const (
	impOldPrompt  = "You answer questions about orders."
	impNewPrompt  = "You answer questions about orders. When a parcel is lost, open a trace with the carrier and say so."
	impBadAnswer  = "I can only help with questions about our products."
	impGoodAnswer = "Sorry about your parcel: I have opened a trace with the carrier."
	impCustomer   = "My parcel never arrived, where is it?"
)

// impLLM answers chat completions by their content (see the constants above).
func impLLM(t *testing.T) *testkit.FakeLLM {
	l := testkit.NewFakeLLM(t)
	l.Answer = func(_ int, r testkit.LLMRequest) testkit.LLMAnswer {
		var system, user string
		msgs, _ := r.Body["messages"].([]any)
		for _, m := range msgs {
			mm, _ := m.(map[string]any)
			c, _ := mm["content"].(string)
			switch mm["role"] {
			case "system":
				system += c
			case "user":
				user = c
			}
		}
		switch {
		case r.Schema != nil && r.Schema["same"] != nil: // the judge of a test set run
			_, graded, _ := strings.Cut(user, "Answer to grade:")
			same := strings.Contains(graded, "trace with the carrier")
			reason := "it does not open a trace"
			if same {
				reason = "both open a trace with the carrier"
			}
			b, _ := json.Marshal(map[string]any{"same": same, "reason": reason})
			return testkit.LLMAnswer{Content: string(b)}
		case r.Schema != nil: // the evaluation of each side: the fake's default values, in English
			ans := l.DefaultAnswer(r)
			var vals map[string]any
			if err := json.Unmarshal([]byte(ans.Content), &vals); err == nil {
				if lang, ok := vals[model.EvalLanguage].(map[string]any); ok {
					lang["value"] = "en"
				}
				b, _ := json.Marshal(vals)
				ans.Content = string(b)
			}
			return ans
		case strings.Contains(system, "open a trace with the carrier"):
			return testkit.LLMAnswer{Content: impGoodAnswer}
		default:
			return testkit.LLMAnswer{Content: impBadAnswer}
		}
	}
	return l
}

// The whole improvement loop, clicked in a real browser with a real worker: a reviewer
// flags a widget conversation with a bad answer and writes the correction, adds the
// conversation to a new test set from its page, changes the assistant's system prompt (a
// draft, v2), runs the set against the draft and the published version ("Draft vs published"),
// sees the comparison (the draft passes the case the published version fails), and publishes
// the draft from the versions page.
func TestBrowserImproveAnAssistant(t *testing.T) {
	fake := impLLM(t)
	e := &env{webtest.NewWith(t, testkit.ConfigWith(t, map[string]string{
		"PARLEY_LLM_BASE_URL": fake.URL + "/v1",
		"PARLEY_LLM_API_KEY":  "sk-test",
	}))}
	ws := e.User("rita@shop.test", "correct-horse")
	ctx := context.Background()
	st := e.App.Store

	// 1. An assistant (v1 published) and a widget conversation it answered badly.
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "Parcel helper", SystemPrompt: impOldPrompt, Model: "gpt-4o-mini"}
	if err := st.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.PublishedVersion != 1 {
		t.Fatalf("a new assistant publishes v1: %d", a.PublishedVersion)
	}
	v1 := 1
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	conv := &store.Conversation{WorkspaceID: ws.ID, AssistantID: &a.ID, AssistantVersion: &v1, Type: model.TypeWidget,
		Customer: "buyer@shop.test", StartedAt: at, LastMessageAt: at}
	if err := e.App.Conversations.Create(ctx, conv); err != nil {
		t.Fatal(err)
	}
	for i, m := range []store.Message{
		{Role: model.RoleUser, Content: impCustomer},
		{Role: model.RoleAssistant, Content: impBadAnswer, AssistantVersion: &v1},
	} {
		m.WorkspaceID, m.ConversationID, m.ContentType, m.CreatedAt = ws.ID, conv.ID, "text", at.Add(time.Duration(i)*time.Second)
		if _, err := e.App.Conversations.AddMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}

	// The real worker: the production handlers run the test set runs.
	wsrv := asynq.NewServerFromRedisClient(e.App.Redis, asynq.Config{Concurrency: 4, Queues: workers.QueuePriorities, Logger: quietAsynq{}})
	if err := wsrv.Start(workers.NewMux(cli.Handlers(e.App))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wsrv.Shutdown)

	b := testkit.Browser(t)
	webtest.BrowserLogin(t, b, e.Env, "rita@shop.test")
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(b, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			page, _ := chromedp.Run(b, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 3000)`))
			t.Fatalf("%s: %v\non the page: %s", what, err, page)
		}
	}
	text := func(sel string) string {
		t.Helper()
		return webtest.EvalJS[string](t, b, `(document.querySelector(`+jsQuote(sel)+`)?.textContent ?? "missing").replace(/\s+/g, " ").trim()`)
	}

	// 2. The conversation's page: flag it and correct the bad answer.
	answer := `#timeline li[data-role="assistant"]:last-of-type`
	do("open the conversation",
		chromedp.Navigate(e.URL+"/conversations/"+webtest.Itoa(conv.ID)),
		chromedp.WaitVisible(chromedp.CSS(`#review-bar`)),
	)
	if got := text(answer + ` .version`); !strings.Contains(got, "v1") {
		t.Fatalf("the bad answer is not marked as answered by v1: %q", got)
	}
	do("flag",
		chromedp.Click(chromedp.CSS(`#review-flagged`)),
		chromedp.WaitVisible(chromedp.CSS(`#review-bar[data-status="flagged"]`)),
	)
	_ = webtest.EvalJS[bool](t, b, `document.querySelector('`+answer+` .msg-correct-form').closest("details").open = true; true`)
	do("correct the answer",
		chromedp.SendKeys(chromedp.CSS(answer+` .msg-correct-form textarea`), impGoodAnswer),
		chromedp.Click(chromedp.CSS(answer+` .msg-correct-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(answer+` [data-correction]`)),
	)
	if got := text(answer + ` .correction-text`); got != impGoodAnswer {
		t.Fatalf("the correction shown: %q", got)
	}

	// 3. "Add to test set": a new set named on the conversation's page.
	do("add to a new test set",
		chromedp.WaitVisible(chromedp.CSS(`#testset-add-form`)),
		chromedp.SendKeys(chromedp.CSS(`#testset-add-name`), "Lost parcels"),
		chromedp.Click(chromedp.CSS(`#testset-add-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#testset-add-done a`)),
	)
	if got := text(`#testset-add-done`); !strings.Contains(got, "Lost parcels") {
		t.Fatalf("the panel after adding: %q", got)
	}
	setURL := webtest.EvalJS[string](t, b, `document.querySelector("#testset-add-done a").href`)

	// 4. The assistant's edit page: a new system prompt, saved as the draft (v2).
	do("edit the assistant",
		chromedp.Navigate(e.URL+"/assistants/"+webtest.Itoa(a.ID)),
		chromedp.WaitVisible(chromedp.CSS(`#a-system-prompt`)),
	)
	if got := text(`#draft-state`); !strings.Contains(got, "No draft") {
		t.Fatalf("the version bar before the edit: %q", got)
	}
	// The old prompt is selected away, then the new one typed.
	_ = webtest.EvalJS[bool](t, b, `document.querySelector("#a-system-prompt").value = ""; true`)
	do("save the draft",
		chromedp.SendKeys(chromedp.CSS(`#a-system-prompt`), impNewPrompt),
		chromedp.Click(chromedp.CSS(`#save-assistant`)),
		chromedp.WaitVisible(chromedp.CSS(`#version-bar[data-draft="2"]`)),
	)
	if got := text(`#draft-state`); got != "Draft v2, not published." {
		t.Fatalf("the version bar after saving: %q", got)
	}
	if got := webtest.EvalJS[string](t, b, `document.querySelector("#version-bar").dataset.published`); got != "1" {
		t.Fatalf("published after saving a draft: %q", got)
	}
	if got := webtest.EvalJS[string](t, b, `document.querySelector("#a-system-prompt").value`); got != impNewPrompt {
		t.Fatalf("the form after saving shows %q", got)
	}

	// 5. The set's page: its case with the correction as the expected answer; "Draft vs
	// published" runs both in the worker and lands on the comparison, which polls until done.
	do("open the set",
		chromedp.Navigate(setURL),
		chromedp.WaitVisible(chromedp.CSS(`#test-run-form`)),
	)
	if got := text(`#testset-title`); got != "Lost parcels" {
		t.Fatalf("the set's title: %q", got)
	}
	if got := text(`#testcases .expected`); !strings.Contains(got, impGoodAnswer) {
		t.Fatalf("the case's expected answer: %q", got)
	}
	if got := webtest.EvalJS[string](t, b, `document.querySelector("#test-run-version").value`); got != "draft" {
		t.Fatalf("the run form's default version: %q", got)
	}
	do("Draft vs published",
		chromedp.Click(chromedp.CSS(`#test-run-both`)),
		chromedp.WaitVisible(chromedp.CSS(`#test-compare-body`)),
	)
	if !strings.Contains(webtest.EvalJS[string](t, b, `location.pathname`), "/compare") {
		t.Fatalf("Draft vs published lands on %q", webtest.EvalJS[string](t, b, `location.href`))
	}
	do("the runs finish (the comparison polls)",
		chromedp.WaitVisible(chromedp.CSS(`#test-compare-verdict`)),
	)
	heads := webtest.EvalJS[[]string](t, b, `[...document.querySelectorAll("#test-compare-totals thead th")].map(th => th.textContent.replace(/\s+/g, " ").trim())`)
	if len(heads) != 3 || !strings.HasSuffix(heads[1], "v1") || !strings.HasSuffix(heads[2], "v2") {
		t.Fatalf("the comparison's columns: %q", heads)
	}
	if got := webtest.EvalJS[[]string](t, b, `[...document.querySelectorAll("#test-compare-pass-rate td")].map(td => td.textContent.trim())`); len(got) != 2 || got[0] != "0.0%" || got[1] != "100.0%" {
		t.Fatalf("the pass rates (published, draft): %q\n%s", got, text(`#test-compare-body`))
	}
	if got := text(`#test-compare-verdict`); !strings.Contains(got, "Not worse") {
		t.Fatalf("the verdict: %q", got)
	}
	if webtest.EvalJS[bool](t, b, `!!document.querySelector("#test-compare-body[data-worse]")`) {
		t.Fatal("the draft is shown as worse")
	}
	cases := webtest.EvalJS[int](t, b, `document.querySelectorAll(".test-compare-case").length`)
	if cases != 1 {
		t.Fatalf("cases compared: %d", cases)
	}
	// Each side shows the expected answer, its replayed answer and the judgement.
	if got := text(`.test-compare-case .side.baseline`); !strings.Contains(got, impBadAnswer) || !strings.Contains(got, "different it does not open a trace") {
		t.Fatalf("the published side of the case: %q", got)
	}
	if got := text(`.test-compare-case .side.now`); strings.Count(got, impGoodAnswer) != 2 || strings.Contains(got, impBadAnswer) || !strings.Contains(got, "same both open a trace") {
		t.Fatalf("the draft side of the case: %q", got)
	}
	if webtest.EvalJS[bool](t, b, `!!document.querySelector(".test-compare-case.regressed")`) {
		t.Fatal("a case is shown as regressed")
	}
	impShots(t, b, "comparison")

	// 6. Publish the draft from the versions page (reached from the edit page's version bar).
	do("open the versions",
		chromedp.Navigate(e.URL+"/assistants/"+webtest.Itoa(a.ID)),
		chromedp.WaitVisible(chromedp.CSS(`#versions-link`)),
		chromedp.Click(chromedp.CSS(`#versions-link`)),
		chromedp.WaitVisible(chromedp.CSS(`#publish-2`)),
	)
	if got := text(`#version-2 .state`); got != "Draft" {
		t.Fatalf("v2's state before publishing: %q", got)
	}
	do("publish v2",
		chromedp.Click(chromedp.CSS(`#publish-2`)),
		chromedp.WaitVisible(chromedp.CSS(`#versions-notice`)),
	)
	if got := text(`#version-2 .state`); got != "Published" {
		t.Fatalf("v2's state after publishing: %q", got)
	}
	if got := text(`#version-1 .state`); got != "" {
		t.Fatalf("v1's state after publishing v2: %q", got)
	}
	if webtest.EvalJS[bool](t, b, `!!document.querySelector("#publish-2")`) {
		t.Fatal("the published version still offers Publish")
	}
	if got := text(`#version-2 .published-by`); !strings.Contains(got, "by ") || strings.Contains(got, "never") {
		t.Fatalf("who published v2: %q", got)
	}
	impShots(t, b, "versions")
	do("the edit page after publishing",
		chromedp.Click(chromedp.CSS(`#assistant-versions .page-head a`)),
		chromedp.WaitVisible(chromedp.CSS(`#version-bar[data-published="2"][data-draft="0"]`)),
	)
	if got := text(`#draft-state`); !strings.Contains(got, "No draft") || !strings.Contains(got, "v2, the published version") {
		t.Fatalf("the version bar after publishing: %q", got)
	}

	// What the database keeps.
	a2, err := st.AssistantByID(ctx, ws.ID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a2.PublishedVersion != 2 || a2.DraftVersion != 0 || a2.SystemPrompt != impNewPrompt {
		t.Fatalf("the assistant after publishing: published v%d, draft v%d, prompt %q", a2.PublishedVersion, a2.DraftVersion, a2.SystemPrompt)
	}
	c2, err := st.GetConversation(ctx, ws.ID, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c2.ReviewStatus != model.ReviewFlagged || c2.AssistantVersion == nil || *c2.AssistantVersion != 1 {
		t.Fatalf("the conversation after it all: review %q, version %v", c2.ReviewStatus, c2.AssistantVersion)
	}
	var n struct{ messages, corrections, sets, cases, runs, passedDraft, passedPublished int }
	for q, p := range map[string]*int{
		"SELECT count(*) FROM messages WHERE conversation_id = ?":                                                                                                             &n.messages,
		"SELECT count(*) FROM corrections WHERE conversation_id = ?":                                                                                                          &n.corrections,
		"SELECT count(*) FROM test_cases WHERE conversation_id = ?":                                                                                                           &n.cases,
		"SELECT count(*) FROM test_sets AS s JOIN test_cases AS c ON c.test_set_id = s.id WHERE c.conversation_id = ? AND s.name = 'Lost parcels'":                            &n.sets,
		"SELECT count(*) FROM test_set_runs AS r JOIN test_cases AS c ON c.test_set_id = r.test_set_id WHERE c.conversation_id = ? AND r.status = 'done'":                     &n.runs,
		"SELECT coalesce(sum(r.cases_passed), 0) FROM test_set_runs AS r JOIN test_cases AS c ON c.test_set_id = r.test_set_id WHERE c.conversation_id = ? AND r.version = 2": &n.passedDraft,
		"SELECT coalesce(sum(r.cases_passed), 0) FROM test_set_runs AS r JOIN test_cases AS c ON c.test_set_id = r.test_set_id WHERE c.conversation_id = ? AND r.version = 1": &n.passedPublished,
	} {
		if err := st.DB.NewRaw(q, conv.ID).Scan(ctx, p); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if n.messages != 2 || n.corrections != 1 || n.sets != 1 || n.cases != 1 || n.runs != 2 || n.passedDraft != 1 || n.passedPublished != 0 {
		t.Fatalf("the database after it all: %+v", n)
	}
	// The replays asked the LLM with each version's prompt: the draft's for v2, v1's for v1.
	var old, neu int
	for _, r := range fake.Requests() {
		if r.Schema != nil {
			continue
		}
		raw, _ := json.Marshal(r.Body["messages"])
		switch {
		case strings.Contains(string(raw), impNewPrompt):
			neu++
		case strings.Contains(string(raw), impOldPrompt):
			old++
		}
	}
	if old != 1 || neu != 1 {
		t.Fatalf("replayed answers asked with v1's prompt %d times and v2's %d times, want once each", old, neu)
	}
}

// impShots saves the page at a desktop and a phone size under PARLEY_E2E_SHOTS (a directory)
// when it is set: the screenshots are for looking at, not assertions.
func impShots(t *testing.T, b context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PARLEY_E2E_SHOTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, size := range []struct {
		w, h int64
		tag  string
	}{{1280, 900, "1280x900"}, {390, 844, "390x844"}} {
		if err := chromedp.Do(b, chromedp.EmulateViewport(size.w, size.h)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(b, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+size.tag+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(b, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
}

// jsQuote is s as a JavaScript string literal.
func jsQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
