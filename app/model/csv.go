package model

// CSVCell is the one formula guard of every CSV export. A spreadsheet runs a cell that starts
// with '=', '+', '-', '@', a tab or a carriage return as a formula; and a spreadsheet that
// splits on ';' or ',' (a locale's separator, or "text to columns") makes a new cell of
// whatever follows one. So a single quote is put before each such start: the cell's own, and
// that of every part after a ';' or ','. A cell that is a plain number ("-12.5", "42") or a
// phone number ("+393473794633") is left as it is: it is data, not a formula.
func CSVCell(s string) string {
	if s == "" || plainNumber(s) {
		return s
	}
	n := 0
	start := true
	for i := 0; i < len(s); i++ {
		if start && formulaStart(s[i]) {
			n++
		}
		start = s[i] == ';' || s[i] == ','
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+n)
	start = true
	for i := 0; i < len(s); i++ {
		if start && formulaStart(s[i]) {
			b = append(b, '\'')
		}
		b = append(b, s[i])
		start = s[i] == ';' || s[i] == ','
	}
	return string(b)
}

func formulaStart(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// plainNumber reports an optionally signed decimal: digits, at most one '.', digits on at
// least one side of it. A phone number in E.164 ("+393473794633") is one.
func plainNumber(s string) bool {
	if s[0] == '+' || s[0] == '-' {
		s = s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] >= '0' && s[i] <= '9':
			digits++
		case s[i] == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}
