package auth

import (
	"strings"
	"testing"
)

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct-horse") || CheckPassword(h, "correct-horsE") || strings.Contains(h, "correct") {
		t.Fatal("bcrypt round trip")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("short passwords are refused")
	}
	if _, err := HashPassword(strings.Repeat("x", 73)); err == nil {
		t.Fatal("passwords past bcrypt's 72 bytes are refused, not truncated")
	}
}

func TestAPIKeys(t *testing.T) {
	k1, p1, h1, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _, h2, _ := NewAPIKey()
	if k1 == k2 || h1 == h2 || !strings.HasPrefix(k1, APIKeyPrefix) || !strings.HasPrefix(k1, p1) || len(p1) >= len(k1) {
		t.Fatalf("keys: %q %q prefix %q", k1, k2, p1)
	}
	if HashAPIKey(k1) != h1 || HashAPIKey(" "+k1+" ") != h1 || strings.Contains(h1, k1) {
		t.Fatal("hash is stable and not the key")
	}
}

func TestEncryption(t *testing.T) {
	k, err := DeriveKeys(strings.Repeat("a", 32))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := DeriveKeys(strings.Repeat("b", 32))
	sealed, err := k.Encrypt("EAAG-access-token")
	if err != nil || strings.Contains(sealed, "EAAG") {
		t.Fatalf("sealed %q %v", sealed, err)
	}
	again, _ := k.Encrypt("EAAG-access-token")
	if again == sealed {
		t.Fatal("a fresh nonce each time")
	}
	if pt, err := k.Decrypt(sealed); err != nil || pt != "EAAG-access-token" {
		t.Fatalf("decrypt: %q %v", pt, err)
	}
	if _, err := other.Decrypt(sealed); err == nil {
		t.Fatal("another key cannot decrypt")
	}
	if _, err := k.Decrypt(sealed[:len(sealed)-4] + "AAAA"); err == nil {
		t.Fatal("tampering is detected")
	}
	if string(k.Encryption) == string(k.Signing) {
		t.Fatal("derived keys are independent")
	}
	if _, err := DeriveKeys("short"); err == nil {
		t.Fatal("short secrets are refused")
	}
}
