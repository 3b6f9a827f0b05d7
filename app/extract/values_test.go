package extract

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNormalizePhone(t *testing.T) {
	cases := []struct {
		in, cc, want string
		national     bool
	}{
		{"+49 151 2345 6789", "", "+4915123456789", false},
		{"+49-151-23456789", "", "+4915123456789", false},
		{"+49 (0)151 2345 6789", "", "+4915123456789", false},
		{"(+49) 151 23456789", "", "+4915123456789", false},
		{"0049 151 23456789", "", "+4915123456789", false},
		{"00 49 151 2345 6789", "", "+4915123456789", false},
		{"+1 (415) 555-2671", "", "+14155552671", false},
		{"+1.415.555.2671", "", "+14155552671", false},
		{"+1 415 555 2671", "", "+14155552671", false},
		{"+44 (0)20 7946 0958", "", "+442079460958", false},
		{"+44 020 7946 0958", "", "+442079460958", false},
		{"+44 7911 123456", "", "+447911123456", false},
		{"+33 6 12 34 56 78", "", "+33612345678", false},
		{"+33 (0)6 12 34 56 78", "", "+33612345678", false},
		{"+34 612 34 56 78", "", "+34612345678", false},
		{"+39 06 6982 1234", "", "+390669821234", false}, // Italy keeps its leading 0
		{"+91 98765 43210", "", "+919876543210", false},
		{"+55 11 91234-5678", "", "+5511912345678", false},
		{"+86 138 0013 8000", "", "+8613800138000", false},
		{"+61 4 1234 5678", "", "+61412345678", false},
		{"+971 50 123 4567", "", "+971501234567", false},
		{"+353 87 123 4567", "", "+353871234567", false},
		{"+7 912 345-67-89", "", "+79123456789", false},
		{"tel:+4930123456", "", "+4930123456", false},
		{"+31 6 12345678", "", "+31612345678", false},
		{"+48 512 345 678", "", "+48512345678", false},
		{"+27 82 123 4567", "", "+27821234567", false},
		{"+81 90-1234-5678", "", "+819012345678", false},
		// national numbers: read with the customer's country, else not normalised
		{"0151 2345 6789", "49", "+4915123456789", false},
		{"030/123456", "49", "+4930123456", false},
		{"(415) 555-2671", "1", "+14155552671", false},
		{"1-415-555-2671", "1", "+14155552671", false},
		{"07911 123456", "44", "+447911123456", false},
		{"612 34 56 78", "34", "+34612345678", false},
		{"0151 2345 6789", "", "", true},
		{"415-555-2671", "", "", true},
		// not phone numbers
		{"+1 (115) 555-2671", "", "", false}, // NANP area codes do not start with 1
		{"+1 415 555", "", "", false},
		{"+999 12345678", "", "", false}, // no such country code
		{"+49 1", "", "", false},
		{"+44 20 7946 0958 1234 5678", "", "", false},
		{"call me", "", "", false},
		{"1234567", "49", "", false}, // no trunk 0 where one is written
	}
	for _, c := range cases {
		got, ok, national := NormalizePhone(c.in, c.cc)
		if got != c.want || ok != (c.want != "") || national != c.national {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v, national=%v; want %q, national=%v", c.in, c.cc, got, ok, national, c.want, c.national)
		}
	}
}

func TestCountryCode(t *testing.T) {
	for in, want := range map[string]string{"+4915112345678": "49", "14155552671": "1", "+353871234567": "353", "+79123456789": "7", "+99912": "", "": ""} {
		if got := CountryCode(in); got != want {
			t.Errorf("CountryCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEmails(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"my email is jane@example.com", []string{"jane@example.com"}},
		{"Jane.Doe+newsletter@Example.CO.UK.", []string{"Jane.Doe+newsletter@example.co.uk"}},
		{"<jane@example.com>", []string{"jane@example.com"}},
		{"mailto:jane@example.com", []string{"jane@example.com"}},
		{"(jane@example.com), thanks", []string{"jane@example.com"}},
		{"JANE@EXAMPLE.COM", []string{"JANE@example.com"}},
		{"o'brien@example.ie", []string{"o'brien@example.ie"}},
		{"jane_doe-99@sub.mail.example.org!", []string{"jane_doe-99@sub.mail.example.org"}},
		{"jane (at) example (dot) com", []string{"jane@example.com"}},
		{"jane[at]example[dot]com", []string{"jane@example.com"}},
		{"jane at example dot com", []string{"jane@example.com"}},
		{"jane at example dot co dot uk", []string{"jane@example.co.uk"}},
		{"josé@correo.es", []string{"josé@correo.es"}},
		{"a@b.com and c@d.org, a@b.com again", []string{"a@b.com", "c@d.org"}},
		{"write to @jane or jane@ or @example.com", nil},
		{"jane@example", nil},
		{"jane..doe@example.com", nil},
		{"I'm at home, meet at noon", nil},
	}
	for _, c := range cases {
		if got := Emails(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Emails(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestURLs(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"see https://example.com/pricing?plan=pro.", []string{"https://example.com/pricing?plan=pro"}},
		{"HTTP://Example.COM/Path", []string{"http://example.com/Path"}},
		{"www.example.org", []string{"https://www.example.org"}},
		{"our site is acme-shop.de/kontakt", []string{"https://acme-shop.de/kontakt"}},
		{"(https://en.wikipedia.org/wiki/Go_(programming_language))", []string{"https://en.wikipedia.org/wiki/Go_(programming_language)"}},
		{"(see www.example.com)", []string{"https://www.example.com"}},
		{"mail me at jane@example.com", nil},
		{"version 1.2.3 of the app", nil},
		{"example.com and https://example.com", []string{"https://example.com"}},
	}
	for _, c := range cases {
		if got := URLs(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("URLs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNumbers(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		amb  bool
	}{
		{"42", []string{"42"}, false},
		{"about -7 degrees", []string{"-7"}, false},
		{"1,234,567", []string{"1234567"}, false},
		{"1.234.567", []string{"1234567"}, false},
		{"1 234 567", []string{"1234567"}, false},
		{"1'234'567", []string{"1234567"}, false},
		{"1,234.56", []string{"1234.56"}, false},
		{"1.234,56", []string{"1234.56"}, false},
		{"2,5", []string{"2.5"}, false},
		{"2.50", []string{"2.5"}, false},
		{"0.125", []string{"0.125"}, false},
		{"1,234", []string{"1234"}, false},
		{"1.234", []string{"1234"}, true},
		{"$5000 budget", []string{"5000"}, false},
		{"15%", []string{"15"}, false},
		{"007", []string{"7"}, false},
		{"two rooms", []string{"2"}, false},
		{"a dozen people", []string{"12"}, false},
		{"twenty", []string{"20"}, false},
		{"someone", nil, false},
		{"gpt4 and A123", nil, false},
		{"3 adults and 2 kids", []string{"3", "2"}, false},
	}
	for _, c := range cases {
		got := Numbers(c.in)
		var vals []string
		amb := false
		for _, n := range got {
			vals = append(vals, n.Value)
			amb = amb || n.Ambiguous
		}
		if !reflect.DeepEqual(vals, c.want) || amb != c.amb {
			t.Errorf("Numbers(%q) = %q ambiguous=%v, want %q ambiguous=%v", c.in, vals, amb, c.want, c.amb)
		}
	}
	for in, want := range map[string]string{"1,500": "1500", "€ 12": "12", "12.5": "12.5", "seven": "7", "-3": "-3", "12 rooms": ""} {
		got, ok := ParseNumber(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseNumber(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestDates(t *testing.T) {
	ref := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want []string // "!" marks an ambiguous reading (value, then the alternative)
	}{
		{"2026-11-25", []string{"2026-11-25"}},
		{"on 2026-11-25T10:00:00Z please", []string{"2026-11-25"}},
		{"2026/11/25", []string{"2026-11-25"}},
		{"2026.11.25", []string{"2026-11-25"}},
		{"25/11/2026", []string{"2026-11-25"}},
		{"11/25/2026", []string{"2026-11-25"}},
		{"25-11-2026", []string{"2026-11-25"}},
		{"25.11.2026", []string{"2026-11-25"}},
		{"03.04.2026", []string{"2026-04-03"}}, // dots: always day first
		{"5/5/2026", []string{"2026-05-05"}},
		{"03/04/2026", []string{"!2026-04-03", "2026-03-04"}},
		{"25/11/26", []string{"2026-11-25"}},
		{"1/2/99", []string{"!1999-02-01", "1999-01-02"}},
		{"25 Nov 2026", []string{"2026-11-25"}},
		{"25th of November 2026", []string{"2026-11-25"}},
		{"25. November 2026", []string{"2026-11-25"}},
		{"November 25, 2026", []string{"2026-11-25"}},
		{"Nov. 25th 2026", []string{"2026-11-25"}},
		{"nov 25 2026", []string{"2026-11-25"}},
		{"25-Nov-2026", []string{"2026-11-25"}},
		{"25 de noviembre de 2026", []string{"2026-11-25"}},
		{"le 1er janvier 2027", []string{"2027-01-01"}},
		{"am 3. März 2026", []string{"2026-03-03"}},
		{"12 dicembre 2026", []string{"2026-12-12"}},
		{"tomorrow", []string{"2026-11-21"}},
		{"today or the day after tomorrow", []string{"2026-11-20", "2026-11-22"}},
		{"yesterday", []string{"2026-11-19"}},
		{"2026-02-30", nil},
		{"31/04/2026", nil},
		{"25 November", nil},
		{"version 1.2.3", nil},
		{"from 2026-11-25 to 28/11/2026", []string{"2026-11-25", "2026-11-28"}},
	}
	for _, c := range cases {
		var got []string
		for _, d := range Dates(c.in, ref) {
			if d.Ambiguous {
				got = append(got, "!"+d.Value, d.Alt)
			} else {
				got = append(got, d.Value)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Dates(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestYesNo(t *testing.T) {
	cases := []struct {
		in     string
		val    bool
		wantOK bool
	}{
		{"yes", true, true}, {"Yes!", true, true}, {"y", true, true}, {"yeah sure", true, true}, {"Yep, please do", true, true},
		{"Sure thing", true, true}, {"TRUE", true, true}, {"of course", true, true}, {"ok", true, true}, {"👍", true, true},
		{"no", false, true}, {"No.", false, true}, {"n", false, true}, {"nope", false, true}, {"nah, not now", false, true},
		{"false", false, true}, {"not really", false, true}, {"no thanks", false, true},
		{"ja", true, true}, {"Ja, gerne", true, true}, {"nein danke", false, true},
		{"oui", true, true}, {"non merci", false, true}, {"sí", true, true}, {"Si, claro", true, true},
		{"não", false, true}, {"sim", true, true}, {"nee", false, true},
		{"yes and no", false, false}, {"no... well yes", false, false}, {"maybe", false, false},
		{"I'll think about it", false, false}, {"", false, false},
	}
	for _, c := range cases {
		v, ok := YesNo(c.in)
		if ok != c.wantOK || (ok && v != c.val) {
			t.Errorf("YesNo(%q) = %v, %v; want %v, %v", c.in, v, ok, c.val, c.wantOK)
		}
	}
}

func TestEnumMatches(t *testing.T) {
	opts := []string{"Basic", "Pro", "Enterprise", "Premium-Plan"}
	cases := []struct {
		in   string
		want []string
	}{
		{"I'd like the pro plan", []string{"Pro"}},
		{"PRO", []string{"Pro"}},
		{"professional services", nil},
		{"basically nothing", nil},
		{"enterprise, please", []string{"Enterprise"}},
		{"the premium plan", []string{"Premium-Plan"}},
		{"premium_plan", []string{"Premium-Plan"}},
		{"not basic, pro", []string{"Basic", "Pro"}},
	}
	for _, c := range cases {
		if got := EnumMatches(c.in, opts); !reflect.DeepEqual(got, c.want) {
			t.Errorf("EnumMatches(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if o, ok := MatchOption("premium plan", opts); !ok || o != "Premium-Plan" {
		t.Fatalf("MatchOption: %q %v", o, ok)
	}
	if _, ok := MatchOption("gold", opts); ok {
		t.Fatal("gold is not an option")
	}
}

func TestPhoneSpans(t *testing.T) {
	got := []string{}
	for _, s := range phoneSpans("Call +49 151 2345 6789 or (030) 123-4567, order A1234567, on 2026-11-25.") {
		got = append(got, strings.TrimSpace(s.text))
	}
	want := []string{"+49 151 2345 6789", "(030) 123-4567", "2026-11-25"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("spans %q, want %q", got, want)
	}
}
