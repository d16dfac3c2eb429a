package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/admission"
)

func TestTokenVerify(t *testing.T) {
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys")
	var sink bytes.Buffer
	if code := run([]string{"keygen", "--dir", keyDir, "--kid", "k1", "--pub", filepath.Join(dir, "k1.pem")}, &sink, &sink); code != 0 {
		t.Fatalf("keygen: %s", sink.String())
	}
	ks, err := admission.LoadKeyDir(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	is, err := admission.NewIssuer(ks, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	issue := func(room string, exp time.Time) string {
		tok, err := is.Issue(admission.Claims{Room: room, Visitor: "v-1", JTI: "lease-1", IssuedAt: exp.Add(-10 * time.Minute), ExpiresAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := issue("biff-2026", now.Add(5*time.Minute))
	expired := issue("biff-2026", now.Add(-time.Hour))
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(ks.JWKS()) }))
	defer jwks.Close()

	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  string // in stdout
		wantErr  string // in stderr
	}{
		{"public key file", []string{"--key", filepath.Join(dir, "k1.pem"), good}, "", 0, `"sub": "v-1"`, ""},
		{"key directory, room checked", []string{"--keys", keyDir, "--room", "biff-2026", good}, "", 0, `"aud": "biff-2026"`, ""},
		{"JWKS", []string{"--jwks", jwks.URL + "/.well-known/jwks.json", good}, "", 0, `"kid": "k1"`, ""},
		{"stdin", []string{"--keys", keyDir, "-"}, good + "\n", 0, `"jti": "lease-1"`, ""},
		{"stdin without argument", []string{"--keys", keyDir}, good, 0, `"alg": "EdDSA"`, ""},
		{"expired", []string{"--keys", keyDir, expired}, "", 1, "", "refused (token_expired)"},
		{"wrong room", []string{"--keys", keyDir, "--room", "other", good}, "", 1, "", "refused (token_wrong_room)"},
		{"wrong issuer", []string{"--keys", keyDir, "--issuer", "https://q.example", good}, "", 1, "", "refused (token_wrong_issuer)"},
		{"garbage", []string{"--keys", keyDir, "not.a.token"}, "", 1, "", "refused (token_malformed)"},
		{"alg none", []string{"--keys", keyDir, noneToken(good)}, "", 1, "", "refused (token_algorithm)"},
		{"no key source", []string{good}, "", 2, "", "usage: foyer token verify"},
		{"two key sources", []string{"--keys", keyDir, "--key", "x", good}, "", 2, "", "usage"},
		{"JWKS unreachable", []string{"--jwks", "http://127.0.0.1:1/jwks.json", good}, "", 1, "", "fetch jwks"},
		{"leeway above 30s", []string{"--keys", keyDir, "--leeway", "1m", good}, "", 2, "", "leeway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdin = strings.NewReader(tt.stdin)
			defer func() { stdin = os.Stdin }()
			var out, errb bytes.Buffer
			code := run(append([]string{"token", "verify"}, tt.args...), &out, &errb)
			if code != tt.wantCode || !strings.Contains(out.String(), tt.wantOut) || !strings.Contains(errb.String(), tt.wantErr) {
				t.Fatalf("code %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, tt.wantCode, out.String(), tt.wantOut, errb.String(), tt.wantErr)
			}
			if code == 0 {
				var claims map[string]any
				if err := json.Unmarshal(out.Bytes(), &claims); err != nil {
					t.Fatalf("stdout is not JSON: %v", err)
				}
				if claims["exp"].(float64) <= float64(now.Unix()) || claims["iss"] != "foyer" {
					t.Fatalf("claims %v", claims)
				}
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run([]string{"token"}, &out, &errb); code != 2 {
		t.Fatalf("bare 'token': code %d", code)
	}
}

// noneToken rewrites tok's header to alg none and drops the signature.
func noneToken(tok string) string {
	parts := strings.Split(tok, ".")
	hdr := `{"alg":"none","kid":"k1"}`
	return b64url(hdr) + "." + parts[1] + "."
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
