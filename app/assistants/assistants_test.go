package assistants_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/assistants"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

func valid() assistants.Update {
	s := assistants.NewSettings("")
	s.Name = "Sales"
	s.Variables = []model.Variable{
		{Name: "email", Type: "email", Required: true},
		{Name: "plan", Type: "enum", Options: []string{"free", "pro"}},
	}
	s.PrechatFields = []model.PrechatField{{Name: "email", Label: "Your email", Type: "email", Required: true}}
	s.AllowedOrigins = []string{"https://shop.example.com"}
	return assistants.Update{AssistantSettings: s}
}

func TestNewSettingsDefaults(t *testing.T) {
	s := assistants.NewSettings("")
	if s.Model != "gpt-4o-mini" || s.Temperature != 0.7 {
		t.Fatalf("defaults: %+v", s)
	}
	if assistants.NewSettings("llama3").Model != "llama3" {
		t.Fatal("configured model not used")
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("x", 101)
	cases := []struct {
		name   string
		change func(u *assistants.Update)
		stored bool
		want   map[string]string // field -> part of the message
	}{
		{"valid", func(*assistants.Update) {}, false, nil},
		{"name required", func(u *assistants.Update) { u.Name = "  " }, false, map[string]string{"name": "required"}},
		{"name too long", func(u *assistants.Update) { u.Name = long }, false, map[string]string{"name": "at most 100"}},
		{"model required", func(u *assistants.Update) { u.Model = "" }, false, map[string]string{"model": "required"}},
		{"model spaces", func(u *assistants.Update) { u.Model = "gpt 4" }, false, map[string]string{"model": "spaces"}},
		{"temperature high", func(u *assistants.Update) { u.Temperature = 2.01 }, false, map[string]string{"temperature": "from 0 to 2"}},
		{"temperature negative", func(u *assistants.Update) { u.Temperature = -0.1 }, false, map[string]string{"temperature": "from 0 to 2"}},
		{"temperature bounds", func(u *assistants.Update) { u.Temperature = 2 }, false, nil},
		{"variable name", func(u *assistants.Update) { u.Variables[0].Name = "Email" }, false,
			map[string]string{"variables[0].name": "lower-case", "prechat_fields[0].variable": "no variable named"}},
		{"variable name digit first", func(u *assistants.Update) { u.Variables[1].Name = "1plan" }, false, map[string]string{"variables[1].name": "lower-case"}},
		{"variable name 41 chars", func(u *assistants.Update) { u.Variables[1].Name = "a" + strings.Repeat("b", 40) }, false, map[string]string{"variables[1].name": "40"}},
		{"variable name 40 chars", func(u *assistants.Update) { u.Variables[1].Name = "a" + strings.Repeat("b", 39) }, false, nil},
		{"duplicate variable", func(u *assistants.Update) {
			u.Variables[1].Name = "email"
			u.Variables[1].Type = "text"
			u.Variables[1].Options = nil
		}, false,
			map[string]string{"variables[1].name": "already used"}},
		{"variable type", func(u *assistants.Update) { u.Variables[0].Type = "url" }, false,
			map[string]string{"variables[0].type": "must be one of text, email, phone, number, date, boolean, enum"}},
		{"enum without options", func(u *assistants.Update) { u.Variables[1].Options = []string{" ", ""} }, false, map[string]string{"variables[1].options": "at least one option"}},
		{"options on text", func(u *assistants.Update) { u.Variables[0].Options = []string{"a"} }, false, map[string]string{"variables[0].options": "only enum"}},
		{"duplicate option", func(u *assistants.Update) { u.Variables[1].Options = []string{"a", "a"} }, false, map[string]string{"variables[1].options": "twice"}},
		{"prechat label", func(u *assistants.Update) { u.PrechatFields[0].Label = "" }, false, map[string]string{"prechat_fields[0].label": "required"}},
		{"prechat type", func(u *assistants.Update) { u.PrechatFields[0].Type = "date" }, false, map[string]string{"prechat_fields[0].type": "text, email, phone"}},
		{"prechat fills another", func(u *assistants.Update) { u.PrechatFields[0].Name = "mail"; u.PrechatFields[0].Variable = "email" }, false, nil},
		{"prechat unknown variable", func(u *assistants.Update) { u.PrechatFields[0].Variable = "nope" }, false, map[string]string{"prechat_fields[0].variable": `"nope"`}},
		{"prechat twice", func(u *assistants.Update) {
			u.PrechatFields = append(u.PrechatFields, model.PrechatField{Name: "mail", Label: "L", Type: "text", Variable: "email"})
		}, false, map[string]string{"prechat_fields[1].variable": "already fills"}},
		{"origin with path", func(u *assistants.Update) { u.AllowedOrigins = []string{"https://a.example", "https://b.example/shop"} }, false,
			map[string]string{"allowed_origins[1]": "no path"}},
		{"origin scheme", func(u *assistants.Update) { u.AllowedOrigins = []string{"ftp://a.example"} }, false, map[string]string{"allowed_origins[0]": "http"}},
		{"origin bare host", func(u *assistants.Update) { u.AllowedOrigins = []string{"shop.example.com"} }, false, map[string]string{"allowed_origins[0]": "origin"}},
		{"origin query", func(u *assistants.Update) { u.AllowedOrigins = []string{"https://a.example?x=1"} }, false, map[string]string{"allowed_origins[0]": "origin"}},
		{"origin port", func(u *assistants.Update) { u.AllowedOrigins = []string{"http://localhost:99999"} }, false, map[string]string{"allowed_origins[0]": "port"}},
		{"origin twice", func(u *assistants.Update) { u.AllowedOrigins = []string{"https://A.example", "https://a.example/"} }, false, map[string]string{"allowed_origins[1]": "twice"}},
		{"colour", func(u *assistants.Update) { u.Widget.Color = "red" }, false, map[string]string{"color": "#1a2b3c"}},
		{"colour short", func(u *assistants.Update) { u.Widget.Color = "#fff" }, false, map[string]string{"color": "#1a2b3c"}},
		{"phone id digits", func(u *assistants.Update) { u.WhatsAppPhoneNumberID = "+1 555"; u.AccessToken = "tok" }, false,
			map[string]string{"whatsapp_phone_number_id": "digits"}},
		{"token needed", func(u *assistants.Update) { u.WhatsAppPhoneNumberID = "123" }, false, map[string]string{"whatsapp_access_token": "required"}},
		{"stored token kept", func(u *assistants.Update) { u.WhatsAppPhoneNumberID = "123" }, true, nil},
		{"token without id", func(u *assistants.Update) { u.AccessToken = "tok" }, false, map[string]string{"whatsapp_phone_number_id": "required"}},
		{"token spaces", func(u *assistants.Update) { u.WhatsAppPhoneNumberID = "1"; u.AccessToken = "a b" }, false, map[string]string{"whatsapp_access_token": "spaces"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := valid()
			tc.change(&u)
			es := u.Validate(tc.stored)
			if len(es) != len(tc.want) {
				t.Fatalf("errors %v, want %v", es, tc.want)
			}
			for f, part := range tc.want {
				if msg := es.Get(f); !strings.Contains(msg, part) {
					t.Errorf("%s: %q, want it to contain %q (all: %v)", f, msg, part, es)
				}
			}
		})
	}
}

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Shop.Example.com":  "https://shop.example.com",
		"HTTP://localhost:3000/":    "http://localhost:3000",
		" http://127.0.0.1:8080 ":   "http://127.0.0.1:8080",
		"http://[::1]:3000":         "http://[::1]:3000",
		"https://shop.example.com:": "",
		"https://user@shop.example": "",
		"https://shop.example#x":    "",
		"//shop.example":            "",
		"https://":                  "",
		"javascript:alert(1)":       "",
	} {
		got, err := assistants.NormalizeOrigin(in)
		if want == "" {
			if err == nil {
				t.Errorf("%q: accepted as %q", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	if !assistants.OriginAllowed([]string{"https://shop.example.com"}, "https://SHOP.example.com") {
		t.Error("origin compared case-sensitively")
	}
	if assistants.OriginAllowed([]string{"https://shop.example.com"}, "https://shop.example.com.evil.test") {
		t.Error("suffix accepted")
	}
}

func TestApplyAndDecodeRoundTrip(t *testing.T) {
	k, err := auth.DeriveKeys("test-secret-key-0123456789abcdef0123456789")
	if err != nil {
		t.Fatal(err)
	}
	u := valid()
	u.Name = "  Sales  "
	u.Widget = model.Widget{Title: "Hi", Color: "#AABBCC"}
	u.WhatsAppPhoneNumberID, u.AccessToken = "12345", "EAAG-secret"
	u.AllowedOrigins = []string{"https://Shop.example.com/"}
	if es := u.Validate(false); len(es) > 0 {
		t.Fatal(es)
	}
	row := &store.Assistant{ID: 7, WorkspaceID: 3, WidgetSettings: store.WidgetSettings{Widget: model.Widget{Color: "#000000"},
		Other: map[string]json.RawMessage{"position": json.RawMessage(`"left"`)}}}
	if err := u.Apply(row, k); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row.WhatsAppAccessTokenEnc, "secret") || row.WhatsAppAccessTokenEnc == "" {
		t.Fatalf("token stored as %q", row.WhatsAppAccessTokenEnc)
	}
	if tok, err := assistants.AccessToken(k, row); err != nil || tok != "EAAG-secret" {
		t.Fatalf("token decrypts to %q %v", tok, err)
	}
	raw, err := row.WidgetSettings.Value()
	var ws map[string]string
	if err != nil || json.Unmarshal([]byte(raw.(string)), &ws) != nil || ws["position"] != "left" || ws["color"] != "#aabbcc" || ws["title"] != "Hi" {
		t.Fatalf("widget settings %v %v", raw, err)
	}
	a := row.AsModel()
	if a.Name != "Sales" || !a.WhatsAppConnected() || a.WhatsAppPhoneNumberID != "12345" || a.AllowedOrigins[0] != "https://shop.example.com" {
		t.Fatalf("decoded %+v", a)
	}
	if v, ok := a.Variable("plan"); !ok || v.Type != "enum" || len(v.Options) != 2 {
		t.Fatalf("variable plan: %+v", v)
	}
	if a.PrechatFields[0].Fills() != "email" {
		t.Fatalf("prechat fills %q", a.PrechatFields[0].Fills())
	}

	// A blank token keeps the stored one; no phone number id removes both.
	enc := row.WhatsAppAccessTokenEnc
	u.AccessToken = ""
	if es := u.Validate(true); len(es) > 0 {
		t.Fatal(es)
	}
	if err := u.Apply(row, k); err != nil || row.WhatsAppAccessTokenEnc != enc {
		t.Fatalf("token changed: %v", err)
	}
	u.WhatsAppPhoneNumberID = ""
	if es := u.Validate(true); len(es) > 0 {
		t.Fatal(es)
	}
	if err := u.Apply(row, k); err != nil || row.WhatsAppAccessTokenEnc != "" || row.WhatsAppPhoneNumberID != nil {
		t.Fatalf("connection not removed: %+v %v", row, err)
	}
}
