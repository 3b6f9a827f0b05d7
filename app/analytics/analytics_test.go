package analytics

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
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
		rows = append(rows, store.UsageDaily{WorkspaceID: 1, Day: "2026-11-25", AssistantID: a, Type: model.TypeWidget,
			Conversations: a, PromptTokens: 100 * a, CompletionTokens: a, CostNanos: 1_000_000 * a})
	}
	rows = append(rows, store.UsageDaily{WorkspaceID: 1, Day: "2026-11-24", AssistantID: 99, Type: "", LLMCalls: 1, CostNanos: 5},
		store.UsageDaily{WorkspaceID: 1, Day: "2026-11-19", AssistantID: 0, Type: model.TypeTest, Conversations: 3, RequiredConversations: 3, CompleteConversations: 2},
		store.UsageDaily{WorkspaceID: 1, Day: "2026-11-18", AssistantID: 1, Type: model.TypeTest, Conversations: 1000}) // before the range
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
