package extract

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/app/llm"
)

func conv(lines ...string) []Message {
	var out []Message
	t := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for i, l := range lines {
		role := "user"
		if len(l) > 2 && l[:2] == "A:" {
			role, l = "assistant", l[2:]
		}
		out = append(out, Message{ID: int64(i + 1), Role: role, Content: l, CreatedAt: t.Add(time.Duration(i) * time.Minute)})
	}
	return out
}

func TestDeterministic(t *testing.T) {
	email := llm.VariableSpec{Name: "email", Type: "email", Required: true}
	billing := llm.VariableSpec{Name: "billing_email", Type: "email"}
	phone := llm.VariableSpec{Name: "phone", Type: "phone"}
	date := llm.VariableSpec{Name: "appointment_date", Type: "date"}
	checkIn := llm.VariableSpec{Name: "check_in", Type: "date"}
	checkOut := llm.VariableSpec{Name: "check_out", Type: "date"}
	rooms := llm.VariableSpec{Name: "rooms", Type: "number"}
	guests := llm.VariableSpec{Name: "guests", Type: "number"}
	newsletter := llm.VariableSpec{Name: "newsletter", Type: "boolean"}
	plan := llm.VariableSpec{Name: "plan", Type: "enum", Options: []string{"Basic", "Pro", "Enterprise"}}
	name := llm.VariableSpec{Name: "name", Type: "text"}
	website := llm.VariableSpec{Name: "website", Type: "text"}

	type want struct {
		status Status
		value  string
		msg    int64
	}
	cases := []struct {
		title string
		vars  []llm.VariableSpec
		msgs  []Message
		cc    string
		want  map[string]want
	}{
		{"email anywhere", []llm.VariableSpec{email}, conv("hi", "A:How can I help?", "reach me at jane@example.com"),
			"", map[string]want{"email": {Settled, "jane@example.com", 3}}},
		{"a correction in a later message wins", []llm.VariableSpec{email}, conv("jane@example.com", "A:Thanks!", "my email is actually jane.doe@example.org"),
			"", map[string]want{"email": {Settled, "jane.doe@example.org", 3}}},
		{"a correction in one message takes the last", []llm.VariableSpec{email}, conv("sorry, not jane@example.com but jd@example.com"),
			"", map[string]want{"email": {Settled, "jd@example.com", 1}}},
		{"two addresses without a correction are ambiguous", []llm.VariableSpec{email}, conv("mine is a@example.com, my wife's is b@example.com"),
			"", map[string]want{"email": {Ambiguous, "", 1}}},
		{"a later message without a value keeps the earlier one", []llm.VariableSpec{email}, conv("jane@example.com", "A:ok", "thanks, bye"),
			"", map[string]want{"email": {Settled, "jane@example.com", 1}}},
		{"two email variables: the question decides", []llm.VariableSpec{email, billing}, conv("A:What is your billing email?", "accounts@acme.com", "A:And your own email?", "jane@acme.com"),
			"", map[string]want{"email": {Settled, "jane@acme.com", 4}, "billing_email": {Settled, "accounts@acme.com", 2}}},
		{"two email variables: unnamed is ambiguous", []llm.VariableSpec{email, billing}, conv("jane@acme.com"),
			"", map[string]want{"email": {Ambiguous, "", 1}, "billing_email": {Ambiguous, "", 1}}},
		{"phone with country code", []llm.VariableSpec{phone}, conv("you can call +44 (0)20 7946 0958 after 5"),
			"", map[string]want{"phone": {Settled, "+442079460958", 1}}},
		{"national phone on WhatsApp", []llm.VariableSpec{phone}, conv("A:What is your phone number?", "0151 2345 6789"),
			"49", map[string]want{"phone": {Settled, "+4915123456789", 2}}},
		{"national phone without a country is ambiguous", []llm.VariableSpec{phone}, conv("A:What is your phone number?", "0151 2345 6789"),
			"", map[string]want{"phone": {Ambiguous, "", 2}}},
		{"order numbers are not phones", []llm.VariableSpec{phone}, conv("my order 1.000.000 and ref 2026-11-25"),
			"49", map[string]want{"phone": {NotFound, "", 0}}},
		{"date", []llm.VariableSpec{date}, conv("Can we meet on 25 Nov 2026?"),
			"", map[string]want{"appointment_date": {Settled, "2026-11-25", 1}}},
		{"ambiguous date", []llm.VariableSpec{date}, conv("A:Which appointment date?", "03/04/2026"),
			"", map[string]want{"appointment_date": {Ambiguous, "", 2}}},
		{"relative date needs the question", []llm.VariableSpec{date}, conv("I called yesterday"),
			"", map[string]want{"appointment_date": {NotFound, "", 0}}},
		{"relative date answers the question", []llm.VariableSpec{date}, conv("A:What appointment date suits you?", "tomorrow"),
			"", map[string]want{"appointment_date": {Settled, "2026-11-21", 2}}},
		{"two date variables named in the message", []llm.VariableSpec{checkIn, checkOut}, conv("A:When do you check in?", "2026-12-01"),
			"", map[string]want{"check_in": {Settled, "2026-12-01", 2}, "check_out": {NotFound, "", 0}}},
		{"numbers beside their names", []llm.VariableSpec{rooms, guests}, conv("We need 2 rooms for 5 guests"),
			"", map[string]want{"rooms": {Settled, "2", 1}, "guests": {Settled, "5", 1}}},
		{"number named before it", []llm.VariableSpec{rooms}, conv("rooms: 3"),
			"", map[string]want{"rooms": {Settled, "3", 1}}},
		{"number answering the question", []llm.VariableSpec{rooms}, conv("A:How many rooms do you need?", "two please"),
			"", map[string]want{"rooms": {Settled, "2", 2}}},
		{"number without context is left alone", []llm.VariableSpec{rooms}, conv("I have 3 kids"),
			"", map[string]want{"rooms": {NotFound, "", 0}}},
		{"ambiguous number", []llm.VariableSpec{rooms}, conv("A:How many rooms?", "1.500"),
			"", map[string]want{"rooms": {Ambiguous, "", 2}}},
		{"yes answers the question", []llm.VariableSpec{newsletter}, conv("A:Would you like our newsletter (yes or no)?", "Ja, gerne"),
			"", map[string]want{"newsletter": {Settled, "true", 2}}},
		{"no answers the question", []llm.VariableSpec{newsletter}, conv("A:Newsletter?", "nope"),
			"", map[string]want{"newsletter": {Settled, "false", 2}}},
		{"a yes without the question means nothing", []llm.VariableSpec{newsletter}, conv("yes"),
			"", map[string]want{"newsletter": {NotFound, "", 0}}},
		{"enum option", []llm.VariableSpec{plan}, conv("We'd go with the PRO plan"),
			"", map[string]want{"plan": {Settled, "Pro", 1}}},
		{"two options are ambiguous", []llm.VariableSpec{plan}, conv("basic or pro, not sure"),
			"", map[string]want{"plan": {Ambiguous, "", 1}}},
		{"enum changed later", []llm.VariableSpec{plan}, conv("basic", "A:ok", "hmm, make it enterprise"),
			"", map[string]want{"plan": {Settled, "Enterprise", 3}}},
		{"free text is the model's", []llm.VariableSpec{name}, conv("A:What is your name?", "Jane Doe"),
			"", map[string]want{"name": {NotFound, "", 0}}},
		{"website", []llm.VariableSpec{website, email}, conv("our website is www.acme.com, mail info@acme.com"),
			"", map[string]want{"website": {Settled, "https://www.acme.com", 1}, "email": {Settled, "info@acme.com", 1}}},
		{"offline question counts as asked", []llm.VariableSpec{newsletter}, conv("A:Thank you. "+llm.AskFor(newsletter), "y"),
			"", map[string]want{"newsletter": {Settled, "true", 2}}},
	}
	for _, c := range cases {
		t.Run(c.title, func(t *testing.T) {
			got := Deterministic(c.vars, c.msgs, Options{DefaultCallingCode: c.cc})
			for name, w := range c.want {
				g := got[name]
				if g.Status != w.status || g.Value != w.value || g.MessageID != w.msg {
					t.Errorf("%s: got %v %q from %d; want %v %q from %d", name, g.Status, g.Value, g.MessageID, w.status, w.value, w.msg)
				}
			}
		})
	}
}

func TestNeedsLLM(t *testing.T) {
	cases := []struct {
		v    llm.VariableSpec
		r    VarResult
		want bool
	}{
		{llm.VariableSpec{Name: "name"}, VarResult{}, true},
		{llm.VariableSpec{Name: "email", Type: "email"}, VarResult{}, false},
		{llm.VariableSpec{Name: "email", Type: "email"}, VarResult{Status: Ambiguous}, true},
		{llm.VariableSpec{Name: "n", Type: "number"}, VarResult{}, true},
		{llm.VariableSpec{Name: "n", Type: "number"}, VarResult{Status: Settled}, false},
		{llm.VariableSpec{Name: "d", Type: "date"}, VarResult{}, false},
		{llm.VariableSpec{Name: "ok", Type: "boolean"}, VarResult{}, true},
	}
	for _, c := range cases {
		if got := NeedsLLM(c.v, c.r); got != c.want {
			t.Errorf("NeedsLLM(%+v, %v) = %v", c.v, c.r.Status, got)
		}
	}
}

func TestValidate(t *testing.T) {
	vars := []llm.VariableSpec{{Name: "name"}, {Name: "email", Type: "email"}, {Name: "plan", Type: "enum", Options: []string{"Basic", "Pro"}},
		{Name: "seats", Type: "number"}, {Name: "start", Type: "date"}, {Name: "ok", Type: "boolean"}, {Name: "phone", Type: "phone"}}
	got, err := Validate(`{"name":"Jane Doe","email":"JANE@Example.com","plan":"pro","seats":"12","start":"2026-12-01","ok":"yes","phone":"+49 151 2345 6789"}`, vars)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": "Jane Doe", "email": "JANE@example.com", "plan": "Pro", "seats": "12", "start": "2026-12-01", "ok": "true", "phone": "+4915123456789"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// Fenced JSON and nulls.
	got, err = Validate("```json\n{\"name\":null,\"email\":null,\"plan\":null,\"seats\":null,\"start\":null,\"ok\":null,\"phone\":null}\n```", vars)
	if err != nil || len(got) != 0 {
		t.Fatalf("nulls: %v %v", got, err)
	}
	// Breaking the schema: nothing is kept.
	for _, bad := range []string{
		`not json`,
		`["Jane"]`,
		`{"name":"Jane"}`, // keys missing
		`{"name":"Jane","email":null,"plan":null,"seats":null,"start":null,"ok":null,"phone":null,"extra":"x"}`,
		`{"name":{"first":"Jane"},"email":null,"plan":null,"seats":null,"start":null,"ok":null,"phone":null}`,
		`{"name":"Jane","email":null,"plan":null,"seats":12,"start":null,"ok":null,"phone":null}`,
	} {
		got, err := Validate(bad, vars)
		var se *SchemaError
		if err == nil || len(got) != 0 || !asSchemaError(err, &se) {
			t.Errorf("Validate(%s) = %v, %v; want a schema error and no values", bad, got, err)
		}
	}
	// A value of the wrong shape is dropped, the others kept.
	got, err = Validate(`{"name":"Jane","email":"not an address","plan":"Gold","seats":"many","start":"someday","ok":"perhaps","phone":"call me"}`, vars)
	if err == nil || len(got) != 1 || got["name"] != "Jane" {
		t.Fatalf("wrong shapes: %v %v", got, err)
	}
}

func asSchemaError(err error, se **SchemaError) bool {
	e, ok := err.(*SchemaError)
	*se = e
	return ok
}
