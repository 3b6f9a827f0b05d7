package dashboard_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app/cli"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/app/widget"
	"github.com/parleyhq/parley/workers"
)

// quietAsynq keeps asynq's own log out of the test's output.
type quietAsynq struct{}

func (quietAsynq) Debug(...any) {}
func (quietAsynq) Info(...any)  {}
func (quietAsynq) Warn(...any)  {}
func (quietAsynq) Error(...any) {}
func (quietAsynq) Fatal(...any) {}

// The whole judgement, in two real browsers and a real worker: a visitor chats in the widget,
// gives the answer a thumbs down and ends the chat with a CSAT of 2; the end's evaluation
// (the offline provider) runs in the worker, and the conversation appears in "Needs review"
// with its summary, the count of the view following on the reviewer's open page. The reviewer
// flags it, tags it, corrects the answer, writes a note and marks it reviewed; the count of
// "Needs review" follows live, without a reload.
func TestBrowserJudgeAConversation(t *testing.T) {
	e := newEnv(t)
	ws := e.User("rita@shop.test", "correct-horse")
	a := e.WAssistant(ws) // pre-chat email; requires email and company
	ctx := context.Background()

	// The real worker: the production handlers (replies, extraction, the end's evaluation).
	wsrv := asynq.NewServerFromRedisClient(e.App.Redis, asynq.Config{Concurrency: 4, Queues: workers.QueuePriorities, Logger: quietAsynq{}})
	if err := wsrv.Start(workers.NewMux(cli.Handlers(e.App))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wsrv.Shutdown)

	// The reviewer has the list open before anything happens.
	reviewer := testkit.Browser(t)
	webtest.BrowserLogin(t, reviewer, e.Env, "rita@shop.test")
	if err := chromedp.Do(reviewer,
		chromedp.Navigate(e.URL+"/conversations"),
		chromedp.WaitVisible(chromedp.CSS(`#nav-views`)),
	); err != nil {
		t.Fatal(err)
	}
	// viewCount is the navigation's count of a saved view, by name.
	viewCount := func(name string) string {
		return `(() => { const a = [...document.querySelectorAll("#nav-views a")].find(a => a.textContent.includes(` + strconv.Quote(name) + `)); return a ? a.querySelector(".badge-count").textContent.trim() : "missing"; })()`
	}
	if got := webtest.EvalJS[string](t, reviewer, viewCount("Needs review")); got != "0" {
		t.Fatalf("Needs review before anything: %q", got)
	}

	// The visitor, in the widget's page.
	visitor := testkit.Browser(t)
	if err := chromedp.Do(visitor,
		chromedp.Navigate(e.URL+"/widget/"+a.PublicKey+"?visitor="+widget.NewVisitorID()),
		chromedp.WaitVisible(chromedp.CSS(`#pc-email`)),
		chromedp.SendKeys(chromedp.CSS(`#pc-email`), "buyer@shop.test"),
		chromedp.Click(chromedp.CSS(`#start`)),
		chromedp.WaitVisible(chromedp.CSS(`#composer`)),
		chromedp.SendKeys(chromedp.CSS(`#message`), "My parcel never arrived, this is a problem"),
		chromedp.Click(chromedp.CSS(`#send`)),
	); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, visitor, `document.querySelectorAll("#timeline li.msg").length === 3 && !document.querySelector(".pending")`)
	convID, err := strconv.ParseInt(webtest.EvalJS[string](t, visitor, `document.querySelector("#widget-chat").dataset.conversation`), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(visitor,
		chromedp.Click(chromedp.CSS(`#timeline li.msg:last-child .feedback button[data-rating="down"]`)),
	); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, visitor, `!document.querySelector("#timeline li.msg:last-child .fb-comment").hidden`)
	if err := chromedp.Do(visitor,
		chromedp.SendKeys(chromedp.CSS(`#timeline li.msg:last-child .fb-comment textarea`), "It did not answer me"),
		chromedp.Click(chromedp.CSS(`#timeline li.msg:last-child .fb-send`)),
	); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, visitor, `!document.querySelector("#timeline li.msg:last-child .fb-thanks").hidden`)
	if err := chromedp.Do(visitor,
		chromedp.Click(chromedp.CSS(`#end-chat-button`)),
		chromedp.WaitVisible(chromedp.CSS(`#csat-form`)),
		chromedp.Click(chromedp.CSS(`#csat-form input[name="score"][value="2"]`)),
		chromedp.SendKeys(chromedp.CSS(`#csat-comment`), "Still waiting"),
		chromedp.Click(chromedp.CSS(`#csat-send`)),
		chromedp.WaitVisible(chromedp.CSS(`#csat-thanks`)),
	); err != nil {
		t.Fatal(err)
	}

	// The worker evaluates the end; the reviewer's open list counts it in "Needs review"
	// (unresolved: the company was never given; unreviewed).
	webtest.WaitJS(t, reviewer, viewCount("Needs review")+` === "1"`)
	conv, err := e.App.Store.GetConversation(ctx, ws.ID, convID)
	if err != nil {
		t.Fatal(err)
	}
	if conv.EndReason != model.EndVisitor || conv.EvaluationStatus != model.EvalDone || conv.Outcome != model.OutcomeUnresolved ||
		conv.Summary == "" || conv.CSATScore == nil || *conv.CSATScore != 2 || conv.ReviewStatus != model.ReviewUnreviewed {
		t.Fatalf("after the end: %+v", conv)
	}
	row := `#conv-` + webtest.Itoa(convID)
	if err := chromedp.Do(reviewer,
		chromedp.Click(chromedp.CSS(`#nav-views a[data-view]`)), // "Needs review" comes first
		chromedp.WaitVisible(chromedp.CSS(row+` .summary`)),
	); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(webtest.EvalJS[string](t, reviewer, `location.search`), "needs_review=1") {
		t.Fatal("the first view is not Needs review")
	}
	if got := webtest.EvalJS[string](t, reviewer, `document.querySelector("`+row+` .summary").textContent`); got != conv.Summary {
		t.Fatalf("the row's summary %q, want %q", got, conv.Summary)
	}

	// The conversation's page: the customer's verdict is there.
	if err := chromedp.Do(reviewer,
		chromedp.Click(chromedp.CSS(row+` td.customer a`)),
		chromedp.WaitVisible(chromedp.CSS(`#review-bar`)),
	); err != nil {
		t.Fatal(err)
	}
	if got := webtest.EvalJS[string](t, reviewer, `document.querySelector("#conv-csat .csat-badge").dataset.score`); got != "2" {
		t.Fatalf("the page's CSAT: %q", got)
	}
	if got := webtest.EvalJS[string](t, reviewer, `document.querySelector('#timeline li[data-role="assistant"]:last-of-type [data-feedback]').dataset.feedback`); got != "down" {
		t.Fatalf("the answer's feedback: %q", got)
	}

	// Flag, tag, correct, note: the reviewer's work.
	if err := chromedp.Do(reviewer,
		chromedp.Click(chromedp.CSS(`#review-flagged`)),
		chromedp.WaitVisible(chromedp.CSS(`#review-bar[data-status="flagged"]`)),
		chromedp.SendKeys(chromedp.CSS(`#tag-input`), "late delivery"),
		chromedp.Click(chromedp.CSS(`#tag-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#review-tags [data-tag="late delivery"]`)),
	); err != nil {
		t.Fatal(err)
	}
	if got := webtest.EvalJS[string](t, reviewer, viewCount("Needs review")); got != "1" {
		t.Fatalf("Needs review once flagged: %q", got)
	}
	answer := `#timeline li[data-role="assistant"]:last-of-type`
	webtest.EvalJS[bool](t, reviewer, `document.querySelector('`+answer+` .msg-correct-form').closest("details").open = true; true`)
	if err := chromedp.Do(reviewer,
		chromedp.SendKeys(chromedp.CSS(answer+` .msg-correct-form textarea`), "Sorry about your parcel: I have opened a trace with the carrier."),
		chromedp.Click(chromedp.CSS(answer+` .msg-correct-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(answer+` [data-correction]`)),
		chromedp.SendKeys(chromedp.CSS(`#note-text`), "Carrier lost two parcels this week"),
		chromedp.Click(chromedp.CSS(`#note-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#review-notes .note`)),
	); err != nil {
		t.Fatal(err)
	}
	// Reviewed: the count of "Needs review" drops on this very page, by the live update (the
	// marker shows that the page was not loaded again).
	webtest.EvalJS[bool](t, reviewer, `window.__judged = true; true`)
	if err := chromedp.Do(reviewer,
		chromedp.Click(chromedp.CSS(`#review-reviewed`)),
		chromedp.WaitVisible(chromedp.CSS(`#review-bar[data-status="reviewed"]`)),
	); err != nil {
		t.Fatal(err)
	}
	webtest.WaitJS(t, reviewer, viewCount("Needs review")+` === "0"`)
	if !webtest.EvalJS[bool](t, reviewer, `window.__judged === true`) {
		t.Fatal("the page was loaded again")
	}

	// What the database keeps.
	conv, err = e.App.Store.GetConversation(ctx, ws.ID, convID)
	if err != nil {
		t.Fatal(err)
	}
	if conv.ReviewStatus != model.ReviewReviewed || conv.ReviewedBy == "" || conv.ReviewedAt == nil {
		t.Fatalf("the review: %+v", conv)
	}
	var tags, notes, corrections int
	for q, n := range map[string]*int{
		"SELECT count(*) FROM conversation_tags AS ct JOIN tags AS t ON t.id = ct.tag_id WHERE ct.conversation_id = ? AND t.name = 'late delivery'": &tags,
		"SELECT count(*) FROM notes WHERE conversation_id = ? AND text = 'Carrier lost two parcels this week'":                                      &notes,
		"SELECT count(*) FROM corrections WHERE conversation_id = ? AND text LIKE 'Sorry about your parcel%'":                                       &corrections,
	} {
		if err := e.App.Store.DB.NewRaw(q, convID).Scan(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if tags != 1 || notes != 1 || corrections != 1 {
		t.Fatalf("tags %d, notes %d, corrections %d", tags, notes, corrections)
	}
}
