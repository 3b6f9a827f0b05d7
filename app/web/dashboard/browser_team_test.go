package dashboard_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// In two real browsers: an admin invites an agent from Settings → Members; the agent opens
// the link in a browser of their own, creates the account, takes over a WhatsApp
// conversation and sends a message, which Meta receives; the admin sees the agent's name on
// the message, on the takeover, and in the audit log.
func TestBrowserInviteAnAgentWhoTakesOver(t *testing.T) {
	u := newWAUI(t)
	ctx := context.Background()
	h, _ := auth.HashPassword("correct-horse")
	if _, err := u.App.Store.CreateMemberUser(ctx, u.ws.ID, "adam@shop.test", "Adam Admin", h, model.UserRoleMember, model.MemberAdmin); err != nil {
		t.Fatal(err)
	}
	conv := u.conversation("+16505550042", time.Now().Add(30*time.Minute))

	admin := testkit.Browser(t)
	webtest.BrowserLogin(t, admin, u.Env, "adam@shop.test")
	if err := chromedp.Do(admin,
		chromedp.Navigate(u.URL+"/settings/members"),
		chromedp.WaitVisible(chromedp.CSS(`#invite-email`)),
		chromedp.SendKeys(chromedp.CSS(`#invite-email`), "ines@shop.test"),
		chromedp.SetValue(chromedp.CSS(`#invite-role`), "agent"),
		chromedp.Click(chromedp.CSS(`#invites ~ form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-invite-url]`)),
	); err != nil {
		t.Fatal(err)
	}
	link := webtest.EvalJS[string](t, admin, `document.querySelector("[data-invite-url]").value`)
	lu, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(lu.Path, "/invite/") {
		t.Fatalf("the invite link: %q", link)
	}

	// The agent, in a browser of their own.
	agent := testkit.Browser(t)
	if err := chromedp.Do(agent,
		chromedp.Navigate(u.URL+lu.Path),
		chromedp.WaitVisible(chromedp.CSS(`#invite #name`)),
	); err != nil {
		t.Fatal(err)
	}
	if role := webtest.EvalJS[string](t, agent, `document.querySelector("#invite [data-role]").dataset.role`); role != "agent" {
		t.Fatalf("the invite page's role: %q", role)
	}
	if err := chromedp.Do(agent,
		chromedp.SendKeys(chromedp.CSS(`#name`), "Inès Agent"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "agent-password-1"),
		chromedp.Click(chromedp.CSS(`#invite button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.side`)),
		chromedp.Navigate(u.URL+convPath(conv)),
		chromedp.WaitVisible(chromedp.CSS(`#wa-ai button`)),
		chromedp.Click(chromedp.CSS(`#wa-ai button`)),
		chromedp.WaitVisible(chromedp.CSS(`#wa-panel [data-ai="off"]`)),
	); err != nil {
		t.Fatal(err)
	}
	// The panel is also swapped in by the page's live update of the takeover: the message is
	// typed and sent in one step, so that no swap falls between the two.
	webtest.EvalJS[bool](t, agent, `document.querySelector("#wa-text").value = "Hello, this is Inès."; document.querySelector("#wa-compose button[type=submit]").click(); true`)
	webtest.WaitJS(t, agent, `document.querySelector('#timeline li[data-role="human"]') !== null`)
	// The message is shown once stored; its send to Meta follows within the request.
	sends := u.g.Sends()
	for deadline := time.Now().Add(10 * time.Second); len(sends) == 0 && time.Now().Before(deadline); sends = u.g.Sends() {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a second send, if there were one, would show by now
	if sends = u.g.Sends(); len(sends) != 1 {
		t.Fatalf("Meta received %d sends", len(sends))
	}
	if txt, _ := sends[0].Body["text"].(map[string]any); txt["body"] != "Hello, this is Inès." {
		t.Fatalf("Meta received %v", sends[0].Body)
	}

	// The admin sees who sent it and who took over.
	if err := chromedp.Do(admin,
		chromedp.Navigate(u.URL+convPath(conv)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-role="human"] .author`)),
	); err != nil {
		t.Fatal(err)
	}
	if who := webtest.EvalJS[string](t, admin, `document.querySelector('#timeline li[data-role="human"] .author').textContent`); who != "Inès Agent" {
		t.Fatalf("the message's author: %q", who)
	}
	if by := webtest.EvalJS[string](t, admin, `document.querySelector("#wa-panel [data-ai-by]").textContent`); !strings.Contains(by, "Taken over by Inès Agent") {
		t.Fatalf("the takeover: %q", by)
	}
	// And in the audit log: the invite, the agent joining, the takeover and the send, each by
	// its person.
	if err := chromedp.Do(admin,
		chromedp.Navigate(u.URL+"/settings/audit-log"),
		chromedp.WaitVisible(chromedp.CSS(`#audit-table`)),
	); err != nil {
		t.Fatal(err)
	}
	rows := webtest.EvalJS[[]string](t, admin, `[...document.querySelectorAll("#audit-table .audit-row")].map(r => r.cells[1].textContent.trim() + " | " + r.cells[2].querySelector("span").title)`)
	for _, want := range []string{"Inès Agent (user) | conversation.whatsapp.send", "Inès Agent (user) | conversation.takeover", "Inès Agent (user) | member.join", "Adam Admin (user) | member.invite"} {
		found := false
		for _, r := range rows {
			found = found || r == want
		}
		if !found {
			t.Errorf("the audit log lacks %q: %q", want, rows)
		}
	}
}
