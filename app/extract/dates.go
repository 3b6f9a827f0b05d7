package extract

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DateFound is one date found in a text.
type DateFound struct {
	Value string // YYYY-MM-DD
	// Ambiguous is true for a numeric date whose day and month can be read either way
	// (03/04/2026): Value is then the day-first reading and Alt the month-first one.
	Ambiguous  bool
	Alt        string
	start, end int
}

// Date formats read, and how ambiguity is settled:
//
//   - ISO: 2026-11-25, 2026/11/25, 2026.11.25 (and an ISO timestamp's date part);
//   - day.month.year with dots: 25.11.2026, 25.11.26 (the European convention, never
//     month-first);
//   - numeric with "/" or "-": 25/11/2026, 11/25/2026, 25-11-2026. When the first number is
//     above 12 it is the day; when the second is above 12, the first is the month (US order);
//     when both are 12 or less and differ (03/04/2026) the date is ambiguous and left to the
//     language model; when they are equal (05/05/2026) there is nothing to settle;
//   - with a month name, in English, German, French, Spanish, Italian, Portuguese and Dutch,
//     full or abbreviated: "25 Nov 2026", "25th of November 2026", "25. November 2026",
//     "25 de noviembre de 2026", "November 25, 2026", "Nov. 25th 2026";
//   - relative English words, against the message's time: today, tomorrow, yesterday, the day
//     after tomorrow;
//   - two-digit years are 2000-2069 for 00-69 and 1970-1999 for 70-99.
//
// Impossible dates (2026-02-30) are not dates. A date without a year ("25 November") is left
// to the language model.
var (
	reISODate  = regexp.MustCompile(`\b(\d{4})([-/.])(\d{1,2})([-/.])(\d{1,2})(?:\b|T\d)`)
	reDotDate  = regexp.MustCompile(`\b(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})\b`)
	reNumDate  = regexp.MustCompile(`\b(\d{1,2})([/-])(\d{1,2})([/-])(\d{4}|\d{2})\b`)
	monthNames = map[string]int{}
	reDMY      *regexp.Regexp
	reMDY      *regexp.Regexp
	reRelative = regexp.MustCompile(`(?i)\b(the day after tomorrow|day after tomorrow|tomorrow|today|yesterday|tonight)\b`)
)

func init() {
	months := [][]string{
		{"january", "jan", "januar", "jänner", "janvier", "janv", "enero", "ene", "gennaio", "gen", "janeiro", "januari"},
		{"february", "feb", "februar", "février", "fevrier", "févr", "fevr", "febrero", "febbraio", "fevereiro", "fev", "februari"},
		{"march", "mar", "märz", "maerz", "mär", "mars", "marzo", "março", "marco", "maart", "mrt"},
		{"april", "apr", "avril", "avr", "abril", "abr", "aprile"},
		{"may", "mai", "mayo", "maggio", "mag", "maio", "mei"},
		{"june", "jun", "juni", "juin", "junio", "giugno", "giu", "junho"},
		{"july", "jul", "juli", "juillet", "juil", "julio", "luglio", "lug", "julho"},
		{"august", "aug", "août", "aout", "agosto", "ago", "augustus"},
		{"september", "sep", "sept", "septembre", "septiembre", "setiembre", "settembre", "set", "setembro"},
		{"october", "oct", "oktober", "okt", "octobre", "octubre", "ottobre", "ott", "outubro", "out"},
		{"november", "nov", "novembre", "noviembre", "novembro"},
		{"december", "dec", "dezember", "dez", "décembre", "decembre", "déc", "diciembre", "dic", "dicembre", "dezembro", "dezembro"},
	}
	var alts []string
	for i, names := range months {
		for _, n := range names {
			monthNames[n] = i + 1
			alts = append(alts, regexp.QuoteMeta(n))
		}
	}
	sort.Slice(alts, func(i, j int) bool { return len(alts[i]) > len(alts[j]) }) // longest first
	m := `(` + strings.Join(alts, "|") + `)`
	reDMY = regexp.MustCompile(`(?i)\b(\d{1,2})(?:st|nd|rd|th|er|º|ª)?\.?(?:\s+of|\s+de|\s*-)?\s*` + m + `\.?(?:\s+de|,|\s*-)?\s*(\d{4})\b`)
	reMDY = regexp.MustCompile(`(?i)\b` + m + `\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b`)
}

func year(s string) int {
	y, _ := strconv.Atoi(s)
	if len(s) == 2 {
		if y < 70 {
			return 2000 + y
		}
		return 1900 + y
	}
	return y
}

func mkDate(y, m, d int) (string, bool) {
	if y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31 {
		return "", false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d || int(t.Month()) != m {
		return "", false
	}
	return t.Format("2006-01-02"), true
}

// Dates finds the dates in a text, in the order they appear (see the formats above). ref is
// the time the text was written, for relative words; the zero time disables them.
func Dates(text string, ref time.Time) []DateFound {
	var out []DateFound
	taken := make([]bool, len(text)+1)
	free := func(a, b int) bool {
		for i := a; i < b; i++ {
			if taken[i] {
				return false
			}
		}
		return true
	}
	add := func(a, b int, f DateFound) {
		for i := a; i < b; i++ {
			taken[i] = true
		}
		f.start, f.end = a, b
		out = append(out, f)
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	for _, m := range reISODate.FindAllStringSubmatchIndex(text, -1) {
		if text[m[4]:m[5]] != text[m[8]:m[9]] || !free(m[0], m[1]) {
			continue // mixed separators
		}
		if v, ok := mkDate(atoi(text[m[2]:m[3]]), atoi(text[m[6]:m[7]]), atoi(text[m[10]:m[11]])); ok {
			add(m[0], m[1], DateFound{Value: v})
		}
	}
	for _, m := range reDMY.FindAllStringSubmatchIndex(text, -1) {
		if !free(m[0], m[1]) {
			continue
		}
		mon := monthNames[strings.ToLower(text[m[4]:m[5]])]
		if v, ok := mkDate(year(text[m[6]:m[7]]), mon, atoi(text[m[2]:m[3]])); ok {
			add(m[0], m[1], DateFound{Value: v})
		}
	}
	for _, m := range reMDY.FindAllStringSubmatchIndex(text, -1) {
		if !free(m[0], m[1]) {
			continue
		}
		mon := monthNames[strings.ToLower(text[m[2]:m[3]])]
		if v, ok := mkDate(year(text[m[6]:m[7]]), mon, atoi(text[m[4]:m[5]])); ok {
			add(m[0], m[1], DateFound{Value: v})
		}
	}
	for _, m := range reDotDate.FindAllStringSubmatchIndex(text, -1) {
		if !free(m[0], m[1]) || followedByDigitDot(text, m[1]) {
			continue
		}
		if v, ok := mkDate(year(text[m[6]:m[7]]), atoi(text[m[4]:m[5]]), atoi(text[m[2]:m[3]])); ok {
			add(m[0], m[1], DateFound{Value: v})
		}
	}
	for _, m := range reNumDate.FindAllStringSubmatchIndex(text, -1) {
		if text[m[4]:m[5]] != text[m[8]:m[9]] || !free(m[0], m[1]) {
			continue
		}
		a, b, y := atoi(text[m[2]:m[3]]), atoi(text[m[6]:m[7]]), year(text[m[10]:m[11]])
		dmy, okDMY := mkDate(y, b, a)
		mdy, okMDY := mkDate(y, a, b)
		switch {
		case okDMY && okMDY && dmy != mdy:
			add(m[0], m[1], DateFound{Value: dmy, Ambiguous: true, Alt: mdy})
		case okDMY:
			add(m[0], m[1], DateFound{Value: dmy})
		case okMDY:
			add(m[0], m[1], DateFound{Value: mdy})
		}
	}
	if !ref.IsZero() {
		for _, m := range reRelative.FindAllStringIndex(text, -1) {
			if !free(m[0], m[1]) {
				continue
			}
			d := ref.UTC()
			switch w := strings.ToLower(text[m[0]:m[1]]); w {
			case "tomorrow":
				d = d.AddDate(0, 0, 1)
			case "yesterday":
				d = d.AddDate(0, 0, -1)
			case "the day after tomorrow", "day after tomorrow":
				d = d.AddDate(0, 0, 2)
			}
			add(m[0], m[1], DateFound{Value: d.Format("2006-01-02")})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

// followedByDigitDot rejects "1.2.2026.5"-like runs (version numbers, IPs).
func followedByDigitDot(text string, end int) bool {
	return end+1 < len(text) && text[end] == '.' && text[end+1] >= '0' && text[end+1] <= '9'
}

// ParseDate reads one date value (an LLM's answer, a form value) into YYYY-MM-DD. It accepts
// what Dates finds, when the text holds exactly one unambiguous date.
func ParseDate(s string) (string, bool) {
	ds := Dates(s, time.Time{})
	if len(ds) != 1 || ds[0].Ambiguous {
		return "", false
	}
	return ds[0].Value, true
}
