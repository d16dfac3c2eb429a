package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/gateway"
	"github.com/foyerhq/foyer/queue/redistest"
)

// TestGeneratedSecretsKeepJWKS: on a first run the generated ticket secret and the generated
// admission key share the key directory; the ticket secret must not be taken for an admission
// key (that once made foyer sign HS256 with it and publish an empty JWKS).
func TestGeneratedSecretsKeepJWKS(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		cfg := gateway.DefaultConfig()
		cfg.Tokens.KeyDir = t.TempDir()
		if legacy {
			if err := os.WriteFile(filepath.Join(cfg.Tokens.KeyDir, "ticket.secret"), []byte("0123456789abcdef0123456789abcdef01\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		tk, err := ticketKeys(cfg, zerolog.Nop())
		if err != nil || len(tk) != 1 || len(tk[0].Secret) < 32 {
			t.Fatalf("ticket keys: %v %v", tk, err)
		}
		again, err := ticketKeys(cfg, zerolog.Nop())
		if err != nil || string(again[0].Secret) != string(tk[0].Secret) {
			t.Fatalf("the ticket secret changed between runs")
		}
		ks, err := admission.LoadOrGenerate(cfg.Tokens.KeyDir, admission.Algorithm(cfg.Tokens.Algorithm), zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		if alg := ks.SigningKey().Algorithm(); alg != admission.Algorithm("EdDSA") {
			t.Fatalf("legacy=%v: signing with %s, want EdDSA", legacy, alg)
		}
		var jwks struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(ks.JWKS(), &jwks); err != nil || len(jwks.Keys) != 1 {
			t.Fatalf("legacy=%v: JWKS %s", legacy, ks.JWKS())
		}
	}
}

// TestListenFlagKeepsPublicURL: --listen moves the listen address but keeps a configured
// public_url (and with it the Secure cookie flag behind a TLS-terminating proxy); a public_url
// derived from the listen address follows the flag. It once blanked the configured one.
func TestListenFlagKeepsPublicURL(t *testing.T) {
	db := redistest.New(t)
	dir := t.TempDir()
	write := func(publicURL string) string {
		t.Helper()
		y := fmt.Sprintf(`listen: 127.0.0.1:1
%s
redis: {url: %q, prefix: %q}
tokens: {key_dir: %q}
limits: {joins_per_minute: 0}
rooms:
  - {name: fest, paths: ["/book/"], backend: "http://127.0.0.1:1", rate_per_minute: 1, max_active: 1, queue_all: true}
`, publicURL, db.URL, db.Prefix, filepath.Join(dir, "keys"))
		p := filepath.Join(dir, "foyer.yaml")
		if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("FOYER_LISTEN", "")
	t.Setenv("FOYER_REDIS_URL", "")

	sf := serveFlags{config: write("public_url: https://queue.example.org"), listen: "127.0.0.1:0"}
	cfg, err := sf.load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:0" || cfg.PublicURL != "https://queue.example.org" {
		t.Fatalf("listen %q public_url %q; want 127.0.0.1:0 and the configured https URL", cfg.Listen, cfg.PublicURL)
	}
	derived := serveFlags{config: write(""), listen: "127.0.0.1:9"}
	dcfg, err := derived.load()
	if err != nil {
		t.Fatal(err)
	}
	if dcfg.PublicURL != "http://127.0.0.1:9" {
		t.Fatalf("derived public_url %q, want it to follow --listen", dcfg.PublicURL)
	}

	// Through the real serve path: the visitor cookie is Secure.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, db.Client, zerolog.Nop(), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/foyer/v1/rooms/fest/join", nil)
		req.Header.Set("Accept", "application/json")
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the rooms are set up in the background
	}
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) == 0 {
		t.Fatalf("join: status %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	for _, c := range resp.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s is not Secure though public_url is https", c.Name)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
