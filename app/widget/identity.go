package widget

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// A visitor id alone proves nothing: the loader makes one at random, but anyone can type one
// into a URL or a request, and integrators may use their own customer numbers. Only two things
// resume a conversation: the session token Parley issued for it, and a visitor id signed by
// the site with the assistant's identity secret (computed on the site's server, never in the
// browser):
//
//	visitor_hash = hex(HMAC-SHA256(key = identity secret, message = visitor_id))

// Identity outcomes of a session request.
var (
	// ErrIdentityRequired: the assistant requires a verified visitor id and none was proven.
	ErrIdentityRequired = errors.New("this assistant requires a verified visitor id")
)

// VisitorHash is the hash a site sends with a visitor id: hex HMAC-SHA256(secret, visitor).
func VisitorHash(secret, visitor string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(visitor))
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyVisitor reports whether hash is the visitor id's hash under secret (compared in
// constant time, case-insensitively). An empty secret verifies nothing: a key everyone knows
// would let anyone sign any id.
func VerifyVisitor(secret, visitor, hash string) bool {
	if secret == "" || visitor == "" || hash == "" {
		return false
	}
	got, err := hex.DecodeString(strings.ToLower(strings.TrimSpace(hash)))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(visitor))
	return hmac.Equal(got, h.Sum(nil))
}

// Identity is who a session request says its visitor is, after verification.
type Identity struct {
	// Visitor is the visitor id the new conversation is recorded under: the verified id, or
	// a fresh random one when none was proven.
	Visitor string
	// Verified reports a visitor id proven with the identity secret: only then is the
	// visitor's open conversation resumed.
	Verified bool
}

// Identify decides who a session request's visitor is. A visitor id with a valid hash is
// verified. Anything else (no id, no hash, a wrong hash, a hash made with a rotated secret)
// is refused with ErrIdentityRequired when the assistant requires verified identity, and is
// otherwise anonymous: a fresh random visitor id that shares nothing with the id sent.
func Identify(secret string, required bool, visitor, hash string) (Identity, error) {
	if visitor != "" && VerifyVisitor(secret, visitor, hash) {
		return Identity{Visitor: visitor, Verified: true}, nil
	}
	if required {
		return Identity{}, ErrIdentityRequired
	}
	return Identity{Visitor: NewVisitorID()}, nil
}
