package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/gateway"
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
