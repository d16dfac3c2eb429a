package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/foyerhq/foyer/admission"
)

func init() {
	register("token", command{summary: "inspect admission tokens (token verify)", run: runToken})
}

// stdin is where `token verify -` reads; tests replace it.
var stdin io.Reader = os.Stdin

func runToken(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: foyer token verify [--jwks URL | --key FILE | --keys DIR] [--room R] [--issuer I] [TOKEN|-]")
		return 2
	}
	return runTokenVerify(args[1:], stdout, stderr)
}

func runTokenVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jwks := fs.String("jwks", "", "verify with the keys at this JWKS `URL`, e.g. https://queue.example.com/.well-known/jwks.json")
	keyFile := fs.String("key", "", "verify with this key `FILE` (PEM public or private key, or .secret)")
	keyDir := fs.String("keys", "", "verify with the keys in this `DIR`ectory")
	room := fs.String("room", "", "require aud to be this room (default: accept any room and show it)")
	issuer := fs.String("issuer", admission.DefaultIssuer, "require this iss")
	leeway := fs.Duration("leeway", admission.DefaultLeeway, "clock skew tolerated on exp and nbf (at most 30s)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: foyer token verify [--jwks URL | --key FILE | --keys DIR] [--room R] [--issuer I] [TOKEN|-]")
		fmt.Fprintln(stderr, "\nPrints the claims as JSON, or why the token is refused (exit status 1).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sources := 0
	for _, s := range []string{*jwks, *keyFile, *keyDir} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 || fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	token := fs.Arg(0)
	if token == "" || token == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
		if err != nil {
			fmt.Fprintln(stderr, "foyer token verify: read token:", err)
			return 2
		}
		token = string(b)
	}
	token = strings.TrimSpace(token)

	var keys admission.KeySource
	switch {
	case *jwks != "":
		remote, err := admission.NewRemoteKeys(admission.RemoteKeysConfig{URL: *jwks})
		if err != nil {
			fmt.Fprintln(stderr, "foyer token verify:", err)
			return 2
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = remote.Refresh(ctx)
		cancel()
		if err != nil {
			fmt.Fprintln(stderr, "foyer token verify:", err)
			return 1
		}
		keys = remote
	case *keyFile != "":
		k, err := admission.LoadKeyFile(*keyFile)
		if err == nil {
			keys, err = admission.NewKeySet(nil, k)
		}
		if err != nil {
			fmt.Fprintln(stderr, "foyer token verify:", err)
			return 1
		}
	default:
		ks, err := admission.LoadKeyDir(*keyDir)
		if err != nil {
			fmt.Fprintln(stderr, "foyer token verify:", err)
			return 1
		}
		keys = ks
	}
	lw := *leeway
	if lw == 0 {
		lw = -1 // the flag's 0 means none, not the default
	}
	v, err := admission.NewVerifier(keys, admission.VerifierOptions{Issuer: *issuer, Leeway: lw, AnyRoom: *room == ""})
	if err != nil {
		fmt.Fprintln(stderr, "foyer token verify:", err)
		return 2
	}
	now := time.Now()
	c, err := v.Verify(token, *room, now)
	if err != nil {
		fmt.Fprintf(stderr, "refused (%s): %v\n", admission.ErrorCode(err), err)
		return 1
	}
	out := struct {
		Kid       string `json:"kid"`
		Alg       string `json:"alg"`
		Iss       string `json:"iss"`
		Aud       string `json:"aud"`
		Sub       string `json:"sub"`
		JTI       string `json:"jti"`
		Iat       int64  `json:"iat,omitempty"`
		Nbf       int64  `json:"nbf,omitempty"`
		Exp       int64  `json:"exp"`
		ExpiresAt string `json:"expires_at"`
		ExpiresIn int64  `json:"expires_in_seconds"`
	}{c.KeyID, string(c.Algorithm), c.Issuer, c.Room, c.Visitor, c.JTI, unixOrZero(c.IssuedAt), unixOrZero(c.NotBefore),
		c.ExpiresAt.Unix(), c.ExpiresAt.UTC().Format(time.RFC3339), int64(c.ExpiresAt.Sub(now) / time.Second)}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "foyer token verify:", err)
		return 1
	}
	return 0
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
