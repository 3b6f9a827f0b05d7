package dashboard_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

func judgeConv(t *testing.T, e *env, c *store.Conversation, set, tag string, evals map[string]string) {
	t.Helper()
	ctx := context.Background()
	db := e.App.Store.DB
	if _, err := db.NewRaw("UPDATE conversations SET "+set+" WHERE id = ?", c.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if tag != "" {
		tg := &store.Tag{WorkspaceID: c.WorkspaceID, Name: tag, NameKey: strings.ToLower(tag), CreatedAt: c.StartedAt}
		if _, err := db.NewInsert().Model(tg).Returning("id").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NewInsert().Model(&store.ConversationTag{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, TagID: tg.ID, CreatedAt: c.StartedAt}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(evals) > 0 {
		run := &store.EvaluationRun{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, EndSeq: 1, Status: model.EvalDone, CreatedAt: c.StartedAt}
		if _, err := db.NewInsert().Model(run).Returning("id").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for name, v := range evals {
			v := v
			ev := &store.EvaluationValue{WorkspaceID: c.WorkspaceID, ConversationID: c.ID, RunID: run.ID, Name: name, Value: &v, Status: model.EvalDone, Latest: true}
			if _, err := db.NewInsert().Model(ev).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func pageDoc(t *testing.T, res *http.Response) *goquery.Document {
	t.Helper()
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	d, err := goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The list shows outcome, sentiment and the summary; its filters select by the judgement and
// a bad one shows on the form; the navigation lists the out-of-the-box views with their
// counts; a member saves a personal view (not a shared one), and the exports carry the
// judgement's columns.
func TestListJudgementViewsAndExports(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("ana@example.com")
	ctx := context.Background()
	f.assistant.Evaluators = store.Evaluators{{Name: "polite", Type: model.EvaluatorBoolean, Version: 1}, {Name: "notes", Type: model.EvaluatorText, Version: 1}}
	if _, err := e.App.Store.DB.NewUpdate().Model(f.assistant).Column("evaluators").WherePK().Exec(ctx); err != nil {
		t.Fatal(err)
	}
	wa, wg := f.convs[model.TypeWhatsApp], f.convs[model.TypeWidget]
	judgeConv(t, e, wa, "outcome = 'unresolved', sentiment = 'negative', summary = 'Wanted a <b>refund</b>; got none.', csat_score = 2, csat_estimate = 1", "Billing",
		map[string]string{"polite": "false", "notes": "=cmd|' /C calc'!A0"})
	judgeConv(t, e, wg, "outcome = 'resolved', sentiment = 'positive'", "", nil)
	c := e.Client()
	e.Login(c, "ana@example.com", "correct-horse")

	d := pageDoc(t, e.Get(c, "/conversations"))
	row := d.Find("#conv-" + strconv.FormatInt(wa.ID, 10))
	if got := row.Find(".outcome .badge").Text(); got != "Unresolved" {
		t.Fatalf("outcome badge %q", got)
	}
	if got := row.Find(".sentiment .badge").Text(); got != "Negative" {
		t.Fatalf("sentiment badge %q", got)
	}
	if got := row.Find(".preview .summary").Text(); got != "Wanted a <b>refund</b>; got none." {
		t.Fatalf("summary %q (escaped text, never markup)", got)
	}
	views := map[string]string{}
	d.Find("#nav-views a").Each(func(_ int, s *goquery.Selection) {
		views[strings.TrimSpace(s.Find("span").First().Text())] = s.Find(".badge-count").Text()
	})
	if views["Needs review"] != "1" || views["Negative sentiment"] != "1" || views["Assigned to me"] != "0" {
		t.Fatalf("nav views %v", views)
	}
	if d.Find(`select[name="eval.polite"]`).Length() != 1 || d.Find(`select[name="eval.notes"]`).Length() != 0 {
		t.Fatal("evaluator filter controls: boolean offered, text not")
	}

	for query, want := range map[string]int{"outcome=unresolved": 1, "sentiment=positive": 1, "tag=billing": 1, "eval.polite=false": 1,
		"csat_max=2": 1, "needs_review=1": 1, "assignee=me": 0, "review_status=flagged": 0} {
		d := pageDoc(t, e.Get(c, "/conversations?"+query))
		if n := d.Find("tr.conv").Length(); n != want {
			t.Errorf("?%s: %d rows, want %d", query, n, want)
		}
	}
	d = pageDoc(t, e.Get(c, "/conversations?eval.notes=x"))
	if msg := d.Find("#filter-error").Text(); !strings.Contains(msg, "eval.notes") {
		t.Fatalf("a text evaluator's filter: %q", msg)
	}

	// Save a view: personal for an owner too unless shared is asked; the query is canonical.
	tok := e.CSRF(c, "/conversations")
	res := e.PostForm(c, "/conversations/views", url.Values{"_csrf": {tok}, "name": {"Angry billing"}, "query": {"sentiment=negative&tag=Billing&cursor="}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/conversations?sentiment=negative&tag=Billing" {
		t.Fatalf("save view: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res = e.PostForm(c, "/conversations/views", url.Values{"_csrf": {tok}, "name": {""}, "query": {"sentiment=negative"}})
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a view without a name: %d", res.StatusCode)
	}
	d = pageDoc(t, e.Get(c, "/conversations"))
	if got := d.Find(`#nav-views a[href="/conversations?sentiment=negative&tag=Billing"] .badge-count`).Text(); got != "1" {
		t.Fatalf("the saved view's count %q", got)
	}

	// Exports: the judgement's columns, values per custom evaluator, formulas neutralised.
	res = e.Get(c, "/conversations/export.csv?type=whatsapp")
	rows, err := csv.NewReader(res.Body).ReadAll()
	res.Body.Close()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %v %d", err, len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	r := rows[1]
	for name, want := range map[string]string{"summary": "Wanted a <b>refund</b>; got none.", "outcome": "unresolved", "sentiment": "negative",
		"csat": "2", "csat_estimate": "1", "tags": "Billing", "review_status": "unreviewed", "eval.polite": "false", "eval.notes": "'=cmd|' /C calc'!A0"} {
		i, ok := col[name]
		if !ok || r[i] != want {
			t.Errorf("csv %s: %q, want %q (header %v)", name, r[min(i, len(r)-1)], want, rows[0])
		}
	}
	res = e.Get(c, "/conversations/export.jsonl?type=whatsapp")
	var obj map[string]any
	err = json.NewDecoder(res.Body).Decode(&obj)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if obj["outcome"] != "unresolved" || obj["review_status"] != "unreviewed" || obj["csat_estimate"] != 1.0 {
		t.Fatalf("jsonl: %v", obj)
	}
	if ev, _ := obj["evaluations"].(map[string]any); ev["polite"] != "false" {
		t.Fatalf("jsonl evaluations: %v", obj["evaluations"])
	}
	if tags, _ := obj["tags"].([]any); len(tags) != 1 || tags[0] != "Billing" {
		t.Fatalf("jsonl tags: %v", obj["tags"])
	}
	if cs, _ := obj["csat"].(map[string]any); cs["score"] != 2.0 || cs["comment"] != nil {
		t.Fatalf("jsonl csat: %v", obj["csat"])
	}
}
