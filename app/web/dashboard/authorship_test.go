package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/web/webtest"
)

// An agent's WhatsApp message shows who sent it, and the conversation who took it over and
// who handed it back; a viewer may do neither.
func TestWhatsAppAuthorship(t *testing.T) {
	u := newWAUI(t)
	ctx := context.Background()
	h, _ := auth.HashPassword("password-456")
	agent, err := u.App.Store.CreateMemberUser(ctx, u.ws.ID, "ines@shop.test", "Inès Agent", h, model.UserRoleMember, model.MemberAgent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.App.Store.CreateMemberUser(ctx, u.ws.ID, "vic@shop.test", "", h, model.UserRoleMember, model.MemberViewer); err != nil {
		t.Fatal(err)
	}
	conv := u.conversation("+16505550009", time.Now().Add(30*time.Minute))
	ac := u.Client()
	u.Login(ac, "ines@shop.test", "password-456")
	vc := u.Client()
	u.Login(vc, "vic@shop.test", "password-456")

	// A viewer sees the conversation but cannot take over nor send.
	vtok := u.CSRF(vc, convPath(conv))
	for path, form := range map[string]url.Values{"/ai": {"enabled": {"0"}}, "/whatsapp/send": {"content": {"hi"}}} {
		form.Set("_csrf", vtok)
		res := u.PostForm(vc, convPath(conv)+path, form)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("a viewer posts %s: %d", path, res.StatusCode)
		}
	}
	if len(u.g.Requests()) != 0 {
		t.Fatal("a viewer's request reached Meta")
	}

	tok := u.CSRF(ac, convPath(conv))
	res := u.PostForm(ac, convPath(conv)+"/ai", url.Values{"_csrf": {tok}, "enabled": {"0"}}, "HX-Request", "true")
	d := webtest.Doc(t, res)
	if by, _ := d.Find("[data-ai-by]").Attr("data-ai-by"); res.StatusCode != 200 || by != "Inès Agent" || !strings.Contains(d.Find("[data-ai-by]").Text(), "Taken over by Inès Agent") {
		t.Fatalf("take over: %d %q", res.StatusCode, d.Text())
	}
	res = u.PostForm(ac, convPath(conv)+"/whatsapp/send", url.Values{"_csrf": {tok}, "mode": {"text"}, "content": {"I'm Inès, I'll help."}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("send: %d", res.StatusCode)
	}
	ms := u.messages(conv)
	if len(ms) != 1 || ms[0].AuthorID == nil || *ms[0].AuthorID != agent.ID || ms[0].AuthorName != "Inès Agent" {
		t.Fatalf("stored: %+v", ms)
	}
	if len(u.g.Requests()) != 1 {
		t.Fatalf("graph calls: %d", len(u.g.Requests()))
	}
	// The owner sees the agent's name on the message and on the takeover.
	d = webtest.Doc(t, u.Get(u.c, convPath(conv)))
	if got := d.Find(`#timeline li[data-role="human"] .author`).Text(); got != "Inès Agent" {
		t.Fatalf("the message's author: %q", got)
	}
	if got := d.Find("#wa-panel [data-ai-by]").Text(); !strings.Contains(got, "Taken over by Inès Agent") {
		t.Fatalf("the takeover: %q", got)
	}
	// The JSON export names the author too.
	res = u.Get(u.c, convPath(conv)+"/export.json")
	if b := webtest.Body(t, res); !strings.Contains(b, `"author":{"id":`+strconv.FormatInt(agent.ID, 10)+`,"name":"Inès Agent"}`) {
		t.Fatalf("export: %s", b)
	}
	// The owner hands back: the panel names the owner (no name: the email).
	otok := u.CSRF(u.c, convPath(conv))
	res = u.PostForm(u.c, convPath(conv)+"/ai", url.Values{"_csrf": {otok}, "enabled": {"1"}}, "HX-Request", "true")
	d = webtest.Doc(t, res)
	if got := d.Find("[data-ai-by]").Text(); !strings.Contains(got, "Handed back to the AI by wa@example.com") {
		t.Fatalf("hand back: %q", got)
	}
}
