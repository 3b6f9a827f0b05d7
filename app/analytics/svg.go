package analytics

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/model"
)

// Chart geometry (SVG user units; the SVG scales to its container).
const (
	svgWidth   = 760
	plotHeight = 220
	marginL    = 70
	marginR    = 16
	marginT    = 10
	marginB    = 44
	legendRow  = 20
)

// palette is Okabe and Ito's colour-blind safe palette; every series also has its own fill
// pattern, so that none is told apart by colour alone.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"}

// pattern writes series i's fill pattern: solid, diagonal stripes, dots, cross-hatch,
// horizontal lines, vertical lines, reverse diagonal.
func pattern(b *strings.Builder, id string, i int) {
	c := palette[i%len(palette)]
	bg := "#ffffff"
	switch i % 7 {
	case 0:
		fmt.Fprintf(b, `<pattern id="%s" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="%s"/></pattern>`, id, c)
	case 1:
		fmt.Fprintf(b, `<pattern id="%s" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="%s"/><rect width="3" height="6" fill="%s"/></pattern>`, id, bg, c)
	case 2:
		fmt.Fprintf(b, `<pattern id="%s" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="%s"/><circle cx="3" cy="3" r="1.8" fill="%s"/></pattern>`, id, bg, c)
	case 3:
		fmt.Fprintf(b, `<pattern id="%s" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="%s"/><path d="M0 0L6 6M6 0L0 6" stroke="%s" stroke-width="1.4"/></pattern>`, id, bg, c)
	case 4:
		fmt.Fprintf(b, `<pattern id="%s" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="%s"/><rect width="6" height="3" fill="%s"/></pattern>`, id, bg, c)
	case 5:
		fmt.Fprintf(b, `<pattern id="%s" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="%s"/><rect width="3" height="6" fill="%s"/></pattern>`, id, bg, c)
	default:
		fmt.Fprintf(b, `<pattern id="%s" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><rect width="6" height="6" fill="%s"/><rect width="2" height="6" fill="%s"/></pattern>`, id, bg, c)
	}
}

func esc(s string) string { return html.EscapeString(s) }

func f1(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

// niceMax rounds a maximum up to 1, 2, 2.5 or 5 times a power of ten.
func niceMax(v float64) float64 { return nice(v, false) }

// wholeStep rounds a tick step up in the same way to a whole number: at least 1, and 2.5
// times a power of ten only from 25 up.
func wholeStep(v float64) float64 { return max(1, nice(v, true)) }

func nice(v float64, whole bool) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v && !(whole && m == 2.5 && p < 10) {
			return m * p
		}
	}
	return 10 * p
}

// axisLabel writes a tick value for the y axis.
func (c *Chart) axisLabel(v float64) string {
	switch c.Unit {
	case UnitUSD:
		d := v / model.NanosPerUSD
		switch {
		case d == 0:
			return "$0"
		case d >= 100:
			return "$" + strconv.FormatFloat(d, 'f', 0, 64)
		case d >= 0.01:
			return "$" + strconv.FormatFloat(d, 'f', 2, 64)
		}
		return "$" + strconv.FormatFloat(d, 'g', 3, 64)
	case UnitPercent:
		return strconv.FormatFloat(v/100, 'f', 0, 64) + "%"
	}
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(v/1e9, 'g', 3, 64) + "G"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// tipValue writes a value for a tooltip.
func (c *Chart) tipValue(v int64) string {
	switch c.Unit {
	case UnitUSD:
		return model.Money(v).Dollars()
	case UnitPercent:
		if v < 0 {
			return "no data"
		}
		return percent(v) + "%"
	}
	return groupDigits(v)
}

func shortDay(day string) string {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return day
	}
	return t.Format("Jan 2")
}

// SVG renders the chart: stacked bars (or a line for percentages) with y-axis ticks, day
// labels, a legend with each series' pattern, a tooltip on every bar and point, and a title
// and description for screen readers. Every text is escaped.
func (c *Chart) SVG() string {
	var b strings.Builder
	n := len(c.Days)
	// Legend layout: items in rows, about 7 units per character.
	type item struct {
		x, row int
		label  string
	}
	var items []item
	x, row := marginL, 0
	for _, s := range c.Series {
		w := 24 + 7*len([]rune(s.Label)) + 18
		if x+w > svgWidth-marginR && x > marginL {
			x, row = marginL, row+1
		}
		items = append(items, item{x, row, s.Label})
		x += w
	}
	legendH := (row + 1) * legendRow
	if len(c.Series) == 0 {
		legendH = 0
	}
	top := marginT + legendH
	height := top + plotHeight + marginB
	titleID, descID := c.ID+"-chart-title", c.ID+"-chart-desc"
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s-chart" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s %s" style="max-width:%dpx;height:auto;font-family:system-ui,sans-serif">`,
		esc(c.ID), svgWidth, height, titleID, descID, svgWidth)
	fmt.Fprintf(&b, `<title id="%s">%s</title><desc id="%s">%s %s</desc>`, titleID, esc(c.Title), descID, esc(c.Description), esc(c.Summary))
	b.WriteString("<defs>")
	for i := range c.Series {
		pattern(&b, fmt.Sprintf("%s-p%d", c.ID, i), i)
	}
	b.WriteString("</defs>")
	for i, it := range items {
		y := marginT + it.row*legendRow
		fmt.Fprintf(&b, `<g class="legend-item"><rect x="%d" y="%d" width="16" height="12" fill="url(#%s-p%d)" stroke="#1d2330" stroke-width="0.8"/><text x="%d" y="%d" font-size="12" fill="#1d2330">%s</text></g>`,
			it.x, y+2, esc(c.ID), i, it.x+22, y+12, esc(it.label))
	}
	plotW := float64(svgWidth - marginL - marginR)
	// Scale.
	var maxV float64
	for i := 0; i < n; i++ {
		var stack float64
		for _, s := range c.Series {
			if v := s.Values[i]; v > 0 {
				if c.Line {
					stack = math.Max(stack, float64(v))
				} else {
					stack += float64(v)
				}
			}
		}
		maxV = math.Max(maxV, stack)
	}
	if c.Unit == UnitPercent {
		maxV = 10000
	}
	if c.Unit == UnitCount || c.Unit == UnitTokens {
		maxV = 4 * wholeStep(maxV/4) // whole numbers of conversations, messages or tokens on every tick
	} else {
		maxV = niceMax(maxV)
	}
	yOf := func(v float64) float64 { return float64(top) + float64(plotHeight)*(1-v/maxV) }
	// Grid and y ticks.
	for k := 0; k <= 4; k++ {
		v := maxV * float64(k) / 4
		y := yOf(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s" stroke="#e3e6eb" stroke-width="1"/>`, marginL, svgWidth-marginR, f1(y), f1(y))
		fmt.Fprintf(&b, `<text x="%d" y="%s" font-size="11" text-anchor="end" fill="#5b6475">%s</text>`, marginL-6, f1(y+4), esc(c.axisLabel(v)))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#5b6475" stroke-width="1"/>`, marginL, svgWidth-marginR, top+plotHeight, top+plotHeight)
	// Day labels: at most about ten.
	step := max(1, (n+9)/10)
	slot := plotW / float64(max(n, 1))
	for i := 0; i < n; i += step {
		cx := float64(marginL) + slot*(float64(i)+0.5)
		fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="11" text-anchor="middle" fill="#5b6475">%s</text>`, f1(cx), top+plotHeight+16, esc(shortDay(c.Days[i])))
	}
	empty := true
	for _, s := range c.Series {
		for _, v := range s.Values {
			if v > 0 || (c.Line && v == 0) {
				empty = false
			}
		}
	}
	if empty {
		fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="14" text-anchor="middle" fill="#5b6475">No data in this range</text>`, f1(float64(marginL)+plotW/2), top+plotHeight/2)
	}
	if c.Line {
		c.lines(&b, slot, yOf)
	} else {
		c.bars(&b, slot, yOf)
	}
	b.WriteString("</svg>")
	return b.String()
}

func (c *Chart) bars(b *strings.Builder, slot float64, yOf func(float64) float64) {
	bw := math.Max(1, slot*0.78)
	for i, day := range c.Days {
		x := float64(marginL) + slot*float64(i) + (slot-bw)/2
		base := 0.0
		var total int64
		for j, s := range c.Series {
			v := s.Values[i]
			if v <= 0 {
				continue
			}
			total += v
			y0, y1 := yOf(base), yOf(base+float64(v))
			base += float64(v)
			fmt.Fprintf(b, `<rect class="bar" data-day="%s" data-series="%s" data-value="%d" x="%s" y="%s" width="%s" height="%s" fill="url(#%s-p%d)" stroke="#1d2330" stroke-width="0.5"><title>%s · %s: %s</title></rect>`,
				esc(day), esc(s.Key), v, f1(x), f1(y1), f1(bw), f1(math.Max(y0-y1, 0.5)), esc(c.ID), j, esc(day), esc(s.Label), esc(c.tipValue(v)))
		}
		// The day's total above its bar when there is room for it.
		if total > 0 && len(c.Days) <= 14 {
			fmt.Fprintf(b, `<text x="%s" y="%s" font-size="11" text-anchor="middle" fill="#1d2330">%s</text>`, f1(x+bw/2), f1(yOf(base)-4), esc(c.tipValue(total)))
		}
	}
}

// markers are the point shapes of line series (a shape per series, not only a colour).
func marker(b *strings.Builder, i int, x, y float64, colour, tip string) {
	switch i % 3 {
	case 0:
		fmt.Fprintf(b, `<circle class="point" cx="%s" cy="%s" r="3.5" fill="%s"><title>%s</title></circle>`, f1(x), f1(y), colour, esc(tip))
	case 1:
		fmt.Fprintf(b, `<rect class="point" x="%s" y="%s" width="7" height="7" fill="%s"><title>%s</title></rect>`, f1(x-3.5), f1(y-3.5), colour, esc(tip))
	default:
		fmt.Fprintf(b, `<path class="point" d="M%s %sL%s %sL%s %sZ" fill="%s"><title>%s</title></path>`, f1(x), f1(y-4.5), f1(x+4.5), f1(y+3.5), f1(x-4.5), f1(y+3.5), colour, esc(tip))
	}
}

func (c *Chart) lines(b *strings.Builder, slot float64, yOf func(float64) float64) {
	for j, s := range c.Series {
		colour := palette[j%len(palette)]
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, colour, strings.Join(seg, " "))
			}
			seg = seg[:0]
		}
		for i, v := range s.Values {
			if v < 0 { // no data that day: a gap
				flush()
				continue
			}
			x := float64(marginL) + slot*(float64(i)+0.5)
			y := yOf(float64(v))
			seg = append(seg, f1(x)+","+f1(y))
		}
		flush()
		for i, v := range s.Values {
			if v < 0 {
				continue
			}
			x := float64(marginL) + slot*(float64(i)+0.5)
			marker(b, j, x, yOf(float64(v)), colour, c.Days[i]+" · "+s.Label+": "+c.tipValue(v))
		}
	}
}
