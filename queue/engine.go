package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Config configures an Engine. Zero fields take the defaults in brackets.
type Config struct {
	// Prefix starts every key ["foyer"]; keys look like foyer:{room}:meta.
	Prefix string
	// TicketKeys are the HMAC-SHA256 keys for tickets; the first signs, all verify. Required.
	TicketKeys []TicketKey
	// CallTimeout is the deadline of every Redis call [500ms].
	CallTimeout time.Duration
	// RefreshEvery bounds the age of the in-process room cache [200ms; at most 250ms].
	RefreshEvery time.Duration
	// StepEvery is how often Run runs the admission step per room; each step also refreshes the
	// cache [100ms; at most RefreshEvery].
	StepEvery time.Duration
	// FlushEvery is how often seen positions are sent to the liveness bitmaps [1s].
	FlushEvery time.Duration
	// RoomTTL is the TTL of a room's keys, refreshed by the step while any gateway runs [7 days].
	RoomTTL time.Duration
	// MaxSkipsPerStep bounds absent positions skipped per step [1000].
	MaxSkipsPerStep int
	// LedgerTTL is how long outcome ledger records are kept [30 days] (ledger.go).
	LedgerTTL time.Duration
	// LedgerMax bounds the outcome ledger's records per room [200,000]; the oldest go first.
	LedgerMax int
	// IdleStepEvery is how often a quiet room (nobody waiting, admitted or coming back, no
	// join or poll here since its last step, not about to open) is stepped [5s] (idle.go).
	IdleStepEvery time.Duration
	// Logger gets component=queue.
	Logger zerolog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Prefix == "" {
		c.Prefix = "foyer"
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 500 * time.Millisecond
	}
	if c.RefreshEvery == 0 {
		c.RefreshEvery = 200 * time.Millisecond
	}
	if c.StepEvery == 0 {
		c.StepEvery = min(100*time.Millisecond, c.RefreshEvery)
	}
	if c.FlushEvery == 0 {
		c.FlushEvery = time.Second
	}
	if c.RoomTTL == 0 {
		c.RoomTTL = 7 * 24 * time.Hour
	}
	if c.MaxSkipsPerStep == 0 {
		c.MaxSkipsPerStep = 1000
	}
	if c.LedgerTTL <= 0 {
		c.LedgerTTL = DefaultLedgerTTL
	}
	if c.LedgerMax <= 0 {
		c.LedgerMax = DefaultLedgerMax
	}
	if c.IdleStepEvery <= 0 {
		c.IdleStepEvery = defaultIdleStepEvery
	}
	var bad []string
	if c.CallTimeout < 0 {
		bad = append(bad, "call timeout must be positive")
	}
	if c.RefreshEvery < 0 || c.RefreshEvery > 250*time.Millisecond {
		bad = append(bad, "refresh interval must be at most 250ms")
	}
	if c.StepEvery < 0 || c.StepEvery > c.RefreshEvery {
		bad = append(bad, "step interval must be positive and at most the refresh interval")
	}
	if c.FlushEvery < 0 {
		bad = append(bad, "flush interval must be positive")
	}
	if c.RoomTTL < time.Hour {
		bad = append(bad, "room TTL must be at least an hour")
	}
	if c.MaxSkipsPerStep < 1 {
		bad = append(bad, "max skips per step must be positive")
	}
	if len(bad) > 0 {
		return c, fmt.Errorf("queue: config: %v", bad)
	}
	return c, nil
}

// Engine is the line of every room, shared through Redis by any number of gateway replicas.
// Safe for concurrent use. Status needs no Redis round trip in the common case: it reads an
// in-process cache that Run keeps fresh.
type Engine struct {
	rdb    redis.UniversalClient
	cfg    Config
	log    zerolog.Logger
	signer *ticketSigner

	mu    sync.RWMutex
	rooms map[string]*room

	wake     chan string
	loaded   atomic.Bool
	restores atomic.Int64 // rooms restored after data loss, for tests and logs

	extendMu   sync.Mutex
	extendMemo map[string]extendMemo

	// id names this engine among the gateways (heartbeat); replicas is how many gateways
	// were alive at the last heartbeat, for each one's share of a fail-open room's pace.
	id       string
	replicas atomic.Int64

	// records caches each room's public fairness record (record.go).
	records sync.Map
	// reg is the runtime rooms' registry (registry.go); okAt the last time Redis answered a
	// step or a heartbeat, in unix ns (idle.go).
	reg  roomRegistry
	okAt atomic.Int64
}

// New returns an Engine over rdb (a single, Sentinel or Cluster client). It does no I/O; call
// Ready to check Redis and load the scripts, and Run to start the background work.
func New(rdb redis.UniversalClient, cfg Config) (*Engine, error) {
	if rdb == nil {
		return nil, errors.New("queue: nil redis client")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	signer, err := newTicketSigner(cfg.TicketKeys)
	if err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	e := &Engine{
		rdb:        rdb,
		cfg:        cfg,
		log:        cfg.Logger.With().Str("component", "queue").Logger(),
		signer:     signer,
		rooms:      map[string]*room{},
		wake:       make(chan string, 64),
		extendMemo: map[string]extendMemo{},
		id:         hex.EncodeToString(id[:]),
		reg:        roomRegistry{changes: make(chan string, 1024)},
	}
	e.replicas.Store(1)
	return e, nil
}

// Ready reports whether Redis answers and the scripts are loaded. The first call loads them;
// later calls cost one SCRIPT EXISTS and load them again only when Redis lost them (a restart
// or a SCRIPT FLUSH: what would answer NOSCRIPT).
func (e *Engine) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout*4)
	defer cancel()
	if e.loaded.Load() {
		ok, err := scriptsLoaded(ctx, e.rdb)
		if err != nil {
			return storeErr("queue: check scripts", err)
		}
		if ok {
			return nil
		}
	}
	if err := loadScripts(ctx, e.rdb); err != nil {
		e.loaded.Store(false)
		return storeErr("queue: load scripts", err)
	}
	e.loaded.Store(true)
	return nil
}

func (e *Engine) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.cfg.CallTimeout)
}

// Rooms lists the rooms this engine knows (ensured here or seen through a ticket), sorted.
func (e *Engine) Rooms() []string {
	e.mu.RLock()
	out := make([]string, 0, len(e.rooms))
	for n := range e.rooms {
		out = append(out, n)
	}
	e.mu.RUnlock()
	sort.Strings(out)
	return out
}

func (e *Engine) allRooms() []*room {
	e.mu.RLock()
	out := make([]*room, 0, len(e.rooms))
	for _, r := range e.rooms {
		out = append(out, r)
	}
	e.mu.RUnlock()
	return out
}

func (e *Engine) cached(name string) *room {
	e.mu.RLock()
	r := e.rooms[name]
	e.mu.RUnlock()
	return r
}

// roomFor returns a known room, loading it from Redis (one step) the first time.
func (e *Engine) roomFor(ctx context.Context, name string) (*room, error) {
	if !ValidRoomName(name) {
		return nil, fmt.Errorf("queue: room %q: %w", name, ErrInvalidRoomName)
	}
	if r := e.cached(name); r != nil && r.snap.Load() != nil {
		return r, nil
	}
	if e.Retired(name) {
		return nil, fmt.Errorf("queue: room %s: deleted: %w", name, ErrRoomClosed)
	}
	r := e.cached(name)
	if r == nil {
		r = newRoom(e.cfg.Prefix, name)
	}
	if _, err := e.refresh(ctx, r); err != nil {
		return nil, err
	}
	return e.register(r), nil
}

func (e *Engine) register(r *room) *room {
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.rooms[r.name]; ok {
		return old
	}
	if e.Retired(r.name) {
		return r // deleted meanwhile: served from r this once, never stepped again
	}
	e.rooms[r.name] = r
	return r
}

// Run does the background work until ctx is done: the admission step and cache refresh of every
// known room, the Pub/Sub subscriber for settings changes, and the liveness flush. It returns
// nil when ctx is cancelled.
func (e *Engine) Run(ctx context.Context) error {
	step := time.NewTicker(e.cfg.StepEvery)
	defer step.Stop()
	flush := time.NewTicker(e.cfg.FlushEvery)
	defer flush.Stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.subscribe(ctx) }()
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), e.cfg.CallTimeout)
			e.flushAll(fctx, &wg)
			wg.Wait()
			cancel()
			return nil
		case <-step.C:
			now := time.Now()
			for _, r := range e.allRooms() {
				if !e.idle(r, now) {
					e.stepAsync(ctx, r, &wg)
				}
			}
		case name := <-e.wake:
			if r := e.cached(name); r != nil {
				e.stepAsync(ctx, r, &wg)
			}
		case <-flush.C:
			e.flushAll(ctx, &wg)
			e.heartbeat(ctx)
			e.checkRegistry(ctx)
			e.pruneExtendMemo(time.Now())
		}
	}
}

func (e *Engine) stepAsync(ctx context.Context, r *room, wg *sync.WaitGroup) {
	if !r.stepping.CompareAndSwap(false, true) {
		return
	}
	r.stepped.Store(time.Now().UnixNano())
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer r.stepping.Store(false)
		if _, err := e.refresh(ctx, r); err != nil && ctx.Err() == nil {
			r.logErr(e.log, "step", err)
		} else if err == nil {
			e.okAt.Store(time.Now().UnixNano())
			r.quiet.Store(false)
		}
	}()
}

func (e *Engine) flushAll(ctx context.Context, wg *sync.WaitGroup) {
	for _, r := range e.allRooms() {
		if !r.live.any() {
			continue // nothing seen since the last flush: no goroutine, no call
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.flush(ctx, r); err != nil && ctx.Err() == nil {
				r.logErr(e.log, "liveness flush", err)
			}
			if err := e.flushNotes(ctx, r); err != nil && ctx.Err() == nil {
				r.logErr(e.log, "fairness notes flush", err)
			}
		}()
	}
}

func (e *Engine) subscribe(ctx context.Context) {
	ps := e.rdb.Subscribe(ctx, settingsChannel(e.cfg.Prefix), claimsChannel(e.cfg.Prefix), roomsChannel(e.cfg.Prefix))
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			if m.Channel == claimsChannel(e.cfg.Prefix) {
				e.heardClaims(m.Payload)
				continue
			}
			if m.Channel == roomsChannel(e.cfg.Prefix) {
				e.reg.notify(m.Payload)
				continue
			}
			if ValidRoomName(m.Payload) {
				select {
				case e.wake <- m.Payload:
				default:
				}
			}
		}
	}
}

// heartbeat records this engine as a live gateway and learns how many there are (a sorted set
// of engine ids scored by their last beat; beats older than 10 s are dropped). Only the fail-open
// pacing uses the count, and only while Redis is unreachable: the last count stands then.
func (e *Engine) heartbeat(ctx context.Context) {
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	k := gatewaysKey(e.cfg.Prefix)
	now := time.Now().UnixMilli()
	var card *redis.IntCmd
	_, err := e.rdb.Pipelined(cctx, func(p redis.Pipeliner) error {
		p.ZAdd(cctx, k, redis.Z{Score: float64(now), Member: e.id})
		p.ZRemRangeByScore(cctx, k, "-inf", fmt.Sprint(now-10_000))
		card = p.ZCard(cctx, k)
		p.PExpire(cctx, k, time.Minute)
		return nil
	})
	if err == nil && card.Val() > 0 {
		e.replicas.Store(card.Val())
		e.okAt.Store(time.Now().UnixNano())
	}
}
