package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
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
	strict := fs.Bool("strict", false, "exit 1 when there are warnings (placeholder secrets, an opening in the past, ...)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: foyer check-config [--strict] FILE")
		return 2
	}
	cfg, err := gateway.LoadConfig(fs.Arg(0), os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	warnings := cfg.Warnings(time.Now())
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	fmt.Fprintf(stdout, "%s: ok (%d rooms, listen %s, %d warnings)\n", fs.Arg(0), len(cfg.Rooms), cfg.Listen, len(warnings))
	if *strict && len(warnings) > 0 {
		return 1
	}
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

// load reads the configuration; --listen wins over FOYER_LISTEN and the file, and a public_url
// derived from the listen address follows it, while a configured one (TLS behind a proxy, a
// real host name) is kept.
// An empty config path (only `foyer demo` allows one) means the embedded demo configuration.
func (f *serveFlags) load() (gateway.Config, error) {
	if f.config == "" {
		return loadEmbeddedDemo(f.getenv(os.Getenv))
	}
	return gateway.LoadConfig(f.config, f.getenv(os.Getenv))
}

// getenv layers the flags over the environment, so they go through the same path.
func (f *serveFlags) getenv(env func(string) string) func(string) string {
	return func(k string) string {
		if k == "FOYER_LISTEN" && f.listen != "" {
			return f.listen
		}
		return env(k)
	}
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
	log.Info().Str("version", version).Msg("foyer starting")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	redis.SetLogger(redisLog{log: log.With().Str("component", "redis").Logger()})
	rdb, closeStore, err := gateway.OpenStore(ctx, cfg.Redis, log)
	if err != nil {
		log.Error().Err(err).Msg("store")
		return 1
	}
	defer closeStore()
	if err := serveWith(ctx, cfg, rdb, log, nil, sf.load); err != nil {
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
	if keys := gateway.TicketKeys(cfg); len(keys) > 0 {
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
// It returns once the gateway has stopped and flushed, so the caller may close rdb.
func serve(ctx context.Context, cfg gateway.Config, rdb redis.UniversalClient, log zerolog.Logger, ready chan<- string) error {
	return serveWith(ctx, cfg, rdb, log, ready, nil)
}

// serveWith is serve with the configuration's source, read again on SIGHUP and every
// tokens.reload_every for the ticket secrets (nil: they do not change); the key directory is
// reloaded either way.
func serveWith(ctx context.Context, cfg gateway.Config, rdb redis.UniversalClient, log zerolog.Logger, ready chan<- string,
	reload func() (gateway.Config, error)) error {
	tk, err := ticketKeys(cfg, log)
	if err != nil {
		return err
	}
	parts, err := gateway.Build(cfg, rdb, tk, log)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := parts.ShutdownTracing(sctx); err != nil {
			log.Warn().Err(err).Msg("tracing: spans not sent at shutdown")
		}
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	rctx, stopReload := context.WithCancel(ctx)
	defer stopReload()
	reloader := &gateway.KeyReloader{Parts: parts, Config: reload, NewKeyDelay: cfg.Tokens.NewKeyDelay,
		Log: log.With().Str("component", "reload").Logger()}
	go reloader.Run(rctx, cfg.Tokens.ReloadEvery, hup)
	opts := gateway.ServeOptions{}
	if ready != nil {
		opts.Ready = func(addr string) { ready <- addr }
	}
	return parts.Serve(ctx, opts)
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
