package analytics

import (
	"fmt"
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
	case UnitScore:
		return strconv.FormatFloat(v/100, 'f', -1, 64)
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
	case UnitScore:
		if v < 0 {
			return "no data"
		}
		return score(v) + " of 5"
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

// Plot is a chart's drawing: every shape's position and every text, computed here and drawn
// as SVG by the view (views/components' Chart), which escapes every text. Coordinates are SVG
// user units, written with one decimal; the SVG scales to its container.
type Plot struct {
	ID, Title, Desc string
	TitleID, DescID string
	Width, Height   int
	Patterns        []PlotPattern
	Legend          []PlotLegend
	Grid            []PlotTick
	// Axis is the x axis: from X1 to X2 at height Y.
	AxisX1, AxisX2, AxisY int
	DayLabels             []PlotText
	// Empty says "No data in this range" at (EmptyX, EmptyY).
	Empty          bool
	EmptyX, EmptyY string
	Bars           []PlotBar
	Totals         []PlotText
	Lines          []PlotLine
	Points         []PlotPoint
}

// PlotPattern is a series' fill: a colour and one of seven shapes (solid, diagonal stripes,
// dots, cross-hatch, horizontal lines, vertical lines, reverse diagonal), so that no series is
// told apart by colour alone.
type PlotPattern struct {
	ID     string
	Kind   int
	Colour string
}

// PlotLegend is one legend entry: its swatch at (X, Y) and its label.
type PlotLegend struct {
	X, Y, TextX, TextY int
	Fill, Label        string
}

// PlotTick is a y-axis grid line with its label.
type PlotTick struct {
	X1, X2, LabelX int
	Y, LabelY      string
	Label          string
}

// PlotText is a text at (X, Y).
type PlotText struct {
	X, Y, Text string
}

// PlotBar is one series' part of one day's stacked bar, with its tooltip.
type PlotBar struct {
	Day, Series string
	Value       int64
	X, Y, W, H  string
	Fill, Tip   string
}

// PlotLine is one polyline of a line series (a gap in the data starts a new one).
type PlotLine struct {
	Colour, Points string
}

// PlotPoint is a line series' marker: a circle, a square or a triangle by series (a shape
// per series, not only a colour).
type PlotPoint struct {
	Shape  int // 0 circle at (X, Y), 1 square from (X, Y), 2 triangle with path D
	X, Y   string
	D      string
	Colour string
	Tip    string
}

// Plot lays the chart out: stacked bars (or a line for percentages) with y-axis ticks, day
// labels, a legend with each series' pattern, a tooltip on every bar and point, and a title
// and description for screen readers.
func (c *Chart) Plot() Plot {
	n := len(c.Days)
	p := Plot{ID: c.ID + "-chart", Title: c.Title, Desc: c.Description + " " + c.Summary,
		TitleID: c.ID + "-chart-title", DescID: c.ID + "-chart-desc", Width: svgWidth}
	fill := func(i int) string { return fmt.Sprintf("url(#%s-p%d)", c.ID, i) }
	for i := range c.Series {
		p.Patterns = append(p.Patterns, PlotPattern{ID: fmt.Sprintf("%s-p%d", c.ID, i), Kind: i % 7, Colour: palette[i%len(palette)]})
	}
	// Legend layout: items in rows, about 7 units per character.
	x, row := marginL, 0
	for i, s := range c.Series {
		w := 24 + 7*len([]rune(s.Label)) + 18
		if x+w > svgWidth-marginR && x > marginL {
			x, row = marginL, row+1
		}
		y := marginT + row*legendRow
		p.Legend = append(p.Legend, PlotLegend{X: x, Y: y + 2, TextX: x + 22, TextY: y + 12, Fill: fill(i), Label: s.Label})
		x += w
	}
	legendH := (row + 1) * legendRow
	if len(c.Series) == 0 {
		legendH = 0
	}
	top := marginT + legendH
	p.Height = top + plotHeight + marginB
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
	if c.Unit == UnitScore {
		maxV = 100 * model.CSATMax
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
		p.Grid = append(p.Grid, PlotTick{X1: marginL, X2: svgWidth - marginR, LabelX: marginL - 6, Y: f1(y), LabelY: f1(y + 4), Label: c.axisLabel(v)})
	}
	p.AxisX1, p.AxisX2, p.AxisY = marginL, svgWidth-marginR, top+plotHeight
	// Day labels: at most about ten.
	step := max(1, (n+9)/10)
	slot := plotW / float64(max(n, 1))
	for i := 0; i < n; i += step {
		cx := float64(marginL) + slot*(float64(i)+0.5)
		p.DayLabels = append(p.DayLabels, PlotText{X: f1(cx), Y: strconv.Itoa(top + plotHeight + 16), Text: shortDay(c.Days[i])})
	}
	p.Empty = true
	for _, s := range c.Series {
		for _, v := range s.Values {
			if v > 0 || (c.Line && v == 0) {
				p.Empty = false
			}
		}
	}
	p.EmptyX, p.EmptyY = f1(float64(marginL)+plotW/2), strconv.Itoa(top+plotHeight/2)
	if c.Line {
		c.lines(&p, slot, yOf)
	} else {
		c.bars(&p, slot, yOf, fill)
	}
	return p
}

func (c *Chart) bars(p *Plot, slot float64, yOf func(float64) float64, fill func(int) string) {
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
			p.Bars = append(p.Bars, PlotBar{Day: day, Series: s.Key, Value: v, X: f1(x), Y: f1(y1), W: f1(bw), H: f1(math.Max(y0-y1, 0.5)),
				Fill: fill(j), Tip: day + " · " + s.Label + ": " + c.tipValue(v)})
		}
		// The day's total above its bar when there is room for it.
		if total > 0 && len(c.Days) <= 14 {
			p.Totals = append(p.Totals, PlotText{X: f1(x + bw/2), Y: f1(yOf(base) - 4), Text: c.tipValue(total)})
		}
	}
}

func (c *Chart) lines(p *Plot, slot float64, yOf func(float64) float64) {
	for j, s := range c.Series {
		colour := palette[j%len(palette)]
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				p.Lines = append(p.Lines, PlotLine{Colour: colour, Points: strings.Join(seg, " ")})
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
			x, y := float64(marginL)+slot*(float64(i)+0.5), yOf(float64(v))
			pt := PlotPoint{Shape: j % 3, Colour: colour, Tip: c.Days[i] + " · " + s.Label + ": " + c.tipValue(v)}
			switch pt.Shape {
			case 0:
				pt.X, pt.Y = f1(x), f1(y)
			case 1:
				pt.X, pt.Y = f1(x-3.5), f1(y-3.5)
			default:
				pt.D = "M" + f1(x) + " " + f1(y-4.5) + "L" + f1(x+4.5) + " " + f1(y+3.5) + "L" + f1(x-4.5) + " " + f1(y+3.5) + "Z"
			}
			p.Points = append(p.Points, pt)
		}
	}
}
