package analytics_test

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/analytics"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
)

// Helpers of this file carry a "qt" prefix.

type qtFixture struct {
	s      *store.Store
	ws     int64
	a1, a2 int64
}

func qtSetup(t *testing.T, s *store.Store) qtFixture {
	t.Helper()
	ctx := context.Background()
	w, _, err := s.CreateWorkspaceWithUser(ctx, "Quality", fmt.Sprintf("quality-%d@example.com", rand.Int63()), "hash")
	if err != nil {
		t.Fatal(err)
	}
	a1 := &store.Assistant{WorkspaceID: w.ID, Name: "Sales", Evaluators: store.Evaluators{
		{Name: "helpful", Question: "How helpful?", Type: model.EvaluatorRating, Version: 1},
		{Name: "polite", Question: "Polite?", Type: model.EvaluatorBoolean, Version: 1},
		// An option whose values look like ratings: never averaged.
		{Name: "tier", Question: "Which tier?", Type: model.EvaluatorOption, Options: []string{"1", "2", "3"}, Version: 1},
	}}
	a2 := &store.Assistant{WorkspaceID: w.ID, Name: "Support"}
	for _, a := range []*store.Assistant{a1, a2} {
		if err := s.CreateAssistant(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	return qtFixture{s: s, ws: w.ID, a1: a1.ID, a2: a2.ID}
}

func (f qtFixture) conv(t *testing.T, assistant int64, customer string, start time.Time) *store.Conversation {
	t.Helper()
	aid := assistant
	c := &store.Conversation{WorkspaceID: f.ws, AssistantID: &aid, Type: model.TypeWidget, Customer: customer, StartedAt: start, LastMessageAt: start}
	if err := f.s.CreateConversation(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (f qtFixture) message(t *testing.T, c *store.Conversation, role string, at time.Time) int64 {
	t.Helper()
	m := &store.Message{WorkspaceID: f.ws, ConversationID: c.ID, Role: role, Content: "text", CreatedAt: at}
	if _, err := f.s.AddMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func (f qtFixture) end(t *testing.T, c *store.Conversation, at time.Time) int {
	t.Helper()
	e, err := f.s.EndConversation(context.Background(), f.ws, c.ID, model.EndIdle, at)
	if err != nil || e == nil {
		t.Fatalf("end: %+v %v", e, err)
	}
	return e.Seq
}

// evaluate writes a finished run of an end with its values (name -> value; a name with the
// prefix "!" is a failed value) and makes them the conversation's latest.
func (f qtFixture) evaluate(t *testing.T, c *store.Conversation, seq, run int, values map[string]string) {
	t.Helper()
	ctx := context.Background()
	fin := time.Now().UTC()
	r := &store.EvaluationRun{WorkspaceID: f.ws, ConversationID: c.ID, EndSeq: seq, Run: run, Status: model.EvalDone, Provider: "offline", CreatedAt: fin, FinishedAt: &fin}
	if _, err := f.s.DB.NewInsert().Model(r).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.DB.NewUpdate().Model((*store.EvaluationValue)(nil)).Set("latest = ?", false).Where("conversation_id = ?", c.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for name, v := range values {
		status := model.EvalDone
		if strings.HasPrefix(name, "!") {
			name, status = name[1:], model.EvalFailed
		}
		ev := &store.EvaluationValue{WorkspaceID: f.ws, ConversationID: c.ID, RunID: r.ID, Name: name, Builtin: model.IsBuiltinEvaluator(name),
			Value: &v, Status: status, EvaluatorVersion: 1, Latest: true}
		if _, err := f.s.DB.NewInsert().Model(ev).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func (f qtFixture) csat(t *testing.T, c *store.Conversation, score int, at time.Time) {
	t.Helper()
	if _, err := f.s.DB.NewUpdate().Model((*store.Conversation)(nil)).Set("csat_score = ?", score).Set("csat_at = ?", at).
		Where("id = ? AND workspace_id = ?", c.ID, f.ws).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (f qtFixture) feedback(t *testing.T, c *store.Conversation, message int64, rating string, at time.Time) {
	t.Helper()
	fb := &store.MessageFeedback{MessageID: message, WorkspaceID: f.ws, ConversationID: c.ID, Rating: rating, CreatedAt: at, UpdatedAt: time.Now().UTC()}
	if _, err := f.s.DB.NewInsert().Model(fb).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// qtRows reads the workspace's quality rollups as "day assistant metric item" -> "n/total".
func (f qtFixture) rows(t *testing.T) map[string]string {
	t.Helper()
	rows, err := f.s.QualityRollups(context.Background(), f.ws, "2000-01-01", "2100-01-01")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		a := "a1"
		if r.AssistantID == f.a2 {
			a = "a2"
		}
		out[fmt.Sprintf("%s %s %s %s", r.Day, a, r.Metric, r.Item)] = fmt.Sprintf("%d/%d", r.N, r.Total)
	}
	return out
}

func qtSame(t *testing.T, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s: %q, want %q", k, got[k], want[k])
		}
	}
}

const (
	qtD1 = "2026-11-20"
	qtD2 = "2026-11-21"
)

func TestQualityRollupsFromTheSources(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := qtSetup(t, s)
		other := qtSetup(t, s) // another workspace's rows stay its own
		d1 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
		d2 := d1.AddDate(0, 0, 1)

		c1 := f.conv(t, f.a1, "c1", d1)
		m1 := f.message(t, c1, model.RoleAssistant, d1.Add(time.Minute))
		f.evaluate(t, c1, f.end(t, c1, d1.Add(2*time.Hour)), 0, map[string]string{
			model.EvalSummary: "Asked about prices.", model.EvalOutcome: model.OutcomeResolved, model.EvalSentiment: model.SentimentPositive,
			model.EvalCSATEstimate: "4", "helpful": "5", "polite": "true", "tier": "3"})
		f.csat(t, c1, 5, d1.Add(3*time.Hour))
		f.feedback(t, c1, m1, model.FeedbackUp, d1.Add(90*time.Minute))

		c2 := f.conv(t, f.a1, "c2", d1)
		m2 := f.message(t, c2, model.RoleAssistant, d1.Add(time.Minute))
		m2b := f.message(t, c2, model.RoleAssistant, d1.Add(2*time.Minute))
		f.evaluate(t, c2, f.end(t, c2, d1.Add(4*time.Hour)), 0, map[string]string{
			model.EvalOutcome: model.OutcomeUnresolved, model.EvalSentiment: model.SentimentNegative, model.EvalCSATEstimate: "2", "helpful": "2"})
		f.feedback(t, c2, m2, model.FeedbackDown, d1.Add(3*time.Hour))
		f.feedback(t, c2, m2b, model.FeedbackDown, d2.Add(time.Hour)) // given the next day

		c3 := f.conv(t, f.a2, "c3", d1)
		f.evaluate(t, c3, f.end(t, c3, d1.Add(5*time.Hour)), 0, map[string]string{
			model.EvalOutcome: model.OutcomeHandedOff, model.EvalSentiment: model.SentimentNeutral, "!" + model.EvalCSATEstimate: "9"})
		f.csat(t, c3, 2, d2.Add(time.Hour))

		c4 := f.conv(t, f.a2, "c4", d1) // ended, its evaluation still pending: not counted
		f.end(t, c4, d1.Add(6*time.Hour))

		oc := other.conv(t, other.a2, "o1", d1)
		other.evaluate(t, oc, other.end(t, oc, d1.Add(time.Hour)), 0, map[string]string{model.EvalOutcome: model.OutcomeResolved})

		tally := &analytics.QualityTally{Store: s, Log: testkit.Logger(t)}
		// The first run (no watermark) recomputes both days of the workspace and the other's day.
		if out, err := tally.Run(ctx); err != nil || out.Changed != 3 {
			t.Fatalf("first run: %+v %v", out, err)
		}
		want := map[string]string{
			qtD1 + " a1 evaluated ":         "2/0",
			qtD1 + " a1 outcome resolved":   "1/0",
			qtD1 + " a1 outcome unresolved": "1/0",
			qtD1 + " a1 sentiment positive": "1/0",
			qtD1 + " a1 sentiment negative": "1/0",
			qtD1 + " a1 csat_estimate ":     "2/6",
			qtD1 + " a1 rating helpful":     "2/7",
			qtD1 + " a1 csat ":              "1/5",
			qtD1 + " a1 feedback up":        "1/0",
			qtD1 + " a1 feedback down":      "1/0",
			qtD1 + " a2 evaluated ":         "1/0",
			qtD1 + " a2 outcome handed_off": "1/0",
			qtD1 + " a2 sentiment neutral":  "1/0",
			qtD2 + " a1 feedback down":      "1/0",
			qtD2 + " a2 csat ":              "1/2",
		}
		qtSame(t, f.rows(t), want)
		qtSame(t, other.rows(t), map[string]string{qtD1 + " a2 evaluated ": "1/0", qtD1 + " a2 outcome resolved": "1/0"})

		// Running again changes nothing, from the watermark or from scratch.
		if out, err := tally.Run(ctx); err != nil || out.Changed != 0 {
			t.Fatalf("second run: %+v %v", out, err)
		}
		for _, day := range []string{qtD1, qtD2} {
			changed, err := s.RecomputeQualityDay(ctx, f.ws, day, analytics.RatingEvaluators(qtAssistants(t, s, f.ws)))
			if err != nil || changed {
				t.Fatalf("recompute %s again: %v %v", day, changed, err)
			}
		}
		qtSame(t, f.rows(t), want)

		// c2 is reopened, ends again the next day and is evaluated again: its counts move
		// from the first day to the second.
		f.message(t, c2, model.RoleUser, d1.Add(5*time.Hour))
		f.evaluate(t, c2, f.end(t, c2, d2.Add(2*time.Hour)), 0, map[string]string{
			model.EvalOutcome: model.OutcomeResolved, model.EvalSentiment: model.SentimentPositive, model.EvalCSATEstimate: "5", "helpful": "4"})
		if out, err := tally.Run(ctx); err != nil || out.Changed != 2 {
			t.Fatalf("run after the re-evaluation: %+v %v", out, err)
		}
		for k, v := range map[string]string{
			qtD1 + " a1 evaluated ":         "1/0",
			qtD1 + " a1 outcome resolved":   "1/0",
			qtD1 + " a1 outcome unresolved": "",
			qtD1 + " a1 sentiment negative": "",
			qtD1 + " a1 csat_estimate ":     "1/4",
			qtD1 + " a1 rating helpful":     "1/5",
			qtD2 + " a1 evaluated ":         "1/0",
			qtD2 + " a1 outcome resolved":   "1/0",
			qtD2 + " a1 sentiment positive": "1/0",
			qtD2 + " a1 csat_estimate ":     "1/5",
			qtD2 + " a1 rating helpful":     "1/4",
		} {
			if v == "" {
				delete(want, k)
			} else {
				want[k] = v
			}
		}
		qtSame(t, f.rows(t), want)

		// "Evaluate again" on the same end replaces the latest values: the day follows.
		f.evaluate(t, c1, 1, 1, map[string]string{model.EvalOutcome: model.OutcomeAbandoned, model.EvalSentiment: model.SentimentNegative})
		if _, err := tally.Run(ctx); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{
			qtD1 + " a1 outcome resolved":   "",
			qtD1 + " a1 outcome abandoned":  "1/0",
			qtD1 + " a1 sentiment positive": "",
			qtD1 + " a1 sentiment negative": "1/0",
			qtD1 + " a1 csat_estimate ":     "",
			qtD1 + " a1 rating helpful":     "",
		} {
			if v == "" {
				delete(want, k)
			} else {
				want[k] = v
			}
		}
		qtSame(t, f.rows(t), want)

		// A deleted conversation leaves its rows until the reconciliation of the recent days.
		tally.Now = func() time.Time { return d2.Add(12 * time.Hour) }
		if _, err := s.DB.NewDelete().Model((*store.Conversation)(nil)).Where("id = ?", c3.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		rec, err := tally.Reconcile(ctx)
		if err != nil || rec.Changed != 2 {
			t.Fatalf("reconcile: %+v %v", rec, err)
		}
		delete(want, qtD1+" a2 evaluated ")
		delete(want, qtD1+" a2 outcome handed_off")
		delete(want, qtD1+" a2 sentiment neutral")
		delete(want, qtD2+" a2 csat ")
		qtSame(t, f.rows(t), want)
		if rec, err := tally.Reconcile(ctx); err != nil || rec.Changed != 0 {
			t.Fatalf("second reconcile: %+v %v", rec, err)
		}
	})
}

func qtAssistants(t *testing.T, s *store.Store, ws int64) []store.Assistant {
	t.Helper()
	as, err := s.Assistants(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// The report adds the rollups up per day and per assistant: rates, mixes and averages.
func TestAddQuality(t *testing.T) {
	rng := analytics.NewRange(7, time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	q := func(day string, a int64, metric, item string, n, total int64) store.QualityDaily {
		return store.QualityDaily{WorkspaceID: 1, Day: day, AssistantID: a, Metric: metric, Item: item, N: n, Total: total}
	}
	rows := []store.QualityDaily{
		q(qtD1, 1, store.QualityEvaluated, "", 3, 0),
		q(qtD1, 1, store.QualityOutcome, model.OutcomeResolved, 2, 0),
		q(qtD1, 1, store.QualityOutcome, model.OutcomeAbandoned, 1, 0),
		q(qtD1, 1, store.QualitySentiment, model.SentimentPositive, 2, 0),
		q(qtD1, 1, store.QualitySentiment, model.SentimentNegative, 1, 0),
		q(qtD1, 1, store.QualityCSATEstimate, "", 3, 11),
		q(qtD1, 1, store.QualityCSAT, "", 2, 9),
		q(qtD1, 1, store.QualityFeedback, model.FeedbackUp, 3, 0),
		q(qtD1, 1, store.QualityFeedback, model.FeedbackDown, 1, 0),
		q(qtD1, 1, store.QualityRating, "helpful", 3, 10),
		q(qtD2, 2, store.QualityEvaluated, "", 1, 0),
		q(qtD2, 2, store.QualityOutcome, model.OutcomeUnresolved, 1, 0),
		q(qtD2, 2, store.QualityCSAT, "", 1, 1),
		q("2026-11-01", 2, store.QualityCSAT, "", 100, 100), // before the range
	}
	rep := analytics.Build(rng, nil, nil, nil)
	analytics.AddQuality(&rep, rows, map[int64]string{1: "Sales", 2: "Support"}, nil)
	tot := rep.Quality.Totals
	if tot.Evaluated != 4 || tot.ResolutionBP() != 5000 || tot.CSAT() != 333 || tot.Estimate() != 367 || tot.UpBP() != 7500 || tot.Rating("helpful") != 333 {
		t.Fatalf("totals: %+v (resolution %d, csat %d, estimate %d)", tot, tot.ResolutionBP(), tot.CSAT(), tot.Estimate())
	}
	res, ok := rep.Chart(analytics.ChartResolution)
	if !ok || res.Series[0].Values[5] != 6667 || res.Series[0].Values[6] != 0 || res.Series[0].Values[0] != -1 {
		t.Fatalf("resolution: %+v", res.Series)
	}
	if tb := res.Table(); strings.Join(tb.Rows[5], "|") != qtD1+"|2|0|0|1|3|66.7" || strings.Join(tb.Foot, "|") != "total|2|1|0|1|4|50.0" {
		t.Fatalf("resolution table: %v %v", tb.Rows[5], tb.Foot)
	}
	csat, _ := rep.Chart(analytics.ChartCSAT)
	if tb := csat.Table(); strings.Join(tb.Rows[5], "|") != qtD1+"|4.50|2|3.67|3" || strings.Join(tb.Rows[6], "|") != qtD2+"|1.00|1||0" {
		t.Fatalf("csat table: %v", tb.Rows[5:])
	}
	if csat.Summary != "customers 3.33 of 5 (3 answers); estimated 3.67 of 5 (3 conversations)" {
		t.Fatalf("csat summary: %q", csat.Summary)
	}
	sent, _ := rep.Chart(analytics.ChartSentiment)
	if sent.Summary != "66.7% positive, 0.0% neutral, 33.3% negative" || sent.Series[0].Values[5] != 2 {
		t.Fatalf("sentiment: %q %+v", sent.Summary, sent.Series)
	}
	ratings, _ := rep.Chart(analytics.ChartRatings)
	if len(ratings.Series) != 1 || ratings.Series[0].Label != "helpful" || ratings.Series[0].Values[5] != 333 {
		t.Fatalf("ratings: %+v", ratings.Series)
	}
	fb, _ := rep.Chart(analytics.ChartFeedback)
	if fb.Summary != "75.0% thumbs up (3 up, 1 down)" {
		t.Fatalf("feedback: %q", fb.Summary)
	}
	at := rep.QualityTable()
	if strings.Join(at.Head, ",") != "assistant,evaluated,resolution_rate_percent,positive_percent,neutral_percent,negative_percent,csat_average,csat_answers,csat_estimate_average,thumbs_up,thumbs_down,helpful_average" {
		t.Fatalf("head: %v", at.Head)
	}
	if len(at.Rows) != 2 || strings.Join(at.Rows[0], "|") != "Sales|3|66.7|66.7|0.0|33.3|4.50|2|3.67|3|1|3.33" ||
		strings.Join(at.Rows[1], "|") != "Support|1|0.0||||1.00|1||0|0|" {
		t.Fatalf("rows: %v", at.Rows)
	}
	// Scoped to one assistant: the charts and totals are its own, the table still compares all.
	support := int64(2)
	scoped := analytics.Build(rng, nil, nil, nil)
	analytics.AddQuality(&scoped, rows, map[int64]string{1: "Sales", 2: "Support"}, &support)
	st := scoped.Quality.Totals
	if st.Evaluated != 1 || st.ResolutionBP() != 0 || st.CSAT() != 100 || st.Estimate() != -1 || scoped.Quality.AssistantName != "Support" {
		t.Fatalf("scoped totals: %+v", st)
	}
	if r, _ := scoped.Chart(analytics.ChartRatings); len(r.Series) != 0 || r.Summary != "no rating evaluator has a value in this range" {
		t.Fatalf("scoped ratings: %+v %q", r.Series, r.Summary)
	}
	if r, _ := scoped.Chart(analytics.ChartResolution); r.Series[0].Values[5] != -1 || r.Series[0].Values[6] != 0 {
		t.Fatalf("scoped resolution: %v", r.Series[0].Values)
	}
	if tb := scoped.QualityTable(); len(tb.Rows) != 2 || tb.Foot[1] != "4" {
		t.Fatalf("scoped table: %v %v", tb.Rows, tb.Foot)
	}
	if _, err := analytics.ParseAssistant("7", map[int64]string{1: "Sales"}); err == nil {
		t.Fatal("an assistant of another workspace is refused")
	}
	if id, err := analytics.ParseAssistant(" 1 ", map[int64]string{1: "Sales"}); err != nil || *id != 1 {
		t.Fatalf("parse assistant: %v %v", id, err)
	}
	// A chart with no data draws no bar, and the plot says so.
	if p := ratings.Plot(); p.Empty {
		t.Fatal("the ratings chart has data")
	}
	empty := analytics.Build(rng, nil, nil, nil)
	analytics.AddQuality(&empty, nil, nil, nil)
	if c, _ := empty.Chart(analytics.ChartCSAT); !c.Plot().Empty || c.Summary != "no CSAT in this range" {
		t.Fatalf("empty csat: %v %q", c.Plot().Empty, c.Summary)
	}
}
