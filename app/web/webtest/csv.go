package webtest

import (
	"strconv"
	"strings"
)

// FormulaCell reports a CSV cell that a spreadsheet could run as a formula: the cell, or a part
// of it after a ';' or ',', starts with '=', '+', '-', '@', a tab or a CR, and the cell is not a
// plain number or phone number (model.CSVCell's rule, checked here independently of it).
func FormulaCell(cell string) bool {
	if _, err := strconv.ParseFloat(cell, 64); err == nil && !strings.ContainsAny(cell, "eEnNiIxXpP_") {
		return false
	}
	for _, part := range strings.FieldsFunc(cell, func(r rune) bool { return r == ';' || r == ',' }) {
		if strings.ContainsRune("=+-@\t\r", rune(part[0])) {
			return true
		}
	}
	return false
}
