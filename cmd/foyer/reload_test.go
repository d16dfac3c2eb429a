//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue/redistest"
)

// TestServeReloadsKeysOnSIGHUP: with polling off (tokens.reload_every: 0), a key written by
// `foyer keygen` reaches the JWKS on SIGHUP, without a restart. It once needed a restart.
func TestServeReloadsKeysOnSIGHUP(t *testing.T) {
	db := redistest.New(t)
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys")
	path := filepath.Join(dir, "foyer.yaml")
	y := fmt.Sprintf(`listen: 127.0.0.1:0
redis: {url: %q, prefix: %q}
tokens: {key_dir: %q, reload_every: 0s, new_key_delay: 0s}
rooms:
  - {name: fest, paths: ["/book/"], backend: "http://127.0.0.1:1", rate_per_minute: 1, max_active: 1}
`, db.URL, db.Prefix, keyDir)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FOYER_LISTEN", "")
	t.Setenv("FOYER_REDIS_URL", "")
	sf := serveFlags{config: path}
	cfg, err := sf.load()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serveWith(ctx, cfg, db.Client, zerolog.Nop(), ready, sf.load) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	jwks := func() string {
		resp, err := http.Get("http://" + addr + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	k, err := admission.GenerateKey(admission.EdDSA, admission.NewKID(time.Now().Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if err := admission.WriteKeyFile(filepath.Join(keyDir, k.FileName()), k); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(jwks(), k.ID()) {
		t.Fatal("the new key is in the JWKS before any reload: reload_every 0 should poll nothing")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(jwks(), k.ID()); {
		if time.Now().After(deadline) {
			t.Fatalf("new key not in the JWKS after SIGHUP: %s", jwks())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
