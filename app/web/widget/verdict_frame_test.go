package widget_test

import (
	"io"

	"github.com/PuerkitoBio/goquery"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/web/webtest"
)

// The iframe's verdict: thumbs on each answer, "End chat", then the CSAT question.
func TestWidgetFrameVerdict(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.WAssistant(ws, webtest.WOrigin)
	v := e.wVerdictSession(a, "visitor-fr01")
	c := wFrameClient()
	chat := wFramePath(a, "visitor-fr01") + "&token=" + url.QueryEscape(v.tok)
	base := "/widget/" + a.PublicKey
	hx := []string{"HX-Request", "true"}

	d := webtest.Doc(t, e.Get(c, chat))
	if d.Find("#timeline li.msg.assistant .feedback button[data-rating]").Length() != 4 || d.Find("#timeline li.msg.user .feedback").Length() != 0 {
		t.Fatal("thumbs on each answer (the first message and the reply), none on the visitor's message")
	}
	if d.Find(`#end-chat input[name="token"]`).AttrOr("value", "") == "" || d.Find("#end-chat-button").Text() != "End chat" {
		t.Fatal("the End chat control carries the session token")
	}

	post := func(path string, form url.Values) (int, string) {
		t.Helper()
		res := e.PostForm(c, base+path, form, hx...)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// Feedback: 204, shown pressed on the next load; the visitor's own message and a forged
	// token are refused.
	if st, body := post("/messages/"+v.answer+"/feedback", url.Values{"token": {v.tok}, "rating": {"down"}, "comment": {"Wrong city"}}); st != 204 {
		t.Fatalf("feedback: %d %s", st, body)
	}
	if st, _ := post("/messages/"+v.user+"/feedback", url.Values{"token": {v.tok}, "rating": {"down"}}); st != 422 {
		t.Fatalf("feedback on the visitor's own message: %d", st)
	}
	if st, _ := post("/messages/"+v.answer+"/feedback", url.Values{"token": {"pw1.forged.token"}, "rating": {"up"}}); st != 401 {
		t.Fatalf("forged feedback: %d", st)
	}
	d = webtest.Doc(t, e.Get(c, chat))
	sel := "#msg-" + v.answer + ` .feedback button[data-rating="down"]`
	if d.Find(sel).AttrOr("aria-pressed", "") != "true" {
		t.Fatal("the given rating shows")
	}

	// CSAT before the end: refused.
	if st, _ := post("/csat", url.Values{"token": {v.tok}, "score": {"4"}}); st != 409 {
		t.Fatalf("csat before the end: %d", st)
	}
	// A forged end ends nothing.
	if st, _ := post("/end", url.Values{"token": {"pw1.forged.token"}}); st != 401 {
		t.Fatalf("forged end: %d", st)
	}
	if e.wConv(v.conv).EndedAt != nil {
		t.Fatal("ended by a forged token")
	}
	st, body := post("/end", url.Values{"token": {v.tok}})
	if st != 200 {
		t.Fatalf("end: %d %s", st, body)
	}
	frag := wFrag(t, body)
	if frag.Find("#chat-ended").Length() != 1 || frag.Find(`#csat-form input[name="score"]`).Length() != 5 || frag.Find(`#csat-form input[name="token"]`).AttrOr("value", "") == "" {
		t.Fatalf("the end shows the CSAT question: %s", body)
	}
	if c := e.wConv(v.conv); c.EndedAt == nil || c.EndReason != model.EndVisitor {
		t.Fatal("ended by the visitor")
	}
	for _, bad := range []string{"", "0", "6", "x"} {
		if st, body := post("/csat", url.Values{"token": {v.tok}, "score": {bad}}); st != 422 || !strings.Contains(body, "score from 1 to 5") {
			t.Fatalf("score %q: %d %s", bad, st, body)
		}
	}
	st, body = post("/csat", url.Values{"token": {v.tok}, "score": {"2"}, "comment": {"Too slow"}})
	if st != 200 || wFrag(t, body).Find("#csat-thanks").Length() != 1 {
		t.Fatalf("csat: %d %s", st, body)
	}
	if c := e.wConv(v.conv); c.CSATScore == nil || *c.CSATScore != 2 || c.CSATComment != "Too slow" {
		t.Fatal("the score is stored")
	}
	if st, _ := post("/csat", url.Values{"token": {v.tok}, "score": {"5"}}); st != 409 {
		t.Fatalf("second csat: %d", st)
	}
	// Ending again shows the thanks, not a second question.
	st, body = post("/end", url.Values{"token": {v.tok}})
	if st != 200 || wFrag(t, body).Find("#csat-form").Length() != 0 || wFrag(t, body).Find("#csat-thanks").Length() != 1 {
		t.Fatalf("second end: %d %s", st, body)
	}
}

func wFrag(t *testing.T, body string) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
