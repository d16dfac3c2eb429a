package admission_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/foyerhq/foyer/admission"
)

// A booking backend protects its booking pages in a few lines: keys from foyer's JWKS,
// a verifier, and the middleware. Visitors without a valid token are sent to the queue page.
func Example() {
	ctx := context.Background() // in main: the context cancelled on shutdown

	keys, err := admission.NewRemoteKeys(admission.RemoteKeysConfig{
		URL: "https://queue.example.com/.well-known/jwks.json",
	})
	if err != nil {
		panic(err)
	}
	go keys.Run(ctx) // refresh in the background; unknown kids also trigger a refresh

	verifier, err := admission.NewVerifier(keys, admission.VerifierOptions{})
	if err != nil {
		panic(err)
	}
	protect, err := admission.Middleware(admission.MiddlewareConfig{
		Verifier:    verifier,
		Room:        "biff-2026",
		RedirectURL: "https://queue.example.com/foyer/rooms/{room}", // browsers go here; API calls get a JSON 401
	})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/book/", protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := admission.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "welcome, visitor %s", claims.Visitor)
	})))
	_ = mux // http.ListenAndServe(":8080", mux)
}

// Issue and verify a token with a key set held in memory.
func ExampleVerifier_Verify() {
	key, _ := admission.NewEd25519Key("2026-10", ed25519.NewKeyFromSeed(make([]byte, 32)))
	keys, _ := admission.NewKeySet(key)
	issuer, _ := admission.NewIssuer(keys, "")
	verifier, _ := admission.NewVerifier(keys, admission.VerifierOptions{})

	opened := time.Date(2026, 10, 1, 14, 0, 0, 0, time.UTC)
	token, _ := issuer.Issue(admission.Claims{
		Room: "biff-2026", Visitor: "4f1c9a2b", JTI: "lease-1",
		IssuedAt: opened, ExpiresAt: opened.Add(10 * time.Minute),
	})

	claims, err := verifier.Verify(token, "biff-2026", opened.Add(time.Minute))
	fmt.Println(claims.Room, claims.Visitor, claims.JTI, claims.KeyID, err)

	_, err = verifier.Verify(token, "biff-2026", opened.Add(time.Hour))
	fmt.Println(admission.ErrorCode(err))
	_, err = verifier.Verify(token, "another-room", opened)
	fmt.Println(admission.ErrorCode(err))
	// Output:
	// biff-2026 4f1c9a2b lease-1 2026-10 <nil>
	// token_expired
	// token_wrong_room
}

// The middleware refuses a request without a token with a JSON 401.
func ExampleMiddleware() {
	key, _ := admission.NewEd25519Key("k", ed25519.NewKeyFromSeed(make([]byte, 32)))
	keys, _ := admission.NewKeySet(key)
	verifier, _ := admission.NewVerifier(keys, admission.VerifierOptions{})
	protect, _ := admission.Middleware(admission.MiddlewareConfig{Verifier: verifier, Room: "biff-2026"})

	rec := httptest.NewRecorder()
	protect(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("POST", "/api/book", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 401 {"error":{"code":"admission_required","message":"an admission token is required: join the waiting room first"}}
}

// Tell foyer the visitor is done, so their slot frees up at once.
func ExampleReleaseClient_Release() {
	release, err := admission.NewReleaseClient(admission.ReleaseConfig{BaseURL: "https://queue.example.com"})
	if err != nil {
		panic(err)
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		// ... the booking succeeded ...
		token, _ := admission.TokenFrom(r.Context())
		if err := release.Release(r.Context(), token, admission.OutcomeBooked); err != nil {
			// Not fatal: the lease expires by itself. errors.Is(err, admission.ErrLeaseGone) is normal.
			fmt.Println("release:", err)
		}
	}
	_ = handler
}
