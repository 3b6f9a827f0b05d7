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
	"github.com/parleyhq/parley/app/replay"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/app/web/webtest"
)

// Helpers of this file carry a "replayUI" prefix.

// replayUISetup is a workspace whose admin is logged in on c, an assistant with version 1
// published and version 2 a draft, and a conversation of two customer turns (the first one
// trying to inject markup).
func replayUISetup(t *testing.T, e *env, email string) (*store.Workspace, *store.Conversation, *http.Client) {
	t.Helper()
	ctx := context.Background()
	ws, c := asstLogin(e, email)
	st := e.App.Store
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "Support", SystemPrompt: "v1"}
	if err := st.CreateAssistant(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := a.Behaviour()
	b.SystemPrompt = "v2"
	if _, _, err := st.SaveAssistantVersion(ctx, ws.ID, a.ID, b, store.Author{Name: "t"}, false); err != nil {
		t.Fatal(err)
	}
	conv := &store.Conversation{WorkspaceID: ws.ID, AssistantID: &a.ID, Type: model.TypeWidget, Customer: "visitor-1"}
	if err := st.CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for i, m := range []store.Message{
		{Role: model.RoleUser, Content: "<script>alert(1)</script> where is my order?"},
		{Role: model.RoleAssistant, Content: "It ships today.", PromptTokens: 50, CompletionTokens: 5, CostNanos: 2500},
		{Role: model.RoleUser, Content: "thanks"},
		{Role: model.RoleAssistant, Content: "You're welcome.", CostNanos: 3000},
	} {
		m.WorkspaceID, m.ConversationID, m.ContentType, m.CreatedAt = ws.ID, conv.ID, "text", at.Add(time.Duration(i)*time.Second)
		if _, err := st.AddMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}
	return ws, conv, c
}

func TestReplayFromTheConversationPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws, conv, c := replayUISetup(t, e, "rae@example.com")
	page := routenames.URL(routenames.Conversation, conv.ID)

	d := webtest.Doc(t, e.Get(c, page))
	opts := d.Find("#replay-form select#replay-version option")
	if opts.Length() != 2 || opts.Eq(0).AttrOr("value", "") != "draft" || opts.Eq(0).AttrOr("selected", "x") == "x" ||
		opts.Eq(1).AttrOr("value", "") != "1" || !strings.Contains(opts.Eq(1).Text(), "published") {
		t.Fatalf("replay options: %s", opts.Text())
	}
	if d.Find("#no-replays").Length() != 1 {
		t.Fatal("no empty list")
	}
	tok := d.Find(`#replay-form input[name="_csrf"]`).AttrOr("value", "")
	start := routenames.URL(routenames.ConversationReplayCreate, conv.ID)

	// Bad versions: 422, nothing written.
	for _, v := range []string{"abc", "0", "9"} {
		if res := e.PostForm(c, start, url.Values{"_csrf": {tok}, "version": {v}}); res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("version %q: %d", v, res.StatusCode)
		}
	}
	if rs, _ := e.App.Store.ConversationReplays(ctx, ws.ID, conv.ID, 10); len(rs) != 0 {
		t.Fatalf("%d replays written by refused requests", len(rs))
	}
	// Without the CSRF token: refused.
	if res := e.PostForm(c, start, url.Values{"version": {"draft"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("no CSRF: %d", res.StatusCode)
	}

	res := e.PostForm(c, start, url.Values{"_csrf": {tok}, "version": {"draft"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/replays/") {
		t.Fatalf("start: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	rs, _ := e.App.Store.ConversationReplays(ctx, ws.ID, conv.ID, 10)
	if len(rs) != 1 || rs[0].Version != 2 || rs[0].CreatedBy == "" {
		t.Fatalf("replays %+v", rs)
	}
	r := rs[0]
	rpage := routenames.URL(routenames.Replay, r.ID)
	if res.Header.Get("Location") != rpage {
		t.Fatalf("redirect to %q, want %q", res.Header.Get("Location"), rpage)
	}

	// Running: the body polls itself.
	d = webtest.Doc(t, e.Get(c, rpage))
	body := d.Find("#replay-body")
	if body.AttrOr("data-status", "") != model.JobPending || body.AttrOr("hx-get", "") != rpage || body.AttrOr("hx-trigger", "") == "" {
		t.Fatalf("pending body: %v", body.Nodes)
	}
	if d.Find("#replay-turns tbody tr").Length() != 2 || !strings.Contains(d.Find("#replay-turn-0 .replayed").Text(), "waiting") {
		t.Fatalf("pending turns: %s", d.Find("#replay-turns").Text())
	}
	// The markup the customer wrote is text.
	if d.Find("#replay-turns script").Length() != 0 || !strings.Contains(d.Find("#replay-turn-0 .customer").Text(), "<script>alert(1)</script>") {
		t.Fatal("the customer's text is not escaped")
	}
	if d.Find("#replay-turns").AttrOr("hx-disable", "x") == "x" {
		t.Fatal("message bodies outside hx-disable")
	}

	if res, err := e.App.ReplayEngine.Execute(ctx, replay.Run{WorkspaceID: ws.ID, ReplayID: r.ID}); err != nil || res.Status != model.JobDone {
		t.Fatalf("execute %+v %v", res, err)
	}
	// The poll's answer is the body alone, finished: no more polling.
	fres := e.Get(c, rpage, "HX-Request", "true")
	frag := webtest.Body(t, fres)
	if !strings.HasPrefix(strings.TrimSpace(frag), `<div id="replay-body"`) || strings.Contains(frag, "<html") {
		t.Fatalf("fragment: %.200s", frag)
	}
	if fres.Header.Get("Vary") == "" {
		t.Error("no Vary header")
	}
	d = webtest.Doc(t, e.Get(c, rpage))
	body = d.Find("#replay-body")
	if body.AttrOr("data-status", "") != model.JobDone || body.AttrOr("hx-trigger", "") != "" {
		t.Fatalf("done body still polls: %v", body.Nodes)
	}
	got, turns, _ := e.App.Store.ReplayWithTurns(ctx, ws.ID, r.ID)
	if strings.TrimSpace(d.Find("#replay-turn-1 .replayed .body").Text()) != *turns[1].Replayed {
		t.Errorf("turn 2 shows %q", d.Find("#replay-turn-1 .replayed .body").Text())
	}
	if strings.TrimSpace(d.Find("#replay-turn-0 .original .body").Text()) != "It ships today." {
		t.Errorf("original of turn 1: %q", d.Find("#replay-turn-0 .original .body").Text())
	}
	if v := d.Find(`#replay-totals td[data-side="original"]`).Text(); v != model.Money(5500).Dollars() {
		t.Errorf("original cost %q", v)
	}
	if v := d.Find("#replay-total-cost").Text(); v != model.Money(got.CostNanos).Dollars() {
		t.Errorf("total cost %q", v)
	}
	if d.Find(`#replay-evaluations tr[data-evaluator="outcome"]`).Length() != 1 {
		t.Errorf("evaluations: %s", d.Find("#replay-evaluations").Text())
	}

	// The conversation page lists it.
	d = webtest.Doc(t, e.Get(c, page))
	if link := d.Find("#replay-list a").AttrOr("href", ""); link != rpage {
		t.Errorf("listed replay link %q", link)
	}

	// A viewer sees the replays, not the form, and may not start one.
	h, _ := auth.HashPassword("password-456")
	if _, err := e.App.Store.CreateMemberUser(ctx, ws.ID, "vic@example.com", "", h, model.UserRoleMember, model.MemberViewer); err != nil {
		t.Fatal(err)
	}
	vc := e.Client()
	e.Login(vc, "vic@example.com", "password-456")
	vd := webtest.Doc(t, e.Get(vc, page))
	if vd.Find("#replay-form").Length() != 0 || vd.Find("#replay-list a").Length() != 1 {
		t.Error("a viewer's replay card")
	}
	vtok := vd.Find(`input[name="_csrf"]`).First().AttrOr("value", "")
	if res := e.PostForm(vc, start, url.Values{"_csrf": {vtok}, "version": {"draft"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer start: %d", res.StatusCode)
	}
	if res := e.Get(vc, rpage); res.StatusCode != http.StatusOK {
		t.Errorf("viewer page: %d", res.StatusCode)
	}

	// Another workspace: neither the page nor the start.
	_, _, oc := replayUISetup(t, e, "otto@example.com")
	if res := e.Get(oc, rpage); res.StatusCode != http.StatusNotFound {
		t.Errorf("another workspace's replay: %d", res.StatusCode)
	}
	otok := e.CSRF(oc, "/settings")
	if res := e.PostForm(oc, start, url.Values{"_csrf": {otok}, "version": {"draft"}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("another workspace's conversation: %d", res.StatusCode)
	}
}
