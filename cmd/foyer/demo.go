package main

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/gateway"
	"github.com/foyerhq/foyer/internal/boxoffice"
	"github.com/foyerhq/foyer/internal/redisproc"
)

// demoYAML is configs/demo.yaml, embedded so `foyer demo` works from any directory (a test
// keeps the two identical).
//
//go:embed demo.yaml
var demoYAML []byte

func init() {
	register("demo", command{summary: "run foyer with the demo room in front of the demo box office (make run)", run: runDemo})
}

// runDemo starts everything a first-time user needs on one machine: a Redis (the configured
// one, else a redis-server it starts, else an embedded in-memory server), the gateway, and the
// demo box office behind it, then prints where to look.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf serveFlags
	sf.bind(fs, "")
	fresh := fs.Bool("fresh", false, "forget the demo rooms' state in Redis first (line, opening, settings), so the countdown plays again")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := sf.load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	redisNote, cleanup, err := demoStore(ctx, &cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("no store for the demo")
		return 1
	}
	defer cleanup()
	redis.SetLogger(redisLog{log: log.With().Str("component", "redis").Logger()})
	rdb, closeStore, err := gateway.OpenStore(ctx, cfg.Redis, log)
	if err != nil {
		log.Error().Err(err).Msg("store")
		return 1
	}
	defer closeStore()
	if *fresh {
		n, err := forgetRooms(ctx, rdb, cfg)
		if err != nil {
			log.Error().Err(err).Msg("--fresh: could not delete the demo rooms' keys")
			return 1
		}
		log.Info().Int("keys", n).Msg("--fresh: deleted the demo rooms' keys; the countdown starts again")
	}
	if cfg.Redis.Embedded {
		redisNote = "embedded in-memory server (single node, not durable: install redis-server or set FOYER_REDIS_URL for the real thing)"
	}

	// The box office first: if its configured port is taken it moves to a free one, and the
	// room's backend follows it before the gateway starts.
	base := cfg.PublicURL
	room := &cfg.Rooms[0]
	// the box office reports outcomes with a backend key made for this run
	var kb [24]byte
	_, _ = rand.Read(kb[:])
	backendKey := hex.EncodeToString(kb[:])
	cfg.BackendKeys = append(cfg.BackendKeys, gateway.BackendKey{Name: "demo-box-office", Key: backendKey})
	backendAddr, keys, err := startBoxOffice(ctx, room, base, cfg.Tokens.Issuer, backendKey, log)
	if err != nil {
		log.Error().Err(err).Msg("demo box office did not start")
		return 1
	}
	ready := make(chan string, 1)
	errc := make(chan error, 2)
	go func() { errc <- serve(ctx, cfg, rdb, log, ready) }()
	select {
	case <-ready:
	case err := <-errc:
		log.Error().Err(err).Msg("gateway did not start")
		return 1
	}
	// only now: a first JWKS fetch before foyer listens would fail and hold off refetches
	go func() { _ = keys.Run(ctx) }()
	admin := ""
	if len(cfg.Admin.Tokens) > 0 {
		admin = cfg.Admin.Tokens[0].Token
	}
	fmt.Fprintf(stdout, `
foyer demo is running (Ctrl-C to stop)

  queue page      %s%s
  dashboard       %s%s/admin/   (admin token: %s)
  fairness        %s%s/v1/rooms/%s/fairness
  JWKS            %s/.well-known/jwks.json
  metrics         %s/metrics
  box office      http://%s%s (behind foyer; straight access needs a token)
  redis           %s

The room %q opens %s after start: visitors who arrive before get a random place.
Play a crowd against it:  bin/foyer-sim run --mode foyer --foyer %s --room %s --speed 1 --prequeue 1m --tail 2m --visitors 300

`, base, room.Paths[0], base, cfg.Prefix, admin, base, cfg.Prefix, room.Name, base, base, backendAddr, room.Paths[0],
		redisNote, room.Name, room.OpensIn, base, room.Name)

	// serve returns once the gateway has stopped and flushed: only then may the store close.
	if err := <-errc; err != nil {
		log.Error().Err(err).Msg("gateway stopped")
		return 1
	}
	return 0
}

// demoStore picks the demo's Redis: FOYER_REDIS_URL or the configured URL when it answers, else
// a redis-server on PATH started on a free loopback port (stopped on exit), else the embedded
// server.
func demoStore(ctx context.Context, cfg *gateway.Config, log zerolog.Logger) (string, func(), error) {
	nop := func() {}
	if cfg.Redis.Embedded || len(cfg.Redis.Addrs) > 0 {
		return "configured", nop, nil
	}
	if pingURL(ctx, cfg.Redis.URL) == nil {
		return cfg.Redis.URL, nop, nil
	}
	if os.Getenv("FOYER_REDIS_URL") != "" {
		return "", nop, fmt.Errorf("FOYER_REDIS_URL=%s does not answer", cfg.Redis.URL)
	}
	if srv, err := redisproc.Start(ctx, redisproc.Options{DeathSignal: syscall.SIGTERM}); err == nil {
		cfg.Redis.URL = srv.URL()
		log.Info().Str("url", srv.URL()).Msg("started a private redis-server for the demo")
		return srv.URL() + " (a redis-server started for this demo)", srv.Stop, nil
	} else if !errors.Is(err, redisproc.ErrNoServer) {
		log.Warn().Err(err).Msg("could not start a private redis-server; using the embedded server")
	}
	cfg.Redis.Embedded = true
	return "embedded", nop, nil
}

func pingURL(ctx context.Context, u string) error {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	opt.DialTimeout = 500 * time.Millisecond
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// startBoxOffice runs the demo box office at the room's backend address; it verifies admission
// tokens through foyer's JWKS (as a backend in another process would) and releases each
// visitor's slot when the booking ends.
func startBoxOffice(ctx context.Context, room *gateway.RoomConfig, foyerBase, issuer, backendKey string, log zerolog.Logger) (string, *admission.RemoteKeys, error) {
	u, err := url.Parse(room.Backend)
	if err != nil {
		return "", nil, err
	}
	rk, err := admission.NewRemoteKeys(admission.RemoteKeysConfig{URL: foyerBase + "/.well-known/jwks.json"})
	if err != nil {
		return "", nil, err
	}
	ver, err := admission.NewVerifier(rk, admission.VerifierOptions{Issuer: issuer})
	if err != nil {
		return "", nil, err
	}
	check, err := admission.Middleware(admission.MiddlewareConfig{Verifier: ver, Room: room.Name, BindVisitor: true})
	if err != nil {
		return "", nil, err
	}
	rc, err := admission.NewReleaseClient(admission.ReleaseConfig{BaseURL: foyerBase, BackendKey: backendKey})
	if err != nil {
		return "", nil, err
	}
	bc := boxoffice.DefaultConfig()
	bc.Check = check
	bc.Release = func(ctx context.Context, token, outcome string) error {
		return rc.Release(ctx, token, admission.Outcome(outcome))
	}
	bc.Logger = log
	office, err := boxoffice.New(bc)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return "", nil, fmt.Errorf("box office: %w", err)
		}
		log.Warn().Str("wanted", u.Host).Str("addr", ln.Addr().String()).Msg("box office port taken; using a free one")
		u.Host = ln.Addr().String()
		room.Backend = u.String()
	}
	srv := &http.Server{Handler: office.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("box office stopped")
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr().String(), rk, nil
}

// loadEmbeddedDemo is LoadConfig for the embedded demo configuration.
func loadEmbeddedDemo(getenv func(string) string) (gateway.Config, error) {
	cfg, err := gateway.ParseConfig(bytes.NewReader(demoYAML))
	if err != nil {
		return cfg, fmt.Errorf("embedded demo config: %w", err)
	}
	cfg.ApplyEnv(getenv)
	cfg.FillDefaults()
	return cfg, cfg.Validate()
}

// forgetRooms deletes every key of the configured rooms (prefix:{room}:*), so they are created
// again from the configuration: a new opening, an empty line. Other rooms and prefixes are not
// touched. It returns how many keys went.
func forgetRooms(ctx context.Context, rdb redis.UniversalClient, cfg gateway.Config) (int, error) {
	n := 0
	del := func(ctx context.Context, c *redis.Client) error {
		for _, rc := range cfg.Rooms {
			iter := c.Scan(ctx, 0, cfg.Redis.Prefix+":{"+rc.Name+"}:*", 1000).Iterator()
			for iter.Next(ctx) {
				if err := c.Unlink(ctx, iter.Val()).Err(); err != nil {
					return err
				}
				n++
			}
			if err := iter.Err(); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex // ForEachMaster runs on the masters concurrently
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return del(ctx, m)
		})
		return n, err
	case *redis.Client:
		return n, del(ctx, c)
	default:
		return 0, fmt.Errorf("forget rooms: unsupported client %T", rdb)
	}
}
