package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/queue/redistest"
)

// testCert writes a self-signed certificate for 127.0.0.1 into dir and returns the files and
// a pool that trusts it.
func testCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "foyer test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

// TestServeTLS: with tls.cert_file and key_file, foyer serves HTTPS with HTTP/2, derives an
// https public_url and marks its cookies Secure.
func TestServeTLS(t *testing.T) {
	db := redistest.New(t)
	certFile, keyFile, pool := testCert(t, t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Listen = ln.Addr().String()
	cfg.Redis.Prefix = db.Prefix
	cfg.Tokens.KeyDir = t.TempDir()
	cfg.Limits.JoinsPerMinute = 0
	cfg.TLS = TLSConfig{CertFile: certFile, KeyFile: keyFile}
	cfg.Rooms = []RoomConfig{{Name: testRoom, Paths: []string{"/book/"}, Backend: "http://127.0.0.1:1",
		RatePerMinute: 1, MaxActive: 1, QueueAll: true}}
	cfg.FillDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := "https://" + ln.Addr().String(); cfg.PublicURL != want {
		t.Fatalf("public_url %q, want %q derived with https", cfg.PublicURL, want)
	}
	parts, err := Build(cfg, db.Client, []queue.TicketKey{{ID: 1, Secret: []byte("test-ticket-secret-0123456789abcdef")}},
		zerolog.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- parts.Serve(ctx, ServeOptions{Listener: ln, RoomsWithin: 10 * time.Second}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	base := "https://" + ln.Addr().String()
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err = client.Get(base + "/healthz")
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Fatalf("healthz over TLS: %d %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/foyer/v1/rooms/"+testRoom+"/join", nil)
	req.Header.Set("Accept", "application/json")
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) == 0 {
		t.Fatalf("join over TLS: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	for _, c := range resp.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s not Secure over TLS", c.Name)
		}
	}
	// plain HTTP on the TLS port is refused, not served
	if r, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		_ = r.Body.Close()
		if r.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}
}

// TestTLSConfigValidate: the tls block's problems name their fields.
func TestTLSConfigValidate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := testCert(t, dir)
	tests := []struct {
		name string
		tls  TLSConfig
		want string // "" = valid
	}{
		{"off", TLSConfig{}, ""},
		{"files", TLSConfig{CertFile: certFile, KeyFile: keyFile}, ""},
		{"acme", TLSConfig{ACME: ACMEConfig{Domains: []string{"queue.example.org"}, CacheDir: dir}}, ""},
		{"cert without key", TLSConfig{CertFile: certFile}, "tls: cert_file and key_file go together"},
		{"missing file", TLSConfig{CertFile: certFile, KeyFile: filepath.Join(dir, "nope.pem")}, "tls.key_file: cannot read"},
		{"both", TLSConfig{CertFile: certFile, KeyFile: keyFile, ACME: ACMEConfig{Domains: []string{"a.example"}}}, "not both"},
		{"acme without cache", TLSConfig{ACME: ACMEConfig{Domains: []string{"a.example"}}}, "tls.acme.cache_dir"},
		{"acme without domains", TLSConfig{ACME: ACMEConfig{CacheDir: dir}}, "tls.acme.domains"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tt.tls.validate(func(field, format string, args ...any) { got = append(got, field+": "+format) })
			joined := strings.Join(got, "; ")
			if tt.want == "" && len(got) > 0 || tt.want != "" && !strings.Contains(joined, strings.SplitN(tt.want, ":", 2)[0]) {
				t.Fatalf("problems %q, want %q", joined, tt.want)
			}
		})
	}
	// ACME builds a server config that offers HTTP/2 and the challenge protocol without
	// contacting the authority.
	s := &Server{cfg: Config{TLS: TLSConfig{ACME: ACMEConfig{Domains: []string{"queue.example.org"}, CacheDir: dir}}}}
	tc, err := s.tlsServerConfig()
	if err != nil || tc == nil || tc.GetCertificate == nil {
		t.Fatalf("acme tls config: %v %v", tc, err)
	}
	if !strings.Contains(strings.Join(tc.NextProtos, ","), "h2") || !strings.Contains(strings.Join(tc.NextProtos, ","), "acme-tls/1") {
		t.Fatalf("acme NextProtos %v", tc.NextProtos)
	}
}
