package admission

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Fuzz modes: how the fuzzer's header and claims become a token.
const (
	fuzzSignEd      = iota // signed by the Ed25519 key "ed"
	fuzzSignHS             // signed by the HS256 key "hs"
	fuzzConfusion          // HS256 MAC keyed with the Ed25519 public key: must never pass
	fuzzNoSignature        // empty signature
	fuzzRaw                // header is the whole token
	fuzzModes
)

// FuzzVerify feeds Verify tokens built from arbitrary headers and claims, validly signed or
// not. Verify must never panic, and whatever it accepts must satisfy the rules, checked here
// independently with encoding/json: an accepted alg and the kid's own alg, never "none"; exp
// present and not past; aud naming the room; iss the expected issuer; size within bounds.
// Seeds live in testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	claims := `{"iss":"foyer","aud":"biff-2026","sub":"v1","jti":"l1","iat":1790863200,"exp":1790863800}`
	f.Add(`{"alg":"EdDSA","kid":"ed","typ":"JWT"}`, claims, uint8(fuzzSignEd))
	f.Add(`{"alg":"HS256","kid":"hs"}`, claims, uint8(fuzzSignHS))
	f.Add(`{"alg":"HS256","kid":"ed"}`, claims, uint8(fuzzConfusion))
	f.Add(`{"alg":"none","kid":"ed"}`, claims, uint8(fuzzNoSignature))

	ed, err := NewEd25519Key("ed", ed25519.NewKeyFromSeed(testEdSeed))
	if err != nil {
		f.Fatal(err)
	}
	hs, err := NewHMACKey("hs", testSecret)
	if err != nil {
		f.Fatal(err)
	}
	ks, err := NewKeySet(ed, hs)
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewVerifier(ks, VerifierOptions{})
	if err != nil {
		f.Fatal(err)
	}
	edPub := []byte(ed.public.(ed25519.PublicKey))
	enc := base64.RawURLEncoding

	f.Fuzz(func(t *testing.T, header, payload string, mode uint8) {
		signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
		var token string
		switch mode % fuzzModes {
		case fuzzSignEd:
			sig, _ := jwt.SigningMethodEdDSA.Sign(signing, ed.private)
			token = signing + "." + enc.EncodeToString(sig)
		case fuzzSignHS:
			sig, _ := jwt.SigningMethodHS256.Sign(signing, testSecret)
			token = signing + "." + enc.EncodeToString(sig)
		case fuzzConfusion:
			sig, _ := jwt.SigningMethodHS256.Sign(signing, edPub)
			token = signing + "." + enc.EncodeToString(sig)
		case fuzzNoSignature:
			token = signing + "."
		case fuzzRaw:
			token = header
		}
		room := testRoom
		if strings.Contains(payload, `"aud":"r"`) {
			room = "r"
		}
		c, err := v.Verify(token, room, testNow)
		if err != nil {
			if mode%fuzzModes == fuzzRaw {
				return
			}
			if c != (Claims{}) && ErrorCode(err) != "token_expired" && ErrorCode(err) != "token_not_yet_valid" {
				t.Fatalf("claims returned with %v", err)
			}
			return
		}
		switch mode % fuzzModes {
		case fuzzConfusion, fuzzNoSignature:
			t.Fatalf("accepted a token with mode %d: %s", mode%fuzzModes, token)
		}
		checkAccepted(t, ks, token, room, c)
	})
}

// checkAccepted re-checks an accepted token with encoding/json.
func checkAccepted(t *testing.T, ks *KeySet, token, room string, c Claims) {
	t.Helper()
	if len(token) > DefaultMaxTokenBytes {
		t.Fatalf("accepted a token of %d bytes", len(token))
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted a token of %d parts", len(parts))
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatalf("accepted header is not base64url: %v", err)
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("accepted claims are not base64url: %v", err)
	}
	var hdr map[string]any
	if err := json.Unmarshal(hb, &hdr); err != nil {
		t.Fatalf("accepted header encoding/json refuses: %v: %q", err, hb)
	}
	alg, _ := hdr["alg"].(string)
	kid, _ := hdr["kid"].(string)
	key, err := ks.Key(kid)
	if err != nil {
		t.Fatalf("accepted unknown kid %q", kid)
	}
	if alg == "none" || Algorithm(alg) != key.alg || c.Algorithm != key.alg || c.KeyID != kid {
		t.Fatalf("accepted alg %q for key %q (%s); claims say %s/%s", alg, kid, key.alg, c.Algorithm, c.KeyID)
	}
	if _, crit := hdr["crit"]; crit {
		t.Fatal("accepted a header with crit")
	}
	var m map[string]any
	if err := json.Unmarshal(pb, &m); err != nil {
		t.Fatalf("accepted claims encoding/json refuses: %v: %q", err, pb)
	}
	exp, ok := m["exp"].(float64)
	if !ok {
		t.Fatalf("accepted without a numeric exp: %q", pb)
	}
	now := float64(testNow.Unix())
	if now >= exp+DefaultLeeway.Seconds() {
		t.Fatalf("accepted expired: exp %v, now %v", exp, now)
	}
	if math.Abs(float64(c.ExpiresAt.Unix())-exp) >= 1 {
		t.Fatalf("exp %v read as %v", exp, c.ExpiresAt.Unix())
	}
	if nbf, ok := m["nbf"].(float64); ok && nbf > now+DefaultLeeway.Seconds() {
		t.Fatalf("accepted before nbf %v", nbf)
	}
	if iat, ok := m["iat"].(float64); ok && iat > now+DefaultLeeway.Seconds() {
		t.Fatalf("accepted before iat %v", iat)
	}
	switch aud := m["aud"].(type) {
	case string:
		if aud != room {
			t.Fatalf("accepted aud %q for room %q", aud, room)
		}
	case []any:
		found := false
		for _, a := range aud {
			if a == room {
				found = true
			}
		}
		if !found {
			t.Fatalf("accepted aud %v for room %q", aud, room)
		}
	default:
		t.Fatalf("accepted aud %#v", m["aud"])
	}
	if m["iss"] != DefaultIssuer {
		t.Fatalf("accepted iss %#v", m["iss"])
	}
	if m["sub"] != c.Visitor || m["jti"] != c.JTI || c.Visitor == "" || c.JTI == "" {
		t.Fatalf("sub/jti %#v/%#v read as %q/%q", m["sub"], m["jti"], c.Visitor, c.JTI)
	}
	if c.Room != room || !c.ExpiresAt.After(testNow.Add(-DefaultLeeway-time.Second)) {
		t.Fatalf("claims %+v", c)
	}
}
