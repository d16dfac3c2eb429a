package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/internal/boxoffice"
	"github.com/foyerhq/foyer/internal/stack"
)

// serveOffice serves a box office on a free loopback port.
func serveOffice(oc boxoffice.Config) (*boxoffice.Office, string, func(), error) {
	oc.AllowReset = true
	o, err := boxoffice.New(oc)
	if err != nil {
		return nil, "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	srv := &http.Server{Handler: o.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return o, "http://" + ln.Addr().String(), stop, nil
}

// runStack is the child process side of startHost: it serves what was asked, prints one JSON
// line with the addresses, and stops when its stdin closes (the parent is done or gone).
func runStack(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	speed := fs.Float64("speed", 30, "sale seconds per wall second")
	rate := fs.Int("rate", 1000, "room rate per minute (sale time)")
	maxActive := fs.Int("max-active", 1000, "room active cap")
	workers := fs.Int("backend-workers", 32, "box office workers")
	seats := fs.Int("seats", 200, "seats per screening")
	failAfter := fs.Float64("fail-after-payment", 0, "probability of failing a booking after its payment")
	backendOnly := fs.Bool("backend-only", false, "serve only a box office")
	redisURL := fs.String("redis", "", "Redis URL for foyer (default: a private redis-server, else embedded)")
	verbose := fs.Bool("v", false, "log the gateway's warnings and errors to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	z := sizing{Rate: *rate, MaxActive: *maxActive, Workers: *workers, Seats: *seats, Screenings: 270, FailAfterPayment: *failAfter}
	oc := officeConfig(z, *speed)
	var info stackInfo
	var stop func()
	if *backendOnly {
		_, url, s, err := serveOffice(oc)
		if err != nil {
			fmt.Fprintf(stderr, "foyer-sim stack: %v\n", err)
			return 1
		}
		info.BackendURL, stop = url, s
	} else {
		// Quiet: the visitors' errors are in the report, and log lines would break the
		// parent's progress bar.
		log := zerolog.Nop()
		if *verbose {
			log = zerolog.New(stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
		}
		st, err := stack.Start(ctx, stack.Config{Speed: *speed, RatePerMinute: z.Rate, MaxActive: z.MaxActive, Office: oc,
			RedisURL: *redisURL, Logger: log})
		if err != nil {
			fmt.Fprintf(stderr, "foyer-sim stack: %v\n", err)
			return 1
		}
		info = stackInfo{FoyerURL: st.FoyerURL, BackendURL: st.BackendURL, Room: st.Room, AdminToken: st.AdminToken, Redis: st.Redis,
			RedisAddr: st.RedisAddr}
		stop = st.Close
	}
	defer stop()
	if err := json.NewEncoder(stdout).Encode(info); err != nil {
		return 1
	}
	// Wait for the parent: stdin closing (or a signal) ends the child.
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return 0
}

// redisReads counts the round trips a private Redis has served: INFO's total_reads_processed
// (one per read of a client's socket: a command, or a whole pipeline, or a script call). Every
// client of that Redis counts, and foyer's is the only one.
func redisReads(addr string) func(ctx context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})
		defer c.Close()
		txt, err := c.Info(ctx, "stats").Result()
		if err != nil {
			return 0, fmt.Errorf("redis info: %w", err)
		}
		for _, line := range strings.Split(txt, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_reads_processed:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, fmt.Errorf("redis info: %w", err)
				}
				return n - 1, nil // this INFO's own read
			}
		}
		return 0, errors.New("redis info: no total_reads_processed")
	}
}
