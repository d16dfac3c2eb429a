package admission

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// go test -run '^$' -bench . -benchmem ./admission
func BenchmarkIssue(b *testing.B) {
	for _, alg := range []Algorithm{EdDSA, RS256, HS256} {
		b.Run(string(alg), func(b *testing.B) {
			is, err := NewIssuer(mustKeySet(b, testKey(b, alg, "k1")), "")
			if err != nil {
				b.Fatal(err)
			}
			c := testClaims()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := is.Issue(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []Algorithm{EdDSA, RS256, HS256} {
		b.Run(string(alg), func(b *testing.B) {
			ks := mustKeySet(b, testKey(b, alg, "k1"))
			tok := mustIssue(b, ks, testClaims())
			v := mustVerifier(b, ks, VerifierOptions{})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok, testRoom, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyRefused measures a refusal that needs no signature check (a wrong kid),
// the cheap path that garbage tokens take.
func BenchmarkVerifyRefused(b *testing.B) {
	ks := mustKeySet(b, testEdKey(b, "k1"))
	tok := mustIssue(b, mustKeySet(b, testEdKey(b, "other")), testClaims())
	v := mustVerifier(b, ks, VerifierOptions{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok, testRoom, testNow); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkGolangJWTParse is the baseline: the same check with jwt.ParseWithClaims.
func BenchmarkGolangJWTParse(b *testing.B) {
	for _, alg := range []Algorithm{EdDSA, HS256} {
		b.Run(string(alg), func(b *testing.B) {
			k := testKey(b, alg, "k1")
			tok := mustIssue(b, mustKeySet(b, k), testClaims())
			p := jwt.NewParser(jwt.WithValidMethods([]string{string(alg)}), jwt.WithAudience(testRoom),
				jwt.WithIssuer(DefaultIssuer), jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Second),
				jwt.WithTimeFunc(func() time.Time { return testNow }))
			keyfunc := func(*jwt.Token) (any, error) { return k.public, nil }
			b.ReportAllocs()
			for b.Loop() {
				var rc jwt.RegisteredClaims
				if _, err := p.ParseWithClaims(tok, &rc, keyfunc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
