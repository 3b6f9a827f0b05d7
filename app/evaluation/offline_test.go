package evaluation_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/evaluation"
	"github.com/parleyhq/parley/app/model"
)

// conv builds a transcript: "A:" marks the assistant's messages, "H:" a person of the team's.
func conv(lines ...string) []evaluation.Message {
	var out []evaluation.Message
	for _, l := range lines {
		role := model.RoleUser
		switch {
		case strings.HasPrefix(l, "A:"):
			role, l = model.RoleAssistant, strings.TrimPrefix(l, "A:")
		case strings.HasPrefix(l, "H:"):
			role, l = model.RoleHuman, strings.TrimPrefix(l, "H:")
		}
		out = append(out, evaluation.Message{Role: role, Content: l})
	}
	return out
}

func TestOfflineOutcome(t *testing.T) {
	cases := []struct {
		name  string
		msgs  []evaluation.Message
		facts evaluation.Facts
		want  string
	}{
		{"a person wrote", conv("help", "A:Sure", "H:I'm Anna from support", "ok"), evaluation.Facts{}, model.OutcomeHandedOff},
		{"taken over", conv("help", "A:Sure", "thanks"), evaluation.Facts{TakenOver: true}, model.OutcomeHandedOff},
		{"never wrote", conv("A:Hello! How can I help?"), evaluation.Facts{}, model.OutcomeAbandoned},
		{"thanks", conv("my invoice is wrong", "A:Fixed it.", "Thanks, that solved it!"), evaluation.Facts{}, model.OutcomeResolved},
		{"thanks in German", conv("Rechnung falsch", "A:Korrigiert.", "Danke, perfekt"), evaluation.Facts{}, model.OutcomeResolved},
		{"no thanks is not resolved", conv("can you help", "A:Do you want the upgrade?", "no thanks, it still does not work"), evaluation.Facts{}, model.OutcomeUnresolved},
		{"required variable missing", conv("price?", "A:It is 10 EUR.", "and shipping?", "A:Free."), evaluation.Facts{MissingRequired: true}, model.OutcomeUnresolved},
		{"unanswered question", conv("price?", "A:It is 10 EUR.", "and shipping?", "A:Where do you live?"), evaluation.Facts{}, model.OutcomeAbandoned},
		{"one message then silence", conv("price?", "A:It is 10 EUR."), evaluation.Facts{}, model.OutcomeAbandoned},
		{"otherwise unresolved", conv("price?", "A:It is 10 EUR.", "hmm ok"), evaluation.Facts{}, model.OutcomeUnresolved},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := evaluation.Outcome(c.msgs, c.facts)
			if got != c.want || why == "" {
				t.Fatalf("outcome %q (%s), want %q", got, why, c.want)
			}
		})
	}
}

func TestOfflineSentiment(t *testing.T) {
	cases := []struct {
		users []string
		want  string
	}{
		{[]string{"hello", "thanks, great help!"}, model.SentimentPositive},
		{[]string{"this is terrible, it does not work", "I want a refund"}, model.SentimentNegative},
		{[]string{"what are your opening hours?"}, model.SentimentNeutral},
		{[]string{"super, vielen Dank"}, model.SentimentPositive},
		{[]string{"c'est nul, ça ne marche pas"}, model.SentimentNegative},
		{[]string{"no funciona, estoy decepcionado"}, model.SentimentNegative},
		{[]string{"thanks", "still broken, I'm frustrated"}, model.SentimentNegative}, // the last message weighs more
		{[]string{"thanks but it does not work"}, model.SentimentNegative},
		{nil, model.SentimentNeutral},
	}
	for _, c := range cases {
		if got := evaluation.Sentiment(c.users); got != c.want {
			t.Errorf("Sentiment(%q) = %q, want %q", c.users, got, c.want)
		}
	}
}

func TestOfflineCSATEstimate(t *testing.T) {
	cases := []struct {
		sentiment, outcome string
		want               int
	}{
		{model.SentimentPositive, model.OutcomeResolved, 5},
		{model.SentimentNeutral, model.OutcomeResolved, 4},
		{model.SentimentNeutral, model.OutcomeHandedOff, 3},
		{model.SentimentNeutral, model.OutcomeUnresolved, 2},
		{model.SentimentNegative, model.OutcomeUnresolved, 1},
		{model.SentimentNegative, model.OutcomeAbandoned, 1},
		{model.SentimentPositive, model.OutcomeAbandoned, 3},
	}
	for _, c := range cases {
		if got := evaluation.CSATEstimate(c.sentiment, c.outcome); got != c.want {
			t.Errorf("CSATEstimate(%s, %s) = %d, want %d", c.sentiment, c.outcome, got, c.want)
		}
	}
}

func TestOfflineLanguage(t *testing.T) {
	cases := []struct {
		text, want string
	}{
		{"Hello, I have a question about my order and the invoice", "en"},
		{"Hallo, ich habe eine Frage zu meiner Bestellung und der Rechnung", "de"},
		{"Bonjour, je ne trouve pas ma commande, merci", "fr"},
		{"Hola, tengo una pregunta sobre mi pedido, gracias", "es"},
		{"Olá, eu não recebi o meu pedido, obrigado", "pt"},
		{"Ciao, non ho ricevuto il mio ordine, grazie", "it"},
		{"Hallo, ik heb een vraag over mijn bestelling, bedankt", "nl"},
		{"ok", "und"},
		{"12345 !!!", "und"},
	}
	for _, c := range cases {
		if got := evaluation.Language([]string{c.text}); got != c.want {
			t.Errorf("Language(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestOfflineSummary(t *testing.T) {
	cases := []struct {
		msgs []evaluation.Message
		want []string // parts, in order
	}{
		{conv("A:Hi!"), []string{"The customer did not write."}},
		{conv("Where is my parcel?", "A:On its way."), []string{`"Where is my parcel?"`, `The last answer was: "On its way."`}},
		{conv("Where is my parcel?", "A:On its way.", "Thanks!"), []string{`"Where is my parcel?"`, `Last, they wrote: "Thanks!"`, "It was not answered."}},
	}
	for _, c := range cases {
		got := evaluation.Summary(c.msgs)
		rest := got
		for _, p := range c.want {
			i := strings.Index(rest, p)
			if i < 0 {
				t.Fatalf("Summary = %q, want %q in order", got, c.want)
			}
			rest = rest[i+len(p):]
		}
		if n := strings.Count(got, ". "); n > 2 {
			t.Errorf("Summary has more than three sentences: %q", got)
		}
	}
}

// The same transcript gives the same values, every time; custom evaluators fail honestly.
func TestOfflineIsDeterministic(t *testing.T) {
	evs := append(model.BuiltinEvaluators(), model.Evaluator{Name: "polite", Type: model.EvaluatorBoolean, Version: 1})
	msgs := conv("Hola, mi pedido no llegó", "A:Lo siento, ¿cuál es su número de pedido?", "Es el 42, gracias")
	first := evaluation.Offline(msgs, evs, evaluation.Facts{})
	for range 20 {
		if got := evaluation.Offline(msgs, evs, evaluation.Facts{}); !reflect.DeepEqual(got, first) {
			t.Fatalf("not deterministic: %+v vs %+v", got, first)
		}
	}
	if len(first) != 6 || first[5].Status != model.EvalFailed || first[5].Error != evaluation.OfflineNotEvaluated {
		t.Fatalf("values: %+v", first)
	}
	if *first[4].Value != "es" || *first[1].Value != model.OutcomeResolved {
		t.Fatalf("language %q, outcome %q", *first[4].Value, *first[1].Value)
	}
}

func TestParse(t *testing.T) {
	evs := append(model.BuiltinEvaluators(),
		model.Evaluator{Name: "ok", Type: model.EvaluatorBoolean, Version: 1},
		model.Evaluator{Name: "score", Type: model.EvaluatorRating, Version: 1},
		model.Evaluator{Name: "topic", Type: model.EvaluatorOption, Options: []string{"Billing", "Other"}, Version: 1})
	cases := []struct {
		name  string
		reply string
		want  map[string]string // name -> stored value, or "!" + part of the error
	}{
		{"valid and fenced", "```json\n" + `{"summary":{"value":" S ","reason":"r"},"outcome":{"value":"RESOLVED","reason":"r"},"sentiment":{"value":"neutral","reason":"r"},
			"csat_estimate":{"value":3,"reason":"r"},"language":{"value":"PT-br","reason":"r"},"ok":{"value":false,"reason":"r"},"score":{"value":5.0,"reason":"r"},"topic":{"value":"billing","reason":"r"}}` + "\n```",
			map[string]string{"summary": "S", "outcome": "resolved", "sentiment": "neutral", "csat_estimate": "3", "language": "pt-BR", "ok": "false", "score": "5", "topic": "Billing"}},
		{"wrong shapes", `{"summary":"plain string","outcome":{"reason":"r"},"sentiment":{"value":null,"reason":"r"},"csat_estimate":{"value":"4","reason":"r"},
			"language":{"value":"","reason":"r"},"ok":{"value":1,"reason":"r"},"score":{"value":0,"reason":"r"},"topic":{"value":"Shipping","reason":"r"}}`,
			map[string]string{"summary": `!not an object`, "outcome": "!missing", "sentiment": "!missing", "csat_estimate": "!not an integer",
				"language": "!empty", "ok": "!not a boolean", "score": "!not from 1 to 5", "topic": "!not one of the options"}},
		{"not JSON", "I think it went well.", map[string]string{"summary": "!not a JSON object", "topic": "!not a JSON object"}},
		{"an array", `[1,2]`, map[string]string{"summary": "!not a JSON object"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := evaluation.Parse(c.reply, evs)
			if len(p.Values) != len(evs) {
				t.Fatalf("%d values for %d evaluators", len(p.Values), len(evs))
			}
			got := map[string]string{}
			for _, v := range p.Values {
				if v.Status == model.EvalDone {
					got[v.Name] = *v.Value
				} else {
					got[v.Name] = "!" + v.Error
				}
			}
			for name, w := range c.want {
				if strings.HasPrefix(w, "!") {
					if !strings.Contains(got[name], w[1:]) || !strings.HasPrefix(got[name], "!") {
						t.Errorf("%s: %q, want an error with %q", name, got[name], w[1:])
					}
				} else if got[name] != w {
					t.Errorf("%s: %q, want %q", name, got[name], w)
				}
			}
			if (p.Err == "") != (c.name == "valid and fenced") {
				t.Errorf("error %q", p.Err)
			}
		})
	}
}
