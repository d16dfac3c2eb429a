//go:build chaos

package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/foyerhq/foyer/queue"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// The crowd and the room of every cell.
const (
	room       = "chaos"
	nGateways  = 3
	joinFor    = 12 * time.Second
	joinEvery  = 40 * time.Millisecond // 25 joins/s
	cellFor    = 45 * time.Second      // hard end of a cell, drain included
	pollEvery  = 300 * time.Millisecond
	capActive  = 25
	ratePerMin = 1800
	faultAt    = 4 * time.Second
)

var settings = queue.Settings{
	RatePerMinute: ratePerMin,
	MaxActive:     capActive,
	Session:       20 * time.Second,
	MaxSession:    60 * time.Second,
	AbsentAfter:   3 * time.Second,
	Grace:         30 * time.Second,
}

var ticketKeys = []queue.TicketKey{{ID: 1, Secret: []byte("chaos ticket key, 32 bytes long!")}}

type gateway struct {
	e      *queue.Engine
	rdb    *redis.Client
	cancel context.CancelFunc
	done   chan struct{}
	alive  atomic.Bool
}

// harness runs one cell: the gateways, the crowd, the fault, and the client-side record the
// invariants are checked against.
type harness struct {
	t      *testing.T
	srv    *server
	prefix string
	start  time.Time

	gwMu sync.Mutex
	gws  [nGateways]*gateway

	killOnClaim atomic.Int32 // 1 + index of a gateway to kill in the middle of its next claim

	mu         sync.Mutex
	numbers    map[int64]string       // ticket number -> visitor
	jtiOwner   map[string]string      // lease id -> visitor
	served     map[string]queue.Lease // visitor -> its admission
	live       map[string]string      // visitor -> lease id, admitted and not released
	maxLive    int
	admits     []time.Time
	violations []string
	joined     int
	admitted   int
	left       int
	waiting    int // still waiting at the end
	faultEnd   time.Time
	firstAfter time.Time
}

func (h *harness) violate(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.violations = append(h.violations, fmt.Sprintf(format, args...))
}

func (h *harness) startGateway(i int) {
	c := redis.NewClient(&redis.Options{Addr: h.srv.addr(), MaxRetries: 1, DialTimeout: time.Second})
	log := zerolog.Nop()
	if os.Getenv("CHAOS_LOG") != "" {
		log = zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Int("gateway", i).Logger()
	}
	e, err := queue.New(c, queue.Config{Prefix: h.prefix, TicketKeys: ticketKeys, Logger: log})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx := context.Background()
	for attempt := 0; ; attempt++ {
		if err = e.Ready(ctx); err == nil {
			if _, err = e.EnsureRoom(ctx, room, settings); err == nil {
				break
			}
		}
		if attempt > 50 {
			h.t.Fatalf("gateway %d: %v", i, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rctx, cancel := context.WithCancel(ctx)
	g := &gateway{e: e, rdb: c, cancel: cancel, done: make(chan struct{})}
	g.alive.Store(true)
	go func() { _ = e.Run(rctx); close(g.done) }()
	h.gwMu.Lock()
	h.gws[i] = g
	h.gwMu.Unlock()
}

// killGateway ends a gateway: its loops stop, and replies of calls in flight are lost.
func (h *harness) killGateway(i int) {
	h.gwMu.Lock()
	g := h.gws[i]
	h.gwMu.Unlock()
	if g == nil || !g.alive.CompareAndSwap(true, false) {
		return
	}
	g.cancel()
	go func() { <-g.done; _ = g.rdb.Close() }()
}

// pick returns a live gateway, the visitor's own if it is alive (a load balancer's choice).
func (h *harness) pick(own int) (*gateway, int) {
	h.gwMu.Lock()
	defer h.gwMu.Unlock()
	for k := 0; k < nGateways; k++ {
		i := (own + k) % nGateways
		if g := h.gws[i]; g != nil && g.alive.Load() {
			return g, i
		}
	}
	return nil, -1
}

func (h *harness) elapsed() time.Duration { return time.Since(h.start) }

// rel is t as time into the cell.
func (h *harness) rel(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Sub(h.start).Round(time.Millisecond).String()
}

func (h *harness) admit(id string, l queue.Lease) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if owner, ok := h.jtiOwner[l.JTI]; ok && owner != id {
		h.violations = append(h.violations, fmt.Sprintf("lease %s given to two visitors", l.JTI))
	}
	h.jtiOwner[l.JTI] = id
	if prev, ok := h.served[id]; ok {
		if prev.JTI != l.JTI {
			h.violations = append(h.violations, fmt.Sprintf("served visitor (ticket %d) admitted again: first %s at %s, again %s at %s (fault over at %s)",
				l.Ticket, prev.JTI, h.rel(prev.IssuedAt), l.JTI, h.rel(l.IssuedAt), h.rel(h.faultEnd)))
			h.served[id] = l
		}
		return false
	}
	h.served[id] = l
	h.live[id] = l.JTI
	if len(h.live) > capActive {
		h.violations = append(h.violations, fmt.Sprintf("%d live admissions, cap %d", len(h.live), capActive))
	}
	h.maxLive = max(h.maxLive, len(h.live))
	now := time.Now()
	h.admits = append(h.admits, now)
	h.admitted++
	if !h.faultEnd.IsZero() && now.After(h.faultEnd) && h.firstAfter.IsZero() {
		h.firstAfter = now
	}
	return true
}

func (h *harness) markFaultEnd() {
	h.mu.Lock()
	h.faultEnd = time.Now()
	h.mu.Unlock()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// visitor is one member of the crowd: joins, polls, claims when admitted, holds the session,
// releases (twice: the second must change nothing), and may keep polling afterwards.
func (h *harness) visitor(ctx context.Context, idx int) {
	rng := rand.New(rand.NewPCG(uint64(idx), 7))
	id := queue.NewVisitorID()
	own := idx % nGateways
	leaver := rng.Float64() < 0.1
	stubborn := rng.Float64() < 0.3 // keeps polling and claiming after its session
	var enc string
	for enc == "" {
		g, _ := h.pick(own)
		if g == nil {
			if !sleepCtx(ctx, 100*time.Millisecond) {
				return
			}
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		tk, e, err := g.e.Join(cctx, room, id)
		cancel()
		if err == nil && g.alive.Load() {
			h.mu.Lock()
			if other, ok := h.numbers[tk.Number]; ok && other != id {
				h.violations = append(h.violations, fmt.Sprintf("ticket number %d issued twice", tk.Number))
			}
			h.numbers[tk.Number] = id
			h.joined++
			h.mu.Unlock()
			enc = e
			break
		}
		if ctx.Err() != nil || !sleepCtx(ctx, 200*time.Millisecond) {
			return
		}
	}
	leaveAt := time.Now().Add(time.Duration(rng.Int64N(int64(3 * time.Second))))
	for {
		if leaver && time.Now().After(leaveAt) {
			h.mu.Lock()
			h.left++
			h.mu.Unlock()
			return
		}
		if ctx.Err() != nil {
			h.mu.Lock()
			h.waiting++
			h.mu.Unlock()
			h.violate("visitor %s still waiting at the end of the cell", id[:8])
			return
		}
		g, gi := h.pick(own)
		if g == nil {
			sleepCtx(ctx, pollEvery)
			continue
		}
		tk, err := g.e.DecodeTicket(room, enc)
		if err != nil {
			h.violate("ticket refused: %v", err)
			return
		}
		st, err := g.e.Status(ctx, tk)
		if err != nil || !st.Admitted {
			sleepCtx(ctx, pollEvery)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if h.killOnClaim.CompareAndSwap(int32(gi+1), 0) {
			go func() {
				time.Sleep(time.Duration(rng.Int64N(int64(2 * time.Millisecond))))
				h.killGateway(gi)
				cancel()
				h.markFaultEnd()
			}()
		}
		l, err := g.e.Claim(cctx, tk)
		cancel()
		if !g.alive.Load() {
			continue // the gateway died: its reply never reached the visitor
		}
		switch {
		case err == nil:
			h.admit(id, l)
			h.session(ctx, rng, id, own, l, tk, stubborn)
			return
		case errors.Is(err, queue.ErrTicketSpent):
			h.mu.Lock()
			h.waiting++
			h.mu.Unlock()
			h.violate("waiting visitor (ticket %d) refused as spent", tk.Number)
			return
		default:
			sleepCtx(ctx, 150*time.Millisecond)
		}
	}
}

// session holds the admission, releases it twice, and for a stubborn visitor tries to get in
// again.
func (h *harness) session(ctx context.Context, rng *rand.Rand, id string, own int, l queue.Lease, tk queue.Ticket, stubborn bool) {
	sleepCtx(ctx, 300*time.Millisecond+time.Duration(rng.Int64N(int64(900*time.Millisecond))))
	h.mu.Lock()
	delete(h.live, id) // before the release: Redis still counts it until the release is done
	h.mu.Unlock()
	released := false
	for try := 0; try < 50 && !released; try++ {
		g, _ := h.pick(own + try)
		if g == nil {
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		err := g.e.Release(ctx, room, l.JTI, queue.OutcomeBooked)
		switch {
		case err == nil, errors.Is(err, queue.ErrUnknownLease):
			released = true
		default:
			sleepCtx(ctx, 200*time.Millisecond)
		}
	}
	if g, _ := h.pick(own + 1); g != nil && released {
		if err := g.e.Release(ctx, room, l.JTI, queue.OutcomeBooked); err == nil {
			h.violate("lease %s released twice", l.JTI)
		}
	}
	if !stubborn {
		return
	}
	until := time.Now().Add(3 * time.Second)
	for time.Now().Before(until) && ctx.Err() == nil {
		g, _ := h.pick(rng.IntN(nGateways))
		if g != nil {
			if st, err := g.e.Status(ctx, tk); err == nil && st.Admitted {
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				l2, err := g.e.Claim(cctx, tk)
				cancel()
				if err == nil && g.alive.Load() {
					h.admit(id, l2)
				}
			}
		}
		sleepCtx(ctx, pollEvery)
	}
}

type cellResult struct {
	name                            string
	joined, admitted, left, waiting int
	maxLive                         int
	recovery, stall                 time.Duration
	violations                      []string
}

// run plays one cell: fault is called in its own goroutine at the start and arranges its own
// timing (h.elapsed), calling h.markFaultEnd when the fault is over.
func run(t *testing.T, name string, fault func(h *harness)) cellResult {
	h := &harness{
		t:        t,
		srv:      startServer(t),
		prefix:   "chaos-" + strings.ReplaceAll(name, " ", "-"),
		numbers:  map[int64]string{},
		jtiOwner: map[string]string{},
		served:   map[string]queue.Lease{},
		live:     map[string]string{},
	}
	for i := 0; i < nGateways; i++ {
		h.startGateway(i)
	}
	h.start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), cellFor)
	defer cancel()
	var wg sync.WaitGroup
	if fault != nil {
		wg.Add(1)
		go func() { defer wg.Done(); fault(h) }()
	}
	var crowd sync.WaitGroup
	for i := 0; h.elapsed() < joinFor; i++ {
		crowd.Add(1)
		go func() { defer crowd.Done(); h.visitor(ctx, i) }()
		time.Sleep(joinEvery)
	}
	crowd.Wait()
	wg.Wait()
	for i := 0; i < nGateways; i++ {
		h.killGateway(i)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	res := cellResult{name: name, joined: h.joined, admitted: h.admitted, left: h.left,
		waiting: h.waiting, maxLive: h.maxLive, violations: h.violations}
	if !h.faultEnd.IsZero() && !h.firstAfter.IsZero() {
		res.recovery = h.firstAfter.Sub(h.faultEnd)
	}
	sort.Slice(h.admits, func(i, j int) bool { return h.admits[i].Before(h.admits[j]) })
	for i := 1; i < len(h.admits); i++ {
		res.stall = max(res.stall, h.admits[i].Sub(h.admits[i-1]))
	}
	return res
}

// at waits until the cell has run for d.
func (h *harness) at(d time.Duration) { time.Sleep(time.Until(h.start.Add(d))) }

// quiet drops go-redis's own log lines (dial failures are the point of the suite).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestChaos(t *testing.T) {
	redis.SetLogger(quiet{})
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("needs Linux signals and /proc")
	}
	cells := []struct {
		name  string
		fault func(h *harness)
	}{
		{"no fault", nil},
		{"redis killed, restarted empty", func(h *harness) {
			h.at(faultAt)
			h.srv.kill()
			time.Sleep(time.Second)
			if err := h.srv.restartEmpty(); err != nil {
				h.violate("restart: %v", err)
			}
			h.markFaultEnd()
		}},
		{"redis restarted from a 10 s old snapshot", func(h *harness) {
			h.at(1500 * time.Millisecond)
			c := redis.NewClient(&redis.Options{Addr: h.srv.addr()})
			if err := c.Save(context.Background()).Err(); err != nil {
				h.violate("save: %v", err)
			}
			_ = c.Close()
			h.at(11500 * time.Millisecond)
			if err := h.srv.restartFromSnapshot(); err != nil {
				h.violate("restart: %v", err)
			}
			h.markFaultEnd()
		}},
		{"redis paused 3 s (SIGSTOP)", func(h *harness) {
			h.at(faultAt)
			h.srv.signal(syscall.SIGSTOP)
			time.Sleep(3 * time.Second)
			h.srv.signal(syscall.SIGCONT)
			h.markFaultEnd()
		}},
		{"gateway killed", func(h *harness) {
			h.at(faultAt)
			h.killGateway(0)
			h.markFaultEnd()
			time.Sleep(2 * time.Second)
			h.startGateway(0)
		}},
		{"gateway and redis killed", func(h *harness) {
			h.at(faultAt)
			h.killGateway(0)
			h.srv.kill()
			time.Sleep(time.Second)
			if err := h.srv.restartEmpty(); err != nil {
				h.violate("restart: %v", err)
			}
			h.markFaultEnd()
			time.Sleep(2 * time.Second)
			h.startGateway(0)
		}},
		{"gateway killed mid-claim", func(h *harness) {
			h.at(faultAt)
			h.killOnClaim.Store(1)
			for h.killOnClaim.Load() != 0 && h.elapsed() < joinFor {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(2 * time.Second)
			h.startGateway(0)
		}},
	}
	if only := os.Getenv("CHAOS_CELLS"); only != "" {
		var keep = cells[:0]
		for _, c := range cells {
			if strings.Contains(only, c.name) {
				keep = append(keep, c)
			}
		}
		cells = keep
	}
	var rows []cellResult
	for _, c := range cells {
		start := time.Now()
		r := run(t, c.name, c.fault)
		rows = append(rows, r)
		t.Logf("cell %q done in %v: %d violations", c.name, time.Since(start).Round(time.Second), len(r.violations))
		for i, v := range r.violations {
			if i == 10 {
				t.Errorf("%s: ... %d more", c.name, len(r.violations)-10)
				break
			}
			t.Errorf("%s: %s", c.name, v)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| fault | joined | admitted | left | waiting at end | max live (cap %d) | invariants | recovery | longest stall |\n", capActive)
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		inv := "held"
		if len(r.violations) > 0 {
			inv = fmt.Sprintf("**%d violations**", len(r.violations))
		}
		rec := "-"
		if r.recovery > 0 {
			rec = r.recovery.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %s | %s | %s |\n", r.name, r.joined, r.admitted,
			r.left, r.waiting, r.maxLive, inv, rec, r.stall.Round(10*time.Millisecond))
	}
	fmt.Println(b.String())
}
