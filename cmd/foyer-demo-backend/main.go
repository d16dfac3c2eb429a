// Command foyer-demo-backend is the demo booking backend: a festival box office with finite
// capacity that fails like a real one under a rush (see package boxoffice). It is the upstream
// that `make run` shows behind foyer, and the target of foyer-sim.
//
//	foyer-demo-backend --listen 127.0.0.1:9090 --foyer http://127.0.0.1:8080 --room biff-demo
//
// With --foyer the visitor-facing routes require a foyer admission token (verified locally
// with the keys from foyer's JWKS) and each booking's outcome is released back to foyer.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/internal/boxoffice"
	"github.com/rs/zerolog"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("foyer-demo-backend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := boxoffice.DefaultConfig()
	listen := fs.String("listen", "127.0.0.1:9090", "address to serve on")
	cfg := d
	fs.IntVar(&cfg.Workers, "workers", d.Workers, "requests processed at once (capacity)")
	fs.IntVar(&cfg.MaxQueue, "max-queue", d.MaxQueue, "requests that may wait for a worker before 503")
	fs.DurationVar(&cfg.StepBase, "step", d.StepBase, "service time of one step when idle")
	fs.DurationVar(&cfg.StepPerInflight, "step-per-inflight", d.StepPerInflight, "added to a step per request in progress")
	fs.DurationVar(&cfg.PaymentTime, "payment", d.PaymentTime, "the payment provider's answer time")
	fs.DurationVar(&cfg.Timeout, "timeout", d.Timeout, "a request's deadline from its arrival")
	fs.Float64Var(&cfg.Speed, "speed", d.Speed, "time compression factor")
	fs.IntVar(&cfg.Screenings, "screenings", d.Screenings, "number of screenings")
	fs.IntVar(&cfg.Seats, "seats", d.Seats, "seats per screening")
	fs.StringVar(&cfg.BasePath, "base-path", d.BasePath, "where the visitor-facing routes live")
	fs.BoolVar(&cfg.AllowReset, "allow-reset", false, "enable POST /boxoffice/reset")
	foyerURL := fs.String("foyer", "", "foyer's base URL: require admission tokens (JWKS) and release outcomes")
	room := fs.String("room", "biff-demo", "foyer room whose tokens are accepted (with --foyer)")
	issuer := fs.String("issuer", admission.DefaultIssuer, "the tokens' iss (foyer's tokens.issuer, \"foyer\" unless configured)")
	backendKey := fs.String("backend-key", "", "foyer backend_keys secret for reporting booked/failed (default $FOYER_BACKEND_KEY)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log := zerolog.New(stderr).With().Timestamp().Logger()
	cfg.Logger = log

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *foyerURL != "" {
		if *backendKey == "" {
			*backendKey = os.Getenv("FOYER_BACKEND_KEY")
		}
		check, release, err := foyerHooks(ctx, *foyerURL, *room, *issuer, *backendKey, log)
		if err != nil {
			fmt.Fprintf(stderr, "foyer-demo-backend: %v\n", err)
			return 2
		}
		cfg.Check, cfg.Release = check, release
	}
	office, err := boxoffice.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "foyer-demo-backend: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "foyer-demo-backend: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: office.Handler(), ReadHeaderTimeout: 10 * time.Second}
	log.Info().Str("component", "main").Str("listen", ln.Addr().String()).Int("workers", cfg.Workers).
		Float64("speed", cfg.Speed).Bool("token_check", cfg.Check != nil).Msg("box office open")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "foyer-demo-backend: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	_ = office.Wait(shutCtx)
	return 0
}
