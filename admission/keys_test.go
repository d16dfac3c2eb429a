package admission

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestKeyPEMRoundTrip(t *testing.T) {
	for _, alg := range []Algorithm{EdDSA, RS256, HS256} {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg, "k1")
			data, err := k.MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), k.FileName())
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			back, err := LoadKeyFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if back.ID() != "k1" || back.Algorithm() != alg || !back.CanSign() {
				t.Fatalf("loaded kid %q alg %q canSign %v", back.ID(), back.Algorithm(), back.CanSign())
			}
			// A token signed by the original verifies with the loaded key.
			tok := mustIssue(t, mustKeySet(t, k), testClaims())
			if _, err := mustVerifier(t, mustKeySet(t, back), VerifierOptions{}).Verify(tok, testRoom, testNow); err != nil {
				t.Fatal(err)
			}
			if alg == HS256 {
				if _, err := k.MarshalPublicPEM(); err == nil {
					t.Fatal("HS256 key has a public PEM")
				}
				return
			}
			pub, err := k.MarshalPublicPEM()
			if err != nil {
				t.Fatal(err)
			}
			pk, err := ParsePEMKey("k1", pub)
			if err != nil {
				t.Fatal(err)
			}
			if pk.CanSign() {
				t.Fatal("public key can sign")
			}
			if _, err := mustVerifier(t, mustKeySet(t, nil, pk), VerifierOptions{}).Verify(tok, testRoom, testNow); err != nil {
				t.Fatalf("public key does not verify: %v", err)
			}
		})
	}
}

func TestKeyRefusals(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		make func() (*Key, error)
		want string
	}{
		{"rsa 1024", func() (*Key, error) { return NewRSAKey("k", small) }, "too small"},
		{"short secret", func() (*Key, error) { return NewHMACKey("k", make([]byte, 31)) }, "too short"},
		{"bad kid", func() (*Key, error) { return NewHMACKey("../etc", testSecret) }, "invalid kid"},
		{"not a key", func() (*Key, error) { return NewEd25519Key("k", "x") }, "not an ed25519 key"},
		{"no PEM", func() (*Key, error) { return ParsePEMKey("k", []byte("hello")) }, "no PEM block"},
		{"certificate", func() (*Key, error) {
			return ParsePEMKey("k", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
		}, "unsupported PEM block"},
		{"secret not base64", func() (*Key, error) { return ParseSecret("k", []byte("not base64!")) }, "not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.make()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestValidKID(t *testing.T) {
	for s, want := range map[string]bool{
		"20260301T140502Z-3fa9c1": true, "a": true, "k.1_x-y": true,
		"": false, ".hidden": false, "a/b": false, "a b": false, `a"b`: false, strings.Repeat("k", 65): false,
	} {
		if got := ValidKID(s); got != want {
			t.Errorf("ValidKID(%q) = %v, want %v", s, got, want)
		}
	}
	kid := NewKID(testNow)
	if !ValidKID(kid) || !strings.HasPrefix(kid, "20261001T140000Z-") {
		t.Fatalf("NewKID = %q", kid)
	}
	if later := NewKID(testNow.Add(time.Second)); later <= kid {
		t.Fatalf("NewKID does not sort by time: %q <= %q", later, kid)
	}
}

func writeKey(t *testing.T, dir string, k *Key) {
	t.Helper()
	if err := WriteKeyFile(filepath.Join(dir, k.FileName()), k); err != nil {
		t.Fatal(err)
	}
}

func TestLoadKeyDir(t *testing.T) {
	older, _ := GenerateKey(EdDSA, "20260101T000000Z-aaaaaa")
	newer, _ := GenerateKey(EdDSA, "20260201T000000Z-bbbbbb")
	hs := testHSKey(t, "shared")
	pubOnly, _ := GenerateKey(EdDSA, "zzz-public-only")
	pubPEM, _ := pubOnly.MarshalPublicPEM()

	dir := t.TempDir()
	writeKey(t, dir, older)
	writeKey(t, dir, newer)
	writeKey(t, dir, hs)
	os.WriteFile(filepath.Join(dir, "zzz-public-only.pem"), pubPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a key"), 0o644)
	os.WriteFile(filepath.Join(dir, ".zzz.pem"), []byte("ignored"), 0o644)

	ks, err := LoadKeyDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Without a current file the private key whose kid sorts last signs ("shared" > "2026...").
	if got := ks.SigningKey().ID(); got != "shared" {
		t.Fatalf("signing kid = %q, want the last private kid %q", got, "shared")
	}
	if n := len(ks.Keys()); n != 4 {
		t.Fatalf("%d keys, want 4", n)
	}
	if k, err := ks.Key("zzz-public-only"); err != nil || k.CanSign() {
		t.Fatalf("public-only key: %v, %v", k, err)
	}

	os.WriteFile(filepath.Join(dir, CurrentFile), []byte(older.ID()+"\n"), 0o644)
	ks, err = LoadKeyDir(dir)
	if err != nil || ks.SigningKey().ID() != older.ID() {
		t.Fatalf("with current file: %v, %v", ks, err)
	}

	os.WriteFile(filepath.Join(dir, CurrentFile), []byte("zzz-public-only"), 0o644)
	if _, err := LoadKeyDir(dir); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Fatalf("current naming a public key: err = %v", err)
	}
	os.WriteFile(filepath.Join(dir, CurrentFile), []byte("missing"), 0o644)
	if _, err := LoadKeyDir(dir); err == nil || !strings.Contains(err.Error(), "not in") {
		t.Fatalf("current naming a missing key: err = %v", err)
	}

	// Public keys only: a verify-only set, as a backend would hold.
	pubDir := t.TempDir()
	os.WriteFile(filepath.Join(pubDir, "p.pem"), pubPEM, 0o644)
	ks, err = LoadKeyDir(pubDir)
	if err != nil || ks.SigningKey() != nil {
		t.Fatalf("public-only dir: %v, %v", ks, err)
	}

	if _, err := LoadKeyDir(t.TempDir()); err == nil {
		t.Fatal("empty directory accepted")
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "k.pem"), []byte("garbage"), 0o600)
	if _, err := LoadKeyDir(bad); err == nil || !strings.Contains(err.Error(), "k.pem") {
		t.Fatalf("bad key file: err = %v (should name the file)", err)
	}
}

func TestLoadKeyDirNewestSigns(t *testing.T) {
	dir := t.TempDir()
	k1, _ := GenerateKey(EdDSA, NewKID(testNow))
	writeKey(t, dir, k1)
	k2, _ := GenerateKey(EdDSA, NewKID(testNow.Add(24*time.Hour)))
	writeKey(t, dir, k2)
	ks, err := LoadKeyDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ks.SigningKey().ID() != k2.ID() {
		t.Fatalf("signing %q, want the newer %q", ks.SigningKey().ID(), k2.ID())
	}
	if _, err := ks.Key(k1.ID()); err != nil {
		t.Fatalf("older key not kept for verification: %v", err)
	}
}

func TestWriteKeyFileRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	k := testEdKey(t, "k")
	writeKey(t, dir, k)
	if err := WriteKeyFile(filepath.Join(dir, k.FileName()), k); err == nil {
		t.Fatal("existing key overwritten")
	}
	fi, err := os.Stat(filepath.Join(dir, k.FileName()))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, err %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

func TestLoadOrGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	ks, err := LoadOrGenerate(dir, "", log)
	if err != nil {
		t.Fatal(err)
	}
	k := ks.SigningKey()
	if k == nil || k.Algorithm() != EdDSA {
		t.Fatalf("generated %v", k)
	}
	if !strings.Contains(logs.String(), "generated a new admission signing key") || !strings.Contains(logs.String(), k.ID()) {
		t.Fatalf("log = %q", logs.String())
	}
	fi, _ := os.Stat(filepath.Join(dir, k.FileName()))
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("file mode %v, dir mode %v", fi.Mode().Perm(), di.Mode().Perm())
	}

	logs.Reset()
	again, err := LoadOrGenerate(dir, HS256, log)
	if err != nil {
		t.Fatal(err)
	}
	if again.SigningKey().ID() != k.ID() || logs.Len() != 0 {
		t.Fatalf("second run: kid %q (want %q), log %q", again.SigningKey().ID(), k.ID(), logs.String())
	}
	if _, err := LoadOrGenerate(dir, "none", log); err == nil {
		t.Fatal("alg none accepted")
	}
}

func TestNewKeySet(t *testing.T) {
	ed := testEdKey(t, "a")
	if _, err := NewKeySet(ed, testHSKey(t, "a")); err == nil {
		t.Fatal("duplicate kid accepted")
	}
	pub, _ := NewEd25519Key("p", ed.Public())
	if _, err := NewKeySet(pub); err == nil {
		t.Fatal("public key accepted as signing key")
	}
	if _, err := NewKeySet(nil); err == nil {
		t.Fatal("empty set accepted")
	}
	if _, err := mustKeySet(t, ed).Key("b"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Key(unknown) err = %v", err)
	}
}

func TestJWKS(t *testing.T) {
	ed := testEdKey(t, "ed")
	rs := testRSAKey(t, "rs")
	ks := mustKeySet(t, ed, rs, testHSKey(t, "hs"))
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2 (HS256 never published): %s", len(doc.Keys), ks.JWKS())
	}
	okp, rsa0 := doc.Keys[0], doc.Keys[1]
	x, _ := base64.RawURLEncoding.DecodeString(okp["x"])
	if okp["kty"] != "OKP" || okp["crv"] != "Ed25519" || okp["kid"] != "ed" || okp["alg"] != "EdDSA" || okp["use"] != "sig" ||
		!bytes.Equal(x, ed.Public().(ed25519.PublicKey)) {
		t.Fatalf("OKP key = %v", okp)
	}
	n, _ := base64.RawURLEncoding.DecodeString(rsa0["n"])
	e, _ := base64.RawURLEncoding.DecodeString(rsa0["e"])
	pub := rs.Public().(*rsa.PublicKey)
	if rsa0["kty"] != "RSA" || rsa0["alg"] != "RS256" || rsa0["kid"] != "rs" ||
		new(big.Int).SetBytes(n).Cmp(pub.N) != 0 || new(big.Int).SetBytes(e).Int64() != int64(pub.E) {
		t.Fatalf("RSA key = %v", rsa0)
	}
	for _, k := range doc.Keys {
		if _, ok := k["d"]; ok {
			t.Fatal("private part published")
		}
	}
	if only := mustKeySet(t, testHSKey(t, "hs")); string(only.JWKS()) != `{"keys":[]}` {
		t.Fatalf("HS256-only JWKS = %s", only.JWKS())
	}
}
