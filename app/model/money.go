package model

import (
	"fmt"
	"strings"
)

// NanosPerUSD is how many nano-dollars make a dollar.
const NanosPerUSD = 1_000_000_000

// Money is an amount in nano-dollars (1e-9 USD). It is never a float.
//
// It has exactly three formatters: Cents for people ("$0.01"), Exact for machines (the API's
// cost_usd and every CSV export: "0.000525300"), and Dollars for charts and summaries where
// the significant digits matter ("$0.0005253").
type Money int64

// abs splits m into its sign and magnitude (math.MinInt64 included).
func (m Money) abs() (string, uint64) {
	if m < 0 {
		return "-", uint64(-(m + 1)) + 1
	}
	return "", uint64(m)
}

// Exact writes m as a decimal string with 9 places and no currency sign: 525300 gives
// "0.000525300". The JSON API's cost_usd and the CSV exports use it.
func (m Money) Exact() string {
	sign, u := m.abs()
	return fmt.Sprintf("%s%d.%09d", sign, u/NanosPerUSD, u%NanosPerUSD)
}

// Cents writes m in dollars to the cent, rounded half away from zero: "$0.01".
func (m Money) Cents() string {
	sign, u := m.abs()
	cents := (u + 5_000_000) / 10_000_000
	if cents == 0 {
		sign = ""
	}
	return fmt.Sprintf("%s$%d.%02d", sign, cents/100, cents%100)
}

// Dollars writes m as exact dollars with its significant digits: at least two decimals, more
// only when they are not zero (525300 gives "$0.0005253", 1_500_000_000 gives "$1.50").
func (m Money) Dollars() string {
	sign, u := m.abs()
	fs := strings.TrimRight(fmt.Sprintf("%09d", u%NanosPerUSD), "0")
	for len(fs) < 2 {
		fs += "0"
	}
	return fmt.Sprintf("%s$%d.%s", sign, u/NanosPerUSD, fs)
}
