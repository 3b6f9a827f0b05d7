package model

import (
	"math"
	"testing"
	"time"
)

func TestMoneyFormatters(t *testing.T) {
	cases := []struct {
		nanos                 int64
		exact, cents, dollars string
	}{
		{0, "0.000000000", "$0.00", "$0.00"},
		{1, "0.000000001", "$0.00", "$0.000000001"},
		{525_300, "0.000525300", "$0.00", "$0.0005253"},
		{4_999_999, "0.004999999", "$0.00", "$0.004999999"},
		{5_000_000, "0.005000000", "$0.01", "$0.005"},
		{1_000_000_000, "1.000000000", "$1.00", "$1.00"},
		{1_234_567_890, "1.234567890", "$1.23", "$1.23456789"},
		{1_235_000_000, "1.235000000", "$1.24", "$1.235"},
		{1_500_000_000, "1.500000000", "$1.50", "$1.50"},
		{12_345_678_900, "12.345678900", "$12.35", "$12.3456789"},
		{12_345_678_901, "12.345678901", "$12.35", "$12.345678901"},
		{-5, "-0.000000005", "$0.00", "-$0.000000005"},
		{-10_000_000, "-0.010000000", "-$0.01", "-$0.01"},
		{math.MinInt64, "-9223372036.854775808", "-$9223372036.85", "-$9223372036.854775808"},
	}
	for _, c := range cases {
		m := Money(c.nanos)
		if got := m.Exact(); got != c.exact {
			t.Errorf("Money(%d).Exact() = %q, want %q", c.nanos, got, c.exact)
		}
		if got := m.Cents(); got != c.cents {
			t.Errorf("Money(%d).Cents() = %q, want %q", c.nanos, got, c.cents)
		}
		if got := m.Dollars(); got != c.dollars {
			t.Errorf("Money(%d).Dollars() = %q, want %q", c.nanos, got, c.dollars)
		}
	}
}

func TestCSVCell(t *testing.T) {
	cases := []struct{ in, want string }{
		// Attacks: the cell's start, and the start of every part a ';' or ',' makes.
		{"=1+1", "'=1+1"},
		{"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{"@SUM(1)", "'@SUM(1)"},
		{"+cmd", "'+cmd"},
		{"a;=1", "a;'=1"},
		{"x,+1", "x,'+1"},
		{"a,b;@c", "a,b;'@c"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"},
		{"-x", "'-x"},
		{"--5", "'--5"},
		{"+", "'+"},
		{"-", "'-"},
		{"1;-", "1;'-"},
		{"-1,2", "'-1,2"},
		{"+39 347 379 4633", "'+39 347 379 4633"},
		// Data: left alone.
		{"", ""},
		{"hello", "hello"},
		{"a = b", "a = b"},
		{"a, b", "a, b"},
		{"42", "42"},
		{"-12.5", "-12.5"},
		{"-5", "-5"},
		{"+1", "+1"},
		{".5", ".5"},
		{"-.5", "-.5"},
		{"+393473794633", "+393473794633"},
		{"Ciao, come stai?", "Ciao, come stai?"},
		{"0.000525300", "0.000525300"},
	}
	for _, c := range cases {
		if got := CSVCell(c.in); got != c.want {
			t.Errorf("CSVCell(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestStatusRankMovesForwardOnly(t *testing.T) {
	for _, c := range []struct {
		s    string
		rank int
	}{{StatusPending, 0}, {StatusSending, 0}, {"bogus", 0}, {StatusSent, 1}, {StatusDelivered, 2}, {StatusRead, 3}, {StatusFailed, 4}} {
		if got := Status(c.s).Rank(); got != c.rank {
			t.Errorf("Status(%q).Rank() = %d, want %d", c.s, got, c.rank)
		}
	}
}

func TestWindowAt(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	exp := now.Add(90 * time.Minute)
	past := now.Add(-time.Minute)
	closed := now.Add(-2 * time.Hour)
	cases := []struct {
		name          string
		typ           string
		expires, shut *time.Time
		want          Window
	}{
		{"widget has none", TypeWidget, &exp, nil, Window{}},
		{"never wrote", TypeWhatsApp, nil, nil, Window{Applies: true}},
		{"open", TypeWhatsApp, &exp, nil, Window{Applies: true, Known: true, Open: true, ExpiresAt: exp}},
		{"deadline passed", TypeWhatsApp, &past, nil, Window{Applies: true, Known: true, ExpiresAt: past}},
		{"closed by Meta early", TypeWhatsApp, &exp, &closed, Window{Applies: true, Known: true, ExpiresAt: exp}},
	}
	for _, c := range cases {
		if got := WindowAt(c.typ, c.expires, c.shut, now); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if d := Deadline(now, 0); !d.Equal(now.Add(24 * time.Hour)) {
		t.Errorf("Deadline default: %v", d)
	}
}

func TestEvaluatorsVersion(t *testing.T) {
	a := []Evaluator{{Name: "polite", Version: 1}, {Name: "upsell", Version: 2}}
	b := []Evaluator{{Name: "upsell", Version: 2}, {Name: "polite", Version: 1}}
	if EvaluatorsVersion(a) != EvaluatorsVersion(b) {
		t.Fatal("the order of the evaluators changed the version")
	}
	for _, other := range [][]Evaluator{
		{{Name: "polite", Version: 2}, {Name: "upsell", Version: 2}},
		{{Name: "polite", Version: 1}},
		{{Name: "polite", Version: 1}, {Name: "upsell", Version: 2}, {Name: "brief", Version: 1}},
		nil,
	} {
		if EvaluatorsVersion(other) == EvaluatorsVersion(a) {
			t.Fatalf("%v has the version of %v", other, a)
		}
		if EvaluatorsVersion(other) < 0 {
			t.Fatal("negative version")
		}
	}
}
