// Package analytics turns the daily usage rollups (store.UsageDaily) into the figures of the
// Analytics page: charts per day over a range, each with its numbers as a table and as CSV,
// and rendered on the server as SVG that is readable without colour (every series has a fill
// pattern and a legend, every bar a tooltip, and the table carries the numbers).
//
// Everything is computed from the rollups (one indexed range read of usage_daily, whatever
// the number of conversations) plus the top conversations by cost (a walk of the cost index).
// The quality charts (issue 14: resolution rate, sentiment mix, CSAT real and estimated, the
// rating evaluators' averages, thumbs up and down) read the quality rollups (quality_daily,
// quality.go), which QualityTally (quality_tally.go) keeps equal to their sources.
//
// It owns the charts, their tables and CSV; money is written by model.Money and every CSV cell
// goes through model.CSVCell. It reads through the store and may not import web, views or
// workers.
package analytics

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Ranges are the offered ranges, in days; DefaultRange is the one without a choice.
var Ranges = []int{7, 30, 90}

// DefaultRange is the range shown without a choice.
const DefaultRange = 30

// Range is a span of whole UTC days ending today (included).
type Range struct {
	Days           int
	From, To       time.Time // [From, To): To is the start of tomorrow
	FromDay, ToDay string    // the same as rollup days
	Dates          []string  // every day, oldest first
}

// RangeError is a range parameter that is not one of Ranges.
type RangeError struct{ Value string }

func (e *RangeError) Error() string {
	return fmt.Sprintf("range must be one of 7, 30 or 90 days, not %q", e.Value)
}

// ParseRange reads the range parameter ("7", "30", "90"; "" is DefaultRange) at time now.
// An invalid value gives the default range and a *RangeError.
func ParseRange(s string, now time.Time) (Range, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "d"))
	days := DefaultRange
	var err error
	if s != "" {
		n, convErr := strconv.Atoi(s)
		ok := convErr == nil
		if ok {
			ok = false
			for _, r := range Ranges {
				if r == n {
					ok = true
				}
			}
		}
		if ok {
			days = n
		} else {
			err = &RangeError{Value: s}
		}
	}
	return NewRange(days, now), err
}

// NewRange is the range of the last days (today included) at time now.
func NewRange(days int, now time.Time) Range {
	today := now.UTC().Truncate(24 * time.Hour)
	r := Range{Days: days, From: today.AddDate(0, 0, -(days - 1)), To: today.AddDate(0, 0, 1)}
	r.FromDay, r.ToDay = store.Day(r.From), store.Day(r.To)
	for d := r.From; d.Before(r.To); d = d.AddDate(0, 0, 1) {
		r.Dates = append(r.Dates, store.Day(d))
	}
	return r
}

// Unit is what a chart's numbers measure.
type Unit string

const (
	UnitCount   Unit = "count"
	UnitTokens  Unit = "tokens"
	UnitUSD     Unit = "usd"     // values in nano-dollars
	UnitPercent Unit = "percent" // values in basis points (10000 = 100%), -1 for no data
	UnitScore   Unit = "score"   // an average of 1-to-5 scores in hundredths (425 = 4.25), -1 for no data
)

// Series is one stacked part of a chart.
type Series struct {
	Key    string
	Label  string
	Values []int64 // per day of the range
}

// Total adds the series up.
func (s Series) Total() int64 {
	var t int64
	for _, v := range s.Values {
		if v > 0 {
			t += v
		}
	}
	return t
}

// Chart is one chart of the page.
type Chart struct {
	ID          string
	Title       string
	Description string // what it shows, in one sentence (also the SVG's description)
	Unit        Unit
	Line        bool // a line (percentages) instead of stacked bars
	Days        []string
	Series      []Series
	// Table, when set, replaces the default table (day, one column per series, total).
	table *Table
	// Summary is the chart's figure over the whole range ("1,234 conversations").
	Summary string
}

// Table is a chart's numbers: the same cells as its CSV.
type Table struct {
	Head []string
	Rows [][]string
	Foot []string // totals, nil when none
}

// Chart ids, as the CSV export names them.
const (
	ChartConversations = "conversations"
	ChartMessages      = "messages"
	ChartTokens        = "tokens"
	ChartCost          = "cost"
	ChartVariables     = "variables"
	ChartWindows       = "windows"
	ChartTop           = "top"
)

// ChartIDs lists the exportable charts in page order.
var ChartIDs = []string{ChartConversations, ChartMessages, ChartTokens, ChartCost, ChartVariables, ChartWindows, ChartTop,
	ChartResolution, ChartSentiment, ChartCSAT, ChartRatings, ChartFeedback, ChartQualityAssistants}

// TopConversation is one row of the top conversations by cost.
type TopConversation struct {
	ID        int64
	Customer  string
	Type      string
	Assistant string
	CostNanos int64
	Messages  int
	LastAt    time.Time
}

// Totals are the range's figures.
type Totals struct {
	Conversations int64
	Messages      int64
	LLMCalls      int64
	Tokens        int64
	CostNanos     int64
	// ReplayCalls and ReplayCostNanos are the part of LLMCalls and CostNanos spent on
	// replays and test set runs (purpose replay, the rollup bucket store.RollupTypeReplay):
	// real spend of no conversation.
	ReplayCalls       int64
	ReplayCostNanos   int64
	Required          int64
	Complete          int64
	WindowsUnanswered int64
}

// Report is the whole page.
type Report struct {
	Range  Range
	Totals Totals
	Charts []Chart
	Top    []TopConversation
	// Quality is what the evaluations and the customers say (AddQuality).
	Quality Quality
}

// Chart finds a chart by id.
func (r *Report) Chart(id string) (*Chart, bool) {
	for i := range r.Charts {
		if r.Charts[i].ID == id {
			return &r.Charts[i], true
		}
	}
	return nil, false
}

// MaxAssistantSeries bounds the assistants a chart names; the rest are added up as "Other
// assistants".
const MaxAssistantSeries = 6

// Build computes the report of a range from its rollup rows, the workspace's assistant names
// (by id) and its top conversations by cost.
func Build(rng Range, rows []store.UsageDaily, assistantNames map[int64]string, top []store.Conversation) Report {
	rep := Report{Range: rng}
	idx := make(map[string]int, len(rng.Dates))
	for i, d := range rng.Dates {
		idx[d] = i
	}
	n := len(rng.Dates)
	byType := func() map[string][]int64 { return map[string][]int64{} }
	convByType, msgByType := byType(), byType()
	tokByAsst, costByAsst := map[int64][]int64{}, map[int64][]int64{}
	required, complete, windows := make([]int64, n), make([]int64, n), make([]int64, n)
	get := func(m map[string][]int64, k string) []int64 {
		if m[k] == nil {
			m[k] = make([]int64, n)
		}
		return m[k]
	}
	getA := func(m map[int64][]int64, k int64) []int64 {
		if m[k] == nil {
			m[k] = make([]int64, n)
		}
		return m[k]
	}
	t := &rep.Totals
	for _, r := range rows {
		i, ok := idx[r.Day]
		if !ok {
			continue
		}
		get(convByType, r.Type)[i] += r.Conversations
		get(msgByType, r.Type)[i] += r.Messages
		getA(tokByAsst, r.AssistantID)[i] += r.PromptTokens + r.CompletionTokens
		getA(costByAsst, r.AssistantID)[i] += r.CostNanos
		required[i] += r.RequiredConversations
		complete[i] += r.CompleteConversations
		windows[i] += r.WindowsClosedUnanswered
		t.Conversations += r.Conversations
		t.Messages += r.Messages
		t.LLMCalls += r.LLMCalls
		t.Tokens += r.PromptTokens + r.CompletionTokens
		t.CostNanos += r.CostNanos
		if r.Type == store.RollupTypeReplay {
			t.ReplayCalls += r.LLMCalls
			t.ReplayCostNanos += r.CostNanos
		}
		t.Required += r.RequiredConversations
		t.Complete += r.CompleteConversations
		t.WindowsUnanswered += r.WindowsClosedUnanswered
	}
	typeSeries := func(m map[string][]int64) []Series {
		var out []Series
		for _, ti := range conversation.Types {
			out = append(out, Series{Key: ti.Key, Label: ti.Label, Values: get(m, ti.Key)})
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys { // a type the page does not know (calls without a conversation)
			if v := m[k]; !conversation.ValidType(k) && k != store.RollupTypeReplay && sum(v) > 0 { // replays are no conversation type
				label := k
				if label == "" {
					label = "No conversation"
				}
				out = append(out, Series{Key: k, Label: label, Values: v})
			}
		}
		return out
	}
	rep.Charts = append(rep.Charts, Chart{
		ID: ChartConversations, Title: "Conversations per day", Unit: UnitCount, Days: rng.Dates,
		Description: "Conversations started each day, stacked by type (Test, Web widget, WhatsApp).",
		Series:      typeSeries(convByType), Summary: fmt.Sprintf("%s conversations started", groupDigits(t.Conversations)),
	})
	rep.Charts = append(rep.Charts, Chart{
		ID: ChartMessages, Title: "Messages per day", Unit: UnitCount, Days: rng.Dates,
		Description: "Messages written each day (customers, assistants and your team), stacked by conversation type.",
		Series:      typeSeries(msgByType), Summary: fmt.Sprintf("%s messages", groupDigits(t.Messages)),
	})
	rep.Charts = append(rep.Charts, Chart{
		ID: ChartTokens, Title: "Tokens per day by assistant", Unit: UnitTokens, Days: rng.Dates,
		Description: "Prompt and completion tokens of every language-model call (replies, extraction, evaluation, and replays and test set runs) each day, stacked by assistant.",
		Series:      assistantSeries(tokByAsst, assistantNames), Summary: fmt.Sprintf("%s tokens in %s calls", groupDigits(t.Tokens), groupDigits(t.LLMCalls)),
	})
	rep.Charts = append(rep.Charts, Chart{
		ID: ChartCost, Title: "Cost per day by assistant", Unit: UnitUSD, Days: rng.Dates,
		Description: "What the language-model calls cost each day (replays and test set runs included), in US dollars at the price each call was charged, stacked by assistant.",
		Series:      assistantSeries(costByAsst, assistantNames), Summary: costSummary(t),
	})
	share := make([]int64, n)
	for i := range share {
		share[i] = shareBP(complete[i], required[i])
	}
	vt := &Table{Head: []string{"day", "complete_conversations", "conversations_with_required_variables", "share_percent"}}
	for i, d := range rng.Dates {
		vt.Rows = append(vt.Rows, []string{d, itoa(complete[i]), itoa(required[i]), percent(share[i])})
	}
	vt.Foot = []string{"total", itoa(t.Complete), itoa(t.Required), percent(shareBP(t.Complete, t.Required))}
	varSummary := "no conversation of an assistant with required variables"
	if t.Required > 0 {
		varSummary = fmt.Sprintf("%s%% of %s conversations have every required variable", percent(shareBP(t.Complete, t.Required)), groupDigits(t.Required))
	}
	rep.Charts = append(rep.Charts, Chart{
		ID: ChartVariables, Title: "Conversations with all required variables", Unit: UnitPercent, Line: true, Days: rng.Dates,
		Description: "Of the conversations started each day whose assistant declares required variables, the share that has every one of them collected.",
		Series:      []Series{{Key: "share", Label: "Share with every required variable", Values: share}}, table: vt, Summary: varSummary,
	})
	rep.Charts = append(rep.Charts, Chart{
		ID: ChartWindows, Title: "WhatsApp windows closed without a reply", Unit: UnitCount, Days: rng.Dates,
		Description: "WhatsApp conversations whose 24-hour window closed that day while the customer's last message had no reply.",
		Series:      []Series{{Key: "unanswered", Label: "Closed without a reply", Values: windows}},
		Summary:     fmt.Sprintf("%s windows closed without a reply", groupDigits(t.WindowsUnanswered)),
	})
	for _, c := range top {
		rep.Top = append(rep.Top, TopConversation{ID: c.ID, Customer: c.Customer, Type: c.Type, Assistant: c.AssistantName,
			CostNanos: c.CostNanos, Messages: c.MessageCount, LastAt: c.LastMessageAt})
	}
	return rep
}

// costSummary is the cost chart's summary: the total, and the part of it replays and test
// set runs spent when there is one.
func costSummary(t *Totals) string {
	out := model.Money(t.CostNanos).Dollars() + " in total"
	if t.ReplayCalls > 0 {
		out += fmt.Sprintf(", %s of it in %s calls of replays and test set runs", model.Money(t.ReplayCostNanos).Dollars(), groupDigits(t.ReplayCalls))
	}
	return out
}

func sum(v []int64) int64 {
	var s int64
	for _, x := range v {
		s += x
	}
	return s
}

// assistantSeries makes one series per assistant, the biggest first, at most
// MaxAssistantSeries (the rest added up).
func assistantSeries(m map[int64][]int64, names map[int64]string) []Series {
	type entry struct {
		id    int64
		total int64
	}
	var es []entry
	for id, v := range m {
		if s := sum(v); s > 0 {
			es = append(es, entry{id, s})
		}
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].total != es[j].total {
			return es[i].total > es[j].total
		}
		return es[i].id < es[j].id
	})
	var out []Series
	var other []int64
	for i, e := range es {
		if i >= MaxAssistantSeries-1 && len(es) > MaxAssistantSeries {
			if other == nil {
				other = make([]int64, len(m[e.id]))
			}
			for d, v := range m[e.id] {
				other[d] += v
			}
			continue
		}
		out = append(out, Series{Key: "assistant-" + strconv.FormatInt(e.id, 10), Label: AssistantLabel(e.id, names), Values: m[e.id]})
	}
	if other != nil {
		out = append(out, Series{Key: "other", Label: "Other assistants", Values: other})
	}
	return out
}

// AssistantLabel names an assistant of a rollup.
func AssistantLabel(id int64, names map[int64]string) string {
	if id == 0 {
		return "No assistant"
	}
	if n, ok := names[id]; ok && n != "" {
		return n
	}
	return "Deleted assistant #" + strconv.FormatInt(id, 10)
}

// shareBP is complete/required in basis points, rounded half up; -1 when required is 0.
func shareBP(complete, required int64) int64 {
	if required <= 0 {
		return -1
	}
	return (complete*10000*2 + required) / (2 * required)
}

// percent writes basis points as a percentage with one decimal ("66.7"), "" for no data.
func percent(bp int64) string {
	if bp < 0 {
		return ""
	}
	tenths := (bp + 5) / 10
	return fmt.Sprintf("%d.%d", tenths/10, tenths%10)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// groupDigits writes 1234567 as "1,234,567".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Value writes one number of a chart as its table and CSV show it: counts and tokens as
// integers, dollars as every CSV export writes them (model.Money.Exact: "0.000525300"), shares
// as percentages.
func (c *Chart) Value(v int64) string {
	switch c.Unit {
	case UnitUSD:
		return model.Money(v).Exact()
	case UnitPercent:
		return percent(v)
	case UnitScore:
		return score(v)
	}
	return itoa(v)
}

// Table is the chart's numbers: a row per day (a column per series and the total) and a
// totals row.
func (c *Chart) Table() Table {
	if c.table != nil {
		return *c.table
	}
	unit := ""
	switch c.Unit {
	case UnitUSD:
		unit = " (USD)"
	case UnitTokens:
		unit = " (tokens)"
	}
	t := Table{Head: []string{"day"}}
	for _, s := range c.Series {
		t.Head = append(t.Head, s.Label+unit)
	}
	if len(c.Series) > 1 {
		t.Head = append(t.Head, "total"+unit)
	}
	totals := make([]int64, len(c.Series))
	for i, d := range c.Days {
		row := []string{d}
		var day int64
		for j, s := range c.Series {
			row = append(row, c.Value(s.Values[i]))
			day += s.Values[i]
			totals[j] += s.Values[i]
		}
		if len(c.Series) > 1 {
			row = append(row, c.Value(day))
		}
		t.Rows = append(t.Rows, row)
	}
	t.Foot = []string{"total"}
	var all int64
	for _, v := range totals {
		t.Foot = append(t.Foot, c.Value(v))
		all += v
	}
	if len(c.Series) > 1 {
		t.Foot = append(t.Foot, c.Value(all))
	}
	return t
}

// WriteCSV writes a table as CSV: the head, the rows and the totals row.
func (t Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	rows := append([][]string{t.Head}, t.Rows...)
	if t.Foot != nil {
		rows = append(rows, t.Foot)
	}
	for _, r := range rows {
		safe := make([]string, len(r))
		for i, c := range r {
			safe[i] = model.CSVCell(c)
		}
		if err := cw.Write(safe); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// TopTable is the top conversations as a table (and CSV).
func (r *Report) TopTable(baseURL string) Table {
	t := Table{Head: []string{"rank", "conversation_id", "customer", "type", "assistant", "cost_usd", "messages", "last_activity", "url"}}
	for i, c := range r.Top {
		t.Rows = append(t.Rows, []string{itoa(int64(i + 1)), itoa(c.ID), c.Customer, conversation.TypeLabel(c.Type), c.Assistant,
			model.Money(c.CostNanos).Exact(), strconv.Itoa(c.Messages), c.LastAt.UTC().Format(time.RFC3339),
			strings.TrimRight(baseURL, "/") + "/conversations/" + itoa(c.ID)})
	}
	return t
}
