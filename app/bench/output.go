package bench

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// ---- output ----

// loadAverage is the first three fields of /proc/loadavg (Linux), or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64)
}

func (r *Runner) print(res Result) {
	w := r.Out
	fmt.Fprintf(w, "## %s\n", res.Name)
	fmt.Fprintf(w, "GET %s\n", res.URL)
	match := ""
	if res.Matches >= 0 {
		match = fmt.Sprintf(", %d matching", res.Matches)
	}
	fmt.Fprintf(w, "rows %d%s\n", res.Rows, match)
	line := func(label string, s Stats) {
		if s.N == 0 {
			return
		}
		fmt.Fprintf(w, "  %-6s min %7s ms  p50 %7s ms  p95 %7s ms  max %7s ms  (first %s ms)\n", label, ms(s.Min), ms(s.P50), ms(s.P95), ms(s.Max), ms(s.First))
	}
	line("store", res.Store)
	line("page", res.Page)
	line("htmx", res.Htmx)
	if len(res.PageQueries) > 0 {
		fmt.Fprintf(w, "  the page ran %d statements:\n", len(res.PageQueries))
		for _, q := range res.PageQueries {
			fmt.Fprintf(w, "    %7s ms  %s\n", ms(q.Duration), short(q.SQL, 150))
		}
	}
	for i, q := range res.StoreQueries {
		fmt.Fprintf(w, "  store statement %d (%s ms):\n    %s\n", i+1, ms(q.Duration), q.SQL)
		if i < len(res.Explains) {
			for _, l := range strings.Split(strings.TrimRight(res.Explains[i], "\n"), "\n") {
				fmt.Fprintf(w, "    | %s\n", l)
			}
		}
	}
	fmt.Fprintln(w)
}

func short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// WriteTable writes the results as a Markdown table (milliseconds, server time).
func WriteTable(w io.Writer, results []Result) {
	fmt.Fprintln(w, "| case | rows | matching | store min | store p50 | store p95 | page p50 | page p95 | htmx p50 | htmx p95 |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	cell := func(s Stats, d time.Duration) string {
		if s.N == 0 {
			return "–"
		}
		return ms(d)
	}
	for _, r := range results {
		m := "–"
		if r.Matches >= 0 {
			m = strconv.FormatInt(r.Matches, 10)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", strings.ReplaceAll(r.Name, "|", "\\|"), r.Rows, m,
			cell(r.Store, r.Store.Min), cell(r.Store, r.Store.P50), cell(r.Store, r.Store.P95),
			cell(r.Page, r.Page.P50), cell(r.Page, r.Page.P95), cell(r.Htmx, r.Htmx.P50), cell(r.Htmx, r.Htmx.P95))
	}
}
