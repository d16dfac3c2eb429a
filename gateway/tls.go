package gateway

import (
	"crypto/tls"
	"fmt"
	"os"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// TLSConfig makes `foyer serve` terminate HTTPS itself (with HTTP/2), from certificate files
// or from an ACME certificate authority (Let's Encrypt by default). Leave it empty when a load
// balancer or proxy in front terminates TLS; then set public_url to the https URL visitors use,
// so cookies are still marked Secure.
type TLSConfig struct {
	// CertFile and KeyFile are PEM files: the certificate chain and its private key.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ACME obtains and renews certificates automatically instead (TLS-ALPN-01 on the listen
	// port, which must be reachable as :443 from the authority).
	ACME ACMEConfig `yaml:"acme"`
}

// ACMEConfig configures automatic certificates.
type ACMEConfig struct {
	// Domains are the host names to get certificates for; no other name gets one.
	Domains []string `yaml:"domains"`
	// CacheDir keeps the account key and certificates across restarts (share it, or give each
	// replica its own, but keep it: the authority limits how often it issues).
	CacheDir string `yaml:"cache_dir"`
	// Email is the contact address given to the authority (expiry notices).
	Email string `yaml:"email"`
	// DirectoryURL is the authority's directory [Let's Encrypt production].
	DirectoryURL string `yaml:"directory_url"`
}

// Enabled reports whether foyer terminates TLS itself.
func (t TLSConfig) Enabled() bool {
	return t.CertFile != "" || t.KeyFile != "" || len(t.ACME.Domains) > 0
}

// validate reports the tls block's problems through bad, naming the YAML fields.
func (t TLSConfig) validate(bad func(field, format string, args ...any)) {
	files := t.CertFile != "" || t.KeyFile != ""
	acmeSet := len(t.ACME.Domains) > 0 || t.ACME.CacheDir != "" || t.ACME.Email != "" || t.ACME.DirectoryURL != ""
	switch {
	case files && acmeSet:
		bad("tls", "set either cert_file and key_file or acme, not both")
	case files:
		if t.CertFile == "" || t.KeyFile == "" {
			bad("tls", "cert_file and key_file go together")
		}
		for field, path := range map[string]string{"tls.cert_file": t.CertFile, "tls.key_file": t.KeyFile} {
			if path == "" {
				continue
			}
			if _, err := os.Stat(path); err != nil {
				bad(field, "cannot read %q: %v", path, err)
			}
		}
	case acmeSet:
		if len(t.ACME.Domains) == 0 {
			bad("tls.acme.domains", "must list the host names to get certificates for")
		}
		if t.ACME.CacheDir == "" {
			bad("tls.acme.cache_dir", "must be set: without a cache every restart asks the authority again")
		}
	}
}

// tlsServerConfig is the server side of the tls block: nil when TLS is off. HTTP/2 is offered
// (h2 before http/1.1) whichever way the certificate comes.
func (s *Server) tlsServerConfig() (*tls.Config, error) {
	t := s.cfg.TLS
	if !t.Enabled() {
		return nil, nil
	}
	if len(t.ACME.Domains) > 0 {
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(t.ACME.CacheDir),
			HostPolicy: autocert.HostWhitelist(t.ACME.Domains...),
			Email:      t.ACME.Email,
		}
		if t.ACME.DirectoryURL != "" {
			m.Client = &acme.Client{DirectoryURL: t.ACME.DirectoryURL}
		}
		tc := m.TLSConfig() // h2, http/1.1 and acme-tls/1 for the challenge
		tc.MinVersion = tls.VersionTLS12
		return tc, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("gateway: tls: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}
