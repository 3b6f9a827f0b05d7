package whatsapp_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/whatsapp"
)

// Fuzz targets of the webhook's wire format. The seeds are Meta's real payloads
// (testdata/*.json, the same files as the shared fixtures) with their signatures, plus the
// odd shapes the unit tests name. `.ci/fuzz` runs them for longer.

// fuzzFixtures returns every JSON fixture of testdata.
func fuzzFixtures(f *testing.F) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no fixtures in testdata: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzVerifySignature checks that X-Hub-Signature-256 verification accepts exactly the
// headers that carry the HMAC-SHA256 of the body under the secret: a signature made by Sign
// verifies, and any change to the body, the signature or the secret does not.
func FuzzVerifySignature(f *testing.F) {
	const secret = "wh-app-secret"
	for _, b := range fuzzFixtures(f) {
		f.Add(secret, b, whatsapp.Sign(secret, b), uint(17), byte(1))
		f.Add(secret, b, "sha256=", uint(3), byte(0x80))
	}
	f.Add("", []byte(`{}`), whatsapp.Sign("", []byte(`{}`)), uint(0), byte(1))
	f.Add("s", []byte{}, " "+strings.ToUpper(whatsapp.Sign("s", nil))+"\t", uint(0), byte(2))
	f.Add("s", []byte("x"), "sha256="+strings.Repeat("0", 64), uint(1), byte(4))
	f.Add("s", []byte("x"), "sha1=abc", uint(1), byte(4))
	f.Add("s", []byte("x"), "sha256=zz", uint(1), byte(4))

	f.Fuzz(func(t *testing.T, secret string, body []byte, header string, pos uint, flip byte) {
		// The oracle, written independently of the code: "sha256=" then the hex of the MAC (hex
		// is case-insensitive), surrounding spaces allowed; an empty secret never verifies.
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		mac := hex.EncodeToString(m.Sum(nil))
		h := strings.TrimSpace(header)
		want := secret != "" && strings.HasPrefix(h, "sha256=") && strings.EqualFold(h[len("sha256="):], mac)
		err := whatsapp.VerifySignature(secret, body, header)
		if (err == nil) != want {
			t.Fatalf("VerifySignature(%q, %q, %q) = %v, want accepted=%v", secret, body, header, err, want)
		}
		if err != nil && !errors.Is(err, whatsapp.ErrBadSignature) {
			t.Fatalf("error %v is not ErrBadSignature", err)
		}

		sig := whatsapp.Sign(secret, body)
		if secret == "" {
			if whatsapp.VerifySignature(secret, body, sig) == nil {
				t.Fatal("an empty secret verified")
			}
			return
		}
		if err := whatsapp.VerifySignature(secret, body, sig); err != nil {
			t.Fatalf("Sign's own signature refused: %v", err)
		}
		if flip != 0 && len(body) > 0 {
			mut := bytes.Clone(body)
			mut[pos%uint(len(body))] ^= flip
			if whatsapp.VerifySignature(secret, mut, sig) == nil {
				t.Fatalf("a changed body verified (byte %d ^ %#x)", pos%uint(len(body)), flip)
			}
		}
		if whatsapp.VerifySignature(secret, append(bytes.Clone(body), flip), sig) == nil {
			t.Fatal("a body with a byte appended verified")
		}
		if whatsapp.VerifySignature(secret+"x", body, sig) == nil {
			t.Fatal("another secret verified")
		}
		// Change one hex digit of the signature to another hex digit.
		i := len("sha256=") + int(pos%64)
		digits := "0123456789abcdef"
		d := digits[(strings.IndexByte(digits, sig[i])+1+int(flip)%15)%16]
		badSig := sig[:i] + string(d) + sig[i+1:]
		if whatsapp.VerifySignature(secret, body, badSig) == nil {
			t.Fatalf("a changed signature verified: %s", badSig)
		}
		if whatsapp.VerifySignature(secret, body, sig[:len(sig)-2]) == nil {
			t.Fatal("a truncated signature verified")
		}
	})
}

// FuzzSplit checks the payload parser: no panic; a body that is not one JSON value is
// ErrMalformed; otherwise every event has a kind, a non-empty provider id that the database
// can store (valid UTF-8, no NUL), a payload that is valid JSON and decodes back; ids are
// unique and sorted; the same body always gives the same events.
func FuzzSplit(f *testing.F) {
	for _, b := range fuzzFixtures(f) {
		f.Add(b)
	}
	for _, s := range []string{
		``, `{`, `nonsense`, `[1,2]`, `null`, `{}`, `{"entry":"x"}`, `{"entry":[]} {"entry":[]}`,
		`{"entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":"oops"}}]}]}`,
		`{"entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[null,1,"x",{}],"statuses":[{},{"id":"w"}]}}]}]}`,
		`{"entry":[{"id":"1","changes":[{"field":"account_update","value":null},{"field":"x"}]}]}`,
		// Ids the database cannot keep as they are (NUL, longer than the unique index allows).
		`{"entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"id":"\u0000","from":"1"}]}}]}]}`,
		`{"entry":[{"id":"1","changes":[{"field":"messages","value":{"statuses":[{"id":"w","status":"read\u0000"}]}}]}]}`,
		`{"entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"id":"` + strings.Repeat("w", 3000) + `"}]}}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := whatsapp.Split(body)
		if err != nil {
			if !errors.Is(err, whatsapp.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			if evs != nil {
				t.Fatal("events beside an error")
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("a body that is not JSON was accepted: %q", body)
		}
		seen := map[string]bool{}
		for i, ev := range evs {
			switch ev.Kind {
			case whatsapp.KindMessage, whatsapp.KindStatus, whatsapp.KindChange:
			default:
				t.Fatalf("event %d: kind %q", i, ev.Kind)
			}
			if ev.ProviderID == "" || len(ev.ProviderID) > 300 {
				t.Fatalf("event %d (%s): provider id of %d bytes", i, ev.Kind, len(ev.ProviderID))
			}
			if !utf8.ValidString(ev.ProviderID) || strings.ContainsRune(ev.ProviderID, 0) {
				t.Fatalf("event %d: provider id %q cannot be stored as text", i, ev.ProviderID)
			}
			if seen[ev.ProviderID] {
				t.Fatalf("provider id %q twice", ev.ProviderID)
			}
			seen[ev.ProviderID] = true
			if i > 0 && evs[i-1].ProviderID > ev.ProviderID {
				t.Fatal("events not sorted by provider id")
			}
			if !json.Valid(ev.Payload) || !utf8.Valid(ev.Payload) || bytes.IndexByte(ev.Payload, 0) >= 0 {
				t.Fatalf("event %d: payload cannot be stored as text: %q", i, ev.Payload)
			}
			p, err := whatsapp.DecodeEvent(string(ev.Payload))
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			switch ev.Kind {
			case whatsapp.KindMessage:
				if len(p.Message) == 0 {
					t.Fatalf("message event %d without its message", i)
				}
				var m whatsapp.Message
				if json.Unmarshal(p.Message, &m) == nil {
					_, typ := whatsapp.Content(&m)
					if typ == "" {
						t.Fatalf("message event %d: empty content type", i)
					}
				}
				_ = p.Sender()
			case whatsapp.KindStatus:
				if len(p.Status) == 0 {
					t.Fatalf("status event %d without its status", i)
				}
			}
		}
		again, err := whatsapp.Split(body)
		if err != nil || len(again) != len(evs) {
			t.Fatalf("second split differs: %v, %d events, want %d", err, len(again), len(evs))
		}
		for i := range evs {
			if again[i].ProviderID != evs[i].ProviderID || again[i].Kind != evs[i].Kind || !bytes.Equal(again[i].Payload, evs[i].Payload) {
				t.Fatalf("event %d differs on a second split", i)
			}
		}
	})
}
