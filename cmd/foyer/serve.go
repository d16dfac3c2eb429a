package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/gateway"
	"github.com/foyerhq/foyer/queue"
)

func init() {
	register("serve", command{summary: "run the gateway", run: runServe})
	register("check-config", command{summary: "validate a configuration file and print every problem", run: runCheckConfig})
}

func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: foyer check-config FILE")
		return 2
	}
	cfg, err := gateway.LoadConfig(fs.Arg(0), os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d rooms, listen %s)\n", fs.Arg(0), len(cfg.Rooms), cfg.Listen)
	return 0
}

// serveFlags are the flags shared by serve and demo.
type serveFlags struct {
	config string
	listen string
}

func (f *serveFlags) bind(fs *flag.FlagSet, defConfig string) {
	def := os.Getenv("FOYER_CONFIG")
	if def == "" {
		def = defConfig
	}
	fs.StringVar(&f.config, "config", def, "configuration file (env FOYER_CONFIG)")
	fs.StringVar(&f.listen, "listen", "", "listen address, overrides the file and FOYER_LISTEN")
}

func (f *serveFlags) load() (gateway.Config, error) {
	cfg, err := gateway.LoadConfig(f.config, os.Getenv)
	if err != nil {
		return cfg, err
	}
	if f.listen != "" {
		cfg.Listen = f.listen
		cfg.PublicURL = ""
		cfg.FillDefaults()
	}
	return cfg, cfg.Validate()
}

func runServe(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf serveFlags
	sf.bind(fs, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if sf.config == "" {
		fmt.Fprintln(stderr, "foyer serve: --config FILE is required (or FOYER_CONFIG)")
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
	redis.SetLogger(redisLog{log: log.With().Str("component", "redis").Logger()})
	rdb, closeStore, err := gateway.OpenStore(ctx, cfg.Redis, log)
	if err != nil {
		log.Error().Err(err).Msg("store")
		return 1
	}
	defer closeStore()
	if err := serve(ctx, cfg, rdb, log, nil); err != nil {
		log.Error().Err(err).Msg("gateway stopped")
		return 1
	}
	return 0
}

// newLogger builds the root logger: pretty on a terminal, JSON otherwise.
func newLogger(c gateway.LogConfig, w io.Writer) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	out := w
	pretty := c.Format == "console"
	if c.Format == "auto" {
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			pretty = true
		}
	}
	if pretty {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger()
}

// ticketKeys returns the configured ticket secrets, or a secret generated once and kept in the
// key directory (every replica must share it: configure tickets.secrets in production).
func ticketKeys(cfg gateway.Config, log zerolog.Logger) ([]queue.TicketKey, error) {
	var keys []queue.TicketKey
	for _, s := range cfg.Tickets.Secrets {
		keys = append(keys, queue.TicketKey{ID: byte(s.ID), Secret: []byte(s.Secret)})
	}
	if len(keys) > 0 {
		return keys, nil
	}
	// A dot file: the admission key loader skips those, so the ticket secret is never taken for
	// an HS256 admission key (which would empty the JWKS). Older runs named it ticket.secret.
	path := filepath.Join(cfg.Tokens.KeyDir, ".ticket-secret")
	if old := filepath.Join(cfg.Tokens.KeyDir, "ticket.secret"); fileExists(old) && !fileExists(path) {
		if err := os.Rename(old, path); err != nil {
			return nil, fmt.Errorf("ticket secret: %w", err)
		}
	}
	if b, err := os.ReadFile(path); err == nil {
		sec := strings.TrimSpace(string(b))
		if len(sec) < 32 {
			return nil, fmt.Errorf("%s: secret shorter than 32 characters", path)
		}
		return []queue.TicketKey{{ID: 1, Secret: []byte(sec)}}, nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	sec := hex.EncodeToString(b[:])
	if err := os.MkdirAll(cfg.Tokens.KeyDir, 0o700); err != nil {
		return nil, fmt.Errorf("ticket secret: %w", err)
	}
	if err := os.WriteFile(path, []byte(sec+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("ticket secret: %w", err)
	}
	log.Warn().Str("path", path).Msg("generated a ticket secret; set tickets.secrets when running several gateways")
	return []queue.TicketKey{{ID: 1, Secret: []byte(sec)}}, nil
}

// serve wires the parts and runs until ctx ends; ready, if set, receives the bound address.
func serve(ctx context.Context, cfg gateway.Config, rdb redis.UniversalClient, log zerolog.Logger, ready chan<- string) error {
	tk, err := ticketKeys(cfg, log)
	if err != nil {
		return err
	}
	parts, err := gateway.Build(cfg, rdb, tk, log)
	if err != nil {
		return err
	}
	engine, gw := parts.Engine, parts.Server
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Rooms are created as soon as Redis answers; until then the gateway still serves (waiting
	// visitors see "reconnecting") instead of refusing to start.
	go func() {
		for {
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			err := gw.EnsureRooms(cctx)
			ccancel()
			if err == nil {
				log.Info().Int("rooms", len(cfg.Rooms)).Msg("rooms ready")
				return
			}
			log.Warn().Err(err).Msg("cannot set up rooms yet; retrying")
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
	}()
	go func() {
		if err := engine.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error().Err(err).Msg("engine stopped")
		}
	}()
	go func() { _ = gw.Run(ctx) }()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := gw.HTTPServer()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(gw.Listener(ln)) }()
	log.Info().Str("listen", ln.Addr().String()).Str("public_url", cfg.PublicURL).Str("version", version).Msg("foyer is serving")
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down: draining in-flight requests")
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	err = srv.Shutdown(sctx)
	_ = gw.Drain(sctx)
	return err
}

// redisLog sends go-redis's own messages (pool dial failures and the like) to the root logger
// at debug level: the engine already reports store trouble once, with context.
type redisLog struct{ log zerolog.Logger }

func (r redisLog) Printf(_ context.Context, format string, v ...any) {
	r.log.Debug().Msg(fmt.Sprintf(format, v...))
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
