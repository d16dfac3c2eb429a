package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/foyerhq/foyer/admission"
)

func init() {
	register("keygen", command{summary: "write a new admission signing key (PEM, or an HS256 secret)", run: runKeygen})
}

func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	alg := fs.String("alg", string(admission.EdDSA), "algorithm: EdDSA, RS256 or HS256")
	dir := fs.String("dir", "", "key directory to add the key to, as `DIR`/<kid>.pem (or <kid>.secret); created if missing")
	out := fs.String("out", "", "write the key to `FILE` instead; its name without extension is the kid")
	kid := fs.String("kid", "", "key id with --dir (default: a fresh, time-ordered one)")
	pub := fs.String("pub", "", "also write the public key to `FILE` (PEM), for backends verifying offline")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: foyer keygen [--alg EdDSA|RS256|HS256] (--dir DIR | --out FILE) [--kid KID] [--pub FILE]")
		fmt.Fprintln(stderr, "\nIn a key directory the newest kid signs (or the one named in the file 'current');")
		fmt.Fprintln(stderr, "older keys keep verifying until you delete them.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 || (*dir == "") == (*out == "") || (*kid != "" && *out != "") {
		fs.Usage()
		return 2
	}
	a, err := admission.ParseAlgorithm(*alg)
	if err != nil {
		fmt.Fprintln(stderr, "foyer keygen:", err)
		return 2
	}

	var path string
	if *out != "" {
		path = *out
		base := filepath.Base(path)
		ext := filepath.Ext(base)
		*kid = strings.TrimSuffix(base, ext)
		if wantSecret := a == admission.HS256; wantSecret != (ext == admission.SecretExt) {
			want := admission.PEMExt
			if wantSecret {
				want = admission.SecretExt
			}
			fmt.Fprintf(stderr, "foyer keygen: a %s key file should be named <kid>%s\n", a, want)
			return 2
		}
	} else {
		if *kid == "" {
			*kid = admission.NewKID(time.Now())
		}
		if err := os.MkdirAll(*dir, 0o700); err != nil {
			fmt.Fprintln(stderr, "foyer keygen:", err)
			return 1
		}
	}
	if !admission.ValidKID(*kid) {
		fmt.Fprintf(stderr, "foyer keygen: kid %q is not valid: use 1-64 of [A-Za-z0-9._-]\n", *kid)
		return 2
	}
	k, err := admission.GenerateKey(a, *kid)
	if err != nil {
		fmt.Fprintln(stderr, "foyer keygen:", err)
		return 1
	}
	if path == "" {
		path = filepath.Join(*dir, k.FileName())
	}
	if err := admission.WriteKeyFile(path, k); err != nil {
		fmt.Fprintln(stderr, "foyer keygen:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s key %s to %s (mode 0600)\n", a, k.ID(), path)
	if *pub != "" {
		if a == admission.HS256 {
			fmt.Fprintln(stderr, "foyer keygen: HS256 keys have no public part; --pub ignored")
			return 0
		}
		data, err := k.MarshalPublicPEM()
		if err == nil {
			err = writeNew(*pub, data, 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "foyer keygen:", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote its public key to %s\n", *pub)
	}
	return 0
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
