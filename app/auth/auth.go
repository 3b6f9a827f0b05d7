// Package auth holds the rules for passwords, API keys and the keys derived from
// PARLEY_SECRET_KEY. It knows nothing of HTTP.
package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 8

// HashPassword hashes a password with bcrypt.
func HashPassword(pw string) (string, error) {
	if len(pw) < MinPasswordLength {
		return "", fmt.Errorf("password must be at least %d characters", MinPasswordLength)
	}
	if len(pw) > 72 {
		return "", errors.New("password must be at most 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(h), err
}

// CheckPassword reports whether pw matches hash.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// dummyHash is compared against when a user does not exist, so that a login for an unknown
// email takes as long as one with a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("parley-dummy-password"), bcrypt.DefaultCost)

// BurnPasswordCheck spends the time of one password check.
func BurnPasswordCheck(pw string) { _ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pw)) }

// APIKeyPrefix starts every API key, so that leaked keys are easy to recognise.
const APIKeyPrefix = "pk_live_"

// NewAPIKey returns a new random key, the short prefix shown in lists, and the hash stored.
func NewAPIKey() (key, displayPrefix, hash string, err error) {
	raw := make([]byte, 24)
	if _, err = rand.Read(raw); err != nil {
		return
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	displayPrefix = key[:len(APIKeyPrefix)+6]
	hash = HashAPIKey(key)
	return
}

// HashAPIKey is the stored form of a key: SHA-256 (keys are random, so no salt or slow hash is
// needed; lookups stay one indexed query).
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	return hex.EncodeToString(sum[:])
}

// Keys are the independent keys derived from PARLEY_SECRET_KEY with HKDF-SHA256.
type Keys struct {
	Encryption []byte // AES-256-GCM key for stored credentials
	Signing    []byte // HMAC key for tokens (widget sessions, ...)
}

// DeriveKeys derives the product's keys from the secret.
func DeriveKeys(secret string) (*Keys, error) {
	if len(secret) < 32 {
		return nil, errors.New("secret key must be at least 32 characters")
	}
	d := func(info string) ([]byte, error) {
		return hkdf.Key(sha256.New, []byte(secret), []byte("parley"), info, 32)
	}
	k := &Keys{}
	var err error
	if k.Encryption, err = d("encryption"); err != nil {
		return nil, err
	}
	if k.Signing, err = d("signing"); err != nil {
		return nil, err
	}
	return k, nil
}

// Encrypt seals plaintext with AES-256-GCM; the result is base64 (nonce || ciphertext).
func (k *Keys) Encrypt(plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	gcm, err := k.gcm()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(plaintext), nil)), nil
}

// Decrypt opens a value sealed by Encrypt.
func (k *Keys) Decrypt(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("decrypt: %w", err)
	}
	gcm, err := k.gcm()
	if err != nil {
		return "", err
	}
	if len(raw) < gcm.NonceSize() {
		return "", errors.New("decrypt: value too short")
	}
	pt, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], nil)
	if err != nil {
		return "", errors.New("decrypt: wrong key or corrupted value")
	}
	return string(pt), nil
}

func (k *Keys) gcm() (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.Encryption)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
