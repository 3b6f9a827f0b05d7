package analytics

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// The quality charts (issue 14): what the evaluations and the customers say, per day and per
// assistant, from the quality rollups (store.QualityDaily; one range read of quality_daily).
const (
	ChartResolution = "resolution"
	ChartSentiment  = "sentiment"
	ChartCSAT       = "csat"
	ChartRatings    = "ratings"
	ChartFeedback   = "feedback"
	// ChartQualityAssistants is the per-assistant table (no chart).
	ChartQualityAssistants = "quality_assistants"
)

// QualityFigures add up quality rollups (a day's, an assistant's or the range's).
type QualityFigures struct {
	Evaluated   int64
	Outcomes    map[string]int64 // by model.Outcomes
	Sentiments  map[string]int64 // by model.Sentiments
	EstimateN   int64            // conversations with a CSAT estimate
	EstimateSum int64
	CSATN       int64 // customers' CSAT answers
	CSATSum     int64
	Up, Down    int64               // thumbs on assistant messages
	Ratings     map[string][2]int64 // custom rating evaluator -> {count, sum}
}

func (q *QualityFigures) add(r store.QualityDaily) {
	if q.Outcomes == nil {
		q.Outcomes, q.Sentiments, q.Ratings = map[string]int64{}, map[string]int64{}, map[string][2]int64{}
	}
	switch r.Metric {
	case store.QualityEvaluated:
		q.Evaluated += r.N
	case store.QualityOutcome:
		q.Outcomes[r.Item] += r.N
	case store.QualitySentiment:
		q.Sentiments[r.Item] += r.N
	case store.QualityCSATEstimate:
		q.EstimateN += r.N
		q.EstimateSum += r.Total
	case store.QualityCSAT:
		q.CSATN += r.N
		q.CSATSum += r.Total
	case store.QualityFeedback:
		switch r.Item {
		case model.FeedbackUp:
			q.Up += r.N
		case model.FeedbackDown:
			q.Down += r.N
		}
	case store.QualityRating:
		v := q.Ratings[r.Item]
		q.Ratings[r.Item] = [2]int64{v[0] + r.N, v[1] + r.Total}
	}
}

// Judged is how many conversations have an outcome (the resolution rate's denominator).
func (q QualityFigures) Judged() int64 {
	var n int64
	for _, o := range model.Outcomes {
		n += q.Outcomes[o]
	}
	return n
}

// ResolutionBP is the share of the conversations with an outcome that were resolved, in basis
// points (-1 with none).
func (q QualityFigures) ResolutionBP() int64 {
	return shareBP(q.Outcomes[model.OutcomeResolved], q.Judged())
}

// SentimentBP is the share of a sentiment among the conversations with one (-1 with none).
func (q QualityFigures) SentimentBP(s string) int64 {
	var n int64
	for _, x := range model.Sentiments {
		n += q.Sentiments[x]
	}
	return shareBP(q.Sentiments[s], n)
}

// UpBP is the share of thumbs up among the thumbs (-1 with none).
func (q QualityFigures) UpBP() int64 { return shareBP(q.Up, q.Up+q.Down) }

// CSAT is the customers' average CSAT in hundredths (-1 with none).
func (q QualityFigures) CSAT() int64 { return average(q.CSATSum, q.CSATN) }

// Estimate is the average CSAT estimate in hundredths (-1 with none).
func (q QualityFigures) Estimate() int64 { return average(q.EstimateSum, q.EstimateN) }

// Rating is a custom rating evaluator's average in hundredths (-1 with none).
func (q QualityFigures) Rating(name string) int64 {
	v := q.Ratings[name]
	return average(v[1], v[0])
}

// average is sum/n in hundredths, rounded half up; -1 when n is 0.
func average(sum, n int64) int64 {
	if n <= 0 {
		return -1
	}
	return (sum*100*2 + n) / (2 * n)
}

// score writes an average in hundredths with two decimals ("4.25"), "" for no data.
func score(v int64) string {
	if v < 0 {
		return ""
	}
	return fmt.Sprintf("%d.%02d", v/100, v%100)
}

// PercentOrDash writes basis points as "66.7%", or "–" for no data.
func PercentOrDash(bp int64) string {
	if bp < 0 {
		return "–"
	}
	return percent(bp) + "%"
}

// ScoreOrDash writes an average in hundredths as "4.25", or "–" for no data.
func ScoreOrDash(v int64) string {
	if v < 0 {
		return "–"
	}
	return score(v)
}

// AssistantQuality is one assistant's figures over the range.
type AssistantQuality struct {
	AssistantID int64
	Name        string
	QualityFigures
}

// Quality is the quality part of the report.
type Quality struct {
	// Assistant is the assistant the charts and Totals are scoped to (nil: every assistant),
	// AssistantName its name.
	Assistant     *int64
	AssistantName string
	Totals        QualityFigures
	All           QualityFigures // every assistant's, whatever the scope
	Ratings       []string       // the custom rating evaluators with values in the range, by name
	Assistants    []AssistantQuality
	// Choices are the workspace's assistants the charts can be scoped to, by name.
	Choices []AssistantChoice
}

// AssistantChoice is one assistant of the scope picker.
type AssistantChoice struct {
	ID   int64
	Name string
}

// AssistantError is an assistant parameter that names no assistant of the workspace.
type AssistantError struct{ Value string }

func (e *AssistantError) Error() string {
	return fmt.Sprintf("assistant %q is not one of this workspace's assistants", e.Value)
}

// ParseAssistant reads the assistant parameter of the quality charts: "" is every assistant,
// otherwise the id of one of names. An invalid value gives every assistant and an
// *AssistantError.
func ParseAssistant(s string, names map[int64]string) (*int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if _, ok := names[id]; err != nil || !ok {
		return nil, &AssistantError{Value: s}
	}
	return &id, nil
}

// AddQuality adds the quality charts (resolution rate, sentiment mix, CSAT real and estimated,
// the rating evaluators' averages, thumbs up and down) of the report's range, scoped to one
// assistant or (nil) to all, and the per-assistant figures (always all), from its quality
// rollups.
func AddQuality(rep *Report, rows []store.QualityDaily, assistantNames map[int64]string, assistant *int64) {
	rng := rep.Range
	n := len(rng.Dates)
	idx := make(map[string]int, n)
	for i, d := range rng.Dates {
		idx[d] = i
	}
	days := make([]QualityFigures, n)
	byAsst := map[int64]*AssistantQuality{}
	q := &rep.Quality
	q.Assistant = assistant
	for id, name := range assistantNames {
		q.Choices = append(q.Choices, AssistantChoice{ID: id, Name: name})
	}
	sort.Slice(q.Choices, func(i, j int) bool {
		if q.Choices[i].Name != q.Choices[j].Name {
			return q.Choices[i].Name < q.Choices[j].Name
		}
		return q.Choices[i].ID < q.Choices[j].ID
	})
	if assistant != nil {
		q.AssistantName = AssistantLabel(*assistant, assistantNames)
	}
	ratingNames := map[string]bool{}
	for _, r := range rows {
		i, ok := idx[r.Day]
		if !ok {
			continue
		}
		if assistant == nil || *assistant == r.AssistantID {
			days[i].add(r)
			q.Totals.add(r)
		}
		q.All.add(r)
		a := byAsst[r.AssistantID]
		if a == nil {
			a = &AssistantQuality{AssistantID: r.AssistantID, Name: AssistantLabel(r.AssistantID, assistantNames)}
			byAsst[r.AssistantID] = a
		}
		a.add(r)
		if r.Metric == store.QualityRating {
			ratingNames[r.Item] = true
		}
	}
	for name := range ratingNames {
		q.Ratings = append(q.Ratings, name)
	}
	sort.Strings(q.Ratings)
	for _, a := range byAsst {
		q.Assistants = append(q.Assistants, *a)
	}
	sort.Slice(q.Assistants, func(i, j int) bool {
		a, b := q.Assistants[i], q.Assistants[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.AssistantID < b.AssistantID
	})
	perDay := func(f func(QualityFigures) int64) []int64 {
		out := make([]int64, n)
		for i := range days {
			out[i] = f(days[i])
		}
		return out
	}
	t := q.Totals

	// Resolution rate.
	rt := &Table{Head: append([]string{"day"}, model.Outcomes...)}
	rt.Head = append(rt.Head, "conversations_with_outcome", "resolution_rate_percent")
	outcomeRow := func(label string, f QualityFigures) []string {
		row := []string{label}
		for _, o := range model.Outcomes {
			row = append(row, itoa(f.Outcomes[o]))
		}
		return append(row, itoa(f.Judged()), percent(f.ResolutionBP()))
	}
	for i, d := range rng.Dates {
		rt.Rows = append(rt.Rows, outcomeRow(d, days[i]))
	}
	rt.Foot = outcomeRow("total", t)
	resSummary := "no evaluated conversation"
	if t.Judged() > 0 {
		resSummary = fmt.Sprintf("%s%% of %s evaluated conversations resolved", percent(t.ResolutionBP()), groupDigits(t.Judged()))
	}
	rep.Charts = append(rep.Charts, Chart{
		ID: ChartResolution, Title: "Resolution rate", Unit: UnitPercent, Line: true, Days: rng.Dates,
		Description: "Of the conversations that ended each day and were evaluated, the share whose outcome is resolved (the rest: unresolved, handed off, abandoned).",
		Series:      []Series{{Key: "resolution", Label: "Resolved", Values: perDay(QualityFigures.ResolutionBP)}}, table: rt, Summary: resSummary,
	})

	// Sentiment mix.
	var sent []Series
	for _, s := range model.Sentiments {
		sent = append(sent, Series{Key: s, Label: sentimentLabel(s), Values: perDay(func(f QualityFigures) int64 { return f.Sentiments[s] })})
	}
	sentSummary := "no evaluated conversation"
	var mix []string
	for _, s := range model.Sentiments {
		if bp := t.SentimentBP(s); bp >= 0 {
			mix = append(mix, percent(bp)+"% "+s)
		}
	}
	if len(mix) > 0 {
		sentSummary = strings.Join(mix, ", ")
	}
	rep.Charts = append(rep.Charts, Chart{
		ID: ChartSentiment, Title: "Customer sentiment", Unit: UnitCount, Days: rng.Dates,
		Description: "The customer's sentiment in the conversations that ended each day, as evaluated, stacked (positive, neutral, negative).",
		Series:      sent, Summary: sentSummary,
	})

	// CSAT, the customers' and the estimated.
	ct := &Table{Head: []string{"day", "csat_average", "csat_answers", "csat_estimate_average", "csat_estimates"}}
	csatRow := func(label string, f QualityFigures) []string {
		return []string{label, score(f.CSAT()), itoa(f.CSATN), score(f.Estimate()), itoa(f.EstimateN)}
	}
	for i, d := range rng.Dates {
		ct.Rows = append(ct.Rows, csatRow(d, days[i]))
	}
	ct.Foot = csatRow("total", t)
	var cs []string
	if t.CSATN > 0 {
		cs = append(cs, fmt.Sprintf("customers %s of 5 (%s answers)", score(t.CSAT()), groupDigits(t.CSATN)))
	}
	if t.EstimateN > 0 {
		cs = append(cs, fmt.Sprintf("estimated %s of 5 (%s conversations)", score(t.Estimate()), groupDigits(t.EstimateN)))
	}
	csSummary := "no CSAT in this range"
	if len(cs) > 0 {
		csSummary = strings.Join(cs, "; ")
	}
	rep.Charts = append(rep.Charts, Chart{
		ID: ChartCSAT, Title: "CSAT: customers and estimated", Unit: UnitScore, Line: true, Days: rng.Dates,
		Description: "The average CSAT (1 to 5) the customers gave each day, and the average the evaluation estimated for the conversations that ended that day.",
		Series: []Series{{Key: "csat", Label: "Customers' CSAT", Values: perDay(QualityFigures.CSAT)},
			{Key: "estimate", Label: "Estimated CSAT", Values: perDay(QualityFigures.Estimate)}},
		table: ct, Summary: csSummary,
	})

	// The custom rating evaluators.
	var scoped []string // the evaluators with values in the scope
	for _, name := range q.Ratings {
		if t.Ratings[name][0] > 0 {
			scoped = append(scoped, name)
		}
	}
	gt := &Table{Head: []string{"day"}}
	var rs []Series
	for _, name := range scoped {
		gt.Head = append(gt.Head, name+"_average", name+"_conversations")
		rs = append(rs, Series{Key: "rating-" + name, Label: name, Values: perDay(func(f QualityFigures) int64 { return f.Rating(name) })})
	}
	ratingRow := func(label string, f QualityFigures) []string {
		row := []string{label}
		for _, name := range scoped {
			row = append(row, score(f.Rating(name)), itoa(f.Ratings[name][0]))
		}
		return row
	}
	for i, d := range rng.Dates {
		gt.Rows = append(gt.Rows, ratingRow(d, days[i]))
	}
	gt.Foot = ratingRow("total", t)
	rSummary := "no rating evaluator has a value in this range"
	if len(scoped) > 0 {
		var parts []string
		for _, name := range scoped {
			parts = append(parts, name+" "+score(t.Rating(name)))
		}
		rSummary = strings.Join(parts, ", ")
	}
	rep.Charts = append(rep.Charts, Chart{
		ID: ChartRatings, Title: "Rating evaluators", Unit: UnitScore, Line: true, Days: rng.Dates,
		Description: "Each custom rating evaluator's average (1 to 5) over the conversations that ended each day.",
		Series:      rs, table: gt, Summary: rSummary,
	})

	// Thumbs up and down.
	fbSummary := "no feedback in this range"
	if t.Up+t.Down > 0 {
		fbSummary = fmt.Sprintf("%s%% thumbs up (%s up, %s down)", percent(t.UpBP()), groupDigits(t.Up), groupDigits(t.Down))
	}
	rep.Charts = append(rep.Charts, Chart{
		ID: ChartFeedback, Title: "Customers' thumbs up and down", Unit: UnitCount, Days: rng.Dates,
		Description: "The thumbs up and down customers gave the assistant's messages each day, stacked.",
		Series: []Series{{Key: model.FeedbackUp, Label: "Thumbs up", Values: perDay(func(f QualityFigures) int64 { return f.Up })},
			{Key: model.FeedbackDown, Label: "Thumbs down", Values: perDay(func(f QualityFigures) int64 { return f.Down })}},
		Summary: fbSummary,
	})
}

func sentimentLabel(s string) string {
	switch s {
	case model.SentimentPositive:
		return "Positive"
	case model.SentimentNeutral:
		return "Neutral"
	case model.SentimentNegative:
		return "Negative"
	}
	return s
}

// QualityTable is the per-assistant figures over the range, with the totals as its foot.
func (r *Report) QualityTable() Table {
	q := r.Quality
	t := Table{Head: []string{"assistant", "evaluated", "resolution_rate_percent", "positive_percent", "neutral_percent", "negative_percent",
		"csat_average", "csat_answers", "csat_estimate_average", "thumbs_up", "thumbs_down"}}
	for _, name := range q.Ratings {
		t.Head = append(t.Head, name+"_average")
	}
	row := func(label string, f QualityFigures) []string {
		out := []string{label, itoa(f.Evaluated), percent(f.ResolutionBP())}
		for _, s := range model.Sentiments {
			out = append(out, percent(f.SentimentBP(s)))
		}
		out = append(out, score(f.CSAT()), itoa(f.CSATN), score(f.Estimate()), itoa(f.Up), itoa(f.Down))
		for _, name := range q.Ratings {
			out = append(out, score(f.Rating(name)))
		}
		return out
	}
	for _, a := range q.Assistants {
		t.Rows = append(t.Rows, row(a.Name, a.QualityFigures))
	}
	t.Foot = row("all assistants", q.All)
	return t
}
