package widget_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/widget"
)

func TestVisitorHash(t *testing.T) {
	const secret, visitor = "s3cr3t-0123456789abcdef", "customer-4711"
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(visitor))
	want := hex.EncodeToString(h.Sum(nil))
	if got := widget.VisitorHash(secret, visitor); got != want {
		t.Fatalf("hash %s, want %s", got, want)
	}
	cases := []struct {
		name, secret, visitor, hash string
		ok                          bool
	}{
		{"the hash", secret, visitor, want, true},
		{"upper case hex", secret, visitor, strings.ToUpper(want), true},
		{"another visitor", secret, "customer-4712", want, false},
		{"another secret", "rotated", visitor, want, false},
		{"empty secret", "", visitor, widget.VisitorHash("", visitor), false},
		{"no hash", secret, visitor, "", false},
		{"truncated", secret, visitor, want[:62], false},
		{"not hex", secret, visitor, strings.Repeat("z", 64), false},
		{"raw bytes as text", secret, visitor, string(h.Sum(nil)), false},
	}
	for _, tc := range cases {
		if got := widget.VerifyVisitor(tc.secret, tc.visitor, tc.hash); got != tc.ok {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestIdentify(t *testing.T) {
	const secret, visitor = "s3cr3t", "customer-4711"
	good := widget.VisitorHash(secret, visitor)
	if id, err := widget.Identify(secret, true, visitor, good); err != nil || !id.Verified || id.Visitor != visitor {
		t.Fatalf("verified: %+v %v", id, err)
	}
	for _, hash := range []string{"", "00"} {
		if _, err := widget.Identify(secret, true, visitor, hash); !errors.Is(err, widget.ErrIdentityRequired) {
			t.Fatalf("required, hash %q: %v", hash, err)
		}
		id, err := widget.Identify(secret, false, visitor, hash)
		if err != nil || id.Verified || id.Visitor == visitor || !widget.ValidVisitorID(id.Visitor) {
			t.Fatalf("anonymous, hash %q: %+v %v", hash, id, err)
		}
	}
	if _, err := widget.Identify(secret, true, "", ""); !errors.Is(err, widget.ErrIdentityRequired) {
		t.Fatal("no visitor id with identity required")
	}
}
