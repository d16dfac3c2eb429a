package admission

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func ringWith(t *testing.T, delay time.Duration, keys ...*Key) (*KeyRing, string) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range keys {
		writeKey(t, dir, k)
	}
	r, err := NewKeyRing(dir, "", KeyRingOptions{NewKeyDelay: delay, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return r, dir
}

func issueWith(t *testing.T, is *Issuer) (string, string) {
	t.Helper()
	tok, err := is.Issue(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	return tok, is.KeyID()
}

// A key added to the directory is published and signs after Reload, with no restart; tokens
// the old key signed keep verifying until its file is removed.
func TestKeyRingReload(t *testing.T) {
	old := testEdKey(t, "20260101T000000Z-aaaaaa")
	r, dir := ringWith(t, 0, old)
	is, err := NewRingIssuer(r, "")
	if err != nil {
		t.Fatal(err)
	}
	v := mustVerifier(t, r, VerifierOptions{})
	tokOld, kid := issueWith(t, is)
	if kid != old.ID() {
		t.Fatalf("signs with %s", kid)
	}
	if changed, err := r.Reload(); changed || err != nil {
		t.Fatalf("unchanged directory: changed=%v err=%v", changed, err)
	}

	next := testEdKey(t, "20260201T000000Z-bbbbbb")
	writeKey(t, dir, next)
	if changed, err := r.Reload(); !changed || err != nil {
		t.Fatalf("new key: changed=%v err=%v", changed, err)
	}
	if !strings.Contains(string(r.JWKS()), next.ID()) || !strings.Contains(string(r.JWKS()), old.ID()) {
		t.Fatalf("JWKS lacks a key: %s", r.JWKS())
	}
	tokNew, kid := issueWith(t, is)
	if kid != next.ID() {
		t.Fatalf("signs with %s after reload, want %s", kid, next.ID())
	}
	for _, tok := range []string{tokOld, tokNew} {
		if _, err := v.Verify(tok, testRoom, testNow); err != nil {
			t.Fatalf("verify after rotation: %v", err)
		}
	}

	if err := os.Remove(filepath.Join(dir, old.FileName())); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tokOld, testRoom, testNow); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("removed key still verifies: %v", err)
	}
	if _, err := v.Verify(tokNew, testRoom, testNow); err != nil {
		t.Fatal(err)
	}
}

// A new signing key is published (JWKS, verification) at once but signs only after the delay,
// so that replicas that have not read it yet never see a token they cannot verify.
func TestKeyRingDelaysNewSigningKey(t *testing.T) {
	old := testEdKey(t, "20260101T000000Z-aaaaaa")
	r, dir := ringWith(t, 300*time.Millisecond, old)
	is, err := NewRingIssuer(r, "")
	if err != nil {
		t.Fatal(err)
	}
	next := testEdKey(t, "20260201T000000Z-bbbbbb")
	writeKey(t, dir, next)
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(r.JWKS()), next.ID()) {
		t.Fatalf("new key not published at once: %s", r.JWKS())
	}
	// Another replica that already signs with the new key: its tokens verify here now.
	elsewhere := mustIssue(t, mustKeySet(t, next), testClaims())
	if _, err := mustVerifier(t, r, VerifierOptions{}).Verify(elsewhere, testRoom, testNow); err != nil {
		t.Fatal(err)
	}
	// A second, unrelated change must not cut the delay short.
	if err := os.WriteFile(filepath.Join(dir, "20250101T000000Z-cccccc.pem"), mustPublicPEM(t, testEdKey(t, "x")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, kid := issueWith(t, is); kid != old.ID() {
		t.Fatalf("new key signs before its delay: %s", kid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, kid := issueWith(t, is); kid == next.ID() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new key never promoted")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// When the old signing key is removed with the new one added (a leaked key), the new key signs
// at once: there is nothing else to sign with.
func TestKeyRingRemovedSigningKeyReplacedAtOnce(t *testing.T) {
	old := testEdKey(t, "20260101T000000Z-aaaaaa")
	r, dir := ringWith(t, time.Hour, old)
	next := testEdKey(t, "20260201T000000Z-bbbbbb")
	writeKey(t, dir, next)
	if err := os.Remove(filepath.Join(dir, old.FileName())); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := r.Current().SigningKey().ID(); got != next.ID() {
		t.Fatalf("signs with %s", got)
	}
}

// A bad file (half copied, wrong format) or a directory left without a private key does not
// replace the keys in use.
func TestKeyRingKeepsKeysOnBadReload(t *testing.T) {
	old := testEdKey(t, "20260101T000000Z-aaaaaa")
	r, dir := ringWith(t, 0, old)
	bad := filepath.Join(dir, "20260301T000000Z-dddddd.pem")
	if err := os.WriteFile(bad, []byte("-----BEGIN PRIVATE KEY-----\nAAA"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); err == nil {
		t.Fatal("bad key file accepted")
	}
	if r.Current().SigningKey().ID() != old.ID() {
		t.Fatal("keys in use replaced by a failed reload")
	}
	os.Remove(bad)
	if err := os.Remove(filepath.Join(dir, old.FileName())); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "20250101T000000Z-cccccc.pem"), mustPublicPEM(t, testEdKey(t, "x")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Fatalf("verify-only directory: %v", err)
	}
	if r.Current().SigningKey().ID() != old.ID() {
		t.Fatal("keys in use replaced by a verify-only directory")
	}
}

func mustPublicPEM(t *testing.T, k *Key) []byte {
	t.Helper()
	b, err := k.MarshalPublicPEM()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
