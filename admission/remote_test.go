package admission

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksServer serves a JWKS that the test can change, counts requests, and can fail on demand.
type jwksServer struct {
	*httptest.Server
	mu       sync.Mutex
	doc      []byte
	etag     string
	fail     bool
	requests atomic.Int64
}

func newJWKSServer(t *testing.T, ks *KeySet) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(ks.JWKS())
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		if s.fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("If-None-Match") == s.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", s.etag)
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(doc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doc = doc
	sum := sha256.Sum256(doc)
	s.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:8]) + `"`
}

func (s *jwksServer) setFail(fail bool) {
	s.mu.Lock()
	s.fail = fail
	s.mu.Unlock()
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newRemote(t *testing.T, srv *jwksServer, clock *fakeClock) *RemoteKeys {
	t.Helper()
	r, err := NewRemoteKeys(RemoteKeysConfig{URL: srv.URL + "/.well-known/jwks.json", Now: clock.Now, MinInterval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRemoteKeysRotation(t *testing.T) {
	keyA, _ := GenerateKey(EdDSA, "2026a")
	keyB := testRSAKey(t, "2026b")
	before := mustKeySet(t, keyA)
	during := mustKeySet(t, keyB, keyA)
	after := mustKeySet(t, keyB)

	srv := newJWKSServer(t, before)
	clock := &fakeClock{t: testNow}
	remote := newRemote(t, srv, clock)
	v := mustVerifier(t, remote, VerifierOptions{})

	tokA := mustIssue(t, before, testClaims())
	if c, err := v.Verify(tokA, testRoom, testNow); err != nil || c.KeyID != "2026a" {
		t.Fatalf("first verify (lazy fetch): %+v, %v", c, err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d requests after the first verify, want 1", n)
	}
	if _, err := v.Verify(tokA, testRoom, testNow); err != nil || srv.requests.Load() != 1 {
		t.Fatalf("second verify: err %v, %d requests (want served from cache)", err, srv.requests.Load())
	}

	// foyer rotates: the new key signs. The verifier sees an unknown kid and refetches.
	srv.set(during.JWKS())
	tokB := mustIssue(t, during, testClaims())
	clock.Add(11 * time.Second)
	if c, err := v.Verify(tokB, testRoom, testNow); err != nil || c.KeyID != "2026b" || c.Algorithm != RS256 {
		t.Fatalf("token from the new key: %+v, %v", c, err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("%d requests after the rotation, want 2", n)
	}
	if _, err := v.Verify(tokA, testRoom, testNow); err != nil {
		t.Fatalf("old token during the rotation: %v", err)
	}

	// The old key is retired; the next refresh drops it.
	srv.set(after.JWKS())
	if err := remote.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second) // within MinInterval: the unknown kid causes no fetch
	if _, err := v.Verify(tokA, testRoom, testNow); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old token after retirement: err = %v, want ErrUnknownKey", err)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

func TestRemoteKeysUnknownKidIsRateLimited(t *testing.T) {
	ks := mustKeySet(t, testEdKey(t, "ed"))
	srv := newJWKSServer(t, ks)
	clock := &fakeClock{t: testNow}
	remote := newRemote(t, srv, clock)
	if err := remote.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if _, err := remote.Key("forged-" + string(rune('a'+i%26))); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("err = %v", err)
		}
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d requests for 50 unknown kids within MinInterval, want 1 (the initial refresh)", n)
	}
	clock.Add(10 * time.Second)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); remote.Key("forged") }()
	}
	wg.Wait()
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("%d requests after MinInterval with 20 concurrent unknown kids, want 2", n)
	}
}

func TestRemoteKeysWorksFromCacheWhenFoyerIsDown(t *testing.T) {
	ks := mustKeySet(t, testEdKey(t, "ed"))
	srv := newJWKSServer(t, ks)
	clock := &fakeClock{t: testNow}
	remote := newRemote(t, srv, clock)
	v := mustVerifier(t, remote, VerifierOptions{})
	if err := remote.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok := mustIssue(t, ks, testClaims())

	srv.setFail(true)
	clock.Add(time.Hour)
	if err := remote.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("refresh from a failing foyer: err = %v", err)
	}
	if _, err := v.Verify(tok, testRoom, testNow); err != nil {
		t.Fatalf("verify from cache while foyer fails: %v", err)
	}
	last, lastErr := remote.LastRefresh()
	if !last.Equal(testNow) || lastErr == nil {
		t.Fatalf("LastRefresh = %v, %v", last, lastErr)
	}

	srv.Close() // unreachable altogether
	clock.Add(time.Hour)
	if _, err := remote.Key("unknown"); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "refreshing keys failed") {
		t.Fatalf("unknown kid with foyer down: err = %v", err)
	}
	if _, err := v.Verify(tok, testRoom, testNow); err != nil {
		t.Fatalf("verify from cache while foyer is unreachable: %v", err)
	}
}

func TestRemoteKeysNotModified(t *testing.T) {
	ks := mustKeySet(t, testEdKey(t, "ed"))
	srv := newJWKSServer(t, ks)
	remote := newRemote(t, srv, &fakeClock{t: testNow})
	for i := 0; i < 3; i++ {
		if err := remote.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := remote.Key("ed"); err != nil {
		t.Fatalf("key lost after 304s: %v", err)
	}
}

func TestRemoteKeysRun(t *testing.T) {
	srv := newJWKSServer(t, mustKeySet(t, testEdKey(t, "ed")))
	remote, err := NewRemoteKeys(RemoteKeysConfig{URL: srv.URL + "/.well-known/jwks.json", RefreshEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- remote.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for srv.requests.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("Run made %d requests in 10 s", srv.requests.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
}

func TestParseJWKS(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallN := base64.RawURLEncoding.EncodeToString(small.N.Bytes())
	edX := base64.RawURLEncoding.EncodeToString(testEdKey(t, "x").Public().(ed25519.PublicKey))
	tests := []struct {
		name    string
		doc     string
		want    []string // kids kept
		wantErr bool
	}{
		{"ours", string(mustKeySet(t, testEdKey(t, "ed"), testRSAKey(t, "rs")).JWKS()), []string{"ed", "rs"}, false},
		{"symmetric key skipped", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"hs","alg":"HS256"}]}`, nil, false},
		{"OKP with alg HS256 skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + edX + `","kid":"a","alg":"HS256"}]}`, nil, false},
		{"OKP without alg kept", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + edX + `","kid":"a"}]}`, []string{"a"}, false},
		{"encryption key skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + edX + `","kid":"a","use":"enc"}]}`, nil, false},
		{"X25519 skipped", `{"keys":[{"kty":"OKP","crv":"X25519","x":"` + edX + `","kid":"a"}]}`, nil, false},
		{"short x skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"a"}]}`, nil, false},
		{"small RSA skipped", `{"keys":[{"kty":"RSA","n":"` + smallN + `","e":"AQAB","kid":"r"}]}`, nil, false},
		{"no kid skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + edX + `"}]}`, nil, false},
		{"duplicate kid: first kept", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + edX + `","kid":"a"},{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"a"}]}`, []string{"a"}, false},
		{"not JSON", `<html>`, nil, true},
		{"no keys array", `{}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseJWKS([]byte(tt.doc))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if len(keys) != len(tt.want) {
				t.Fatalf("kept %d keys, want %v", len(keys), tt.want)
			}
			for _, kid := range tt.want {
				if keys[kid] == nil || keys[kid].CanSign() || keys[kid].Algorithm() == HS256 {
					t.Fatalf("key %q: %+v", kid, keys[kid])
				}
			}
		})
	}
}

func TestNewRemoteKeysURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x/jwks", "/relative", "http://"} {
		if _, err := NewRemoteKeys(RemoteKeysConfig{URL: u}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
}
