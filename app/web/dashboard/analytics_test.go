package dashboard_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/hibiken/asynq"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web"
	"github.com/parleyhq/parley/app/web/webtest"
	"github.com/parleyhq/parley/workers"
)

// anFixture is a workspace with known rollups over the last days, and conversations with
// known costs.
type anFixture struct {
	ws                 *store.Workspace
	sales, support     *store.Assistant
	today, yesterday   string
	cheap, dear, other *store.Conversation
}

func (e *env) analyticsFixture(email string) *anFixture {
	e.T.Helper()
	ctx := context.Background()
	st := e.App.Store
	ws := e.User(email, "correct-horse")
	f := &anFixture{ws: ws}
	f.sales = &store.Assistant{WorkspaceID: ws.ID, Name: "Sales <bot>"}
	f.support = &store.Assistant{WorkspaceID: ws.ID, Name: "Support"}
	for _, a := range []*store.Assistant{f.sales, f.support} {
		if err := st.CreateAssistant(ctx, a); err != nil {
			e.T.Fatal(err)
		}
	}
	now := time.Now().UTC()
	f.today, f.yesterday = store.Day(now), store.Day(now.AddDate(0, 0, -1))
	old := store.Day(now.AddDate(0, 0, -20)) // outside the 7-day range
	rows := []store.UsageDaily{
		{WorkspaceID: ws.ID, Day: f.today, AssistantID: f.sales.ID, Type: model.TypeWidget, Conversations: 5, Messages: 40, RequiredConversations: 4, CompleteConversations: 3,
			LLMCalls: 20, PromptTokens: 10000, CachedTokens: 500, CompletionTokens: 2000, CostNanos: 1_234_567_891},
		{WorkspaceID: ws.ID, Day: f.today, AssistantID: f.support.ID, Type: model.TypeWhatsApp, Conversations: 2, Messages: 10, WindowsClosedUnanswered: 1,
			LLMCalls: 4, PromptTokens: 3000, CompletionTokens: 300, CostNanos: 525300},
		{WorkspaceID: ws.ID, Day: f.yesterday, AssistantID: f.sales.ID, Type: model.TypeTest, Conversations: 1, Messages: 6, RequiredConversations: 1, CompleteConversations: 1,
			LLMCalls: 3, PromptTokens: 900, CompletionTokens: 100, CostNanos: 7},
		{WorkspaceID: ws.ID, Day: f.yesterday, AssistantID: f.support.ID, Type: model.TypeWhatsApp, WindowsClosedUnanswered: 2},
		{WorkspaceID: ws.ID, Day: old, AssistantID: f.sales.ID, Type: model.TypeWidget, Conversations: 1000, CostNanos: 999_000_000_000},
	}
	if err := st.InsertRollups(ctx, rows); err != nil {
		e.T.Fatal(err)
	}
	mk := func(a *store.Assistant, typ, customer string, cost int64) *store.Conversation {
		c := &store.Conversation{WorkspaceID: ws.ID, AssistantID: &a.ID, Type: typ, Customer: customer, Charged: true}
		if err := st.CreateConversation(ctx, c); err != nil {
			e.T.Fatal(err)
		}
		if _, err := st.AddMessage(ctx, &store.Message{WorkspaceID: ws.ID, ConversationID: c.ID, Role: "assistant", Content: "x", CostNanos: cost, PromptTokens: 10}); err != nil {
			e.T.Fatal(err)
		}
		return c
	}
	f.cheap = mk(f.support, model.TypeWhatsApp, "+4915112345678", 1000)
	f.dear = mk(f.sales, model.TypeWidget, "visitor-dear", 2_500_000_000)
	f.other = mk(f.sales, model.TypeWidget, "visitor-free", 0)
	return f
}

func tableCells(d *goquery.Document, id string) [][]string {
	var out [][]string
	d.Find("#table-" + id + " tr").Each(func(_ int, tr *goquery.Selection) {
		var row []string
		tr.Find("th, td").Each(func(_ int, c *goquery.Selection) { row = append(row, strings.TrimSpace(c.Text())) })
		out = append(out, row)
	})
	return out
}

func dayRow(rows [][]string, day string) []string {
	for _, r := range rows {
		if len(r) > 0 && r[0] == day {
			return r
		}
	}
	return nil
}

func TestAnalyticsPage(t *testing.T) {
	e := newEnv(t)
	f := e.analyticsFixture("ana@example.com")
	e.analyticsFixture("bob@example.com") // another workspace: never in Ana's figures
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")

	res := e.Get(c, "/analytics?range=7")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	d := webtest.Doc(t, res)
	if d.Find("h1").First().Text() != "Analytics" || d.Find(`nav.side a[href="/analytics"]`).AttrOr("aria-current", "") != "page" {
		t.Fatal("the Analytics page is in the navigation and current")
	}
	if v, _ := d.Find(`#a-range option[selected]`).Attr("value"); v != "7" {
		t.Fatalf("range picker shows %q", v)
	}
	stat := func(id string) string { return strings.TrimSpace(d.Find("#stat-" + id + " dd").Text()) }
	for id, want := range map[string]string{"conversations": "8", "messages": "56", "calls": "27", "tokens": "16300", "cost": "$1.235093198", "complete": "80.0%", "windows": "3"} {
		if got := stat(id); got != want {
			t.Errorf("summary %s = %q, want %q", id, got, want)
		}
	}
	// Conversations per day by type: a table row per day, a column per type, totals.
	conv := tableCells(d, "conversations")
	if strings.Join(conv[0], "|") != "day|Test|Web widget|WhatsApp|total" || len(conv) != 1+7+1 {
		t.Fatalf("conversations table head %v, %d rows", conv[0], len(conv))
	}
	if got := strings.Join(dayRow(conv, f.today), "|"); got != f.today+"|0|5|2|7" {
		t.Fatalf("today: %s", got)
	}
	if got := strings.Join(dayRow(conv, f.yesterday), "|"); got != f.yesterday+"|1|0|0|1" {
		t.Fatalf("yesterday: %s", got)
	}
	if got := strings.Join(conv[len(conv)-1], "|"); got != "total|1|5|2|8" {
		t.Fatalf("totals: %s", got)
	}
	// Cost per day by assistant, exact to the nano-dollar.
	cost := tableCells(d, "cost")
	if strings.Join(cost[0], "|") != "day|Sales <bot> (USD)|Support (USD)|total (USD)" {
		t.Fatalf("cost head: %v", cost[0])
	}
	if got := strings.Join(dayRow(cost, f.today), "|"); got != f.today+"|1.234567891|0.000525300|1.235093191" {
		t.Fatalf("cost today: %s", got)
	}
	// Tokens are prompt + completion.
	if got := strings.Join(dayRow(tableCells(d, "tokens"), f.today), "|"); got != f.today+"|12000|3300|15300" {
		t.Fatalf("tokens today: %s", got)
	}
	// The share with every required variable.
	vars := tableCells(d, "variables")
	if got := strings.Join(dayRow(vars, f.today), "|"); got != f.today+"|3|4|75.0" {
		t.Fatalf("variables today: %s", got)
	}
	if got := strings.Join(vars[len(vars)-1], "|"); got != "total|4|5|80.0" {
		t.Fatalf("variables total: %s", got)
	}
	if got := strings.Join(dayRow(tableCells(d, "windows"), f.yesterday), "|"); got != f.yesterday+"|2" {
		t.Fatalf("windows yesterday: %s", got)
	}
	// The charts are SVG on the page, with a pattern per series and a text alternative.
	svg := d.Find("svg#conversations-chart")
	if svg.Length() != 1 || svg.AttrOr("role", "") != "img" || svg.Find("title").First().Text() != "Conversations per day" {
		t.Fatal("conversations chart")
	}
	if n := svg.Find("pattern").Length(); n != 3 {
		t.Fatalf("%d patterns for three types", n)
	}
	if n := svg.Find("rect.bar").Length(); n != 3 {
		t.Fatalf("%d bar segments", n)
	}
	if bar := svg.Find(`rect.bar[data-day="` + f.today + `"][data-series="widget"]`); bar.AttrOr("data-value", "") != "5" || !strings.Contains(bar.Find("title").Text(), "Web widget: 5") {
		t.Fatal("a bar says what it is")
	}
	if !strings.Contains(d.Find("svg#cost-chart").Text(), "Sales <bot>") || strings.Contains(webtest.Body(t, e.Get(c, "/analytics?range=7")), "Sales <bot>") {
		t.Fatal("names are escaped in the SVG")
	}
	// Top conversations by cost, most expensive first, linking to them.
	var links []string
	d.Find("#table-top tr.top-conv a").Each(func(_ int, a *goquery.Selection) { links = append(links, a.AttrOr("href", "")) })
	if len(links) != 2 || links[0] != "/conversations/"+strconv.FormatInt(f.dear.ID, 10) || links[1] != "/conversations/"+strconv.FormatInt(f.cheap.ID, 10) {
		t.Fatalf("top conversations: %v", links)
	}
	// Each chart links its CSV.
	if href := d.Find("#chart-cost a.csv-link").AttrOr("href", ""); href != "/analytics/export.csv?range=7&chart=cost" {
		t.Fatalf("csv link %q", href)
	}

	// The range picker: htmx gets the fragment and the canonical URL.
	res = e.Get(c, "/analytics?range=30", "HX-Request", "true")
	frag := webtest.Body(t, res)
	if strings.Contains(frag, "<html") || !strings.Contains(frag, `id="analytics-results"`) || res.Header.Get("HX-Push-Url") != "/analytics?range=30" {
		t.Fatalf("fragment: %s", res.Header.Get("HX-Push-Url"))
	}
	// 30 days include the older day.
	d = webtest.Doc(t, e.Get(c, "/analytics?range=30"))
	if got := strings.TrimSpace(d.Find("#stat-conversations dd").Text()); got != "1008" {
		t.Fatalf("30 days: %s conversations", got)
	}
	// A bad range says so and shows the default.
	d = webtest.Doc(t, e.Get(c, "/analytics?range=365"))
	if !strings.Contains(d.Find("#analytics-error").Text(), "7, 30 or 90") || d.Find("#analytics-results").AttrOr("data-range", "") != "30" {
		t.Fatal("bad range")
	}
}

func TestAnalyticsCSVMatchesTheTables(t *testing.T) {
	e := newEnv(t)
	e.analyticsFixture("ana@example.com")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	d := webtest.Doc(t, e.Get(c, "/analytics?range=7"))
	for _, chart := range []string{"conversations", "messages", "tokens", "cost", "variables", "windows"} {
		res := e.Get(c, "/analytics/export.csv?range=7&chart="+chart)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || !strings.Contains(res.Header.Get("Content-Disposition"), "analytics-"+chart) {
			t.Fatalf("%s: %d %q", chart, res.StatusCode, res.Header.Get("Content-Type"))
		}
		recs, err := csv.NewReader(strings.NewReader(webtest.Body(t, res))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		table := tableCells(d, chart)
		if len(recs) != len(table) {
			t.Fatalf("%s: %d CSV records, %d table rows", chart, len(recs), len(table))
		}
		for i := range recs {
			if strings.Join(recs[i], "|") != strings.Join(table[i], "|") {
				t.Errorf("%s row %d: CSV %v, table %v", chart, i, recs[i], table[i])
			}
		}
	}
	res := e.Get(c, "/analytics/export.csv?range=7&chart=top")
	recs, err := csv.NewReader(strings.NewReader(webtest.Body(t, res))).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][1] != "conversation_id" || recs[1][5] != "2.500000000" || !strings.HasSuffix(recs[1][8], "/conversations/"+recs[1][1]) {
		t.Fatalf("top CSV: %v %v", recs, err)
	}
	for _, bad := range []string{"/analytics/export.csv?range=7&chart=pie", "/analytics/export.csv?range=8&chart=cost"} {
		if res := e.Get(c, bad); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, res.StatusCode)
		}
	}
	// Login required.
	if res := e.Get(e.Client(), "/analytics/export.csv?range=7&chart=cost"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("anonymous export: %d", res.StatusCode)
	}
	if res := e.Get(e.Client(), "/analytics"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("anonymous page: %d", res.StatusCode)
	}
}

func TestRerunExtraction(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	other := e.fixture("bob@example.com")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	conv := f.convs["widget"]
	path := "/conversations/" + strconv.FormatInt(conv.ID, 10)
	d := webtest.Doc(t, e.Get(c, path))
	form := d.Find("#rerun-extraction").Closest("form")
	if form.AttrOr("action", "") != path+"/extract" {
		t.Fatalf("re-run form: %q", form.AttrOr("action", ""))
	}
	tok := form.Find(`input[name="_csrf"]`).AttrOr("value", "")
	if res := e.PostForm(c, path+"/extract", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", res.StatusCode)
	}
	res := e.PostForm(c, path+"/extract", url.Values{"_csrf": {tok}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != path {
		t.Fatalf("re-run: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res = e.PostForm(c, path+"/extract", url.Values{"_csrf": {tok}}, "HX-Request", "true")
	if b := webtest.Body(t, res); res.StatusCode != http.StatusOK || !strings.Contains(b, "queued") {
		t.Fatalf("htmx re-run: %d %s", res.StatusCode, b)
	}
	insp := asynq.NewInspectorFromRedisClient(e.App.Redis)
	pending, err := insp.ListPendingTasks(workers.QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ti := range pending {
		if ti.Type == workers.TypeConversationExtract && strings.HasPrefix(ti.ID, e.App.Tasks.Prefix()+":extract:"+strconv.FormatInt(conv.ID, 10)+":rerun:") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d rerun tasks queued, want 2", n)
	}
	// Another workspace's conversation is not found.
	res = e.PostForm(c, "/conversations/"+strconv.FormatInt(other.convs["widget"].ID, 10)+"/extract", url.Values{"_csrf": {tok}})
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("foreign conversation: %d", res.StatusCode)
	}
}

func TestMissingRequiredVariableFilter(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	ctx := context.Background()
	st := e.App.Store
	if _, err := st.ModifyAssistant(ctx, f.ws.ID, f.assistant.ID, func(a *store.Assistant) error {
		a.Variables = webtest.FromJSON[store.Variables](t, `[{"name":"email","type":"email","required":true}]`)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetVariable(ctx, &store.ConversationVariable{WorkspaceID: f.ws.ID, ConversationID: f.convs["widget"].ID, Name: "email", Value: "a@example.com", Source: "prechat"}); err != nil {
		t.Fatal(err)
	}
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	d := webtest.Doc(t, e.Get(c, "/conversations?missing=1"))
	if n := d.Find("tr.conv").Length(); n != 2 || d.Find("#conv-"+strconv.FormatInt(f.convs["widget"].ID, 10)).Length() != 0 {
		t.Fatalf("missing a required variable: %d rows", n)
	}
	if _, ok := d.Find("#f-missing").Attr("checked"); !ok {
		t.Fatal("the checkbox shows the active filter")
	}
	if href := d.Find("#export-csv").AttrOr("href", ""); !strings.Contains(href, "missing=1") {
		t.Fatalf("the export keeps the filter: %q", href)
	}
	res := e.Get(c, "/conversations?missing=1&type=test", "HX-Request", "true")
	if push := res.Header.Get("HX-Push-Url"); !strings.Contains(push, "missing=1") {
		t.Fatalf("pushed URL %q", push)
	}
	res.Body.Close()
}

// BenchmarkAnalyticsPage measures the server time of /analytics (in-process, the handler's
// ServeHTTP) over a rollup table of PARLEY_BENCH_CONVERSATIONS conversations' worth (default
// 1,000,000) spread over a year, five assistants and three types, beside
// PARLEY_BENCH_OTHER_WORKSPACES other workspaces of the same shape (default 20). With
// PARLEY_BENCH_DATABASE_URL it runs on that (PostgreSQL) database, for example one loaded with
// `parley seed --bulk`, whose first workspace it reads.
func BenchmarkAnalyticsPage(b *testing.B) {
	ctx := context.Background()
	envInt := func(k string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v >= 0 {
			return v
		}
		return def
	}
	convs, others := envInt("PARLEY_BENCH_CONVERSATIONS", 1_000_000), envInt("PARLEY_BENCH_OTHER_WORKSPACES", 20)
	var a *app.App
	if u := os.Getenv("PARLEY_BENCH_DATABASE_URL"); u != "" {
		a = testkit.App(b, testkit.ConfigFor(b, testkit.DB{Dialect: store.Postgres, DatabaseURL: u}, testkit.RedisURL(b)))
	} else {
		a = testkit.App(b, testkit.Config(b))
	}
	st := a.Store
	hash, _ := auth.HashPassword("correct-horse")
	ws, err := st.FirstWorkspace(ctx)
	if err != nil {
		ws, _, err = st.CreateWorkspaceWithUser(ctx, "Bench", "bench@example.com", hash)
		if err != nil {
			b.Fatal(err)
		}
	}
	email := fmt.Sprintf("analytics-bench-%d@example.com", time.Now().UnixNano())
	if err := st.CreateUser(ctx, &store.User{WorkspaceID: ws.ID, Email: email, PasswordHash: hash, Role: "admin", CreatedAt: time.Now()}, model.MemberAdmin); err != nil {
		b.Fatal(err)
	}
	var assistants []int64
	as, _ := st.Assistants(ctx, ws.ID)
	for _, x := range as {
		assistants = append(assistants, x.ID)
	}
	for len(assistants) < 5 {
		x := &store.Assistant{WorkspaceID: ws.ID, Name: fmt.Sprintf("Bench %d", len(assistants))}
		if err := st.CreateAssistant(ctx, x); err != nil {
			b.Fatal(err)
		}
		assistants = append(assistants, x.ID)
	}
	assistants = assistants[:5]
	start := time.Now()
	rowsOf := func(wsID int64, asst []int64) []store.UsageDaily {
		per := int64(convs / (365 * len(asst) * len(model.Types)))
		var rows []store.UsageDaily
		today := time.Now().UTC()
		for d := 0; d < 365; d++ {
			day := store.Day(today.AddDate(0, 0, -d))
			for i, aid := range asst {
				for j, typ := range model.Types {
					n := per + int64((d+i+j)%3) - 1
					rows = append(rows, store.UsageDaily{WorkspaceID: wsID, Day: day, AssistantID: aid, Type: typ, Conversations: n, Messages: 9 * n,
						RequiredConversations: n, CompleteConversations: n * 7 / 10, WindowsClosedUnanswered: n / 20, LLMCalls: 5 * n,
						PromptTokens: 4000 * n, CachedTokens: 500 * n, CompletionTokens: 400 * n, CostNanos: 900_000 * n})
				}
			}
		}
		return rows
	}
	// issue 14: analytics (the quality rollups: every metric per day and assistant)
	qualityOf := func(wsID int64, asst []int64) []store.QualityDaily {
		per := int64(convs / (365 * len(asst)))
		var rows []store.QualityDaily
		today := time.Now().UTC()
		for d := 0; d < 365; d++ {
			day := store.Day(today.AddDate(0, 0, -d))
			for _, aid := range asst {
				q := func(metric, item string, n, total int64) {
					rows = append(rows, store.QualityDaily{WorkspaceID: wsID, Day: day, AssistantID: aid, Metric: metric, Item: item, N: n, Total: total})
				}
				q(store.QualityEvaluated, "", per, 0)
				for i, o := range model.Outcomes {
					q(store.QualityOutcome, o, per/int64(2+i), 0)
				}
				for i, s := range model.Sentiments {
					q(store.QualitySentiment, s, per/int64(2+i), 0)
				}
				q(store.QualityCSATEstimate, "", per, 4*per)
				q(store.QualityCSAT, "", per/10, 4*per/10)
				q(store.QualityFeedback, model.FeedbackUp, per/5, 0)
				q(store.QualityFeedback, model.FeedbackDown, per/20, 0)
				q(store.QualityRating, "helpful", per, 3*per)
				q(store.QualityRating, "accurate", per, 4*per)
			}
		}
		return rows
	}
	if err := st.InsertRollups(ctx, rowsOf(ws.ID, assistants)); err != nil {
		b.Fatal(err)
	}
	if err := st.InsertQualityRollups(ctx, qualityOf(ws.ID, assistants)); err != nil {
		b.Fatal(err)
	}
	for o := 0; o < others; o++ {
		w, _, err := st.CreateWorkspaceWithUser(ctx, "Other", fmt.Sprintf("other-%d-%d@example.com", o, time.Now().UnixNano()), hash)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.InsertRollups(ctx, rowsOf(w.ID, []int64{1, 2, 3, 4, 5})); err != nil {
			b.Fatal(err)
		}
		if err := st.InsertQualityRollups(ctx, qualityOf(w.ID, []int64{1, 2, 3, 4, 5})); err != nil {
			b.Fatal(err)
		}
	}
	if st.Dialect == store.Postgres { // what autovacuum does after a bulk write
		if _, err := st.DB.ExecContext(ctx, "ANALYZE usage_daily"); err != nil {
			b.Fatal(err)
		}
		if _, err := st.DB.ExecContext(ctx, "ANALYZE quality_daily"); err != nil {
			b.Fatal(err)
		}
	}
	var total int64
	_ = st.DB.NewRaw("SELECT COUNT(*) FROM usage_daily").Scan(ctx, &total)
	b.Logf("usage_daily holds %d rows (%s to write); workspace %d has %d conversations' worth", total, time.Since(start).Round(time.Millisecond), ws.ID, convs)

	srv := web.New(a)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(ts.URL + "/login")
	if err != nil {
		b.Fatal(err)
	}
	d, _ := goquery.NewDocumentFromReader(res.Body)
	res.Body.Close()
	tok := d.Find(`input[name="_csrf"]`).First().AttrOr("value", "")
	res, err = c.PostForm(ts.URL+"/login", url.Values{"_csrf": {tok}, "email": {email}, "password": {"correct-horse"}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		b.Fatalf("login: %v %v", res.StatusCode, err)
	}
	res.Body.Close()
	u, _ := url.Parse(ts.URL)
	cookies := jar.Cookies(u)
	for _, rng := range []string{"7", "30", "90"} {
		b.Run("range="+rng, func(b *testing.B) {
			var served time.Duration
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodGet, "/analytics?range="+rng, nil)
				for _, ck := range cookies {
					req.AddCookie(ck)
				}
				rec := httptest.NewRecorder()
				t0 := time.Now()
				srv.Handler().ServeHTTP(rec, req)
				served += time.Since(t0)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="conversations-chart"`) || !strings.Contains(rec.Body.String(), `id="csat-chart"`) {
					b.Fatalf("status %d", rec.Code)
				}
			}
			b.ReportMetric(float64(served.Microseconds())/float64(b.N)/1000, "ms/page")
		})
	}
}
