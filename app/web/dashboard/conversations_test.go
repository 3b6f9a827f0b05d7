package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web/webtest"
)

// fixture is a workspace with conversations of every type.
type fixture struct {
	ws        *store.Workspace
	assistant *store.Assistant
	convs     map[string]*store.Conversation
}

func (e *env) fixture(email string) *fixture {
	e.T.Helper()
	ctx := context.Background()
	ws := e.User(email, "correct-horse")
	a := &store.Assistant{WorkspaceID: ws.ID, Name: "Sales bot"}
	if err := e.App.Store.CreateAssistant(ctx, a); err != nil {
		e.T.Fatal(err)
	}
	f := &fixture{ws: ws, assistant: a, convs: map[string]*store.Conversation{}}
	base := time.Now().Add(-time.Hour).UTC()
	for i, typ := range []string{model.TypeTest, model.TypeWidget, model.TypeWhatsApp} {
		c := &store.Conversation{WorkspaceID: ws.ID, AssistantID: &a.ID, Type: typ, Customer: "cust-" + typ, StartedAt: base, Charged: typ != model.TypeTest}
		if typ == model.TypeWhatsApp {
			c.Customer = "+4915112345678"
			exp := time.Now().Add(3 * time.Hour).UTC()
			c.WindowExpiresAt = &exp
		}
		if err := e.App.Store.CreateConversation(ctx, c); err != nil {
			e.T.Fatal(err)
		}
		for j, m := range []store.Message{
			{Role: "user", Content: "hello from " + typ},
			{Role: "assistant", Content: "answer " + strconv.Itoa(i), PromptTokens: 1234, CompletionTokens: 567, CostNanos: 525300},
		} {
			m.WorkspaceID, m.ConversationID, m.CreatedAt = ws.ID, c.ID, base.Add(time.Duration(i*10+j)*time.Minute)
			if _, err := e.App.Store.AddMessage(ctx, &m); err != nil {
				e.T.Fatal(err)
			}
		}
		f.convs[typ] = c
	}
	return f
}

func TestConversationListAndFilters(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	e.fixture("bob@example.com") // another workspace, never shown to Ana
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")

	res := e.Get(c, "/conversations")
	d := webtest.Doc(t, res)
	if n := d.Find("tr.conv").Length(); n != 3 {
		t.Fatalf("rows: %d, want 3", n)
	}
	if d.Find("#nav-count").Text() != "3" {
		t.Fatalf("badge %q", d.Find("#nav-count").Text())
	}
	labels := map[string]string{}
	d.Find("tr.conv .badge").Each(func(_ int, s *goquery.Selection) { labels[s.AttrOr("data-type", "")] = s.Text() })
	if labels["test"] != "Test" || labels["widget"] != "Web widget" || labels["whatsapp"] != "WhatsApp" {
		t.Fatalf("badges: %v", labels)
	}
	wa := d.Find("#conv-" + webtest.Itoa(f.convs["whatsapp"].ID))
	if !strings.Contains(wa.Find(".window").Text(), "left") || wa.Find(".window").AttrOr("data-window", "") != "open" {
		t.Fatalf("window state: %q", wa.Find(".window").Text())
	}
	if got := strings.TrimSpace(wa.Find("td.num").Eq(1).Text()); got != "$0.00" {
		t.Fatalf("cost cell %q", got)
	}
	if title := wa.Find("td.num").Eq(1).AttrOr("title", ""); title != "$0.000525300" {
		t.Fatalf("exact cost on hover: %q", title)
	}

	// Filter by type: a full page when loaded directly, a fragment for htmx.
	res = e.Get(c, "/conversations?type=whatsapp")
	d = webtest.Doc(t, res)
	if d.Find("tr.conv").Length() != 1 || d.Find("tr.conv").AttrOr("data-type", "") != "whatsapp" {
		t.Fatal("type filter")
	}
	if v, _ := d.Find(`#f-type option[selected]`).Attr("value"); v != "whatsapp" {
		t.Fatalf("the form shows the active filter: %q", v)
	}
	frag := webtest.Body(t, e.Get(c, "/conversations?type=widget", "HX-Request", "true"))
	if strings.Contains(frag, "<html") || !strings.Contains(frag, `id="results"`) || strings.Count(frag, `class="conv"`) != 1 {
		t.Fatalf("htmx fragment: %s", frag)
	}
	// Search and customer filters.
	if n := webtest.Doc(t, e.Get(c, "/conversations?q=hello+widget")).Find("tr.conv").Length(); n != 1 {
		t.Fatalf("search: %d rows", n)
	}
	if n := webtest.Doc(t, e.Get(c, "/conversations?customer=%2B49151")).Find("tr.conv").Length(); n != 1 {
		t.Fatalf("customer prefix: %d rows", n)
	}
	// A bad filter says so and shows the unfiltered list.
	d = webtest.Doc(t, e.Get(c, "/conversations?type=fax"))
	if !strings.Contains(d.Find("#filter-error").Text(), "type") || d.Find("tr.conv").Length() != 3 {
		t.Fatal("bad filter")
	}
	// Sort by cost.
	if n := webtest.Doc(t, e.Get(c, "/conversations?sort=cost")).Find("tr.conv").Length(); n != 3 {
		t.Fatalf("cost sort: %d", n)
	}
}

func TestConversationListPagination(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	ctx := context.Background()
	base := time.Now().Add(-24 * time.Hour).UTC()
	for i := range 120 {
		cv := &store.Conversation{WorkspaceID: ws.ID, Type: model.TypeWidget, Customer: "v" + strconv.Itoa(i), StartedAt: base.Add(time.Duration(i) * time.Minute)}
		if err := e.App.Store.CreateConversation(ctx, cv); err != nil {
			t.Fatal(err)
		}
	}
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	seen := map[string]bool{}
	d := webtest.Doc(t, e.Get(c, "/conversations"))
	pages := 0
	for {
		pages++
		d.Find("tr.conv").Each(func(_ int, s *goquery.Selection) {
			id, _ := s.Attr("id")
			if seen[id] {
				t.Fatalf("row %s repeated", id)
			}
			seen[id] = true
		})
		more := d.Find("#load-more a")
		if more.Length() == 0 {
			break
		}
		href, _ := more.Attr("href")
		hx, _ := more.Attr("hx-get")
		if !strings.Contains(href, "cursor=") || !strings.Contains(hx, "rows=1") {
			t.Fatalf("load more links: %q %q", href, hx)
		}
		// The htmx variant returns rows only.
		frag := webtest.Body(t, e.Get(c, hx, "HX-Request", "true"))
		if strings.Contains(frag, "<table") || !strings.Contains(frag, `class="conv"`) {
			t.Fatalf("rows fragment: %.200s", frag)
		}
		d = webtest.Doc(t, e.Get(c, href)) // the real link underneath
	}
	if len(seen) != 120 || pages != 3 {
		t.Fatalf("saw %d rows over %d pages", len(seen), pages)
	}
	// A forged cursor falls back to the first page with a message.
	d = webtest.Doc(t, e.Get(c, "/conversations?cursor=bogus"))
	if d.Find("#filter-error").Length() == 0 || d.Find("tr.conv").Length() != 50 {
		t.Fatal("bad cursor")
	}
}

func TestConversationDetail(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	other := e.fixture("bob@example.com")
	ctx := context.Background()
	conv := f.convs["widget"]
	hostile := `<script>alert(1)</script><b hx-get="/x">bold</b>`
	m := &store.Message{WorkspaceID: f.ws.ID, ConversationID: conv.ID, Role: "user", Content: hostile}
	if _, err := e.App.Store.AddMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := e.App.Store.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: f.ws.ID, ConversationID: conv.ID, Name: "email", Value: "ana@x.test", Source: "extracted", MessageID: &m.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.App.Store.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: f.ws.ID, ConversationID: conv.ID, Name: "name", Value: "<i>Ana</i>", Source: "prechat"}); err != nil {
		t.Fatal(err)
	}
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	res := e.Get(c, "/conversations/"+webtest.Itoa(conv.ID))
	raw := webtest.Body(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("detail: %d", res.StatusCode)
	}
	if strings.Contains(raw, "<script>alert(1)") || strings.Contains(raw, `<b hx-get="/x">`) || strings.Contains(raw, "<i>Ana</i>") {
		t.Fatal("message content and variables must be escaped")
	}
	d := webtest.Doc(t, e.Get(c, "/conversations/"+webtest.Itoa(conv.ID)))
	if d.Find("#timeline").AttrOr("hx-disable", "missing") == "missing" {
		t.Fatal("the timeline carries hx-disable")
	}
	if got := d.Find("#msg-" + webtest.Itoa(m.ID) + " .content").Text(); got != hostile {
		t.Fatalf("content shown as text: %q", got)
	}
	if d.Find("li.msg").Length() != 3 || d.Find("#info-messages").Text() != "3" || d.Find("#info-user-messages").Text() != "2" {
		t.Fatalf("timeline %d, info %q/%q", d.Find("li.msg").Length(), d.Find("#info-messages").Text(), d.Find("#info-user-messages").Text())
	}
	if !strings.Contains(d.Find("li.msg.assistant .usage").Text(), "1234 + 567 tokens · $0.000525300") {
		t.Fatalf("usage per assistant message: %q", d.Find("li.msg.assistant .usage").Text())
	}
	if href := d.Find("#conv-vars a.var-source").AttrOr("href", ""); href != "#msg-"+webtest.Itoa(m.ID) {
		t.Fatalf("variable links to its message: %q", href)
	}
	if !strings.Contains(d.Find("#conv-vars").Text(), "Pre-chat form") || !strings.Contains(d.Find("#conv-vars").Text(), "Extracted by AI") {
		t.Fatal("variable sources")
	}
	// WhatsApp detail shows the window.
	d = webtest.Doc(t, e.Get(c, "/conversations/"+webtest.Itoa(f.convs["whatsapp"].ID)))
	if d.Find("#window-state .window.open .countdown").Length() != 1 {
		t.Fatal("whatsapp window with countdown")
	}
	// Another workspace's conversation is a 404, as is nonsense.
	for _, p := range []string{"/conversations/" + webtest.Itoa(other.convs["widget"].ID), "/conversations/abc", "/conversations/0"} {
		res := e.Get(c, p)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
}

func TestConversationLongThreadLoadsOlder(t *testing.T) {
	e := newEnv(t)
	ws := e.User("ana@example.com", "correct-horse")
	ctx := context.Background()
	conv := &store.Conversation{WorkspaceID: ws.ID, Type: model.TypeTest, Customer: "long"}
	if err := e.App.Store.CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-10 * time.Hour).UTC()
	for i := range 230 {
		m := &store.Message{WorkspaceID: ws.ID, ConversationID: conv.ID, Role: "user", Content: "m" + strconv.Itoa(i), CreatedAt: base.Add(time.Duration(i) * time.Second)}
		if _, err := e.App.Store.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	d := webtest.Doc(t, e.Get(c, "/conversations/"+webtest.Itoa(conv.ID)))
	if n := d.Find("li.msg").Length(); n != 100 {
		t.Fatalf("first load: %d messages", n)
	}
	if first := d.Find("li.msg .content").First().Text(); first != "m130" {
		t.Fatalf("the latest 100 are shown, oldest first: %q", first)
	}
	got := 100
	next := d.Find("#load-older").AttrOr("hx-get", "")
	for next != "" {
		fd := webtest.Doc(t, e.Get(c, next, "HX-Request", "true"))
		got += fd.Find("li.msg").Length()
		next = fd.Find("#load-older").AttrOr("hx-get", "")
	}
	if got != 230 {
		t.Fatalf("all messages reachable: %d", got)
	}
}

func TestConversationDeleteFromDashboard(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	other := e.fixture("bob@example.com")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	id := f.convs["test"].ID
	d := webtest.Doc(t, e.Get(c, "/conversations/"+webtest.Itoa(id)))
	tok := d.Find(`form[action$="/delete"] input[name=_csrf]`).AttrOr("value", "")
	// Without CSRF: refused, nothing deleted.
	res := e.PostForm(c, "/conversations/"+webtest.Itoa(id)+"/delete", url.Values{})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("delete without CSRF: %d", res.StatusCode)
	}
	// Another workspace's conversation: 404.
	res = e.PostForm(c, "/conversations/"+webtest.Itoa(other.convs["test"].ID)+"/delete", url.Values{"_csrf": {tok}})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("delete other workspace's: %d", res.StatusCode)
	}
	res = e.PostForm(c, "/conversations/"+webtest.Itoa(id)+"/delete", url.Values{"_csrf": {tok}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	counts, _ := e.App.Store.ConversationCounts(context.Background(), f.ws.ID)
	if counts.Total != 2 || counts.ByType["test"] != 0 {
		t.Fatalf("counts after delete: %+v", counts)
	}
	if bc, _ := e.App.Store.ConversationCounts(context.Background(), other.ws.ID); bc.Total != 3 {
		t.Fatal("the other workspace is untouched")
	}
	res = e.Get(c, "/conversations/"+webtest.Itoa(id))
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("after delete: %d", res.StatusCode)
	}
}
