package admission

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	for _, alg := range []Algorithm{EdDSA, RS256, HS256} {
		t.Run(string(alg), func(t *testing.T) {
			ks := mustKeySet(t, testKey(t, alg, "k1"))
			tok := mustIssue(t, ks, testClaims())
			v := mustVerifier(t, ks, VerifierOptions{})
			got, err := v.Verify(tok, testRoom, testNow.Add(time.Minute))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := testClaims()
			want.Issuer, want.NotBefore, want.KeyID, want.Algorithm = DefaultIssuer, want.IssuedAt, "k1", alg
			if !claimsEqual(got, want) {
				t.Fatalf("claims = %+v\nwant     %+v", got, want)
			}
			hdr, _, _ := strings.Cut(tok, ".")
			if want := b64(`{"alg":"` + string(alg) + `","kid":"k1","typ":"JWT"}`); hdr != want {
				t.Fatalf("header = %s, want %s", hdr, want)
			}
		})
	}
}

func claimsEqual(a, b Claims) bool {
	return a.Issuer == b.Issuer && a.Room == b.Room && a.Visitor == b.Visitor && a.JTI == b.JTI &&
		a.IssuedAt.Equal(b.IssuedAt) && a.NotBefore.Equal(b.NotBefore) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.KeyID == b.KeyID && a.Algorithm == b.Algorithm
}

// Our tokens are ordinary JWTs: golang-jwt's own parser accepts them, and we accept its tokens.
func TestInteropWithGolangJWT(t *testing.T) {
	for _, alg := range []Algorithm{EdDSA, RS256, HS256} {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg, "k1")
			ks := mustKeySet(t, k)
			tok := mustIssue(t, ks, testClaims())
			var rc jwt.RegisteredClaims
			_, err := jwt.ParseWithClaims(tok, &rc, func(tk *jwt.Token) (any, error) {
				if tk.Header["kid"] != "k1" {
					t.Errorf("kid = %v", tk.Header["kid"])
				}
				return k.public, nil
			}, jwt.WithValidMethods([]string{string(alg)}), jwt.WithAudience(testRoom), jwt.WithIssuer(DefaultIssuer),
				jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return testNow }))
			if err != nil {
				t.Fatalf("golang-jwt refused our token: %v", err)
			}
			if rc.Subject != testVisitor || rc.ID != testJTI {
				t.Fatalf("golang-jwt read sub %q jti %q", rc.Subject, rc.ID)
			}

			theirs := jwt.NewWithClaims(alg.method(), jwt.RegisteredClaims{
				Issuer: DefaultIssuer, Subject: testVisitor, Audience: jwt.ClaimStrings{testRoom}, ID: testJTI,
				ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(testNow),
			})
			theirs.Header["kid"] = "k1"
			s, err := theirs.SignedString(k.private)
			if err != nil {
				t.Fatal(err)
			}
			c, err := mustVerifier(t, ks, VerifierOptions{}).Verify(s, testRoom, testNow)
			if err != nil {
				t.Fatalf("we refused golang-jwt's token: %v", err)
			}
			if c.Visitor != testVisitor || c.JTI != testJTI || c.Room != testRoom {
				t.Fatalf("claims = %+v", c)
			}
		})
	}
}

func TestVerifyRefusals(t *testing.T) {
	ed := testEdKey(t, "ed")
	rs := testRSAKey(t, "rs")
	hs := testHSKey(t, "hs")
	ks := mustKeySet(t, ed, rs, hs)
	v := mustVerifier(t, ks, VerifierOptions{})
	good := mustIssue(t, ks, testClaims())
	edHdr := map[string]any{"alg": "EdDSA", "kid": "ed", "typ": "JWT"}
	hsHdr := map[string]any{"alg": "HS256", "kid": "hs"}
	edPriv := ed.private
	edPubRaw := []byte(ed.public.(ed25519.PublicKey))
	edPubDER, _ := x509.MarshalPKIXPublicKey(ed.public)
	edPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edPubDER})
	rsPubPEM, _ := rs.MarshalPublicPEM()
	otherEd, _ := NewEd25519Key("ed", ed25519.NewKeyFromSeed([]byte("another-seed-of-thirty-two-bytes")))
	exp := testNow.Add(10 * time.Minute)
	lee := DefaultLeeway

	edTok := func(claims any) string { return forge(t, edHdr, claims, jwt.SigningMethodEdDSA, edPriv) }
	hsTok := func(claims any) string { return forge(t, hsHdr, claims, jwt.SigningMethodHS256, testSecret) }
	dot := strings.LastIndexByte(good, '.')
	sig, _ := strictURL.DecodeString(good[dot+1:])
	sig[10] ^= 1
	flipped := good[:dot+1] + strictURL.EncodeToString(sig)
	other := edTok(with(goodClaims(), "sub", "someone-else"))
	swapped := other[:strings.LastIndexByte(other, '.')] + good[dot:]

	tests := []struct {
		name  string
		token string
		room  string
		now   time.Time
		want  error
	}{
		// the baseline and the edges of the time window
		{"valid", good, testRoom, testNow, nil},
		{"valid just before exp+leeway", good, testRoom, exp.Add(lee - time.Second), nil},
		{"expired at exp+leeway", good, testRoom, exp.Add(lee), ErrExpired},
		{"expired long ago", good, testRoom, exp.Add(time.Hour), ErrExpired},
		{"nbf in the future", edTok(with(goodClaims(), "nbf", testNow.Add(time.Minute).Unix())), testRoom, testNow, ErrNotYetValid},
		{"nbf within leeway", edTok(with(goodClaims(), "nbf", testNow.Add(lee).Unix())), testRoom, testNow, nil},
		{"iat in the future", edTok(with(goodClaims(), "iat", testNow.Add(time.Minute).Unix(), "nbf", drop{})), testRoom, testNow, ErrNotYetValid},
		{"fractional exp rounds down", edTok(with(goodClaims(), "exp", float64(testNow.Unix())+0.9)), testRoom, testNow.Add(lee), ErrExpired},
		// audience and issuer
		{"wrong room", good, "other-room", testNow, ErrWrongRoom},
		{"no room given", good, "", testNow, ErrWrongRoom},
		{"aud array with room", edTok(with(goodClaims(), "aud", []string{"x", testRoom})), testRoom, testNow, nil},
		{"aud array without room", edTok(with(goodClaims(), "aud", []string{"x", "y"})), testRoom, testNow, ErrWrongRoom},
		{"aud differs in case", edTok(with(goodClaims(), "aud", "BIFF-2026")), testRoom, testNow, ErrWrongRoom},
		{"wrong issuer", edTok(with(goodClaims(), "iss", "evil")), testRoom, testNow, ErrWrongIssuer},
		{"no issuer", edTok(with(goodClaims(), "iss", drop{})), testRoom, testNow, ErrWrongIssuer},
		// keys
		{"unknown kid", forge(t, map[string]any{"alg": "EdDSA", "kid": "nope"}, goodClaims(), jwt.SigningMethodEdDSA, edPriv), testRoom, testNow, ErrUnknownKey},
		{"no kid", forge(t, map[string]any{"alg": "EdDSA"}, goodClaims(), jwt.SigningMethodEdDSA, edPriv), testRoom, testNow, ErrUnknownKey},
		{"signed by another key with the same kid", forge(t, edHdr, goodClaims(), jwt.SigningMethodEdDSA, otherEd.private), testRoom, testNow, ErrBadSignature},
		{"signature bit flipped", flipped, testRoom, testNow, ErrBadSignature},
		{"signature of another token", swapped, testRoom, testNow, ErrBadSignature},
		{"empty signature", good[:strings.LastIndexByte(good, '.')+1], testRoom, testNow, ErrBadSignature},
		// algorithms
		{"alg none", forge(t, map[string]any{"alg": "none", "kid": "ed"}, goodClaims(), nil, nil), testRoom, testNow, ErrAlgorithm},
		{"alg None", forge(t, map[string]any{"alg": "None", "kid": "ed"}, goodClaims(), nil, nil), testRoom, testNow, ErrAlgorithm},
		{"alg none no kid", forge(t, map[string]any{"alg": "none"}, goodClaims(), nil, nil), testRoom, testNow, ErrAlgorithm},
		{"alg missing", forge(t, map[string]any{"kid": "ed"}, goodClaims(), jwt.SigningMethodEdDSA, edPriv), testRoom, testNow, ErrAlgorithm},
		{"alg HS512", forge(t, map[string]any{"alg": "HS512", "kid": "hs"}, goodClaims(), jwt.SigningMethodHS512, testSecret), testRoom, testNow, ErrAlgorithm},
		{"alg eddsa lower case", forge(t, map[string]any{"alg": "eddsa", "kid": "ed"}, goodClaims(), jwt.SigningMethodEdDSA, edPriv), testRoom, testNow, ErrAlgorithm},
		{"confusion: HS256 with raw ed25519 public key", forge(t, map[string]any{"alg": "HS256", "kid": "ed"}, goodClaims(), jwt.SigningMethodHS256, edPubRaw), testRoom, testNow, ErrAlgorithm},
		{"confusion: HS256 with ed25519 public PEM", forge(t, map[string]any{"alg": "HS256", "kid": "ed"}, goodClaims(), jwt.SigningMethodHS256, edPubPEM), testRoom, testNow, ErrAlgorithm},
		{"confusion: HS256 with RSA public PEM", forge(t, map[string]any{"alg": "HS256", "kid": "rs"}, goodClaims(), jwt.SigningMethodHS256, rsPubPEM), testRoom, testNow, ErrAlgorithm},
		{"confusion: EdDSA header on HS256 key", forge(t, map[string]any{"alg": "EdDSA", "kid": "hs"}, goodClaims(), jwt.SigningMethodEdDSA, edPriv), testRoom, testNow, ErrAlgorithm},
		{"confusion: RS256 header on Ed25519 key", forge(t, map[string]any{"alg": "RS256", "kid": "ed"}, goodClaims(), jwt.SigningMethodRS256, rs.private), testRoom, testNow, ErrAlgorithm},
		// structure
		{"empty", "", testRoom, testNow, ErrMalformed},
		{"two parts", "a.b", testRoom, testNow, ErrMalformed},
		{"four parts", good + ".x", testRoom, testNow, ErrMalformed},
		{"header not base64", "!!!." + good[strings.IndexByte(good, '.')+1:], testRoom, testNow, ErrMalformed},
		{"header padded", b64(`{"alg":"EdDSA","kid":"ed"}`) + "==" + good[strings.IndexByte(good, '.'):], testRoom, testNow, ErrMalformed},
		{"header not JSON", b64("alg=EdDSA") + good[strings.IndexByte(good, '.'):], testRoom, testNow, ErrMalformed},
		{"header with crit", forge(t, map[string]any{"alg": "EdDSA", "kid": "ed", "crit": []string{"exp"}}, goodClaims(), jwt.SigningMethodEdDSA, edPriv), testRoom, testNow, ErrMalformed},
		{"header duplicate alg", forge(t, `{"alg":"EdDSA","kid":"ed","alg":"none"}`, goodClaims(), jwt.SigningMethodEdDSA, edPriv), testRoom, testNow, ErrMalformed},
		{"header typ not JWT", forge(t, map[string]any{"alg": "EdDSA", "kid": "ed", "typ": "at+jwt"}, goodClaims(), jwt.SigningMethodEdDSA, edPriv), testRoom, testNow, ErrMalformed},
		{"too long", good + strings.Repeat("A", DefaultMaxTokenBytes), testRoom, testNow, ErrMalformed},
		{"claims not JSON", edTok("not json"), testRoom, testNow, ErrMalformed},
		{"claims an array", edTok(`[1,2]`), testRoom, testNow, ErrMalformed},
		{"claims trailing data", edTok(jsonText(t, goodClaims()) + "x"), testRoom, testNow, ErrMalformed},
		{"no exp", edTok(with(goodClaims(), "exp", drop{})), testRoom, testNow, ErrMalformed},
		{"exp null", edTok(with(goodClaims(), "exp", nil)), testRoom, testNow, ErrMalformed},
		{"exp as string", edTok(with(goodClaims(), "exp", "9999999999")), testRoom, testNow, ErrMalformed},
		{"exp negative", edTok(with(goodClaims(), "exp", -1)), testRoom, testNow, ErrMalformed},
		{"exp beyond year 9999", edTok(with(goodClaims(), "exp", 1e13)), testRoom, testNow, ErrMalformed},
		{"duplicate exp", edTok(strings.Replace(jsonText(t, goodClaims()), "{", `{"exp":99999999999,`, 1)), testRoom, testNow, ErrMalformed},
		{"escaped duplicate exp", edTok(strings.Replace(jsonText(t, goodClaims()), "{", `{"\u0065xp":99999999999,`, 1)), testRoom, testNow, ErrMalformed},
		{"no aud", edTok(with(goodClaims(), "aud", drop{})), testRoom, testNow, ErrMalformed},
		{"empty aud array", edTok(with(goodClaims(), "aud", []string{})), testRoom, testNow, ErrMalformed},
		{"aud a number", edTok(with(goodClaims(), "aud", 7)), testRoom, testNow, ErrMalformed},
		{"no sub", edTok(with(goodClaims(), "sub", drop{})), testRoom, testNow, ErrMalformed},
		{"no jti", edTok(with(goodClaims(), "jti", drop{})), testRoom, testNow, ErrMalformed},
		{"deeply nested extra claim", edTok(strings.Replace(jsonText(t, goodClaims()), "{", `{"x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+",", 1)), testRoom, testNow, ErrMalformed},
		{"extra claims are ignored", hsTok(with(goodClaims(), "x", map[string]any{"y": []any{1.5, true, nil, "z"}})), testRoom, testNow, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token, tt.room, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Visitor == "" || c.Room != tt.room {
					t.Fatalf("claims = %+v", c)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			for _, other := range allRefusals {
				if other != tt.want && errors.Is(err, other) {
					t.Fatalf("err %v is also %v", err, other)
				}
			}
			if tt.want != ErrExpired && tt.want != ErrNotYetValid && c != (Claims{}) {
				t.Fatalf("claims returned with %v: %+v", err, c)
			}
		})
	}
}

var allRefusals = []error{ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrBadSignature, ErrExpired,
	ErrNotYetValid, ErrWrongRoom, ErrWrongIssuer, ErrMissingToken, ErrVisitorMismatch}

func TestVerifyPinnedAlgorithms(t *testing.T) {
	ed, hs := testEdKey(t, "ed"), testHSKey(t, "hs")
	ks := mustKeySet(t, hs, ed)
	v := mustVerifier(t, ks, VerifierOptions{Algorithms: []Algorithm{EdDSA}})
	if _, err := v.Verify(mustIssue(t, ks, testClaims()), testRoom, testNow); !errors.Is(err, ErrAlgorithm) {
		t.Fatalf("HS256 token with only EdDSA pinned: err = %v, want ErrAlgorithm", err)
	}
	edTok := mustIssue(t, mustKeySet(t, ed), testClaims())
	if _, err := v.Verify(edTok, testRoom, testNow); err != nil {
		t.Fatalf("EdDSA token: %v", err)
	}
}

func TestVerifyExpiredReturnsClaims(t *testing.T) {
	ks := mustKeySet(t, testEdKey(t, "ed"))
	v := mustVerifier(t, ks, VerifierOptions{Leeway: -1})
	c, err := v.Verify(mustIssue(t, ks, testClaims()), testRoom, testNow.Add(10*time.Minute))
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired (no leeway)", err)
	}
	if c.JTI != testJTI || c.Room != testRoom {
		t.Fatalf("claims with ErrExpired = %+v", c)
	}
	if !strings.Contains(err.Error(), "2026-10-01T14:10:00Z") {
		t.Fatalf("message %q does not say when it expired", err)
	}
}

func TestVerifyAnyRoom(t *testing.T) {
	ks := mustKeySet(t, testEdKey(t, "ed"))
	tok := mustIssue(t, ks, testClaims())
	v := mustVerifier(t, ks, VerifierOptions{AnyRoom: true})
	c, err := v.Verify(tok, "", testNow)
	if err != nil || c.Room != testRoom {
		t.Fatalf("AnyRoom: claims %+v, err %v", c, err)
	}
	if _, err := v.Verify(tok, "other", testNow); !errors.Is(err, ErrWrongRoom) {
		t.Fatalf("AnyRoom with a room given still checks it: err = %v", err)
	}
}

func TestNewVerifierOptions(t *testing.T) {
	ks := mustKeySet(t, testEdKey(t, "ed"))
	tests := []struct {
		name    string
		opts    VerifierOptions
		wantErr string
	}{
		{"zero value", VerifierOptions{}, ""},
		{"max leeway", VerifierOptions{Leeway: MaxLeeway}, ""},
		{"leeway above max", VerifierOptions{Leeway: MaxLeeway + time.Second}, "leeway"},
		{"alg none", VerifierOptions{Algorithms: []Algorithm{"none"}}, "unsupported algorithm"},
		{"alg HS512", VerifierOptions{Algorithms: []Algorithm{"HS512"}}, "unsupported algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(ks, tt.opts)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if _, err := NewVerifier(nil, VerifierOptions{}); err == nil {
		t.Fatal("nil key source accepted")
	}
}

func TestVerifyIssuerOption(t *testing.T) {
	ks := mustKeySet(t, testEdKey(t, "ed"))
	is, err := NewIssuer(ks, "https://queue.example.com")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := is.Issue(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustVerifier(t, ks, VerifierOptions{}).Verify(tok, testRoom, testNow); !errors.Is(err, ErrWrongIssuer) {
		t.Fatalf("default issuer: err = %v, want ErrWrongIssuer", err)
	}
	c, err := mustVerifier(t, ks, VerifierOptions{Issuer: "https://queue.example.com"}).Verify(tok, testRoom, testNow)
	if err != nil || c.Issuer != "https://queue.example.com" {
		t.Fatalf("claims %+v, err %v", c, err)
	}
}

func TestIssueValidation(t *testing.T) {
	is, err := NewIssuer(mustKeySet(t, testEdKey(t, "ed")), "")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 200)
	tests := []struct {
		name string
		edit func(*Claims)
	}{
		{"no room", func(c *Claims) { c.Room = "" }},
		{"no visitor", func(c *Claims) { c.Visitor = "" }},
		{"no jti", func(c *Claims) { c.JTI = "" }},
		{"long visitor", func(c *Claims) { c.Visitor = long }},
		{"no iat", func(c *Claims) { c.IssuedAt = time.Time{} }},
		{"no exp", func(c *Claims) { c.ExpiresAt = time.Time{} }},
		{"exp before iat", func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(-time.Second) }},
		{"invalid utf-8", func(c *Claims) { c.Visitor = "\xff" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClaims()
			tt.edit(&c)
			if tok, err := is.Issue(c); err == nil {
				t.Fatalf("Issue accepted %+v: %s", c, tok)
			}
		})
	}
	if _, err := NewIssuer(mustKeySet(t, nil, testEdKey(t, "ed")), ""); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("verify-only set: err = %v, want ErrNoSigningKey", err)
	}
}

func TestIssueEscapesStrings(t *testing.T) {
	ks := mustKeySet(t, testHSKey(t, "hs"))
	c := testClaims()
	c.Visitor = "a\"b\\c\n\x01é"
	tok := mustIssue(t, ks, c)
	got, err := mustVerifier(t, ks, VerifierOptions{}).Verify(tok, testRoom, testNow)
	if err != nil || got.Visitor != c.Visitor {
		t.Fatalf("visitor %q, err %v", got.Visitor, err)
	}
}

// Tokens signed by the old key keep verifying while it is in the set; new tokens use the new
// key; a verifier that has dropped the old key refuses its tokens.
func TestKeyRotation(t *testing.T) {
	oldKey, err := GenerateKey(EdDSA, "2026a")
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := GenerateKey(EdDSA, "2026b")
	if err != nil {
		t.Fatal(err)
	}
	before := mustKeySet(t, oldKey)
	during := mustKeySet(t, newKey, oldKey)
	after := mustKeySet(t, newKey)

	oldTok := mustIssue(t, before, testClaims())
	newTok := mustIssue(t, during, testClaims())
	if _, c := verifyKID(t, during, newTok); c != "2026b" {
		t.Fatalf("new token signed by %q, want the new key", c)
	}
	if err, c := verifyKID(t, during, oldTok); err != nil || c != "2026a" {
		t.Fatalf("old token during rotation: kid %q, err %v", c, err)
	}
	if err, _ := verifyKID(t, before, newTok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("new token on a verifier without the new key: err = %v", err)
	}
	if err, _ := verifyKID(t, after, oldTok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old token after the old key was removed: err = %v", err)
	}
}

func verifyKID(t *testing.T, ks *KeySet, tok string) (error, string) {
	t.Helper()
	c, err := mustVerifier(t, ks, VerifierOptions{}).Verify(tok, testRoom, testNow)
	return err, c.KeyID
}

func TestErrorCode(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range allRefusals {
		code := ErrorCode(fmtWrap(e))
		if code == "token_invalid" || seen[code] {
			t.Fatalf("ErrorCode(%v) = %q: not distinct", e, code)
		}
		seen[code] = true
	}
	if got := ErrorCode(errors.New("x")); got != "token_invalid" {
		t.Fatalf("ErrorCode(other) = %q", got)
	}
}

func fmtWrap(e error) error { return errors.Join(errors.New("context"), e) }

func TestDecodeB64(t *testing.T) {
	for _, s := range []string{"", "QQ", "QUI", "QUJD", "QUJDRA", "_-8", "AB", "AC", "ABC", "ABD", "A", "QQ==", "Q+", "Q/", "Q Q", "QQ\n", "é"} {
		want, werr := strictURL.DecodeString(s)
		if strings.ContainsAny(s, "\r\n") {
			werr = errors.New("we refuse the line breaks the standard library skips")
		}
		var buf [64]byte
		n, ok := decodeB64(buf[:], s)
		if ok != (werr == nil) || ok && string(buf[:n]) != string(want) {
			t.Errorf("decodeB64(%q) = %q, %v; stdlib strict: %q, %v", s, buf[:n], ok, want, werr)
		}
	}
}
