// Package stack starts, in one process, everything a "through foyer" run needs on this
// machine: a Redis (the one given, else a private redis-server, else an embedded in-memory
// server), the foyer gateway with one room in proxy mode, and the demo box office behind it,
// which verifies admission tokens through foyer's JWKS and releases each visitor's slot. All
// listen on loopback ports of their own.
//
// foyer runs on the wall clock; the room's rate and session are scaled by the simulation's
// speed so that, in sale time, they are what was asked for.
package stack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/gateway"
	"github.com/foyerhq/foyer/internal/boxoffice"
	"github.com/foyerhq/foyer/internal/redisproc"
	"github.com/foyerhq/foyer/queue"
)

// Config describes the stack. Room settings are in sale time.
type Config struct {
	// Speed is sale seconds per wall second.
	Speed float64
	// Room is the room's name; default "festival".
	Room string
	// RatePerMinute and MaxActive are the room's pace and cap (sale time).
	RatePerMinute int
	MaxActive     int
	// Session is the admission length (sale time); default 10 minutes.
	Session time.Duration
	// AbsentAfter and Grace are wall time: foyer's liveness works on the polls it sees, whose
	// spacing it sets in wall time. Defaults 15 s and 60 s.
	AbsentAfter time.Duration
	Grace       time.Duration
	// Office is the box office behind foyer (Speed is set from the stack's).
	Office boxoffice.Config
	// RedisURL is a Redis to use; empty starts a private one.
	RedisURL string
	// Logger gets the parts' warnings.
	Logger zerolog.Logger
}

// DefaultAbsentAfter is the room's absent_after (wall time) unless Config says otherwise.
const DefaultAbsentAfter = 15 * time.Second

// Stack is a running foyer with its box office.
type Stack struct {
	// FoyerURL is the gateway; BackendURL the box office (straight, for its stats).
	FoyerURL   string
	BackendURL string
	Room       string
	AdminToken string
	// Redis says which Redis is used.
	Redis string
	// RedisAddr is the address of the private redis-server the stack started ("" when it
	// uses a given or an embedded one): its INFO counters are foyer's alone.
	RedisAddr string
	Office    *boxoffice.Office

	cancel  context.CancelFunc
	closers []func()
	done    chan struct{}
	speed   float64
}

// Start brings the stack up and returns once the gateway is ready.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Speed <= 0 {
		return nil, errors.New("stack: speed must be positive")
	}
	if cfg.Room == "" {
		cfg.Room = "festival"
	}
	if cfg.Session == 0 {
		cfg.Session = 10 * time.Minute
	}
	if cfg.AbsentAfter == 0 {
		cfg.AbsentAfter = DefaultAbsentAfter
	}
	if cfg.Grace == 0 {
		cfg.Grace = 60 * time.Second
	}
	s := &Stack{Room: cfg.Room, AdminToken: randomHex(24), done: make(chan struct{}), speed: cfg.Speed}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	log := cfg.Logger

	rdb, note, err := s.redis(ctx, cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	s.Redis = note
	prefix := "foyersim-" + randomHex(4)
	if cfg.RedisURL != "" {
		s.closers = append(s.closers, func() { deletePrefix(rdb, prefix) })
	}

	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = gln.Close()
		return nil, fmt.Errorf("stack: %w", err)
	}
	s.FoyerURL = "http://" + gln.Addr().String()
	s.BackendURL = "http://" + bln.Addr().String()

	keyDir, err := os.MkdirTemp("", "foyer-sim-keys-")
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	s.closers = append(s.closers, func() { _ = os.RemoveAll(keyDir) })

	gcfg := gateway.DefaultConfig()
	gcfg.Listen = gln.Addr().String()
	gcfg.PublicURL = s.FoyerURL
	gcfg.Redis.Prefix = prefix
	gcfg.Redis.Timeout = time.Second
	gcfg.Admin.Tokens = []gateway.AdminToken{{Name: "foyer-sim", Token: s.AdminToken}}
	gcfg.Tokens.KeyDir = keyDir
	gcfg.Limits.JoinsPerMinute = 0 // every simulated visitor joins once; nothing to limit
	backendKey := randomHex(24)
	gcfg.BackendKeys = []gateway.BackendKey{{Name: "box-office", Key: backendKey}}
	gcfg.TrustedProxies = []string{"127.0.0.1/32"}
	gcfg.Log.Level = "warn"
	session := time.Duration(float64(cfg.Session) / cfg.Speed)
	session = max(session, 30*time.Second) // the gateway's floor
	gcfg.Rooms = []gateway.RoomConfig{{
		Name:          cfg.Room,
		DisplayName:   "foyer-sim festival",
		Paths:         []string{cfg.Office.BasePath + "/"},
		Backend:       s.BackendURL,
		RatePerMinute: max(1, int(math.Round(float64(cfg.RatePerMinute)*cfg.Speed))),
		MaxActive:     cfg.MaxActive,
		Session:       session,
		MaxSession:    3 * session,
		OpensIn:       time.Hour, // the simulator sets the real opening (admin API) when it starts
		QueueAll:      true,
		AbsentAfter:   cfg.AbsentAfter,
		Grace:         cfg.Grace,
	}}
	gcfg.FillDefaults()
	if err := gcfg.Validate(); err != nil {
		_ = gln.Close()
		_ = bln.Close()
		return nil, fmt.Errorf("stack: gateway config: %w", err)
	}

	// gcfg's algorithm is the default, EdDSA; gcfg.Redis.Prefix and Tokens.KeyDir are the stack's.
	parts, err := gateway.Build(gcfg, rdb, []queue.TicketKey{{ID: 1, Secret: []byte(randomHex(32))}}, log)
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}

	// The box office checks tokens as a backend in another process would: keys from foyer's JWKS.
	rk, err := admission.NewRemoteKeys(admission.RemoteKeysConfig{URL: s.FoyerURL + "/.well-known/jwks.json"})
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	ver, err := admission.NewVerifier(rk, admission.VerifierOptions{Issuer: gcfg.Tokens.Issuer})
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	check, err := admission.Middleware(admission.MiddlewareConfig{Verifier: ver, Room: cfg.Room, BindVisitor: true})
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	rc, err := admission.NewReleaseClient(admission.ReleaseConfig{BaseURL: s.FoyerURL, Prefix: gcfg.Prefix, BackendKey: backendKey})
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	oc := cfg.Office
	oc.Speed = cfg.Speed
	oc.AllowReset = true
	oc.Check = check
	oc.Release = func(ctx context.Context, token, outcome string) error {
		return rc.Release(ctx, token, admission.Outcome(outcome))
	}
	oc.Logger = log
	s.Office, err = boxoffice.New(oc)
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}

	rctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	var running int
	finished := make(chan struct{}, 8)
	goRun := func(f func()) { running++; go func() { f(); finished <- struct{}{} }() }
	bsrv := &http.Server{Handler: s.Office.Handler(), ReadHeaderTimeout: 10 * time.Second}
	goRun(func() { _ = rk.Run(rctx) })
	goRun(func() { _ = bsrv.Serve(bln) })
	// the gateway runs as `foyer serve` runs it; Serve returns after its final flush
	roomsReady := make(chan struct{})
	gwErr := make(chan error, 1)
	goRun(func() {
		gwErr <- parts.Serve(rctx, gateway.ServeOptions{Listener: gln, RoomsWithin: 30 * time.Second,
			ShutdownGrace: 5 * time.Second, Ready: func(string) { close(roomsReady) }})
	})
	go func() {
		for i := 0; i < running; i++ {
			<-finished
		}
		close(s.done)
	}()
	s.closers = append(s.closers, func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = bsrv.Shutdown(sctx)
		_ = s.Office.Wait(sctx)
		cancel()
		select {
		case <-s.done:
		case <-sctx.Done():
		}
		_ = rdb.Close()
	})

	ectx, ecancel := context.WithTimeout(ctx, 30*time.Second)
	defer ecancel()
	select {
	case <-roomsReady:
	case err := <-gwErr:
		return nil, fmt.Errorf("stack: gateway: %w", err)
	case <-ectx.Done():
		return nil, fmt.Errorf("stack: gateway: %w", ectx.Err())
	}
	if err := waitReady(ectx, s.FoyerURL+"/readyz"); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// SetOpening sets the room's opening (wall time) through the admin API, as an organiser
// would; sim.Target.Prepare calls it.
func (s *Stack) SetOpening(ctx context.Context, at time.Time) error {
	return SetOpening(ctx, s.FoyerURL, "/foyer", s.Room, s.AdminToken, at)
}

// SetOpening PATCHes a room's opens_at on the foyer at base.
func SetOpening(ctx context.Context, base, prefix, room, adminToken string, at time.Time) error {
	body, _ := json.Marshal(map[string]string{"opens_at": at.UTC().Format(time.RFC3339Nano)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, base+prefix+"/admin/v1/rooms/"+room, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("set opening: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("set opening: status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// Close stops everything the stack started.
func (s *Stack) Close() {
	if s.cancel != nil {
		defer s.cancel()
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

func (s *Stack) redis(ctx context.Context, url string) (redis.UniversalClient, string, error) {
	if url != "" {
		// the client foyer serve builds for the same configuration
		c, closeStore, err := gateway.OpenStore(ctx, gateway.RedisConfig{URL: url, Timeout: 500 * time.Millisecond}, zerolog.Nop())
		if err != nil {
			return nil, "", fmt.Errorf("stack: redis url: %w", err)
		}
		if err := c.Ping(ctx).Err(); err != nil {
			closeStore()
			return nil, "", fmt.Errorf("stack: redis %s: %w", url, err)
		}
		return c, url, nil
	}
	if c, note, err := s.privateRedis(ctx); err == nil {
		return c, note, nil
	}
	mr, err := miniredis.Run()
	if err != nil {
		return nil, "", fmt.Errorf("stack: embedded redis: %w", err)
	}
	s.closers = append(s.closers, mr.Close)
	return redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 64}), "embedded in-memory server", nil
}

// privateRedis starts a redis-server on a free loopback port, stopped by Close.
func (s *Stack) privateRedis(ctx context.Context) (redis.UniversalClient, string, error) {
	srv, err := redisproc.Start(ctx, redisproc.Options{DeathSignal: syscall.SIGTERM})
	if err != nil {
		return nil, "", err
	}
	s.closers = append(s.closers, srv.Stop)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 64})
	return c, fmt.Sprintf("redis-server on %s (private, pid %d)", srv.Addr(), srv.PID()), nil
}

func waitReady(ctx context.Context, url string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stack: gateway not ready: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// deletePrefix removes the stack's keys from a shared Redis.
func deletePrefix(rdb redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+":*", 1000).Result()
		if err != nil {
			return
		}
		if len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FlaggedPeople counts the people on a room's refund list (GET .../flagged, the admin API):
// distinct visitors, since one person may have been admitted, and failed, more than once.
func FlaggedPeople(ctx context.Context, base, prefix, room, adminToken string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+prefix+"/admin/v1/rooms/"+room+"/flagged?limit=10000", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("refund list: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return 0, fmt.Errorf("refund list: status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	var body struct {
		Flagged []struct {
			Visitor string `json:"visitor"`
		} `json:"flagged"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&body); err != nil {
		return 0, fmt.Errorf("refund list: %w", err)
	}
	people := map[string]bool{}
	for _, f := range body.Flagged {
		people[f.Visitor] = true
	}
	return int64(len(people)), nil
}
