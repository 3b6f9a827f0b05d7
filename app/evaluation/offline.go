package evaluation

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Provider is the provider recorded on a run the offline heuristics answered.
const Provider = "offline"

// OfflineNotEvaluated is the error of a custom evaluator's value under the offline provider:
// no heuristic can answer a question it does not know.
const OfflineNotEvaluated = "offline: not evaluated"

// Message is one message of a transcript, as the evaluation reads it.
type Message struct {
	Role    string // model.RoleUser, RoleAssistant, RoleHuman
	Content string
}

// Facts are what the offline heuristics read besides the messages.
type Facts struct {
	// TakenOver: a person of the team took the conversation over (AI replies off, or
	// switched at some point).
	TakenOver bool
	// MissingRequired: a variable the assistant must collect has no value.
	MissingRequired bool
}

// Offline fills the built-in evaluators with deterministic heuristics (the same transcript and
// facts give the same values), each with a reason labelled "offline"; custom evaluators get
// the status failed with OfflineNotEvaluated.
//
//   - summary: the customer's first message and the last exchange, quoted;
//   - outcome: handed_off when a person of the team wrote or took over; resolved when the
//     customer's last message thanks or says it worked (and says nothing negative);
//     unresolved when a required variable was not collected; abandoned when the customer
//     never wrote, or the conversation ends on the assistant's question or with the customer
//     having written once; unresolved otherwise;
//   - sentiment: positive and negative keywords (en, de, fr, es, pt, it, nl) of the customer's
//     messages, the last one counting twice;
//   - csat_estimate: from the sentiment (4, 3, 2) moved by the outcome (+1 resolved, -1
//     unresolved or abandoned), within 1 to 5;
//   - language: the stopwords of the customer's messages (en, de, fr, es, pt, it, nl), "und"
//     when none wins.
func Offline(msgs []Message, evs []model.Evaluator, f Facts) []store.EvaluationValue {
	var users []string
	for _, m := range msgs {
		if m.Role == model.RoleUser && strings.TrimSpace(m.Content) != "" {
			users = append(users, m.Content)
		}
	}
	lastUser := ""
	if len(users) > 0 {
		lastUser = users[len(users)-1]
	}
	quote := "the customer did not write"
	if lastUser != "" {
		quote = fmt.Sprintf("the customer's last message: %q", oneLine(lastUser, 120))
	}
	outcome, why := Outcome(msgs, f)
	sentiment := Sentiment(users)
	csat := CSATEstimate(sentiment, outcome)
	lang := Language(users)
	vals := map[string][2]string{
		model.EvalSummary:      {Summary(msgs), "offline: the first message and the last exchange"},
		model.EvalOutcome:      {outcome, "offline: " + why},
		model.EvalSentiment:    {sentiment, "offline: keywords of " + quote},
		model.EvalCSATEstimate: {strconv.Itoa(csat), fmt.Sprintf("offline: from the sentiment (%s) and the outcome (%s)", sentiment, outcome)},
		model.EvalLanguage:     {lang, "offline: stopwords of the customer's messages"},
	}
	out := make([]store.EvaluationValue, 0, len(evs))
	for _, e := range evs {
		v, ok := vals[e.Name]
		if !e.Builtin || !ok {
			out = append(out, failed(e, OfflineNotEvaluated))
			continue
		}
		value := v[0]
		out = append(out, store.EvaluationValue{Name: e.Name, Builtin: true, Value: &value, Reason: oneLine(v[1], MaxReason),
			Status: model.EvalDone, EvaluatorVersion: e.Version})
	}
	return out
}

// Summary is two or three sentences: what the customer first wrote, and the last exchange.
func Summary(msgs []Message) string {
	first, lastUser, lastReply := "", "", ""
	for _, m := range msgs {
		c := strings.TrimSpace(m.Content)
		if c == "" {
			continue
		}
		switch m.Role {
		case model.RoleUser:
			if first == "" {
				first = c
			}
			lastUser, lastReply = c, ""
		case model.RoleAssistant, model.RoleHuman:
			if lastUser != "" {
				lastReply = c
			}
		}
	}
	if first == "" {
		return "The customer did not write."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The customer wrote: %q.", oneLine(first, 200))
	if lastUser != first {
		fmt.Fprintf(&b, " Last, they wrote: %q.", oneLine(lastUser, 200))
	}
	if lastReply != "" {
		fmt.Fprintf(&b, " The last answer was: %q.", oneLine(lastReply, 200))
	} else {
		b.WriteString(" It was not answered.")
	}
	return b.String()
}

// Keyword lists of the offline heuristics (lower case, matched as whole words or phrases).
var (
	thanksWords = []string{
		"thanks", "thank you", "thx", "great", "perfect", "solved", "works", "worked", "awesome", "excellent", "helpful", "that helps",
		"danke", "vielen dank", "perfekt", "super", "klappt", "gelöst", "funktioniert",
		"merci", "parfait", "génial", "résolu", "ça marche",
		"gracias", "perfecto", "genial", "resuelto", "funciona",
		"obrigado", "obrigada", "perfeito", "resolvido",
		"grazie", "perfetto", "risolto", "funziona",
		"bedankt", "dank je", "dank u", "opgelost", "werkt",
	}
	positiveWords = unique(append(slices.Clone(thanksWords), "good", "nice", "love", "happy", "glad", "wonderful", "amazing", "cool", "fantastic",
		"gut", "toll", "prima", "bien", "très bien", "bueno", "bom", "ótimo", "buono", "ottimo", "goed", "fijn", "leuk"))
	negativeWords = unique([]string{
		"bad", "terrible", "awful", "horrible", "useless", "angry", "annoyed", "frustrated", "disappointed", "worst", "hate",
		"not working", "doesn't work", "does not work", "didn't work", "still broken", "broken", "wrong", "problem", "complaint", "refund", "ridiculous", "unacceptable", "not helpful", "no help",
		"schlecht", "schrecklich", "nutzlos", "ärgerlich", "enttäuscht", "funktioniert nicht", "kaputt", "falsch", "beschwerde",
		"mauvais", "nul", "horrible", "inutile", "déçu", "ne marche pas", "ne fonctionne pas", "problème", "plainte",
		"malo", "terrible", "inútil", "enfadado", "decepcionado", "no funciona", "problema", "queja",
		"ruim", "péssimo", "inútil", "não funciona", "reclamação",
		"cattivo", "terribile", "inutile", "deluso", "non funziona", "reclamo",
		"slecht", "vreselijk", "nutteloos", "teleurgesteld", "werkt niet", "klacht",
	})
	// negations turn a thanks into something else ("no thanks", "not solved").
	negations = []string{"no thanks", "not solved", "not great", "not perfect", "doesn't work", "does not work", "not working",
		"funktioniert nicht", "nicht gelöst", "ne marche pas", "no funciona", "não funciona", "non funziona", "werkt niet"}
)

// unique drops repeated keywords (the same word in two languages counts once).
func unique(words []string) []string {
	seen := map[string]bool{}
	out := words[:0:0]
	for _, w := range words {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// norm lowers s and keeps its words, separated by single spaces, with a space on each side
// (so that " word " finds whole words and phrases).
func norm(s string) string {
	var b strings.Builder
	b.WriteByte(' ')
	space := true
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '’' {
			if r == '’' {
				r = '\''
			}
			b.WriteRune(r)
			space = false
		} else if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	if !space {
		b.WriteByte(' ')
	}
	return b.String()
}

// count is how many of the keywords occur in the normalised text n.
func count(n string, words []string) int {
	c := 0
	for _, w := range words {
		c += strings.Count(n, " "+w+" ")
	}
	return c
}

// Outcome is the offline outcome of a conversation and why.
func Outcome(msgs []Message, f Facts) (outcome, why string) {
	users, human := 0, false
	lastRole, lastContent, lastUser := "", "", ""
	for _, m := range msgs {
		if strings.TrimSpace(m.Content) == "" {
			continue
		}
		switch m.Role {
		case model.RoleUser:
			users++
			lastUser = m.Content
		case model.RoleHuman:
			human = true
		case model.RoleAssistant:
		default:
			continue
		}
		lastRole, lastContent = m.Role, m.Content
	}
	lu := norm(lastUser)
	switch {
	case human || f.TakenOver:
		return model.OutcomeHandedOff, "a person of the team took over"
	case users == 0:
		return model.OutcomeAbandoned, "the customer never wrote"
	case count(lu, thanksWords) > 0 && count(lu, negations) == 0 && count(lu, negativeWords) == 0:
		return model.OutcomeResolved, fmt.Sprintf("the customer's last message says it worked: %q", oneLine(lastUser, 120))
	case f.MissingRequired:
		return model.OutcomeUnresolved, "a required variable was not collected"
	case lastRole == model.RoleAssistant && (strings.HasSuffix(strings.TrimSpace(lastContent), "?") || users <= 1):
		return model.OutcomeAbandoned, "the customer did not answer the assistant's last message"
	}
	return model.OutcomeUnresolved, fmt.Sprintf("nothing says it was solved; the customer's last message: %q", oneLine(lastUser, 120))
}

// Sentiment is the customer's sentiment from keywords: positive minus negative keywords of
// their messages, the last message counting twice.
func Sentiment(users []string) string {
	score := 0
	for i, u := range users {
		n := norm(u)
		neg := count(n, negativeWords) + count(n, negations)
		s := count(n, positiveWords) - 2*neg // "not working" outweighs a polite "thanks"
		if i == len(users)-1 {
			s *= 2
		}
		score += s
	}
	switch {
	case score > 0:
		return model.SentimentPositive
	case score < 0:
		return model.SentimentNegative
	}
	return model.SentimentNeutral
}

// CSATEstimate is 4, 3 or 2 by sentiment, one more when resolved and one less when unresolved
// or abandoned, within 1 to 5.
func CSATEstimate(sentiment, outcome string) int {
	n := 3
	switch sentiment {
	case model.SentimentPositive:
		n = 4
	case model.SentimentNegative:
		n = 2
	}
	switch outcome {
	case model.OutcomeResolved:
		n++
	case model.OutcomeUnresolved, model.OutcomeAbandoned:
		n--
	}
	return min(max(n, model.CSATMin), model.CSATMax)
}

// stopwords are frequent short words of each language the detector knows.
var stopwords = map[string][]string{
	"en": {"the", "and", "is", "are", "you", "i", "to", "of", "it", "my", "for", "with", "this", "that", "have", "can", "what", "please", "thanks", "hello", "hi", "not", "do", "how", "was"},
	"de": {"der", "die", "das", "und", "ist", "ich", "nicht", "mit", "sie", "ein", "eine", "zu", "auf", "für", "es", "mein", "meine", "bitte", "danke", "hallo", "wie", "ihr", "haben", "kann", "wir"},
	"fr": {"le", "la", "les", "et", "est", "je", "ne", "pas", "vous", "un", "une", "des", "pour", "avec", "mon", "ma", "merci", "bonjour", "oui", "non", "que", "qui", "c'est", "j'ai", "du"},
	"es": {"el", "los", "las", "y", "es", "yo", "no", "por", "para", "con", "una", "mi", "gracias", "hola", "sí", "que", "del", "está", "tengo", "pero", "cómo", "favor", "se", "su", "al"},
	"pt": {"o", "os", "as", "e", "é", "eu", "não", "por", "para", "com", "uma", "um", "meu", "minha", "obrigado", "obrigada", "olá", "sim", "que", "do", "da", "está", "tenho", "mas", "você"},
	"it": {"il", "lo", "gli", "e", "è", "io", "non", "per", "con", "una", "un", "mio", "mia", "grazie", "ciao", "sì", "che", "del", "della", "sono", "ho", "ma", "come", "buongiorno", "questo"},
	"nl": {"de", "het", "een", "en", "is", "ik", "niet", "met", "voor", "van", "mijn", "je", "u", "dank", "bedankt", "hallo", "ja", "nee", "wat", "dat", "zijn", "heb", "kan", "maar", "hoe"},
}

// languageOrder breaks ties the same way every time.
var languageOrder = []string{"en", "de", "fr", "es", "pt", "it", "nl"}

// Language is the BCP 47 tag of the language of the customer's messages by stopword counts,
// "und" (undetermined) when no language has at least two hits or two tie.
func Language(users []string) string {
	words := map[string]int{}
	for _, u := range users {
		for _, w := range strings.Fields(norm(u)) {
			words[w]++
		}
	}
	best, bestN, tie := "und", 0, false
	for _, lang := range languageOrder {
		n := 0
		for _, w := range stopwords[lang] {
			n += words[w]
		}
		switch {
		case n > bestN:
			best, bestN, tie = lang, n, false
		case n == bestN && n > 0:
			tie = true
		}
	}
	if bestN < 2 || tie {
		return "und"
	}
	return best
}
