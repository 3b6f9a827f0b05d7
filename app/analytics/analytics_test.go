package analytics

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/store"
)

func TestParseRange(t *testing.T) {
	now := time.Date(2026, 11, 25, 15, 4, 5, 0, time.FixedZone("CET", 3600))
	for in, want := range map[string]int{"": 30, "7": 7, "30": 30, "90": 90, "90d": 90, " 7 ": 7} {
		r, err := ParseRange(in, now)
		if err != nil || r.Days != want || len(r.Dates) != want {
			t.Errorf("ParseRange(%q) = %d days (%d dates), %v", in, r.Days, len(r.Dates), err)
		}
	}
	r, _ := ParseRange("7", now)
	if r.FromDay != "2026-11-19" || r.ToDay != "2026-11-26" || r.Dates[6] != "2026-11-25" {
		t.Fatalf("range: %s..%s %v", r.FromDay, r.ToDay, r.Dates)
	}
	for _, bad := range []string{"365", "abc", "-7", "0"} {
		r, err := ParseRange(bad, now)
		var re *RangeError
		if !errors.As(err, &re) || r.Days != DefaultRange {
			t.Errorf("ParseRange(%q): %v, %d days", bad, err, r.Days)
		}
	}
}

func TestBuildAndTables(t *testing.T) {
	rng := NewRange(7, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	var rows []store.UsageDaily
	names := map[int64]string{}
	// Eight assistants: six series at most, the smallest added up.
	for a := int64(1); a <= 8; a++ {
		names[a] = fmt.Sprintf("A%d", a)
		rows = append(rows, store.UsageDaily{WorkspaceID: 1, Day: "2026-11-25", AssistantID: a, Type: store.TypeWidget,
			Conversations: a, PromptTokens: 100 * a, CompletionTokens: a, CostNanos: 1_000_000 * a})
	}
	rows = append(rows, store.UsageDaily{WorkspaceID: 1, Day: "2026-11-24", AssistantID: 99, Type: "", LLMCalls: 1, CostNanos: 5},
		store.UsageDaily{WorkspaceID: 1, Day: "2026-11-19", AssistantID: 0, Type: store.TypeTest, Conversations: 3, RequiredConversations: 3, CompleteConversations: 2},
		store.UsageDaily{WorkspaceID: 1, Day: "2026-11-18", AssistantID: 1, Type: store.TypeTest, Conversations: 1000}) // before the range
	rep := Build(rng, rows, names, nil)
	if rep.Totals.Conversations != 36+3 || rep.Totals.CostNanos != 36_000_005 {
		t.Fatalf("totals: %+v", rep.Totals)
	}
	cost, _ := rep.Chart(ChartCost)
	if len(cost.Series) != MaxAssistantSeries || cost.Series[0].Label != "A8" || cost.Series[5].Label != "Other assistants" {
		var labels []string
		for _, s := range cost.Series {
			labels = append(labels, s.Label)
		}
		t.Fatalf("series: %v", labels)
	}
	if got := cost.Series[5].Values[6]; got != 1_000_000*(1+2+3) {
		t.Fatalf("others: %d", got)
	}
	tokens, _ := rep.Chart(ChartTokens)
	labels := map[string]bool{}
	for _, s := range tokens.Series {
		labels[s.Label] = true
	}
	if !labels["Other assistants"] || len(tokens.Series) != 6 {
		t.Fatalf("tokens series: %v", labels)
	}
	tb := cost.Table()
	if tb.Head[0] != "day" || tb.Head[len(tb.Head)-1] != "total (USD)" || len(tb.Rows) != 7 || tb.Foot[len(tb.Foot)-1] != "0.036000005" {
		t.Fatalf("cost table: %v %v", tb.Head, tb.Foot)
	}
	conv, _ := rep.Chart(ChartConversations)
	if conv.Series[0].Label != "Test" || conv.Series[1].Label != "Web widget" || conv.Series[2].Label != "WhatsApp" {
		t.Fatalf("types: %+v", conv.Series)
	}
	vars, _ := rep.Chart(ChartVariables)
	vt := vars.Table()
	if strings.Join(vt.Rows[0], "|") != "2026-11-19|2|3|66.7" || strings.Join(vt.Rows[1], "|") != "2026-11-20|0|0|" {
		t.Fatalf("variables rows: %v", vt.Rows[:2])
	}
	var buf bytes.Buffer
	if err := tb.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(buf.String()), "\n"); len(lines) != 9 || !strings.HasPrefix(lines[0], "day,A8 (USD)") {
		t.Fatalf("csv: %q", buf.String())
	}
}

func TestCSVDefusesFormulas(t *testing.T) {
	tb := Table{Head: []string{"name"}, Rows: [][]string{{"=HYPERLINK(\"x\")"}, {"+1"}, {"-5"}, {"-x"}, {"@a"}, {"a;=1"}, {"+393473794633"}}}
	var buf bytes.Buffer
	if err := tb.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	want := "name\n\"'=HYPERLINK(\"\"x\"\")\"\n+1\n-5\n'-x\n'@a\na;'=1\n+393473794633\n"
	if buf.String() != want {
		t.Fatalf("csv %q", buf.String())
	}
}

func TestSVGIsWellFormedAndAccessible(t *testing.T) {
	rng := NewRange(30, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	rows := []store.UsageDaily{
		{WorkspaceID: 1, Day: "2026-11-25", AssistantID: 1, Type: store.TypeWidget, Conversations: 4, RequiredConversations: 2, CompleteConversations: 1, CostNanos: 10},
		{WorkspaceID: 1, Day: "2026-11-20", AssistantID: 2, Type: store.TypeWhatsApp, Conversations: 2, WindowsClosedUnanswered: 1, CostNanos: 3},
	}
	rep := Build(rng, rows, map[int64]string{1: `<script>alert("x")</script> & co`, 2: "B"}, nil)
	for _, c := range rep.Charts {
		svg := c.SVG()
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := dec.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("%s: not well-formed XML: %v\n%s", c.ID, err, svg)
				}
				break
			}
		}
		if strings.Contains(svg, "<script") {
			t.Fatalf("%s: a name is not escaped", c.ID)
		}
		if !strings.Contains(svg, `role="img"`) || !strings.Contains(svg, "<title id=") || !strings.Contains(svg, "<desc id=") {
			t.Fatalf("%s: no text alternative", c.ID)
		}
		for i := range c.Series {
			if !strings.Contains(svg, fmt.Sprintf(`id="%s-p%d"`, c.ID, i)) {
				t.Fatalf("%s: series %d has no pattern", c.ID, i)
			}
		}
	}
	v, _ := rep.Chart(ChartVariables)
	if svg := v.SVG(); !strings.Contains(svg, "<polyline") && !strings.Contains(svg, `class="point"`) {
		t.Fatal("the share is a line with points")
	}
	empty := Build(NewRange(7, time.Now()), nil, nil, nil)
	w, _ := empty.Chart(ChartWindows)
	if !strings.Contains(w.SVG(), "No data in this range") {
		t.Fatal("an empty chart says so")
	}
}

// Counts get whole ticks: a chart whose tallest day is 5 conversations is labelled 0, 2, 4,
// 6, 8, not 1.25 and 3.75.
func TestCountTicksAreWhole(t *testing.T) {
	tick := regexp.MustCompile(`text-anchor="end" fill="#5b6475">([^<]*)</text>`)
	for _, tc := range []struct {
		unit Unit
		max  int64
		want []string
	}{
		{UnitCount, 5, []string{"0", "2", "4", "6", "8"}},
		{UnitCount, 3, []string{"0", "1", "2", "3", "4"}},
		{UnitCount, 1, []string{"0", "1", "2", "3", "4"}},
		{UnitCount, 90, []string{"0", "25", "50", "75", "100"}},
		{UnitTokens, 62276, []string{"0", "20k", "40k", "60k", "80k"}},
	} {
		c := &Chart{ID: "c", Title: "t", Unit: tc.unit, Days: []string{"2026-11-24", "2026-11-25"},
			Series: []Series{{Key: "a", Label: "A", Values: []int64{1, tc.max}}}}
		var got []string
		for _, m := range tick.FindAllStringSubmatch(c.SVG(), -1) {
			got = append(got, m[1])
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s up to %d: ticks %v, want %v", tc.unit, tc.max, got, tc.want)
		}
	}
}
