package dashboard_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// The customer's verdict on the conversation page: the CSAT in the header, the thumbs (and
// comment) on the answer it was given on, both escaped.
func TestConversationDetailVerdict(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	ctx := context.Background()
	conv := f.convs["widget"]
	answer := &store.Message{WorkspaceID: f.ws.ID, ConversationID: conv.ID, Role: model.RoleAssistant, Content: "We ship to Porto."}
	plain := &store.Message{WorkspaceID: f.ws.ID, ConversationID: conv.ID, Role: model.RoleAssistant, Content: "Anything else?"}
	for _, m := range []*store.Message{answer, plain} {
		if _, err := e.App.Store.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	svc := e.App.Conversations
	hostile := `<script>alert(1)</script>`
	if _, err := svc.Feedback(ctx, conv, answer.ID, model.FeedbackDown, "Lisbon! "+hostile); err != nil {
		t.Fatal(err)
	}
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	path := "/conversations/" + webtest.Itoa(conv.ID)
	d := webtest.Doc(t, e.Get(c, path))
	if d.Find("#conv-csat").Length() != 1 || d.Find("#conv-csat .csat-badge").Length() != 0 {
		t.Fatal("no CSAT yet: an empty placeholder")
	}
	if _, err := svc.End(ctx, f.ws.ID, conv.ID, model.EndVisitor, time.Time{}); err != nil {
		t.Fatal(err)
	}
	cur, err := e.App.Store.GetConversation(ctx, f.ws.ID, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RateEnded(ctx, cur, 2, "Slow "+hostile); err != nil {
		t.Fatal(err)
	}
	res := e.Get(c, path)
	raw := webtest.Body(t, res)
	if res.StatusCode != http.StatusOK || strings.Contains(raw, hostile) {
		t.Fatalf("detail %d: the customer's comments are escaped", res.StatusCode)
	}
	d = webtest.Doc(t, e.Get(c, path))
	if got := d.Find("#conv-csat .csat-badge").AttrOr("data-score", ""); got != "2" || !strings.Contains(d.Find("#conv-csat").Text(), "Slow "+hostile) {
		t.Fatalf("CSAT in the header: score %q, %q", got, d.Find("#conv-csat").Text())
	}
	fb := d.Find("#msg-" + webtest.Itoa(answer.ID) + " .feedback")
	if fb.AttrOr("data-feedback", "") != "down" || !strings.Contains(fb.Text(), "Lisbon! "+hostile) {
		t.Fatalf("feedback on the answer: %q", fb.Text())
	}
	if d.Find("#msg-"+webtest.Itoa(plain.ID)+" .feedback").Length() != 0 {
		t.Fatal("no feedback on the other answer")
	}
}

// The assistant page's WhatsApp CSAT switch: checked saves it on, a save without the box
// turns it off.
func TestAssistantCSATWhatsAppSwitch(t *testing.T) {
	e := newEnv(t)
	ws, admin := asstLogin(e, "ana@example.com")
	csrf := e.CSRF(admin, "/assistants/new")
	form := asstForm(csrf)
	form.Set("csat_whatsapp", "1")
	id := asstCreate(t, e, admin, form)
	if !asstOnly(t, e, ws.ID).CSATWhatsApp {
		t.Fatal("created with the switch on")
	}
	page := "/assistants/" + webtest.Itoa(id)
	if d := webtest.Doc(t, e.Get(admin, page)); !d.Find("#a-csat-whatsapp").Is("[checked]") {
		t.Fatal("the switch shows on")
	}
	form = asstForm(csrf)
	form.Set("whatsapp_access_token", "")
	res := e.PostForm(admin, page, form)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || asstOnly(t, e, ws.ID).CSATWhatsApp {
		t.Fatalf("save without the box: %d", res.StatusCode)
	}
}
