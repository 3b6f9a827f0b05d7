package extract

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// ---- email ----

var (
	reEmail = regexp.MustCompile(`(?i)[\p{L}\p{N}._%+'\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,}`)
	// "jane (at) example (dot) com", "jane[at]example[dot]com"
	reAtBracket  = regexp.MustCompile(`(?i)\s*[\[(<{]\s*at\s*[\])>}]\s*`)
	reDotBracket = regexp.MustCompile(`(?i)\s*[\[(<{]\s*dot\s*[\])>}]\s*`)
	// "jane at example dot com"
	reAtWords = regexp.MustCompile(`(?i)\b([a-z0-9._%+\-]+)\s+at\s+([a-z0-9\-]+)\s+dot\s+([a-z]{2,})(?:\s+dot\s+([a-z]{2,}))?\b`)
)

// Emails finds the email addresses in a text, in order, without repeats: the domain is
// lowercased, surrounding punctuation ("<...>", "mailto:", a final ".") dropped, and the
// obfuscated forms "jane (at) example (dot) com", "jane[at]example[dot]com" and "jane at
// example dot com" read as addresses.
func Emails(text string) []string {
	t := reAtBracket.ReplaceAllString(text, "@")
	t = reDotBracket.ReplaceAllString(t, ".")
	t = reAtWords.ReplaceAllStringFunc(t, func(m string) string {
		p := reAtWords.FindStringSubmatch(m)
		s := p[1] + "@" + p[2] + "." + p[3]
		if p[4] != "" {
			s += "." + p[4]
		}
		return s
	})
	var out []string
	seen := map[string]bool{}
	for _, m := range reEmail.FindAllStringIndex(t, -1) {
		e := strings.Trim(t[m[0]:m[1]], ".-'")
		local, domain, ok := strings.Cut(e, "@")
		if !ok || local == "" || strings.Contains(domain, "..") || strings.HasPrefix(local, ".") || strings.Contains(local, "..") {
			continue
		}
		e = local + "@" + strings.ToLower(domain)
		if !seen[strings.ToLower(e)] {
			seen[strings.ToLower(e)] = true
			out = append(out, e)
		}
	}
	return out
}

// ---- URL ----

var (
	reURL = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"'` + "`" + `]+`)
	// bare domains with a common top-level domain: example.com, shop.example.co.uk/path
	reBareDomain = regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+(?:com|org|net|io|co|dev|app|ai|shop|store|info|biz|de|uk|fr|es|it|nl|be|ch|at|se|no|dk|fi|pt|pl|cz|ie|eu|us|ca|au|nz|br|mx|ar|in|jp|cn|za)\b(?:/[^\s<>"']*)?`)
)

// URLs finds the web addresses in a text, in order, without repeats: "https://..." and
// "www...." and bare domains with a common top-level domain (never the domain of an email
// address). Trailing punctuation and an unbalanced ")" are dropped; "https://" is added when
// missing and the scheme and host are lowercased.
func URLs(text string) []string {
	var out []string
	seen := map[string]bool{}
	emails := reEmail.FindAllStringIndex(text, -1)
	inEmail := func(a, b int) bool {
		for _, e := range emails {
			if a < e[1] && b > e[0] {
				return true
			}
		}
		return false
	}
	taken := make([]bool, len(text)+1)
	add := func(a, b int) {
		raw := trimURL(text[a:b])
		if raw == "" {
			return
		}
		for i := a; i < b; i++ {
			taken[i] = true
		}
		u := normalizeURL(raw)
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, m := range reURL.FindAllStringIndex(text, -1) {
		add(m[0], m[1])
	}
	for _, m := range reBareDomain.FindAllStringIndex(text, -1) {
		if taken[m[0]] || inEmail(m[0], m[1]) || (m[0] > 0 && (text[m[0]-1] == '@' || text[m[0]-1] == '.' || text[m[0]-1] == '/')) {
			continue
		}
		add(m[0], m[1])
	}
	return out
}

func trimURL(s string) string {
	for {
		t := strings.TrimRight(s, ".,;:!?'\"")
		if strings.HasSuffix(t, ")") && strings.Count(t, "(") < strings.Count(t, ")") {
			t = t[:len(t)-1]
		}
		if t == s {
			return s
		}
		s = t
	}
}

func normalizeURL(s string) string {
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
	default:
		s = "https://" + s
	}
	scheme, rest, _ := strings.Cut(s, "://")
	host, path, hasPath := strings.Cut(rest, "/")
	out := strings.ToLower(scheme) + "://" + strings.ToLower(host)
	if hasPath {
		out += "/" + path
	}
	return out
}

// ---- number ----

var (
	reNumber    = regexp.MustCompile(`[-+−]?\d{1,3}(?:(?:,\d{3})+|(?:\.\d{3})+|(?:[ \x{00a0}\x{202f}\x{2009}']\d{3})+)(?:[.,]\d+)?|[-+−]?\d+(?:[.,]\d+)?`)
	numberWords = map[string]string{
		"zero": "0", "none": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
		"eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
		"fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
		"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
		"hundred": "100", "a hundred": "100", "dozen": "12", "a dozen": "12", "a couple": "2", "a thousand": "1000",
	}
)

// numberWordOrder tries longer phrases first ("a dozen" before "dozen").
var numberWordOrder = func() []string {
	ws := make([]string, 0, len(numberWords))
	for w := range numberWords {
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool {
		if len(ws[i]) != len(ws[j]) {
			return len(ws[i]) > len(ws[j])
		}
		return ws[i] < ws[j]
	})
	return ws
}()

// NumberFound is one number found in a text.
type NumberFound struct {
	Value string // canonical: digits, an optional "-" and "." decimals ("1234.5")
	// Ambiguous is true when the separator can be read both ways: "1.234" is 1234 in German
	// and 1.234 in English (Value is then the thousands reading).
	Ambiguous  bool
	start, end int
}

// Separator rules for numbers: "1,234,567", "1.234.567", "1 234 567" and "1'234'567" group
// thousands; with both "," and "." the last one is the decimal separator ("1,234.56",
// "1.234,56"); a single "," followed by exactly three digits groups thousands ("1,234" =
// 1234), otherwise it is a decimal comma ("2,5" = 2.5); a single "." followed by exactly three
// digits is ambiguous ("1.234"), otherwise a decimal point. English number words from zero to
// twenty, the tens, "a dozen" and "a couple" are numbers too.
func Numbers(text string) []NumberFound {
	var out []NumberFound
	for _, m := range reNumber.FindAllStringIndex(text, -1) {
		a, b := m[0], m[1]
		if (a > 0 && isWordRune(lastRune(text[:a]))) || (b < len(text) && isLetterRune(firstRune(text[b:]))) {
			// glued to letters (a model name, an order code): "gpt4", "A123"; "5k" and "3rd"
			// are not plain numbers either.
			continue
		}
		v, amb, ok := canonicalNumber(text[a:b])
		if ok {
			out = append(out, NumberFound{Value: v, Ambiguous: amb, start: a, end: b})
		}
	}
	lower := strings.ToLower(text)
	for _, w := range numberWordOrder {
		v := numberWords[w]
		for i := 0; ; {
			j := strings.Index(lower[i:], w)
			if j < 0 {
				break
			}
			j += i
			end := j + len(w)
			if (j == 0 || !isWordRune(lastRune(lower[:j]))) && (end == len(lower) || !isWordRune(firstRune(lower[end:]))) {
				overlap := false
				for _, o := range out {
					if j < o.end && end > o.start {
						overlap = true
					}
				}
				if !overlap {
					out = append(out, NumberFound{Value: v, start: j, end: end})
				}
			}
			i = end
		}
	}
	sortNumbers(out)
	return out
}

func sortNumbers(ns []NumberFound) {
	for i := 1; i < len(ns); i++ {
		for j := i; j > 0 && ns[j].start < ns[j-1].start; j-- {
			ns[j], ns[j-1] = ns[j-1], ns[j]
		}
	}
}

// ParseNumber reads one number value (an LLM's answer) into its canonical form.
func ParseNumber(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimLeft(s, "$€£¥")
	s = strings.TrimSpace(strings.TrimRight(s, "%"))
	if v, ok := numberWords[strings.ToLower(s)]; ok {
		return v, true
	}
	loc := reNumber.FindStringIndex(s)
	if loc == nil || loc[0] != 0 || loc[1] != len(s) {
		return "", false
	}
	v, _, ok := canonicalNumber(s)
	return v, ok
}

func canonicalNumber(raw string) (string, bool, bool) {
	neg := false
	switch {
	case strings.HasPrefix(raw, "-"), strings.HasPrefix(raw, "−"):
		neg = true
		raw = strings.TrimPrefix(strings.TrimPrefix(raw, "-"), "−")
	case strings.HasPrefix(raw, "+"):
		raw = raw[1:]
	}
	for _, sp := range []string{" ", "\u00a0", "\u202f", "\u2009", "'"} {
		raw = strings.ReplaceAll(raw, sp, "")
	}
	commas, dots := strings.Count(raw, ","), strings.Count(raw, ".")
	ambiguous := false
	var intPart, frac string
	switch {
	case commas > 0 && dots > 0:
		lc, ld := strings.LastIndex(raw, ","), strings.LastIndex(raw, ".")
		dec, grp := ".", ","
		if lc > ld {
			dec, grp = ",", "."
		}
		raw = strings.ReplaceAll(raw, grp, "")
		intPart, frac, _ = strings.Cut(raw, dec)
	case commas > 1:
		intPart = strings.ReplaceAll(raw, ",", "")
	case dots > 1:
		intPart = strings.ReplaceAll(raw, ".", "")
	case commas == 1:
		i, f, _ := strings.Cut(raw, ",")
		if len(f) == 3 && i != "0" && i != "" {
			intPart = i + f
		} else {
			intPart, frac = i, f
		}
	case dots == 1:
		i, f, _ := strings.Cut(raw, ".")
		if len(f) == 3 && i != "0" && i != "" {
			intPart, ambiguous = i+f, true
		} else {
			intPart, frac = i, f
		}
	default:
		intPart = raw
	}
	if intPart == "" {
		intPart = "0"
	}
	if !allDigits(intPart) || !allDigits(frac) {
		return "", false, false
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	frac = strings.TrimRight(frac, "0")
	v := intPart
	if frac != "" {
		v += "." + frac
	}
	if neg && v != "0" {
		v = "-" + v
	}
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return "", false, false
	}
	return v, ambiguous, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ---- yes / no ----

var (
	yesWords = map[string]bool{
		"yes": true, "y": true, "yeah": true, "yea": true, "yep": true, "yup": true, "ya": true, "sure": true, "true": true,
		"ok": true, "okay": true, "correct": true, "absolutely": true, "definitely": true, "certainly": true, "affirmative": true,
		"of course": true, "yes please": true, "indeed": true, "right": true, "👍": true, "✅": true,
		"ja": true, "jawohl": true, "jo": true, "klar": true, "genau": true, // German
		"oui": true, "ouais": true, "bien sûr": true, // French
		"sí": true, "si": true, "claro": true, // Spanish, Italian
		"sim": true, // Portuguese
		"da":  true, // Slavic
	}
	noWords = map[string]bool{
		"no": true, "n": true, "nope": true, "nah": true, "false": true, "never": true, "negative": true, "not really": true,
		"no thanks": true, "no thank you": true, "not at all": true, "👎": true, "❌": true,
		"nein": true, "nö": true, "ne": true, // German
		"non": true,              // French, Italian
		"não": true, "nao": true, // Portuguese
		"nee":  true, // Dutch
		"niet": true, "nyet": true,
	}
)

// YesNo reads a yes/no answer: the first word or two of the reply (English, German, French,
// Spanish, Italian, Portuguese, Dutch: "yes", "y", "sure", "nope", "ja", "nein", "oui",
// "non", "sí", "não", ...), or a short reply (up to four words) holding answers of one kind
// only. ok is false when the text gives no answer, or answers both ways.
func YesNo(text string) (value bool, ok bool) {
	words := answerWords(text)
	if len(words) == 0 {
		return false, false
	}
	for _, n := range []int{3, 2, 1} {
		if len(words) >= n {
			p := strings.Join(words[:n], " ")
			if yesWords[p] {
				return true, !containsAnswer(words[n:], noWords, 3)
			}
			if noWords[p] {
				return false, !containsAnswer(words[n:], yesWords, 3)
			}
		}
	}
	if len(words) <= 4 {
		y, n := containsAnswer(words, yesWords, 4), containsAnswer(words, noWords, 4)
		if y != n {
			return y, true
		}
	}
	return false, false
}

func containsAnswer(words []string, set map[string]bool, within int) bool {
	for i, w := range words {
		if i >= within {
			break
		}
		if set[w] {
			return true
		}
	}
	return false
}

// answerWords lowercases a reply and splits it into words, punctuation dropped.
func answerWords(text string) []string {
	f := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return unicode.IsSpace(r) || r == ',' || r == '.' || r == '!' || r == '?' || r == ';' || r == ':' || r == '"' || r == '(' || r == ')' || r == '-'
	})
	return f
}

// ParseBool reads one boolean value (an LLM's answer): "true"/"false" and the yes/no words.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return YesNo(s)
}

// ---- enum ----

// EnumMatches lists the options named in a text, in the options' order: matched without
// regard to case, as whole words ("pro" is not in "professional"), "-" and "_" read as
// spaces ("premium plan" matches the option "Premium-Plan").
func EnumMatches(text string, options []string) []string {
	norm := func(s string) string {
		s = strings.ToLower(s)
		s = strings.NewReplacer("-", " ", "_", " ").Replace(s)
		return strings.Join(strings.Fields(s), " ")
	}
	t := norm(text)
	var out []string
	for _, o := range options {
		if n := norm(o); n != "" && containsWord(t, n) {
			out = append(out, o)
		}
	}
	return out
}

// MatchOption returns the option a value names (an LLM's answer), compared without regard to
// case, "-" and "_".
func MatchOption(value string, options []string) (string, bool) {
	v := strings.Join(strings.Fields(strings.NewReplacer("-", " ", "_", " ").Replace(strings.ToLower(value))), " ")
	for _, o := range options {
		if strings.Join(strings.Fields(strings.NewReplacer("-", " ", "_", " ").Replace(strings.ToLower(o))), " ") == v {
			return o, true
		}
	}
	return "", false
}

// containsWord reports whether word occurs in text with no letter or digit on either side.
func containsWord(text, word string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(word)
		if (j == 0 || !isWordRune(lastRune(text[:j]))) && (end == len(text) || !isWordRune(firstRune(text[end:]))) {
			return true
		}
		i = j + 1
	}
}

func isWordRune(r rune) bool   { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }
func isLetterRune(r rune) bool { return unicode.IsLetter(r) }

func lastRune(s string) rune {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] < 0x80 || s[i] >= 0xC0 {
			r := []rune(s[i:])
			if len(r) > 0 {
				return r[0]
			}
		}
	}
	return 0
}

func firstRune(s string) rune {
	for _, r := range s {
		return r
	}
	return 0
}
