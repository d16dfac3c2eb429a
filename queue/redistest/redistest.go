// Package redistest gives tests a real Redis: the one named by FOYER_TEST_REDIS_URL, else
// 127.0.0.1:6379, else a redis-server it starts itself on a free loopback port. It never
// skips: when no Redis can be had the test fails and says how to get one. Each test gets its
// own key prefix and its keys are deleted when it ends; nothing here flushes a database,
// because the Redis may be shared.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyerhq/foyer/internal/redisproc"
)

// EnvURL names the environment variable that points the tests at a Redis.
const EnvURL = "FOYER_TEST_REDIS_URL"

const howTo = "no Redis for the integration tests: set " + EnvURL +
	" (for example redis://127.0.0.1:6379/0), run a redis-server on 127.0.0.1:6379, " +
	"or install one so it is on PATH (Debian: apt-get install redis-server)"

// DB is a test's view of Redis: a client and the key prefix the test must use.
type DB struct {
	Client *redis.Client
	// Prefix is unique to the test; every key the test writes starts with it.
	Prefix string
	// URL is the Redis URL, for code under test that dials by itself.
	URL string
}

var (
	sharedOnce sync.Once
	sharedURL  string
	sharedErr  error
)

// New returns a client on the shared test Redis and a fresh prefix, and deletes every key under
// that prefix when the test ends.
func New(t testing.TB) *DB {
	t.Helper()
	sharedOnce.Do(func() { sharedURL, sharedErr = resolve() })
	if sharedErr != nil {
		t.Fatalf("redistest: %v", sharedErr)
	}
	opt, err := redis.ParseURL(sharedURL)
	if err != nil {
		t.Fatalf("redistest: parse %s: %v", sharedURL, err)
	}
	c := redis.NewClient(opt)
	db := &DB{Client: c, Prefix: Prefix(t), URL: sharedURL}
	t.Cleanup(func() {
		DeletePrefix(context.Background(), c, db.Prefix)
		_ = c.Close()
	})
	return db
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// Prefix builds a key prefix from the test's name and a random suffix.
func Prefix(t testing.TB) string {
	name := strings.ToLower(unsafeChars.ReplaceAllString(t.Name(), "-"))
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "t-" + strings.Trim(name, "-") + "-" + hex.EncodeToString(b[:])
}

// DeletePrefix removes every key that starts with prefix (SCAN, then UNLINK in batches).
func DeletePrefix(ctx context.Context, c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	del := func(cl *redis.Client) {
		iter := cl.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 500 {
				for _, k := range batch { // one by one: keys may sit in different cluster slots
					cl.Unlink(ctx, k)
				}
				batch = batch[:0]
			}
		}
		for _, k := range batch {
			cl.Unlink(ctx, k)
		}
	}
	switch cl := c.(type) {
	case *redis.Client:
		del(cl)
	case *redis.ClusterClient:
		_ = cl.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { del(m); return nil })
	}
}

func resolve() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		if err := ping(u); err != nil {
			return "", fmt.Errorf("%s=%s does not answer: %v", EnvURL, u, err)
		}
		return u, nil
	}
	const local = "redis://127.0.0.1:6379/0"
	if ping(local) == nil {
		return local, nil
	}
	s, err := startServer("")
	if err != nil {
		return "", fmt.Errorf("%s (%v)", howTo, err)
	}
	return s.URL(), nil
}

func ping(u string) error {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	opt.DialTimeout = time.Second
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Server is a redis-server process owned by a test: it can be stopped and started again on
// the same port, to play a crash or a restart that lost its data. It is the one launcher
// (internal/redisproc) that the binaries use too.
type Server struct {
	Port int
	p    *redisproc.Server
}

// StartServer starts a private redis-server on a free loopback port (nothing kept on disk) and
// stops it when the test ends. extra are more redis-server arguments.
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	s, err := startServer(t.TempDir(), extra...)
	if err != nil {
		t.Fatalf("redistest: %s (%v)", howTo, err)
	}
	t.Cleanup(s.p.Stop)
	return s
}

// startServer starts a server in dir (a temporary one, removed by Stop, when empty). A port
// taken between choosing it and the bind costs an attempt, not the test.
func startServer(dir string, extra ...string) (*Server, error) {
	p, err := redisproc.Start(context.Background(), redisproc.Options{Dir: dir, Args: extra})
	if err != nil {
		return nil, err
	}
	return &Server{Port: p.Port, p: p}, nil
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return s.p.URL() }

// Addr is host:port.
func (s *Server) Addr() string { return s.p.Addr() }

// Start (re)starts the process on the same port, empty, and waits until it answers.
func (s *Server) Start() error { return s.p.Restart(context.Background()) }

// Stop kills the process (its data is gone: nothing is kept on disk) and waits until the port
// is free again.
func (s *Server) Stop() { s.p.Kill() }

// Client returns a new client on this server, closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	opt, _ := redis.ParseURL(s.URL())
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) { return redisproc.FreePort() }
