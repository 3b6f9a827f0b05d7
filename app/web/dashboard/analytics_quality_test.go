package dashboard_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/analytics"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/app/web/webtest"
)

// aqFixture writes three evaluated conversations with CSAT and feedback through the store,
// and runs the quality tally: the page reads what the rollups say. It returns the day the
// conversations ended and the id of the second assistant (Support).
func (e *env) aqFixture(email string) (string, int64) {
	e.T.Helper()
	ctx := context.Background()
	st := e.App.Store
	ws := e.User(email, "correct-horse")
	sales := &store.Assistant{WorkspaceID: ws.ID, Name: "Sales", Evaluators: store.Evaluators{
		{Name: "helpful <b>", Question: "How helpful?", Type: model.EvaluatorRating, Version: 1}}}
	support := &store.Assistant{WorkspaceID: ws.ID, Name: "Support"}
	for _, a := range []*store.Assistant{sales, support} {
		if err := st.CreateAssistant(ctx, a); err != nil {
			e.T.Fatal(err)
		}
	}
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	mk := func(a *store.Assistant, values map[string]string, csat int, thumb string) {
		c := &store.Conversation{WorkspaceID: ws.ID, AssistantID: &a.ID, Type: model.TypeWidget, Customer: "v", StartedAt: at.Add(-time.Hour), LastMessageAt: at.Add(-time.Hour)}
		if err := st.CreateConversation(ctx, c); err != nil {
			e.T.Fatal(err)
		}
		m := &store.Message{WorkspaceID: ws.ID, ConversationID: c.ID, Role: model.RoleAssistant, Content: "hello", CreatedAt: at.Add(-30 * time.Minute)}
		if _, err := st.AddMessage(ctx, m); err != nil {
			e.T.Fatal(err)
		}
		end, err := st.EndConversation(ctx, ws.ID, c.ID, model.EndVisitor, at)
		if err != nil || end == nil {
			e.T.Fatalf("end: %v %v", end, err)
		}
		now := time.Now().UTC()
		run := &store.EvaluationRun{WorkspaceID: ws.ID, ConversationID: c.ID, EndSeq: end.Seq, Status: model.EvalDone, CreatedAt: now, FinishedAt: &now}
		if _, err := st.DB.NewInsert().Model(run).Exec(ctx); err != nil {
			e.T.Fatal(err)
		}
		for name, v := range values {
			ev := &store.EvaluationValue{WorkspaceID: ws.ID, ConversationID: c.ID, RunID: run.ID, Name: name, Builtin: model.IsBuiltinEvaluator(name), Value: &v, Status: model.EvalDone, Latest: true}
			if _, err := st.DB.NewInsert().Model(ev).Exec(ctx); err != nil {
				e.T.Fatal(err)
			}
		}
		if csat > 0 {
			if _, err := st.DB.NewUpdate().Model((*store.Conversation)(nil)).Set("csat_score = ?", csat).Set("csat_at = ?", at).Where("id = ?", c.ID).Exec(ctx); err != nil {
				e.T.Fatal(err)
			}
		}
		if thumb != "" {
			if _, err := st.DB.NewInsert().Model(&store.MessageFeedback{MessageID: m.ID, WorkspaceID: ws.ID, ConversationID: c.ID, Rating: thumb, CreatedAt: at, UpdatedAt: now}).Exec(ctx); err != nil {
				e.T.Fatal(err)
			}
		}
	}
	mk(sales, map[string]string{model.EvalOutcome: model.OutcomeResolved, model.EvalSentiment: model.SentimentPositive, model.EvalCSATEstimate: "4", "helpful <b>": "5"}, 5, model.FeedbackUp)
	mk(sales, map[string]string{model.EvalOutcome: model.OutcomeUnresolved, model.EvalSentiment: model.SentimentNegative, model.EvalCSATEstimate: "2", "helpful <b>": "2"}, 1, "")
	mk(support, map[string]string{model.EvalOutcome: model.OutcomeHandedOff, model.EvalSentiment: model.SentimentNeutral, model.EvalCSATEstimate: "3"}, 0, model.FeedbackDown)
	if _, err := (&analytics.QualityTally{Store: st, Log: testkit.Logger(e.T)}).Run(ctx); err != nil {
		e.T.Fatal(err)
	}
	return store.Day(at), support.ID
}

func TestAnalyticsQuality(t *testing.T) {
	e := newEnv(t)
	day, _ := e.aqFixture("ana@example.com")
	e.aqFixture("bob@example.com") // another workspace: never in Ana's figures
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	d := webtest.Doc(t, e.Get(c, "/analytics?range=7"))
	stat := func(id string) string { return strings.TrimSpace(d.Find("#stat-" + id + " dd").Text()) }
	for id, want := range map[string]string{"evaluated": "3", "resolution": "33.3%", "csat": "3.00", "csat-estimate": "3.00", "thumbs-up": "50.0%"} {
		if got := stat(id); got != want {
			t.Errorf("summary %s = %q, want %q", id, got, want)
		}
	}
	rows := map[string]string{
		"resolution": day + "|1|1|1|0|3|33.3",
		"sentiment":  day + "|1|1|1|3",
		"csat":       day + "|3.00|2|3.00|3",
		"ratings":    day + "|3.50|2",
		"feedback":   day + "|1|1|2",
	}
	for chart, want := range rows {
		if got := strings.Join(dayRow(tableCells(d, chart), day), "|"); got != want {
			t.Errorf("%s on %s: %s, want %s", chart, day, got, want)
		}
	}
	if head := strings.Join(tableCells(d, "ratings")[0], "|"); head != "day|helpful <b>_average|helpful <b>_conversations" {
		t.Errorf("ratings head: %s", head)
	}
	qa := tableCells(d, analytics.ChartQualityAssistants)
	want := [][]string{
		{"assistant", "evaluated", "resolution_rate_percent", "positive_percent", "neutral_percent", "negative_percent", "csat_average", "csat_answers", "csat_estimate_average", "thumbs_up", "thumbs_down", "helpful <b>_average"},
		{"Sales", "2", "50.0", "50.0", "0.0", "50.0", "3.00", "2", "3.00", "1", "0", "3.50"},
		{"Support", "1", "0.0", "0.0", "100.0", "0.0", "", "0", "3.00", "0", "1", ""},
		{"all assistants", "3", "33.3", "33.3", "33.3", "33.3", "3.00", "2", "3.00", "1", "1", "3.50"},
	}
	if len(qa) != len(want) {
		t.Fatalf("quality by assistant: %v", qa)
	}
	for i := range want {
		if strings.Join(qa[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("quality by assistant row %d: %v, want %v", i, qa[i], want[i])
		}
	}
	// The CSAT chart is a line per series, the evaluator's name escaped in the SVG.
	if svg := d.Find("svg#csat-chart"); svg.Length() != 1 || svg.Find("title").First().Text() != "CSAT: customers and estimated" {
		t.Fatal("csat chart")
	}
	if body := webtest.Body(t, e.Get(c, "/analytics?range=7")); strings.Contains(body, "helpful <b>") || !strings.Contains(body, "helpful &lt;b&gt;") {
		t.Fatal("evaluator names are escaped")
	}
	// Every quality table is its CSV.
	for _, chart := range []string{"resolution", "sentiment", "csat", "ratings", "feedback", analytics.ChartQualityAssistants} {
		res := e.Get(c, "/analytics/export.csv?range=7&chart="+chart)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", chart, res.StatusCode)
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
}

// Scoped to one assistant: the quality charts and figures are its own, the links and the
// pushed URL keep the scope, and another workspace's assistant is refused.
func TestAnalyticsQualityOfOneAssistant(t *testing.T) {
	e := newEnv(t)
	day, support := e.aqFixture("ana@example.com")
	_, bobs := e.aqFixture("bob@example.com")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	q := "range=7&assistant=" + strconv.FormatInt(support, 10)
	d := webtest.Doc(t, e.Get(c, "/analytics?"+q))
	stat := func(id string) string { return strings.TrimSpace(d.Find("#stat-" + id + " dd").Text()) }
	for id, want := range map[string]string{"evaluated": "1", "resolution": "0.0%", "csat": "–", "csat-estimate": "3.00", "thumbs-up": "0.0%"} {
		if got := stat(id); got != want {
			t.Errorf("scoped summary %s = %q, want %q", id, got, want)
		}
	}
	if v := d.Find("#a-assistant option[selected]").AttrOr("value", ""); v != strconv.FormatInt(support, 10) || !strings.Contains(d.Find("#quality-scope").Text(), "Support") {
		t.Fatalf("the picker shows %q", v)
	}
	if got := strings.Join(dayRow(tableCells(d, "resolution"), day), "|"); got != day+"|0|0|1|0|1|0.0" {
		t.Fatalf("scoped resolution: %s", got)
	}
	if n := len(tableCells(d, analytics.ChartQualityAssistants)); n != 4 {
		t.Fatalf("the per-assistant table still compares every assistant: %d rows", n)
	}
	if href := d.Find("#chart-csat a.csv-link").AttrOr("href", ""); href != "/analytics/export.csv?"+q+"&chart=csat" {
		t.Fatalf("csv link %q", href)
	}
	recs, err := csv.NewReader(strings.NewReader(webtest.Body(t, e.Get(c, "/analytics/export.csv?"+q+"&chart=resolution")))).ReadAll()
	if err != nil || strings.Join(recs[len(recs)-1], "|") != "total|0|0|1|0|1|0.0" {
		t.Fatalf("scoped CSV: %v %v", recs, err)
	}
	res := e.Get(c, "/analytics?"+q, "HX-Request", "true")
	if res.Header.Get("HX-Push-Url") != "/analytics?"+q {
		t.Fatalf("pushed %q", res.Header.Get("HX-Push-Url"))
	}
	// Bob's assistant is not Ana's: every assistant, and the page says so; the CSV refuses.
	d = webtest.Doc(t, e.Get(c, "/analytics?range=7&assistant="+strconv.FormatInt(bobs, 10)))
	if !strings.Contains(d.Find("#analytics-error").Text(), "not one of this workspace's assistants") || strings.TrimSpace(d.Find("#stat-evaluated dd").Text()) != "3" {
		t.Fatal("another workspace's assistant")
	}
	if res := e.Get(c, "/analytics/export.csv?range=7&chart=csat&assistant=x"); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad assistant CSV: %d", res.StatusCode)
	}
}

// Without any evaluation the quality figures say there is no data.
func TestAnalyticsQualityEmpty(t *testing.T) {
	e := newEnv(t)
	e.User("ana@example.com", "correct-horse")
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")
	d := webtest.Doc(t, e.Get(c, "/analytics?range=7"))
	if got := strings.TrimSpace(d.Find("#stat-resolution dd").Text()); got != "–" {
		t.Fatalf("resolution without data: %q", got)
	}
	if d.Find("#quality-empty").Length() != 1 || d.Find("#table-quality_assistants").Length() != 0 {
		t.Fatal("the per-assistant table says there is no data")
	}
}
