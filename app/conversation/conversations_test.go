package conversation

import (
	"net/url"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

func TestWindow(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	exp := now.Add(90 * time.Minute)
	past := now.Add(-time.Minute)
	closed := now.Add(-2 * time.Hour)
	cases := []struct {
		name string
		c    store.Conversation
		want Window
	}{
		{"widget has none", store.Conversation{Type: model.TypeWidget, WindowExpiresAt: &exp}, Window{}},
		{"never wrote", store.Conversation{Type: model.TypeWhatsApp}, Window{Applies: true}},
		{"open", store.Conversation{Type: model.TypeWhatsApp, WindowExpiresAt: &exp}, Window{Applies: true, Known: true, Open: true, ExpiresAt: exp}},
		{"deadline passed", store.Conversation{Type: model.TypeWhatsApp, WindowExpiresAt: &past}, Window{Applies: true, Known: true, ExpiresAt: past}},
		{"closed by Meta early", store.Conversation{Type: model.TypeWhatsApp, WindowExpiresAt: &exp, WindowClosedAt: &closed}, Window{Applies: true, Known: true, ExpiresAt: exp}},
	}
	for _, tc := range cases {
		if got := WindowOf(&tc.c, now); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if Remaining(90*time.Minute) != "1h 30m" || Remaining(30*time.Second) != "<1m" || Remaining(-time.Second) != "0m" {
		t.Fatal("Remaining")
	}
}

func TestParseQuery(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ok := []struct {
		q    string
		want func(store.Filter) bool
	}{
		{"type=whatsapp", func(f store.Filter) bool { return f.Type == "whatsapp" }},
		{"assistant=7", func(f store.Filter) bool { return f.AssistantID == 7 }},
		{"assistant_id=7", func(f store.Filter) bool { return f.AssistantID == 7 }},
		{"range=7", func(f store.Filter) bool { return f.From != nil && f.From.Equal(now.AddDate(0, 0, -7)) && f.To == nil }},
		{"range=custom&from=2026-11-01&to=2026-11-02", func(f store.Filter) bool {
			return f.From.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) && f.To.Equal(time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC))
		}},
		{"from=2026-11-01T10:00:00%2B02:00", func(f store.Filter) bool { return f.From.Equal(time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)) }},
		{"var=email&value=a%40b.co", func(f store.Filter) bool { return f.VarName == "email" && f.VarValue == "a@b.co" }},
		{"q=+refund+", func(f store.Filter) bool { return f.Query == "refund" }},
		{"sort=cost", func(f store.Filter) bool { return f.SortKey() == "cost" }},
		{"closing=1", func(f store.Filter) bool { return f.WindowClosingWithin == 2*time.Hour }},
	}
	for _, tc := range ok {
		v, _ := url.ParseQuery(tc.q)
		_, f, err := ParseQuery(v, now)
		if err != nil || !tc.want(f) {
			t.Errorf("%s: %+v %v", tc.q, f, err)
		}
	}
	bad := map[string]string{
		"type=fax": "type", "assistant=x": "assistant", "assistant_id=-1": "assistant_id", "range=5": "range",
		"from=yesterday": "from", "from=2026-11-02&to=2026-11-01": "to", "sort=name": "sort", "value=x": "var",
		"limit=0": "limit", "limit=101": "limit", "limit=ten": "limit", "cursor=abc": "cursor",
		"q=" + url.QueryEscape(string(make([]byte, 201))): "q",
	}
	for q, param := range bad {
		v, _ := url.ParseQuery(q)
		_, _, err := ParseQuery(v, now)
		fe, isFE := err.(*FieldError)
		if !isFE || fe.Param != param {
			t.Errorf("%s: %v, want a FieldError naming %s", q, err, param)
		}
	}
	// A cursor of the other sort is refused.
	c := store.Cursor{Sort: "cost", Cost: 5, ID: 1}.Encode()
	if _, _, err := ParseQuery(url.Values{"cursor": {c}}, now); err == nil {
		t.Fatal("a cost cursor on the default sort")
	}
	if _, _, err := ParseQuery(url.Values{"cursor": {c}, "sort": {"cost"}}, now); err != nil {
		t.Fatal(err)
	}
	// Values round-trips without empty fields or the cursor.
	q, _, _ := ParseQuery(url.Values{"type": {"test"}, "q": {"hi"}, "customer": {""}, "cursor": {store.Cursor{Sort: "last", Time: now, ID: 3}.Encode()}}, now)
	if got := q.Values().Encode(); got != "q=hi&type=test" {
		t.Fatalf("Values: %q", got)
	}
	if !q.Active() || (Query{Sort: "cost"}).Active() {
		t.Fatal("Active")
	}
}
