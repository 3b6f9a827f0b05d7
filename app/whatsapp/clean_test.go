package whatsapp

import "testing"

// A customer's text is kept whatever it holds: what no database stores becomes U+FFFD.
func TestContentCleansNULAndInvalidUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"plain <b>text</b>":   "plain <b>text</b>",
		"nul \x00 byte":       "nul \uFFFD byte",
		"bad \xff\xfe bytes":  "bad \uFFFD\uFFFD bytes",
		"overlong \xc0\xaf /": "overlong \uFFFD\uFFFD /",
		"emoji \U0001F600":    "emoji \U0001F600",
	} {
		m := &Message{Type: "text", Text: &struct {
			Body string `json:"body"`
		}{Body: in}}
		if got, typ := Content(m); got != want || typ != "text" {
			t.Errorf("Content(%q) = %q %q, want %q", in, got, typ, want)
		}
	}
}
