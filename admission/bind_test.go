package admission

import (
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestConfirmationRoundTrip(t *testing.T) {
	ks := mustKeySet(t, testEdKey(t, "ed"))
	v := mustVerifier(t, ks, VerifierOptions{})
	c := testClaims()
	tok := mustIssue(t, ks, c)
	got, err := v.Verify(tok, testRoom, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.Confirmation != Commitment(testVisitorSecret) || got.Visitor != testVisitor || got.JTI != testJTI {
		t.Fatalf("claims %+v", got)
	}
	if !got.Confirms(testVisitorSecret) {
		t.Fatal("the secret does not confirm its own token")
	}
	for _, guess := range []string{"", testVisitor, got.Confirmation, testJTI, tok, testVisitorSecret + "x"} {
		if got.Confirms(guess) {
			t.Fatalf("%q confirms the token", guess)
		}
	}
	c.Confirmation = ""
	got, err = v.Verify(mustIssue(t, ks, c), testRoom, testNow)
	if err != nil || got.Confirmation != "" || got.Confirms(testVisitorSecret) {
		t.Fatalf("a token without cnf: %+v %v", got, err)
	}
	c.Confirmation = "not-a-commitment"
	if _, err := NewIssuerMust(t, ks).Issue(c); err == nil {
		t.Fatal("issued a malformed confirmation")
	}
}

func NewIssuerMust(t *testing.T, ks *KeySet) *Issuer {
	t.Helper()
	is, err := NewIssuer(ks, "")
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func TestCnfParsing(t *testing.T) {
	ks := mustKeySet(t, testHSKey(t, "hs"))
	v := mustVerifier(t, ks, VerifierOptions{})
	good := Commitment("x")
	for name, tt := range map[string]struct {
		cnf  any
		ok   bool
		want string
	}{
		"s256":              {map[string]any{"s256": good}, true, good},
		"other members":     {map[string]any{"jkt": "abc", "s256": good, "x": []int{1}}, true, good},
		"no s256":           {map[string]any{"jkt": "abc"}, true, ""},
		"short":             {map[string]any{"s256": good[:42]}, false, ""},
		"not base64url":     {map[string]any{"s256": strings.Repeat("+", 43)}, false, ""},
		"not an object":     {good, false, ""},
		"s256 not a string": {map[string]any{"s256": 5}, false, ""},
		"duplicate s256":    {`{"s256":"` + good + `","s256":"` + good + `"}`, false, ""},
	} {
		t.Run(name, func(t *testing.T) {
			claims := jsonText(t, goodClaims())
			cnf := tt.cnf
			if s, ok := cnf.(string); ok && strings.HasPrefix(s, "{") {
				claims = claims[:len(claims)-1] + `,"cnf":` + s + `}`
			} else {
				claims = jsonText(t, with(goodClaims(), "cnf", cnf))
			}
			tok := forge(t, map[string]any{"alg": "HS256", "kid": "hs"}, claims, jwt.SigningMethodHS256, testSecret)
			got, err := v.Verify(tok, testRoom, testNow)
			if (err == nil) != tt.ok || err == nil && got.Confirmation != tt.want {
				t.Fatalf("Verify: %+v, %v", got, err)
			}
		})
	}
}

// FuzzBinding: whatever is presented as a visitor secret or a cnf member, a token confirms
// only the one secret it was issued for, and parsing never panics.
func FuzzBinding(f *testing.F) {
	for _, s := range []string{testVisitorSecret, "", Commitment(testVisitorSecret), `{"s256":"` + Commitment("a") + `"}`, `{"s256":1}`, `[`} {
		f.Add(s)
	}
	c := testClaims()
	f.Fuzz(func(t *testing.T, s string) {
		if s != testVisitorSecret && c.Confirms(s) {
			t.Fatalf("%q confirms a token bound to another secret", s)
		}
		if ValidVisitorSecret(s) && !(Claims{Confirmation: Commitment(s)}).Confirms(s) {
			t.Fatalf("valid secret %q does not confirm its own commitment", s)
		}
		sc := scanner{b: []byte(s)}
		if v, ok := parseCnf(&sc); ok && v != nil && !validCommitment(v) {
			t.Fatalf("parseCnf(%q) accepted %q", s, v)
		}
	})
}
