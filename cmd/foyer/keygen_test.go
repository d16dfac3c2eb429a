package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foyerhq/foyer/admission"
)

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"EdDSA into a directory", []string{"keygen", "--dir", filepath.Join(dir, "keys")}, 0, "wrote EdDSA key"},
		{"RS256 into a directory with a kid", []string{"keygen", "--alg", "RS256", "--dir", filepath.Join(dir, "keys"), "--kid", "rsa-1"}, 0, "wrote RS256 key rsa-1"},
		{"HS256 to a file", []string{"keygen", "--alg", "HS256", "--out", filepath.Join(dir, "shared.secret")}, 0, "wrote HS256 key shared"},
		{"EdDSA to a file with public key", []string{"keygen", "--out", filepath.Join(dir, "one.pem"), "--pub", filepath.Join(dir, "one.pub")}, 0, "wrote its public key"},
		{"HS256 file must be .secret", []string{"keygen", "--alg", "HS256", "--out", filepath.Join(dir, "x.pem")}, 2, "<kid>.secret"},
		{"existing file is kept", []string{"keygen", "--alg", "HS256", "--out", filepath.Join(dir, "shared.secret")}, 1, "file exists"},
		{"alg none", []string{"keygen", "--alg", "none", "--dir", dir}, 2, "unsupported algorithm"},
		{"no destination", []string{"keygen"}, 2, "usage: foyer keygen"},
		{"both destinations", []string{"keygen", "--dir", dir, "--out", "x.pem"}, 2, "usage: foyer keygen"},
		{"bad kid", []string{"keygen", "--dir", dir, "--kid", "../x"}, 2, "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.wantCode || !strings.Contains(out.String()+errb.String(), tt.wantOut) {
				t.Fatalf("code %d (want %d), output %q (want %q)", code, tt.wantCode, out.String()+errb.String(), tt.wantOut)
			}
		})
	}

	ks, err := admission.LoadKeyDir(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.Keys()) != 2 || ks.SigningKey().ID() != "rsa-1" {
		t.Fatalf("keys dir: %d keys, signing %q (want rsa-1: it sorts after the dated kid)", len(ks.Keys()), ks.SigningKey().ID())
	}
	for _, k := range ks.Keys() {
		fi, err := os.Stat(filepath.Join(dir, "keys", k.FileName()))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, err %v", k.FileName(), fi.Mode(), err)
		}
	}
	if k, err := admission.LoadKeyFile(filepath.Join(dir, "shared.secret")); err != nil || k.Algorithm() != admission.HS256 {
		t.Fatalf("secret file: %v, %v", k, err)
	}
	if k, err := admission.LoadKeyFile(filepath.Join(dir, "one.pub")); err != nil || k.CanSign() {
		t.Fatalf("public key file: %v, %v", k, err)
	}
}
