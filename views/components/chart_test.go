package components

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/analytics"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// svgOf draws a chart with the Chart component, as the Analytics page does.
func svgOf(t *testing.T, c *analytics.Chart) string {
	t.Helper()
	var b bytes.Buffer
	if err := Chart(c.Plot()).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestChartIsWellFormedAndAccessible(t *testing.T) {
	rng := analytics.NewRange(30, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	rows := []store.UsageDaily{
		{WorkspaceID: 1, Day: "2026-11-25", AssistantID: 1, Type: model.TypeWidget, Conversations: 4, RequiredConversations: 2, CompleteConversations: 1, CostNanos: 10},
		{WorkspaceID: 1, Day: "2026-11-20", AssistantID: 2, Type: model.TypeWhatsApp, Conversations: 2, WindowsClosedUnanswered: 1, CostNanos: 3},
	}
	rep := analytics.Build(rng, rows, map[int64]string{1: `<script>alert("x")</script> & co`, 2: "B"}, nil)
	for i := range rep.Charts {
		c := &rep.Charts[i]
		svg := svgOf(t, c)
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
	v, _ := rep.Chart(analytics.ChartVariables)
	if svg := svgOf(t, v); !strings.Contains(svg, "<polyline") && !strings.Contains(svg, `class="point"`) {
		t.Fatal("the share is a line with points")
	}
	empty := analytics.Build(analytics.NewRange(7, time.Now()), nil, nil, nil)
	w, _ := empty.Chart(analytics.ChartWindows)
	if !strings.Contains(svgOf(t, w), "No data in this range") {
		t.Fatal("an empty chart says so")
	}
}

// Counts get whole ticks: a chart whose tallest day is 5 conversations is labelled 0, 2, 4,
// 6, 8, not 1.25 and 3.75.
func TestCountTicksAreWhole(t *testing.T) {
	tick := regexp.MustCompile(`<text class="tick"[^>]*>([^<]*)</text>`)
	for _, tc := range []struct {
		unit analytics.Unit
		max  int64
		want []string
	}{
		{analytics.UnitCount, 5, []string{"0", "2", "4", "6", "8"}},
		{analytics.UnitCount, 3, []string{"0", "1", "2", "3", "4"}},
		{analytics.UnitCount, 1, []string{"0", "1", "2", "3", "4"}},
		{analytics.UnitCount, 90, []string{"0", "25", "50", "75", "100"}},
		{analytics.UnitTokens, 62276, []string{"0", "20k", "40k", "60k", "80k"}},
	} {
		c := &analytics.Chart{ID: "c", Title: "t", Unit: tc.unit, Days: []string{"2026-11-24", "2026-11-25"},
			Series: []analytics.Series{{Key: "a", Label: "A", Values: []int64{1, tc.max}}}}
		var got []string
		for _, m := range tick.FindAllStringSubmatch(svgOf(t, c), -1) {
			got = append(got, m[1])
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s up to %d: ticks %v, want %v", tc.unit, tc.max, got, tc.want)
		}
	}
}
