package gateway

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/internal/redisproc"
)

// Secrets may come from files (a mounted Kubernetes Secret) instead of the configuration:
// *_file fields are read and trimmed; FOYER_REDIS_PASSWORD and FOYER_ADMIN_TOKEN win over the
// file; a missing, empty or short file, or a value given twice, is a problem naming the field
// and its line.
func TestConfigSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	admin := write("admin", "ops-token-from-a-file-0123456789\n")
	backend := write("backend", "backend-key-from-a-file-0123456789abcdef")
	ticket := write("ticket", "  ticket-secret-from-a-file-0123456789abcdef\n")
	redisPW := write("redis", "s3cret\n")
	cfgPath := write("foyer.yaml", `redis:
  url: redis://127.0.0.1:6379/0
  password_file: `+redisPW+`
admin:
  tokens:
    - name: ops
      token_file: `+admin+`
backend_keys:
  - name: box-office
    key_file: `+backend+`
tickets:
  secrets:
    - id: 2
      secret_file: `+ticket+`
rooms:
  - name: r1
    paths: ["/book/"]
    backend: http://127.0.0.1:9090
    rate_per_minute: 60
    max_active: 10
`)
	cfg, err := LoadConfig(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Tokens[0].Token != "ops-token-from-a-file-0123456789" || cfg.BackendKeys[0].Key != "backend-key-from-a-file-0123456789abcdef" ||
		cfg.Tickets.Secrets[0].Secret != "ticket-secret-from-a-file-0123456789abcdef" || cfg.Redis.Password != "s3cret" {
		t.Fatalf("secrets from files: %+v %+v %+v %q", cfg.Admin.Tokens, cfg.BackendKeys, cfg.Tickets.Secrets, cfg.Redis.Password)
	}
	env := map[string]string{"FOYER_REDIS_PASSWORD": "from-env"}
	if cfg, err = LoadConfig(cfgPath, func(k string) string { return env[k] }); err != nil || cfg.Redis.Password != "from-env" {
		t.Fatalf("FOYER_REDIS_PASSWORD: %q %v", cfg.Redis.Password, err)
	}

	short := write("short", "tiny\n")
	empty := write("empty", "\n")
	bad := write("bad.yaml", `admin:
  tokens:
    - name: ops
      token_file: `+short+`
    - name: ci
      token: ci-token-0123456789abcdef
      token_file: `+admin+`
backend_keys:
  - name: box-office
    key_file: `+filepath.Join(dir, "missing")+`
tickets:
  secrets:
    - id: 2
      secret_file: `+empty+`
rooms:
  - name: r1
    paths: ["/book/"]
    backend: http://127.0.0.1:9090
    rate_per_minute: 60
    max_active: 10
`)
	_, err = LoadConfig(bad, nil)
	if err == nil {
		t.Fatal("bad secret files accepted")
	}
	for _, want := range []string{
		"line 4: admin.tokens[0].token_file: the secret in " + short + " must be at least 16 characters",
		"line 7: admin.tokens[1].token_file: set token or token_file, not both",
		"line 10: backend_keys[0].key_file: cannot read: open " + filepath.Join(dir, "missing"),
		"line 14: tickets.secrets[0].secret_file: " + empty + " is empty",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "must be at least 32 characters") {
		t.Errorf("an unread file is reported twice:\n%v", err)
	}
}

// A password given apart from a redis:// URL that carries none (redis.password,
// redis.password_file or FOYER_REDIS_PASSWORD) is used: it used to be dropped in URL mode.
func TestOpenStoreURLWithSeparatePassword(t *testing.T) {
	srv, err := redisproc.Start(context.Background(), redisproc.Options{})
	if err == redisproc.ErrNoServer {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	if err := admin.ConfigSet(context.Background(), "requirepass", "pw-0123").Err(); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	c := DefaultConfig().Redis
	c.URL = srv.URL()
	c.Mode = RedisSingle
	rdb, closeStore, err := OpenStore(context.Background(), c, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Ping(context.Background()).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("without a password: %v", err)
	}
	closeStore()
	c.Password = "pw-0123"
	rdb, closeStore, err = OpenStore(context.Background(), c, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("with redis.password beside the URL: %v", err)
	}
}
