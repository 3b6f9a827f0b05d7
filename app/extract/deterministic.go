package extract

import (
	"regexp"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/llm"
)

// Message is one message of a conversation as extraction reads it.
type Message struct {
	ID        int64
	Role      string // "user" (the customer), "assistant", "human", ...
	Content   string
	CreatedAt time.Time
}

// Status is what the deterministic pass made of one variable.
type Status int

const (
	// NotFound: no customer message gives a value.
	NotFound Status = iota
	// Settled: the newest customer message that gives a value gives exactly one.
	Settled
	// Ambiguous: the newest customer message that mentions a value allows more than one
	// reading (two addresses, 03/04/2026, "1.234", two options); the LLM decides.
	Ambiguous
)

func (s Status) String() string {
	switch s {
	case Settled:
		return "settled"
	case Ambiguous:
		return "ambiguous"
	}
	return "not found"
}

// VarResult is the deterministic pass's result for one variable.
type VarResult struct {
	Status    Status
	Value     string // normalised (Settled)
	MessageID int64  // the message it came from (Settled and Ambiguous)
}

// Options tune the deterministic pass.
type Options struct {
	// DefaultCallingCode reads national phone numbers ("0151 2345678"): the country code of
	// the conversation's customer number on WhatsApp, "" elsewhere.
	DefaultCallingCode string
}

// Effective types of the deterministic pass (the variable types, plus url for text variables
// named like one).
const typeURL = "url"

var urlNames = regexp.MustCompile(`(?i)(url|website|web site|homepage|home page|link|site|domain)`)

// effectiveType is the variable's type, "url" for text variables named like a web address.
func effectiveType(v llm.VariableSpec) string {
	t := strings.ToLower(strings.TrimSpace(v.Type))
	if t == "" {
		t = llm.TypeText
	}
	if t == llm.TypeText && urlNames.MatchString(v.Name) {
		return typeURL
	}
	return t
}

// NeedsLLM reports whether a variable the deterministic pass did not settle goes to the
// language model: free text always; numbers, yes/no and options when not found (people say
// them in words); emails, phones, dates and URLs only when ambiguous (when no message holds
// one, no model will find one either).
func NeedsLLM(v llm.VariableSpec, r VarResult) bool {
	switch r.Status {
	case Settled:
		return false
	case Ambiguous:
		return true
	}
	switch effectiveType(v) {
	case llm.TypeEmail, llm.TypePhone, llm.TypeDate, typeURL:
		return false
	}
	return true
}

var (
	reCorrection = regexp.MustCompile(`(?i)\b(actually|correction|correct one|instead|rather|sorry|i meant|meant to say|new|updated|changed|typo|wrong)\b|\bnot\b.*\bbut\b`)
	rePhoneWords = regexp.MustCompile(`(?i)\b(phone|call|mobile|cell|tel|telephone|number|whatsapp|reach|text me|sms|handy|téléphone|telefono|teléfono|móvil|portable)\b`)
)

// genericWords are dropped from a variable's label when it has other words ("phone number"
// is recognised by "phone").
var genericWords = map[string]bool{"number": true, "of": true, "the": true, "a": true, "an": true, "your": true, "my": true,
	"id": true, "customer": true, "client": true, "user": true, "contact": true, "preferred": true, "type": true, "no": true,
	"in": true, "at": true, "on": true, "for": true, "to": true, "and": true, "or": true}

// labelWords are the words that name a variable in a message.
func labelWords(v llm.VariableSpec) []string {
	all := strings.Fields(strings.ToLower(llm.Humanize(v.Name)))
	var sig []string
	for _, w := range all {
		if !genericWords[w] {
			sig = append(sig, w)
		}
	}
	if len(sig) == 0 {
		return all
	}
	return sig
}

// labelScore counts the words of the variable's label in text (a word or its plural); full
// is true when all of them are there. The offline provider's question for the variable
// counts as a full match of the highest score.
func labelScore(text string, v llm.VariableSpec) (int, bool) {
	if strings.Contains(text, llm.AskFor(v)) {
		return 1000, true
	}
	t := strings.ToLower(text)
	words := labelWords(v)
	n := 0
	for _, w := range words {
		if containsWord(t, w) || containsWord(t, w+"s") || containsWord(t, w+"es") || (strings.HasSuffix(w, "s") && containsWord(t, strings.TrimSuffix(w, "s"))) {
			n++
		}
	}
	return n, n == len(words)
}

// names reports whether text names v rather than another variable of the same type: it holds
// a word of v's label, and no variable of the type is named better (more label words; all of
// them; a longer, more specific label). "What's your billing email?" names billing_email, not
// email; "What's your email?" names email.
func names(text string, v llm.VariableSpec, vars []llm.VariableSpec) bool {
	s, full := labelScore(text, v)
	if s == 0 {
		return false
	}
	t := effectiveType(v)
	for _, o := range vars {
		if o.Name == v.Name || effectiveType(o) != t {
			continue
		}
		so, fo := labelScore(text, o)
		switch {
		case so == 0 || so < s:
		case so > s:
			return false
		case fo && !full:
			return false
		case fo == full && (!full || len(labelWords(o)) >= len(labelWords(v))):
			return false // as good a match: cannot tell
		}
	}
	return true
}

type span struct{ a, b int }

func overlaps(a, b int, spans []span) bool {
	for _, s := range spans {
		if a < s.b && b > s.a {
			return true
		}
	}
	return false
}

// scanned is one customer message with what it holds.
type scanned struct {
	msg            Message
	asked          string // what the assistant wrote since the previous customer message
	emails         []string
	urls           []string
	dates          []DateFound
	phones         []string // E.164
	national       bool     // holds a phone number without a country code that could not be read
	nationalPhones []string // E.164 read with the default country code from a national number
	numbers        []NumberFound
	correction     bool
}

func scan(m Message, asked string, opt Options) scanned {
	text := m.Content
	s := scanned{msg: m, asked: asked, correction: reCorrection.MatchString(text)}
	s.emails = Emails(text)
	s.urls = URLs(text)
	var masked []span
	for _, e := range reEmail.FindAllStringIndex(text, -1) {
		masked = append(masked, span{e[0], e[1]})
	}
	for _, u := range reURL.FindAllStringIndex(text, -1) {
		masked = append(masked, span{u[0], u[1]})
	}
	s.dates = Dates(text, m.CreatedAt)
	for _, d := range s.dates {
		masked = append(masked, span{d.start, d.end})
	}
	seen := map[string]bool{}
	for _, p := range phoneSpans(text) {
		if overlaps(p.start, p.end, masked) {
			continue
		}
		e164, ok, national := NormalizePhone(p.text, "")
		if ok {
			masked = append(masked, span{p.start, p.end})
			if !seen[e164] {
				seen[e164] = true
				s.phones = append(s.phones, e164)
			}
			continue
		}
		if national {
			if e, ok, _ := NormalizePhone(p.text, opt.DefaultCallingCode); ok {
				masked = append(masked, span{p.start, p.end})
				if !seen[e] {
					seen[e] = true
					s.nationalPhones = append(s.nationalPhones, e)
				}
			} else if digitCount(p.text) >= 7 {
				masked = append(masked, span{p.start, p.end})
				s.national = true
			}
		}
	}
	for _, n := range Numbers(text) {
		if !overlaps(n.start, n.end, masked) {
			s.numbers = append(s.numbers, n)
		}
	}
	return s
}

func digitCount(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// Deterministic runs the extractors without a language model over a conversation's messages
// (oldest first) for each variable, and returns a result per variable name.
//
// For each variable the customer messages are read from the newest back: the first one that
// holds a value of the variable's type decides (so a later correction wins over an earlier
// value). A message decides on a value when it holds exactly one (or, when it holds several
// and says it corrects itself, "actually ...", the last one); when it holds several
// otherwise, or a value that reads two ways, the variable is Ambiguous. Values that need
// context are taken only with it: a national phone number, a relative date, a number and a
// yes/no need the assistant to have asked for the variable just before (or, for numbers and
// phones, the variable to be named beside them: "2 rooms", "rooms: 2"), and when the assistant
// declares several variables of one type a message must name or answer the one it fills.
func Deterministic(vars []llm.VariableSpec, msgs []Message, opt Options) map[string]VarResult {
	var users []scanned
	var asked strings.Builder
	for _, m := range msgs {
		if m.Role == "user" {
			users = append(users, scan(m, asked.String(), opt))
			asked.Reset()
			continue
		}
		if m.Role == "assistant" || m.Role == "human" {
			asked.WriteString(m.Content)
			asked.WriteString("\n")
		}
	}
	sameType := map[string]int{}
	for _, v := range vars {
		sameType[effectiveType(v)]++
	}
	out := make(map[string]VarResult, len(vars))
	for _, v := range vars {
		res := VarResult{}
		for i := len(users) - 1; i >= 0; i-- {
			u := users[i]
			val, st := evaluate(v, u, vars, sameType[effectiveType(v)] > 1)
			if st == NotFound {
				continue
			}
			res = VarResult{Status: st, Value: val, MessageID: u.msg.ID}
			if st != Settled {
				res.Value = ""
			}
			break
		}
		out[v.Name] = res
	}
	return out
}

// askedFor reports whether the assistant's messages before the customer's asked for v
// rather than for another variable of its type.
func askedFor(u scanned, v llm.VariableSpec, vars []llm.VariableSpec) bool {
	return u.asked != "" && names(u.asked, v, vars)
}

// siblingInContext reports whether the message answers or names another variable of v's type.
func siblingInContext(u scanned, v llm.VariableSpec, vars []llm.VariableSpec) bool {
	t := effectiveType(v)
	for _, o := range vars {
		if o.Name != v.Name && effectiveType(o) == t && (askedFor(u, o, vars) || names(u.msg.Content, o, vars)) {
			return true
		}
	}
	return false
}

func pick(vals []string, correction bool) (string, Status) {
	switch {
	case len(vals) == 0:
		return "", NotFound
	case len(vals) == 1:
		return vals[0], Settled
	case correction:
		return vals[len(vals)-1], Settled
	}
	return "", Ambiguous
}

func evaluate(v llm.VariableSpec, u scanned, vars []llm.VariableSpec, shared bool) (string, Status) {
	asked := askedFor(u, v, vars)
	named := names(u.msg.Content, v, vars)
	inContext := asked || named
	if shared && !inContext && siblingInContext(u, v, vars) {
		return "", NotFound // the message answers another variable of the type
	}
	switch effectiveType(v) {
	case llm.TypeEmail:
		if len(u.emails) > 0 && shared && !inContext {
			return "", Ambiguous
		}
		return pick(u.emails, u.correction)
	case typeURL:
		if len(u.urls) > 0 && shared && !inContext {
			return "", Ambiguous
		}
		return pick(u.urls, u.correction)
	case llm.TypePhone:
		phones := u.phones
		if inContext || rePhoneWords.MatchString(u.msg.Content) {
			phones = append(append([]string(nil), phones...), u.nationalPhones...)
		}
		if len(phones) > 0 && shared && !inContext {
			return "", Ambiguous
		}
		if len(phones) == 0 {
			if u.national && inContext {
				return "", Ambiguous // a number without its country: maybe the text says which
			}
			return "", NotFound
		}
		return pick(dedupe(phones), u.correction)
	case llm.TypeDate:
		var vals []string
		amb := false
		for _, d := range u.dates {
			if d.Ambiguous {
				amb = true
				continue
			}
			if d.start >= 0 && isRelative(u.msg.Content[d.start:d.end]) && !inContext {
				continue
			}
			vals = append(vals, d.Value)
		}
		if amb {
			return "", Ambiguous
		}
		vals = dedupe(vals)
		if len(vals) > 0 && shared && !inContext {
			return "", Ambiguous
		}
		return pick(vals, u.correction)
	case llm.TypeNumber:
		var near []NumberFound
		for _, n := range u.numbers {
			if numberNamed(u.msg.Content, n, v, vars) {
				near = append(near, n)
			}
		}
		cands := near
		if len(cands) == 0 {
			if !asked {
				return "", NotFound
			}
			cands = u.numbers
		}
		vals := make([]string, 0, len(cands))
		for _, n := range cands {
			if n.Ambiguous {
				return "", Ambiguous
			}
			vals = append(vals, n.Value)
		}
		vals = dedupe(vals)
		if len(vals) > 1 {
			return "", Ambiguous
		}
		return pick(vals, false)
	case llm.TypeBoolean:
		if !asked {
			return "", NotFound
		}
		if b, ok := YesNo(u.msg.Content); ok {
			if b {
				return "true", Settled
			}
			return "false", Settled
		}
		return "", NotFound
	case llm.TypeEnum:
		m := EnumMatches(u.msg.Content, v.Options)
		switch len(m) {
		case 0:
			return "", NotFound
		case 1:
			return m[0], Settled
		}
		return "", Ambiguous
	}
	return "", NotFound
}

func isRelative(s string) bool { return reRelative.MatchString(s) }

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// numberNamed reports whether the number belongs to the variable by the nearest word that
// names a number variable: the words right after the number first ("2 rooms", "3 adult
// guests"), then those before it ("rooms: 2", "number of rooms is 2", "budget of 5000"), up
// to two after and four before.
func numberNamed(text string, n NumberFound, v llm.VariableSpec, vars []llm.VariableSpec) bool {
	after := strings.Fields(strings.ToLower(text[n.end:]))
	before := strings.Fields(strings.ToLower(text[:n.start]))
	var order []string
	at := func(ws []string, i int) {
		if i >= 0 && i < len(ws) {
			order = append(order, ws[i])
		}
	}
	at(after, 0)
	at(before, len(before)-1)
	at(after, 1)
	at(before, len(before)-2)
	at(before, len(before)-3)
	at(before, len(before)-4)
	t := effectiveType(v)
	for _, w := range order {
		var hit []llm.VariableSpec
		for _, o := range vars {
			if effectiveType(o) == t {
				if s, _ := labelScore(w, o); s > 0 {
					hit = append(hit, o)
				}
			}
		}
		switch {
		case len(hit) == 0:
			continue
		case len(hit) == 1:
			return hit[0].Name == v.Name
		}
		return names(w, v, hit)
	}
	return false
}
