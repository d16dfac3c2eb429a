package admission

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// VisitorSecretHeader carries the visitor's secret for apps that keep no cookies: the same
// value the VisitorCookieName cookie holds for browsers. Apps make one secret per install
// (at least 32 characters of A-Z a-z 0-9 - _, for example 16 random bytes in hex) and send it
// with every foyer request and every request to the protected site.
const VisitorSecretHeader = "Foyer-Visitor-Secret"

// strictB64 refuses non-zero padding bits, so each commitment has one spelling.
var strictB64 = base64.RawURLEncoding.Strict()

// commitmentLen is the length of a Commitment: base64url of 32 bytes, unpadded.
const commitmentLen = 43

// Commitment returns base64url(SHA-256(secret)), unpadded: what an admission token's cnf
// carries for a secret, and what a token-mode site passes to foyer as "bind" for its own
// session (so that the token only works with that session).
func Commitment(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Confirms reports, in constant time, whether secret is the one the token is bound to. A
// token without a confirmation confirms nothing.
func (c Claims) Confirms(secret string) bool {
	if secret == "" || len(c.Confirmation) != commitmentLen {
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	var want [32]byte
	if n, err := strictB64.Decode(want[:], []byte(c.Confirmation)); err != nil || n != 32 {
		return false
	}
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

// ValidCommitment accepts exactly what Commitment makes (a token-mode site's bind value).
func ValidCommitment(s string) bool { return validCommitment([]byte(s)) }

// validCommitment accepts exactly what Commitment makes.
func validCommitment(b []byte) bool {
	if len(b) != commitmentLen {
		return false
	}
	var out [32]byte
	n, err := strictB64.Decode(out[:], b)
	return err == nil && n == 32
}

// ValidVisitorSecret accepts a visitor secret: 32 to 128 characters of A-Z a-z 0-9 - _.
func ValidVisitorSecret(s string) bool {
	if len(s) < 32 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
