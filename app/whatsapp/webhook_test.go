package whatsapp_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/whatsapp"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifySignature(t *testing.T) {
	body := fixture(t, "text_message.json")
	good := whatsapp.Sign("s3cret", body)
	if !strings.HasPrefix(good, "sha256=") || len(good) != len("sha256=")+64 || strings.ToLower(good) != good {
		t.Fatalf("signature format: %q", good)
	}
	cases := []struct {
		name, secret, header string
		body                 []byte
		ok                   bool
	}{
		{"good", "s3cret", good, body, true},
		{"good with spaces", "s3cret", " " + good + " ", body, true},
		{"missing", "s3cret", "", body, false},
		{"no prefix", "s3cret", strings.TrimPrefix(good, "sha256="), body, false},
		{"sha1 prefix", "s3cret", "sha1=" + strings.TrimPrefix(good, "sha256="), body, false},
		{"not hex", "s3cret", "sha256=zz" + good[9:], body, false},
		{"truncated", "s3cret", good[:len(good)-2], body, false},
		{"wrong secret", "other", good, body, false},
		{"body changed", "s3cret", good, append([]byte(" "), body...), false},
		{"no secret configured", "", whatsapp.Sign("", body), body, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := whatsapp.VerifySignature(tc.secret, tc.body, tc.header)
			if (err == nil) != tc.ok {
				t.Fatalf("VerifySignature = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, whatsapp.ErrBadSignature) {
				t.Fatalf("error %v is not ErrBadSignature", err)
			}
		})
	}
}

func TestSplitFixtures(t *testing.T) {
	cases := []struct {
		file  string
		kinds []string
		ids   []string
	}{
		{"text_message.json", []string{"message"}, []string{"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdBNjZGNTU3MDhDRjBFQzRBRQA="}},
		{"interactive_button_reply.json", []string{"message"}, []string{"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUYzRjE4QzE0RkI2NjU0MjlFMQA="}},
		{"image_message.json", []string{"message"}, []string{"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQjFFNjM2QTY4QkE3QkE5MDEzOAA="}},
		{"statuses_sent_delivered_read.json", []string{"status", "status"}, []string{
			"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3NkY3QjQ4QkI4QjRCRjk4RjQA:delivered",
			"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3NkY3QjQ4QkI4QjRCRjk4RjQA:read"}},
		{"status_failed_131047.json", []string{"status"}, []string{"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJFOUQ4QzE2RjJBMjVCRjc1RTQA:failed"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			evs, err := whatsapp.Split(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(tc.ids) {
				t.Fatalf("%d events, want %d", len(evs), len(tc.ids))
			}
			for i, ev := range evs {
				if ev.Kind != tc.kinds[i] || ev.ProviderID != tc.ids[i] {
					t.Errorf("event %d: %s %s, want %s %s", i, ev.Kind, ev.ProviderID, tc.kinds[i], tc.ids[i])
				}
				p, err := whatsapp.DecodeEvent(string(ev.Payload))
				if err != nil {
					t.Fatal(err)
				}
				if p.PhoneNumberID != "106540352242922" || p.EntryID != "102290129340398" || p.Field != "messages" {
					t.Errorf("event %d metadata: %+v", i, p)
				}
				if ev.Kind == "message" {
					c := p.Sender()
					if c.WaID != "16505551234" || c.Profile.Name != "Sheena Nelson" {
						t.Errorf("contact: %+v", c)
					}
				}
			}
		})
	}
}

// One POST with several entries, changes, messages and statuses, an unknown message type, an
// unknown field and another webhook field: every part is an event, nothing is dropped, and
// unknown fields survive in the raw payload.
func TestSplitBatchKeepsEverything(t *testing.T) {
	body := `{"object":"whatsapp_business_account","entry":[
	 {"id":"W1","changes":[
	  {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"P1"},
	   "contacts":[{"profile":{"name":"Ada"},"wa_id":"111"},{"profile":{"name":"Bob"},"wa_id":"222"}],
	   "messages":[
	    {"from":"222","id":"wamid.B","timestamp":"1749416383","type":"text","text":{"body":"hi"}},
	    {"from":"111","id":"wamid.A","timestamp":"1749416384","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"},"brand_new_field":{"x":1}},
	    {"from":"111","id":"wamid.A","timestamp":"1749416384","type":"reaction"}
	   ],
	   "statuses":[{"id":"wamid.OUT","status":"read","timestamp":"1749416390","recipient_id":"111"}]}},
	  {"field":"message_template_status_update","value":{"event":"APPROVED","message_template_name":"hello"}}
	 ]},
	 {"id":"W2","changes":[
	  {"field":"messages","value":{"metadata":{"phone_number_id":"P2"},"statuses":[{"id":"wamid.OUT","status":"delivered","timestamp":"1749416389"}]}}
	 ]}]}`
	evs, err := whatsapp.Split([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]whatsapp.Event{}
	for _, ev := range evs {
		byID[ev.ProviderID] = ev
	}
	if len(evs) != 5 || len(byID) != 5 {
		t.Fatalf("events: %d (%v), want 5: two messages (one repeated), two statuses, one other change", len(evs), byID)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i-1].ProviderID > evs[i].ProviderID {
			t.Fatal("events are sorted by provider id, so concurrent deliveries insert in the same order")
		}
	}
	a := byID["wamid.A"]
	p, _ := whatsapp.DecodeEvent(string(a.Payload))
	if !strings.Contains(string(p.Message), "brand_new_field") || p.Sender().Profile.Name != "Ada" || p.PhoneNumberID != "P1" {
		t.Fatalf("reaction event lost data: %s", a.Payload)
	}
	b := byID["wamid.B"]
	if p, _ := whatsapp.DecodeEvent(string(b.Payload)); p.Sender().Profile.Name != "Bob" {
		t.Fatalf("the contact is matched by wa_id: %s", b.Payload)
	}
	if byID["wamid.OUT:read"].Kind != "status" || byID["wamid.OUT:delivered"].Kind != "status" {
		t.Fatal("statuses of one message are one event per status")
	}
	var other *whatsapp.Event
	for i := range evs {
		if evs[i].Kind == whatsapp.KindChange {
			other = &evs[i]
		}
	}
	if other == nil || !strings.Contains(string(other.Payload), "APPROVED") {
		t.Fatalf("another webhook field is kept as a change event: %+v", other)
	}
	// Deterministic: the same body gives the same ids (the database's unique key dedupes).
	again, _ := whatsapp.Split([]byte(body))
	for i := range evs {
		if evs[i].ProviderID != again[i].ProviderID {
			t.Fatal("provider ids are not deterministic")
		}
	}
}

func TestSplitMalformed(t *testing.T) {
	for _, body := range []string{``, `{`, `nonsense`, `[1,2]`, `{"entry":"x"}`, `{"entry":[]} {"entry":[]}`} {
		if _, err := whatsapp.Split([]byte(body)); !errors.Is(err, whatsapp.ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", body, err)
		}
	}
	// Valid JSON of an unexpected shape inside a change is kept, not refused.
	evs, err := whatsapp.Split([]byte(`{"entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":"oops"}}]}]}`))
	if err != nil || len(evs) != 1 || evs[0].Kind != whatsapp.KindChange {
		t.Fatalf("odd change: %v %+v", err, evs)
	}
}

func TestContent(t *testing.T) {
	cases := []struct {
		name, raw, content, ctype string
	}{
		{"text", `{"type":"text","text":{"body":"Does it come in another color?"}}`, "Does it come in another color?", "text"},
		{"button reply", `{"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"opt-blue","title":"Blue please"}}}`, "Blue please", "interactive"},
		{"list reply", `{"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"r1","title":"Size M","description":"x"}}}`, "Size M", "interactive"},
		{"template button", `{"type":"button","button":{"text":"Stop promotions","payload":"STOP"}}`, "Stop promotions", "button"},
		{"image caption", `{"type":"image","image":{"caption":"this one","id":"1"}}`, "this one", "image"},
		{"video caption", `{"type":"video","video":{"caption":"clip","id":"1"}}`, "clip", "video"},
		{"document caption", `{"type":"document","document":{"caption":"invoice","filename":"a.pdf"}}`, "invoice", "document"},
		{"image without caption", `{"type":"image","image":{"id":"1"}}`, "", "image"},
		{"reaction", `{"type":"reaction","reaction":{"emoji":"👍"}}`, "", "reaction"},
		{"unsupported", `{"type":"unsupported","errors":[{"code":131051}]}`, "", "unsupported"},
		{"brand new type", `{"type":"hologram","hologram":{}}`, "", "hologram"},
		{"no type", `{}`, "", "unknown"},
		{"nfm reply", `{"type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{}}}`, "", "interactive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m whatsapp.Message
			if err := json.Unmarshal([]byte(tc.raw), &m); err != nil {
				t.Fatal(err)
			}
			c, ct := whatsapp.Content(&m)
			if c != tc.content || ct != tc.ctype {
				t.Fatalf("Content = %q %q, want %q %q", c, ct, tc.content, tc.ctype)
			}
		})
	}
}

func TestStatusErrorText(t *testing.T) {
	evs, _ := whatsapp.Split(fixture(t, "status_failed_131047.json"))
	p, _ := whatsapp.DecodeEvent(string(evs[0].Payload))
	var st whatsapp.Status
	if err := json.Unmarshal(p.Status, &st); err != nil {
		t.Fatal(err)
	}
	got := st.Errors[0].Text()
	if !strings.HasPrefix(got, "131047 Re-engagement message: ") || !strings.Contains(got, "24 hours") {
		t.Fatalf("status error text: %q", got)
	}
}

func TestTimestampsAndWindow(t *testing.T) {
	at, ok := whatsapp.ParseTimestamp("1749416383")
	if !ok || !at.Equal(time.Unix(1749416383, 0)) || at.Location() != time.UTC {
		t.Fatalf("ParseTimestamp: %v %v", at, ok)
	}
	for _, s := range []string{"", "abc", "-5", "0"} {
		if _, ok := whatsapp.ParseTimestamp(s); ok {
			t.Errorf("%q parsed", s)
		}
	}
	if d := whatsapp.Deadline(at, 0); !d.Equal(at.Add(24 * time.Hour)) {
		t.Fatalf("default window: %v", d)
	}
	if d := whatsapp.Deadline(at, 2*time.Second); !d.Equal(at.Add(2 * time.Second)) {
		t.Fatalf("short window: %v", d)
	}
}
