package admission

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeFoyer is the gateway's release endpoint, verifying the bearer token as foyer would.
type fakeFoyer struct {
	*httptest.Server
	mu       sync.Mutex
	released map[string]Outcome // jti -> outcome
	status   int                // forced answer, if set
}

func newFakeFoyer(t *testing.T, v *Verifier) *fakeFoyer {
	t.Helper()
	f := &fakeFoyer{released: map[string]Outcome{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /foyer/v1/rooms/{room}/release", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.status != 0 {
			w.WriteHeader(f.status)
			w.Write([]byte(`{"error":{"code":"forced","message":"forced by the test"}}`))
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		c, err := v.Verify(tok, r.PathValue("room"), testNow)
		if !ok || err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": ErrorCode(err), "message": "no"}})
			return
		}
		if _, done := f.released[c.JTI]; done {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"unknown_lease","message":"no such lease"}}`))
			return
		}
		var body struct{ Outcome Outcome }
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.released[c.JTI] = body.Outcome
		w.WriteHeader(http.StatusNoContent)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func TestReleaseClient(t *testing.T) {
	ks := mustKeySet(t, testEdKey(t, "ed"))
	foyer := newFakeFoyer(t, mustVerifier(t, ks, VerifierOptions{}))
	rc, err := NewReleaseClient(ReleaseConfig{BaseURL: foyer.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := mustIssue(t, ks, testClaims())

	if err := rc.Release(ctx, tok, OutcomeBooked); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if got := foyer.released[testJTI]; got != OutcomeBooked {
		t.Fatalf("foyer recorded %q for %s", got, testJTI)
	}

	err = rc.Release(ctx, tok, OutcomeBooked)
	var re *ReleaseError
	if !errors.Is(err, ErrLeaseGone) || !errors.As(err, &re) || re.Code != "unknown_lease" || re.StatusCode != 404 {
		t.Fatalf("second release: err = %v", err)
	}

	forged := mustIssue(t, mustKeySet(t, testHSKey(t, "ed")), testClaims())
	if err := rc.Release(ctx, forged, OutcomeFailed); !errors.Is(err, ErrReleaseUnauthorized) {
		t.Fatalf("forged token: err = %v", err)
	}

	tests := []struct {
		status int
		want   error
	}{
		{400, ErrReleaseRejected},
		{403, ErrReleaseUnauthorized},
		{410, ErrLeaseGone},
		{429, ErrReleaseUnavailable},
		{500, ErrReleaseUnavailable},
		{503, ErrReleaseUnavailable},
	}
	for _, tt := range tests {
		foyer.mu.Lock()
		foyer.status = tt.status
		foyer.mu.Unlock()
		if err := rc.Release(ctx, tok, OutcomeAbandoned); !errors.Is(err, tt.want) {
			t.Errorf("status %d: err = %v, want %v", tt.status, err, tt.want)
		}
	}

	if err := rc.Release(ctx, tok, "refunded"); !errors.Is(err, ErrBadOutcome) {
		t.Fatalf("bad outcome: err = %v", err)
	}
	if err := rc.Release(ctx, "not-a-token", OutcomeBooked); !errors.Is(err, ErrMalformed) {
		t.Fatalf("not a token: err = %v", err)
	}

	foyer.Close()
	if err := rc.Release(ctx, tok, OutcomeBooked); !errors.Is(err, ErrReleaseUnavailable) {
		t.Fatalf("foyer down: err = %v", err)
	}
}

func TestReleaseClientPrefixAndTimeout(t *testing.T) {
	ks := mustKeySet(t, testEdKey(t, "ed"))
	var path string
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		if r.URL.Path == "/slow/v1/rooms/biff-2026/release" {
			<-block
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	defer close(block)
	rc, err := NewReleaseClient(ReleaseConfig{BaseURL: srv.URL + "/", Prefix: "/queue"})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Release(context.Background(), mustIssue(t, ks, testClaims()), OutcomeBooked); err != nil {
		t.Fatal(err)
	}
	if path != "/queue/v1/rooms/biff-2026/release" {
		t.Fatalf("path = %q", path)
	}
	slow, _ := NewReleaseClient(ReleaseConfig{BaseURL: srv.URL, Prefix: "/slow"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := slow.Release(ctx, mustIssue(t, ks, testClaims()), OutcomeBooked); !errors.Is(err, ErrReleaseUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: err = %v", err)
	}
	for _, bad := range []ReleaseConfig{{}, {BaseURL: "queue.example.com"}, {BaseURL: "https://q.example/?x=1"}, {BaseURL: "https://q.example", Prefix: "foyer"}} {
		if _, err := NewReleaseClient(bad); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}

// TestReleaseClientSendsBackendKey: the backend key travels in Foyer-Backend-Key, and only
// when configured.
func TestReleaseClientSendsBackendKey(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get(BackendKeyHeader))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	tok := mustIssue(t, mustKeySet(t, testEdKey(t, "ed")), testClaims())
	for _, key := range []string{"backend-key-0123456789abcdef0123456", ""} {
		rc, err := NewReleaseClient(ReleaseConfig{BaseURL: srv.URL, BackendKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Release(t.Context(), tok, OutcomeBooked); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[0] != "backend-key-0123456789abcdef0123456" || got[1] != "" {
		t.Fatalf("backend key headers sent: %q", got)
	}
}
