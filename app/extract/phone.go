package extract

import (
	"strings"
	"unicode"
)

// callingCodes are the ITU-T E.164 country calling codes (assigned, including the shared and
// non-geographic ones). They are prefix-free, so the country code of a number is the one of
// its first 1, 2 or 3 digits that is in the set.
var callingCodes = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`
		1 7
		20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58
		60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98
		211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 231 232 233 234 235 236 237 238 239
		240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 255 256 257 258 260 261 262 263 264 265
		266 267 268 269 290 291 297 298 299
		350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 376 377 378 379 380 381 382 383 385
		386 387 389 420 421 423
		500 501 502 503 504 505 506 507 508 509 590 591 592 593 594 595 596 597 598 599
		670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 687 688 689 690 691 692
		800 808 850 852 853 855 856 870 878 880 881 882 883 886 888
		960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977 979 992 993 994 995 996 998`) {
		m[c] = true
	}
	return m
}()

// nationalLength bounds the national significant number (after the country code, without a
// trunk prefix) for the countries people write most; other codes get the E.164 bounds.
var nationalLength = map[string][2]int{
	"1":   {10, 10}, // NANP
	"7":   {10, 10},
	"20":  {9, 10},
	"27":  {9, 9},
	"30":  {10, 10},
	"31":  {9, 9},
	"32":  {8, 9},
	"33":  {9, 9},
	"34":  {9, 9},
	"36":  {8, 9},
	"39":  {6, 11},
	"40":  {9, 9},
	"41":  {9, 9},
	"43":  {4, 13},
	"44":  {9, 10},
	"45":  {8, 8},
	"46":  {7, 10},
	"47":  {8, 8},
	"48":  {9, 9},
	"49":  {6, 13},
	"52":  {10, 10},
	"55":  {10, 11},
	"61":  {9, 9},
	"62":  {8, 12},
	"81":  {9, 10},
	"82":  {8, 10},
	"86":  {8, 12},
	"90":  {10, 10},
	"91":  {10, 10},
	"351": {9, 9},
	"353": {7, 9},
	"358": {5, 12},
	"971": {8, 9},
}

// noTrunkZero are the codes whose national numbers keep a leading 0 after the country code
// (Italy, San Marino, Vatican); everywhere else "+44 (0)20 ..." and "+44 020 ..." drop it.
var noTrunkZero = map[string]bool{"39": true, "378": true, "379": true}

// trunkless are the codes whose national numbers are written without a trunk prefix (the
// number as dialled inside the country is the national significant number).
var trunkless = map[string]bool{"30": true, "34": true, "39": true, "45": true, "47": true, "48": true, "298": true, "299": true,
	"350": true, "351": true, "352": true, "354": true, "356": true, "357": true, "371": true, "372": true, "376": true, "377": true,
	"378": true, "379": true, "420": true}

// CountryCode returns the calling code an E.164 number ("+4915112345678" or its digits) starts
// with, or "".
func CountryCode(number string) string {
	d := strings.TrimPrefix(strings.TrimSpace(number), "+")
	for n := 1; n <= 3 && n <= len(d); n++ {
		if callingCodes[d[:n]] {
			return d[:n]
		}
	}
	return ""
}

func validNational(cc, national string) bool {
	if national == "" {
		return false
	}
	total := len(cc) + len(national)
	if total < 7 || total > 15 {
		return false
	}
	if b, ok := nationalLength[cc]; ok && (len(national) < b[0] || len(national) > b[1]) {
		return false
	}
	if cc == "1" && (national[0] < '2' || national[3] < '2') { // NANP area code and exchange start with 2-9
		return false
	}
	return true
}

// NormalizePhone returns the E.164 form of a phone number as people write it: with "+" or the
// "00" international prefix, spaces, dashes, dots, slashes and parentheses, a "(0)" trunk
// prefix after the country code ("+44 (0)20 7946 0958"), "tel:" in front. The country comes
// from the number itself. A national number (no "+" or "00") is read in the country of
// defaultCC (a calling code such as "49", for example the customer's own WhatsApp number's),
// dropping its trunk "0" (or NANP's "1"); without defaultCC it is not normalised: ok is false
// and national reports that a country code is what is missing.
func NormalizePhone(s, defaultCC string) (e164 string, ok bool, national bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "tel:"), "TEL:")
	s = strings.TrimSpace(s)
	// "(0)" after the country code is a trunk prefix to drop.
	s = strings.ReplaceAll(s, "(0)", " ")
	var digits strings.Builder
	plus := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+':
			if digits.Len() > 0 || plus {
				return "", false, false
			}
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')' || r == '\u00a0' || r == '\u2009' || r == '\u202f':
		default:
			return "", false, false
		}
	}
	d := digits.String()
	if !plus && strings.HasPrefix(d, "00") {
		plus, d = true, d[2:]
	}
	if plus {
		cc := CountryCode(d)
		if cc == "" {
			return "", false, false
		}
		nat := d[len(cc):]
		if strings.HasPrefix(nat, "0") && !noTrunkZero[cc] {
			nat = nat[1:]
		}
		if !validNational(cc, nat) {
			return "", false, false
		}
		return "+" + cc + nat, true, false
	}
	if len(d) < 6 || len(d) > 14 {
		return "", false, false
	}
	if defaultCC == "" || !callingCodes[defaultCC] {
		return "", false, true
	}
	nat := d
	switch {
	case defaultCC == "1":
		if len(nat) == 11 && nat[0] == '1' {
			nat = nat[1:]
		}
	case trunkless[defaultCC]:
		// No trunk prefix: the national number is written as it is dialled.
	case strings.HasPrefix(nat, "0") && !noTrunkZero[defaultCC]:
		nat = nat[1:]
	default:
		// Where national numbers are written with the trunk "0", digits without it are more
		// likely an amount or a reference than a phone number.
		return "", false, false
	}
	if !validNational(defaultCC, nat) {
		return "", false, false
	}
	return "+" + defaultCC + nat, true, false
}

// phoneSpan is a run of text that may be a phone number.
type phoneSpan struct {
	text       string
	start, end int
}

// phoneSpans finds the runs of text shaped like phone numbers: an optional "+" or "(", digits
// and the separators people put between digit groups (single spaces, "-", ".", "/", "(",
// ")"), at least 6 digits, not glued to letters or other digits.
func phoneSpans(text string) []phoneSpan {
	rs := []rune(text)
	var out []phoneSpan
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if !(r == '+' || r == '(' || unicode.IsDigit(r)) {
			continue
		}
		if i > 0 && (unicode.IsLetter(rs[i-1]) || unicode.IsDigit(rs[i-1]) || rs[i-1] == '+' || rs[i-1] == '@' || rs[i-1] == '_') {
			continue
		}
		j, digits, lastDigit := i, 0, -1
		for ; j < len(rs); j++ {
			c := rs[j]
			switch {
			case c >= '0' && c <= '9':
				digits++
				lastDigit = j
				continue
			case c == '+' && j == i:
				continue
			case c == '(' || c == ')' || c == '-' || c == '.' || c == '/':
				continue
			case c == ' ' || c == '\u00a0' || c == '\u2009' || c == '\u202f':
				if j+1 < len(rs) && (unicode.IsDigit(rs[j+1]) || rs[j+1] == '(' || rs[j+1] == '-') && rs[j-1] != ' ' {
					continue
				}
			}
			break
		}
		if digits >= 6 && lastDigit >= 0 {
			end := lastDigit + 1
			// A closing parenthesis right after the digits belongs to the number only when it
			// opened inside it.
			if end < len(rs) && unicode.IsLetter(rs[end]) {
				i = end
				continue
			}
			out = append(out, phoneSpan{text: string(rs[i:end]), start: runeOffset(text, i), end: runeOffset(text, end)})
			i = end
		} else if j > i {
			i = j - 1
		}
	}
	return out
}

func runeOffset(s string, runeIndex int) int {
	n := 0
	for i := range s {
		if n == runeIndex {
			return i
		}
		n++
	}
	return len(s)
}
