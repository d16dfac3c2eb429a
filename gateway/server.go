package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/web"
)

// Deps are the parts main builds and hands to the gateway.
type Deps struct {
	// Engine is the line in Redis; its Run loop is started by main.
	Engine *queue.Engine
	// Keys signs admission tokens and publishes the JWKS.
	Keys *admission.KeySet
	// KeyRing, when set, is used instead of Keys: the key directory reloaded without a
	// restart (admission.KeyRing).
	KeyRing *admission.KeyRing
	// Site renders the queue page, error pages and the dashboard.
	Site *web.Site
	// Logger is the root logger; the gateway tags it component=gateway.
	Logger zerolog.Logger
	// Registry receives the gateway's metrics; nil makes a new one.
	Registry *prometheus.Registry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TracerProvider receives a span for each visitor and admin request (tracing.go); nil:
	// none.
	TracerProvider trace.TracerProvider
	// ChallengeKey signs proof-of-work challenges; every replica needs the same one (Build
	// derives it from the ticket secret). Nil: a random key, good for one replica only.
	ChallengeKey []byte
}

// Server is the gateway: an http.Handler plus the background loops (history sampling, the
// adaptive rate controller) started by Run.
type Server struct {
	cfg      Config
	log      zerolog.Logger
	engine   *queue.Engine
	keys     *admission.KeyRing
	issuer   *admission.Issuer
	verifier *admission.Verifier
	site     *web.Site
	reg      *prometheus.Registry
	m        *metrics
	now      func() time.Time
	secure   bool
	admins   []adminCredential
	backends []backendCredential  // release credentials of the booking backends
	tracer   trace.TracerProvider // nil: no tracing
	trusted  []*net.IPNet
	joins    *clientLimiter
	conns    *connLimiter
	shed     *prometheus.CounterVec
	pow      *powState
	obs      *obsState // shared history counts (obs.go)

	// set is the rooms and routes, replaced whole (copy on write) when runtime rooms are
	// created or deleted (rooms.go); readers load it once per request.
	set   atomic.Pointer[roomSet]
	setMu sync.Mutex // serialises the writers of set
	e     *echo.Echo

	inflight sync.WaitGroup // proxied requests, drained on shutdown
	ready    readyCache     // the last /readyz answer (health.go)

	// feedbackLimit bounds visitor feedback per address (feedback.go).
	feedbackLimit *clientLimiter
}

// room is the gateway's runtime state for one configured room.
type room struct {
	cfg      RoomConfig
	loc      *time.Location
	backend  *url.URL
	proxy    *httputil.ReverseProxy
	returns  *ReturnURLValidator
	window   backendWindow
	history  *history
	adaptive *adaptiveState
	// runtime is set for a room from the registry (rooms.go), not from the YAML; deletedAt
	// for a deleted runtime room in its closing period.
	runtime bool
	spec    *runtimeSpec
	deleted atomic.Int64 // deletedAt, in unix ns: set once by retire, read by requests
	warned  atomic.Bool  // a registry entry of the same name was ignored (logged once)
}

type route struct {
	prefix string
	room   *room
}

// New builds the gateway from a validated configuration.
func New(cfg Config, d Deps) (*Server, error) {
	if d.KeyRing == nil && d.Keys != nil {
		d.KeyRing = admission.StaticKeyRing(d.Keys)
	}
	if d.Engine == nil || d.KeyRing == nil || d.Site == nil {
		return nil, errors.New("gateway: engine, keys and site are required")
	}
	s := &Server{
		cfg:    cfg,
		log:    d.Logger.With().Str("component", "gateway").Logger(),
		engine: d.Engine,
		keys:   d.KeyRing,
		site:   d.Site,
		reg:    d.Registry,
		now:    d.Now,
		secure: secureCookies(cfg.PublicURL),
		joins:  newClientLimiter(cfg.Limits.JoinsPerMinute, 10),
		pow:    newPoWState(d.ChallengeKey),
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.feedbackLimit = newClientLimiter(feedbackPerMinute, feedbackBurst)
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	var err error
	if s.issuer, err = admission.NewRingIssuer(d.KeyRing, cfg.Tokens.Issuer); err != nil {
		return nil, fmt.Errorf("gateway: issuer: %w", err)
	}
	if s.verifier, err = admission.NewVerifier(d.KeyRing, admission.VerifierOptions{Issuer: cfg.Tokens.Issuer}); err != nil {
		return nil, fmt.Errorf("gateway: verifier: %w", err)
	}
	s.backends = newBackendCredentials(cfg.BackendKeys)
	s.tracer = d.TracerProvider
	for _, t := range cfg.Admin.Tokens {
		s.admins = append(s.admins, newAdminCredential(t))
	}
	for _, cidr := range cfg.TrustedProxies {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return nil, fmt.Errorf("gateway: trusted_proxies: %w", err)
		}
		s.trusted = append(s.trusted, n)
	}
	set := &roomSet{rooms: map[string]*room{}, closing: map[string]*room{}}
	for _, rc := range cfg.Rooms {
		rm, err := s.newRoom(rc)
		if err != nil {
			return nil, err
		}
		set.rooms[rc.Name] = rm
	}
	set.route()
	s.set.Store(set)
	s.m = newMetrics(s.reg)
	s.shed = newShedCounter(s.reg)
	s.obs = newObsState(s.reg)
	s.conns = newConnLimiter(cfg.Limits.MaxConns, cfg.Limits.MaxConnsPerIP, s.trusted, s.reg)
	s.reg.MustRegister(&roomCollector{s: s})
	registerRuntime(s.reg)
	s.e = s.routesEcho()
	return s, nil
}

func (s *Server) newRoom(rc RoomConfig) (*room, error) {
	loc, err := time.LoadLocation(rc.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("gateway: room %s: %w", rc.Name, err)
	}
	rm := &room{cfg: rc, loc: loc, history: newHistory(historySamples)}
	if rc.Mode == "proxy" {
		if rm.backend, err = url.Parse(rc.Backend); err != nil {
			return nil, fmt.Errorf("gateway: room %s backend: %w", rc.Name, err)
		}
		rm.proxy = s.newProxy(rm)
	}
	if len(rc.ReturnURLs) > 0 {
		if rm.returns, err = NewReturnURLValidator(rc.ReturnURLs); err != nil {
			return nil, fmt.Errorf("gateway: room %s: %w", rc.Name, err)
		}
	}
	if rc.Adaptive.Enabled {
		rm.adaptive = &adaptiveState{}
	}
	return rm, nil
}

// EnsureRooms creates each configured room in Redis if it is not there yet. The YAML seeds a
// room; once it exists its stored settings win (so an organiser's live change survives a
// restart and every replica decides from the same rules), and each YAML value that differs
// from the stored one is logged as a warning naming the field, both values and the rule.
func (s *Server) EnsureRooms(ctx context.Context) error {
	for _, rc := range s.cfg.Rooms {
		seed := rc.Settings(s.now())
		stored, err := s.engine.EnsureRoom(ctx, rc.Name, seed)
		if err != nil {
			return fmt.Errorf("gateway: room %s: %w", rc.Name, err)
		}
		if rc.OpensAt.IsZero() {
			seed.OpensAt = time.Time{} // opens_in is relative to this start: not a difference
		}
		for _, d := range seed.WithDefaults().Diff(stored) {
			s.log.Warn().Str("room", rc.Name).Str("field", yamlSettingName(d.Field)).
				Str("yaml", d.Want).Str("stored", d.Have).Int64("version", stored.Version).
				Msg("the configuration differs from the room's stored settings; the stored value is kept " +
					"(change it with PATCH /foyer/admin/v1/rooms/{room} or `foyer room set`)")
		}
	}
	return s.syncRooms(ctx, "") // rooms.go: the runtime rooms in the registry
}

// settings are the room's rules in force, from the engine's cache: every per-request decision
// reads them here, never from the YAML, so a PATCH reaches every replica within a second.
// Before the room is loaded (no cache yet) the configured seed with defaults stands in.
func (s *Server) settings(rm *room) queue.Settings {
	if st, ok := s.engine.CachedSettings(rm.cfg.Name); ok {
		return st
	}
	return rm.cfg.Settings(s.now()).WithDefaults()
}

// Handler is the gateway's HTTP handler.
func (s *Server) Handler() http.Handler { return s.e }

// HTTPServer is an http.Server for the gateway with the deadlines of limits: (headers, whole
// requests, responses, keep-alive) and the hook the connection bounds need. Serve it on
// Listener(ln), never on a bare listener.
func (s *Server) HTTPServer() *http.Server {
	l := s.cfg.Limits
	return &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ConnState:         s.conns.connState,
	}
}

// Listener wraps ln with the connection bounds of limits: (per client address and in total).
func (s *Server) Listener(ln net.Listener) net.Listener { return s.conns.wrap(ln) }

// Run starts the background loops (history sampling, adaptive rate control) and returns when
// ctx is cancelled.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	done := make(chan struct{})
	go func() { defer close(done); s.runRooms(ctx) }() // rooms.go: the registry's changes
	defer func() { <-done }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			now := s.now()
			for name, rm := range s.roomSet().rooms {
				s.sample(ctx, name, rm, now)
				s.recordMinute(ctx, name) // forecast.go
				s.record(ctx, name, rm, now)
				if rm.adaptive != nil {
					s.adapt(ctx, name, rm, now)
				}
			}
		}
	}
}

// Drain waits for in-flight proxied requests, up to ctx's deadline.
func (s *Server) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) routesEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = s.clientIP
	e.Use(s.requestLog)
	if s.tracer != nil {
		e.Use(s.tracing(s.tracer))
	}
	e.Use(s.bodyLimit)

	p := s.cfg.Prefix
	v1 := e.Group(p + "/v1/rooms/:room")
	v1.POST("/join", s.handleJoin)
	v1.GET("/status", s.handleStatus)
	v1.POST("/release", s.handleRelease)
	v1.GET("/fairness", s.handleFairness)
	v1.POST("/feedback", s.handleFeedback)    // feedback.go
	v1.GET("/feedback", s.handleFeedbackPage) // the prompt as a page
	e.GET(p+"/rooms/:room", s.handleRoomPage) // token mode entry, and a direct link to any room's page
	e.GET("/.well-known/jwks.json", s.handleJWKS)
	e.GET(p+"/static/*", echo.WrapHandler(http.StripPrefix(p+"/static", s.site.Static())))

	admin := e.Group(p+"/admin/v1", s.requireAdmin)
	admin.GET("/rooms", s.handleAdminRooms)
	admin.POST("/rooms", s.handleAdminCreate)         // rooms.go: a runtime room from a template
	admin.DELETE("/rooms/:room", s.handleAdminDelete) // rooms.go
	admin.GET("/room-templates", s.handleAdminTemplates)
	admin.GET("/rooms/:room", s.handleAdminRoom)
	admin.PATCH("/rooms/:room", s.handleAdminPatch)
	admin.GET("/rooms/:room/history", s.handleAdminHistory)
	admin.GET("/audit", s.handleAdminAudit)
	admin.GET("/rooms/:room/outcomes", s.handleAdminOutcomes) // outcomes.go: the ledger, the refund list
	admin.GET("/rooms/:room/flagged", s.handleAdminFlagged)
	admin.POST("/rooms/:room/flagged/:lease/resolve", s.handleAdminResolve)
	admin.GET("/rooms/:room/feedback", s.handleAdminFeedback)                     // feedback.go
	admin.GET("/rooms/:room/forecast", s.handleAdminForecast)                     // forecast.go
	admin.GET("/rooms/:room/outcomes/per-minute", s.handleAdminOutcomesPerMinute) // forecast.go
	e.GET(p+"/admin", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, p+"/admin/") })
	e.GET(p+"/admin/", s.handleDashboard)

	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})))
	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)

	e.Any("/*", s.handleProtected)
	return e
}

// bodyLimit bounds every request body: limits.max_body_bytes on foyer's own paths,
// limits.proxy_max_body_bytes on protected paths (whose bodies go to the backend). A body
// announced too large is refused before a byte of it is read, and the connection is closed
// rather than drained; how long the body may take is bounded by the server's read deadline.
func (s *Server) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body == nil || r.Body == http.NoBody {
			return next(c)
		}
		limit := s.cfg.Limits.MaxBodyBytes
		if c.Path() == "/*" {
			limit = s.cfg.Limits.ProxyMaxBodyBytes
		}
		if r.ContentLength > limit {
			w := c.Response().Writer
			w.Header().Set("Connection", "close")
			_ = http.NewResponseController(w).SetReadDeadline(time.Now()) // no draining of a refused body
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
				Message: "the request body is too large"}
		}
		r.Body = http.MaxBytesReader(c.Response().Writer, r.Body, limit)
		return next(c)
	}
}

// match finds the room protecting path, longest prefix first.
func (s *Server) match(path string) *room {
	for _, r := range s.roomSet().routes {
		if strings.HasPrefix(path, r.prefix) || path+"/" == r.prefix {
			return r.room
		}
	}
	return nil
}

// roomParam resolves the :room path parameter.
func (s *Server) roomParam(c echo.Context) (*room, error) {
	name := c.Param("room")
	if !queue.ValidRoomName(name) {
		return nil, httpError(http.StatusBadRequest, "bad_room", "room names are 1 to 64 characters of a-z, 0-9 and -")
	}
	set := s.roomSet()
	rm, ok := set.rooms[name]
	if !ok {
		rm, ok = set.closing[name] // deleted, in its closing period: its visitors are told it is closed
	}
	if !ok {
		return nil, httpError(http.StatusNotFound, "unknown_room", "there is no room with that name")
	}
	return rm, nil
}

// clientIP is the remote address, or the first untrusted hop of X-Forwarded-For when the
// direct peer is a trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.trusted) == 0 || !s.isTrusted(host) {
		return host
	}
	// Every X-Forwarded-For line counts, in order: a proxy that appends its own line (HAProxy's
	// option forwardfor) leaves the client's forged one first, so reading only the first
	// line would believe the client.
	xff := strings.Join(r.Header.Values("X-Forwarded-For"), ",")
	if len(xff) > 1024 {
		return host
	}
	hops := strings.Split(xff, ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if net.ParseIP(h) == nil {
			return host
		}
		if !s.isTrusted(h) {
			return h
		}
	}
	return host
}

func (s *Server) isTrusted(ip string) bool {
	p := net.ParseIP(ip)
	for _, n := range s.trusted {
		if p != nil && n.Contains(p) {
			return true
		}
	}
	return false
}
