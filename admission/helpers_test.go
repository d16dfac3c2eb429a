package admission

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Fixed material, so that tests (and fuzzing) are reproducible.
var (
	testEdSeed  = []byte("foyer-admission-test-ed25519-key")
	testSecret  = []byte("foyer-admission-test-hs256-secret!!")
	testNow     = time.Date(2026, 10, 1, 14, 0, 0, 0, time.UTC)
	testRoom    = "biff-2026"
	testVisitor = "4f1c9a2be8d34c51a0b6e7d9c2f3a415"
	testJTI     = "lease-7c1e2a9f"
	// testVisitorSecret is what the visitor cookie holds; tokens carry only its Commitment.
	testVisitorSecret = "9b0d6c1e3f2a4b5c8d7e6f5a4b3c2d1e"
)

func testEdKey(t testing.TB, kid string) *Key {
	t.Helper()
	k, err := NewEd25519Key(kid, ed25519.NewKeyFromSeed(testEdSeed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testHSKey(t testing.TB, kid string) *Key {
	t.Helper()
	k, err := NewHMACKey(kid, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	rsaOnce sync.Once
	rsaPriv *rsa.PrivateKey
)

// testRSAKey returns an RS256 key; the RSA key is generated once per test binary.
func testRSAKey(t testing.TB, kid string) *Key {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsaPriv, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	k, err := NewRSAKey(kid, rsaPriv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testKey(t testing.TB, alg Algorithm, kid string) *Key {
	t.Helper()
	switch alg {
	case EdDSA:
		return testEdKey(t, kid)
	case RS256:
		return testRSAKey(t, kid)
	case HS256:
		return testHSKey(t, kid)
	}
	t.Fatalf("no test key for %q", alg)
	return nil
}

func testClaims() Claims {
	return Claims{
		Room:         testRoom,
		Visitor:      testVisitor,
		Confirmation: Commitment(testVisitorSecret),
		JTI:          testJTI,
		IssuedAt:     testNow,
		ExpiresAt:    testNow.Add(10 * time.Minute),
	}
}

func mustKeySet(t testing.TB, signing *Key, rest ...*Key) *KeySet {
	t.Helper()
	ks, err := NewKeySet(signing, rest...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func mustIssue(t testing.TB, ks *KeySet, c Claims) string {
	t.Helper()
	is, err := NewIssuer(ks, "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := is.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func mustVerifier(t testing.TB, keys KeySource, opts VerifierOptions) *Verifier {
	t.Helper()
	v, err := NewVerifier(keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func jsonText(t testing.TB, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// forge builds a token from any header and claims (maps, or raw JSON strings), signed with
// method and key: the attacker's tool.
func forge(t testing.TB, header, claims any, method jwt.SigningMethod, key any) string {
	t.Helper()
	signing := b64(jsonText(t, header)) + "." + b64(jsonText(t, claims))
	if method == nil {
		return signing + "."
	}
	sig, err := method.Sign(signing, key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// goodClaims are valid claims as a map, for forge.
func goodClaims() map[string]any {
	return map[string]any{
		"iss": DefaultIssuer, "aud": testRoom, "sub": testVisitor, "jti": testJTI,
		"iat": testNow.Unix(), "nbf": testNow.Unix(), "exp": testNow.Add(10 * time.Minute).Unix(),
	}
}

// drop, as a value for with, removes the claim.
type drop struct{}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if _, ok := kv[i+1].(drop); ok {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

var strictURL = base64.RawURLEncoding.Strict()
