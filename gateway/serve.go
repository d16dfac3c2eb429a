package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// ServeOptions tune Parts.Serve. The zero value is what `foyer serve` uses.
type ServeOptions struct {
	// Listener, when set, is served instead of listening on the configured address (a caller
	// that must know the address before it builds the configuration listens first).
	Listener net.Listener
	// Ready, when set, is called once with the bound address as soon as the server accepts.
	Ready func(addr string)
	// RoomsWithin, when positive, sets up the configured rooms before the server accepts and
	// fails Serve if Redis does not allow it within this time. Zero sets them up in the
	// background, retrying, while the gateway already serves (waiting visitors see
	// "reconnecting" until Redis answers, instead of a refused connection).
	RoomsWithin time.Duration
	// ShutdownGrace bounds the draining of in-flight requests at shutdown [30s].
	ShutdownGrace time.Duration
	// Logger gets the lifecycle messages; default the server's logger.
	Logger *zerolog.Logger
}

// Serve runs the gateway until ctx is cancelled or the HTTP server fails: the engine's loop
// (admission steps, settings subscriber, liveness flushes), the server's background loops
// (history sampler, adaptive controller), the room set-up and the HTTP server (HTTPS with HTTP/2 when tls is configured).
//
// On the way out it stops accepting, drains in-flight requests (proxied ones included), then
// cancels the loops and waits for every one of them: the engine's final liveness flush has
// reached Redis when Serve returns, so the caller may close the Redis client right after.
// Every binary that runs a gateway (foyer serve, foyer demo, the load tool's gateway child,
// the simulator's stack) goes through here.
func (p *Parts) Serve(ctx context.Context, o ServeOptions) error {
	gw := p.Server
	cfg := gw.cfg
	log := gw.log
	if o.Logger != nil {
		log = *o.Logger
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 30 * time.Second
	}
	ln := o.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("gateway: listen: %w", err)
		}
	}
	srv := gw.HTTPServer()
	tc, err := gw.tlsServerConfig()
	if err != nil {
		_ = ln.Close()
		return err
	}
	srv.TLSConfig = tc
	ln = gw.Listener(ln) // the connection bounds of limits:

	// loops run until loopCtx is cancelled, which happens only after the HTTP server has
	// stopped: a request still in flight may need the engine.
	loopCtx, cancelLoops := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelLoops()
	var loops sync.WaitGroup
	goLoop := func(name string, f func(context.Context) error) {
		loops.Add(1)
		go func() {
			defer loops.Done()
			if err := f(loopCtx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error().Err(err).Str("loop", name).Msg("background loop stopped")
			}
		}()
	}
	stopLoops := func() {
		cancelLoops()
		loops.Wait()
	}

	if o.RoomsWithin > 0 {
		rctx, rcancel := context.WithTimeout(ctx, o.RoomsWithin)
		err := gw.ensureRoomsRetrying(rctx, 100*time.Millisecond, log)
		rcancel()
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("gateway: rooms: %w", err)
		}
	} else {
		goLoop("rooms", func(ctx context.Context) error {
			_ = gw.ensureRoomsRetrying(ctx, 2*time.Second, log)
			return nil
		})
	}
	goLoop("engine", p.Engine.Run)
	goLoop("gateway", gw.Run)

	useTLS := srv.TLSConfig != nil // read before Serve, which may set a TLSConfig of its own
	errc := make(chan error, 1)
	go func() {
		if useTLS {
			errc <- srv.ServeTLS(ln, "", "") // certificates come from TLSConfig; HTTP/2 on
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	log.Info().Str("listen", ln.Addr().String()).Str("public_url", cfg.PublicURL).Bool("tls", useTLS).
		Msg("foyer is serving")
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}

	var serveErr error
	select {
	case serveErr = <-errc:
		if errors.Is(serveErr, http.ErrServerClosed) {
			serveErr = nil
		}
	case <-ctx.Done():
		log.Info().Msg("shutting down: draining in-flight requests")
	}
	sctx, scancel := context.WithTimeout(context.Background(), o.ShutdownGrace)
	defer scancel()
	shutErr := srv.Shutdown(sctx)
	if err := gw.Drain(sctx); err != nil {
		log.Warn().Err(err).Msg("in-flight proxied requests did not finish in time")
	}
	stopLoops()
	log.Info().Msg("stopped: final liveness flush done")
	if serveErr != nil {
		return fmt.Errorf("gateway: serve: %w", serveErr)
	}
	if shutErr != nil {
		return fmt.Errorf("gateway: shutdown: %w", shutErr)
	}
	return nil
}

// ensureRoomsRetrying loads the scripts and creates the configured rooms, retrying every `every` until it works or
// ctx ends.
func (s *Server) ensureRoomsRetrying(ctx context.Context, every time.Duration, log zerolog.Logger) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.engine.Ready(cctx) // the scripts are loaded once, here
		if err == nil {
			err = s.EnsureRooms(cctx)
		}
		cancel()
		if err == nil {
			log.Info().Int("rooms", len(s.cfg.Rooms)).Msg("rooms ready")
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		log.Warn().Err(err).Msg("cannot set up rooms yet; retrying")
		select {
		case <-ctx.Done():
			return err
		case <-time.After(every):
		}
	}
}
