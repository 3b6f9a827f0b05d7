package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// The conversation page says whether it is open or ended; "End conversation" (an agent's,
// with CSRF) ends it (reason agent, audited as the member's doing); a viewer may not; after a
// customer message reopened it and it ended again, the page says it ended twice.
func TestDashboardEndConversation(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	ctx := context.Background()
	h, _ := auth.HashPassword("password-456")
	if _, err := e.App.Store.CreateMemberUser(ctx, f.ws.ID, "vic@shop.test", "", h, model.UserRoleMember, model.MemberViewer); err != nil {
		t.Fatal(err)
	}
	conv := f.convs[model.TypeWidget]
	path := "/conversations/" + webtest.Itoa(conv.ID)
	ac := e.Client()
	e.Login(ac, "ana@example.com", "correct-horse")
	vc := e.Client()
	e.Login(vc, "vic@shop.test", "password-456")

	d := webtest.Doc(t, e.Get(ac, path))
	if d.Find(`#conv-end [data-end=open]`).Length() != 1 || d.Find(`#end-conversation`).Length() != 1 {
		t.Fatalf("open conversation: %q", d.Find("#conv-end").Text())
	}
	tok := d.Find(`#conv-end input[name=_csrf]`).AttrOr("value", "")

	// A viewer may not end it; nor may a post without the CSRF token.
	res := e.PostForm(vc, path+"/end", url.Values{"_csrf": {e.CSRF(vc, path)}})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a viewer ends: %d", res.StatusCode)
	}
	res = e.PostForm(ac, path+"/end", url.Values{})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("an end without CSRF: %d", res.StatusCode)
	}
	if c, _ := e.App.Store.GetConversation(ctx, f.ws.ID, conv.ID); c.EndedAt != nil {
		t.Fatal("ended by a refused request")
	}

	res = e.PostForm(ac, path+"/end", url.Values{"_csrf": {tok}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != path {
		t.Fatalf("end: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	c, err := e.App.Store.GetConversation(ctx, f.ws.ID, conv.ID)
	if err != nil || c.EndedAt == nil || c.EndReason != model.EndAgent || c.EndCount != 1 {
		t.Fatalf("ended: %+v %v", c, err)
	}
	d = webtest.Doc(t, e.Get(ac, path))
	if end := d.Find(`#conv-end`); end.Find(`[data-end=ended]`).Length() != 1 || !strings.Contains(end.Text(), "ended by a member of the team") ||
		end.Find("#end-conversation").Length() != 0 || end.Find("#end-count").Length() != 0 {
		t.Fatalf("ended conversation: %q", end.Text())
	}
	var entries []store.AuditEntry
	if err := e.App.Store.DB.NewSelect().Model(&entries).Where("workspace_id = ? AND action = ?", f.ws.ID, string(audit.ConversationEnd)).Scan(ctx); err != nil ||
		len(entries) != 1 || entries[0].ActorType != audit.ActorUser || entries[0].TargetID != webtest.Itoa(conv.ID) {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	// Ending again changes nothing.
	res = e.PostForm(ac, path+"/end", url.Values{"_csrf": {tok}})
	res.Body.Close()
	if c2, _ := e.App.Store.GetConversation(ctx, f.ws.ID, conv.ID); c2.EndCount != 1 || !c2.EndedAt.Equal(*c.EndedAt) {
		t.Fatalf("ending again: %+v", c2)
	}

	// The customer writes again: open, "ended once before"; ended again: "Ended twice".
	if _, err := e.App.Store.AddMessage(ctx, &store.Message{WorkspaceID: f.ws.ID, ConversationID: conv.ID, Role: model.RoleUser,
		Content: "still there?", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	d = webtest.Doc(t, e.Get(ac, path))
	if d.Find(`#conv-end [data-end=open]`).Length() != 1 || !strings.Contains(d.Find("#end-count").Text(), "ended once before") {
		t.Fatalf("reopened: %q", d.Find("#conv-end").Text())
	}
	res = e.PostForm(ac, path+"/end", url.Values{"_csrf": {tok}})
	res.Body.Close()
	d = webtest.Doc(t, e.Get(ac, path))
	if got := d.Find("#end-count").Text(); got != "Ended twice" {
		t.Fatalf("ended twice: %q", got)
	}
}

// A Test Chat session has an "End chat" control: it ends the session (reason closed) and the
// page shows it ended. Only test sessions can be closed there.
func TestTestChatClose(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	a := e.testAssistant(ws)
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	tok := e.CSRF(c, "/test-chat")
	res := e.PostForm(c, "/test-chat/sessions", url.Values{"_csrf": {tok}, "assistant_id": {webtest.Itoa(a.ID)}, "prechat.email": {"buyer@shop.test"}})
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/test-chat/") {
		t.Fatalf("start: %d %q", res.StatusCode, loc)
	}
	d := webtest.Doc(t, e.Get(c, loc))
	if d.Find("#end-chat").Length() != 1 || d.Find("#session-ended").Length() != 0 {
		t.Fatal("an open session has the End chat control")
	}
	action := d.Find("#end-session").AttrOr("action", "")
	if action != loc+"/close" {
		t.Fatalf("End chat posts to %q", action)
	}
	res = e.PostForm(c, action, url.Values{"_csrf": {d.Find(`#end-session input[name=_csrf]`).AttrOr("value", "")}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != loc {
		t.Fatalf("close: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	id := strings.TrimPrefix(loc, "/test-chat/")
	conv, err := e.App.Store.GetConversation(context.Background(), ws.ID, func() int64 { n, _ := strconv.ParseInt(id, 10, 64); return n }())
	if err != nil || conv.EndedAt == nil || conv.EndReason != model.EndClosed {
		t.Fatalf("closed: %+v %v", conv, err)
	}
	d = webtest.Doc(t, e.Get(c, loc))
	if d.Find("#end-chat").Length() != 0 || !strings.Contains(d.Find("#session-ended").Text(), "Test Chat session was closed") {
		t.Fatalf("closed page: %q", d.Find("#session-ended").Text())
	}
	// A conversation that is not a test session cannot be closed as one.
	other := &store.Conversation{WorkspaceID: ws.ID, Type: model.TypeWidget, Customer: "v", StartedAt: time.Now().UTC()}
	if err := e.App.Store.CreateConversation(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	res = e.PostForm(c, "/test-chat/"+webtest.Itoa(other.ID)+"/close", url.Values{"_csrf": {tok}})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("closing a widget conversation as a test session: %d", res.StatusCode)
	}
}
