package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foyerhq/foyer/internal/boxoffice"
)

// Mode is how visitors reach the booking site.
type Mode string

// The modes.
const (
	// Direct: straight at the backend, everyone at once, the way the festival's site was hit.
	Direct Mode = "direct"
	// Foyer: through a foyer gateway in proxy mode: join, poll, get in, book.
	Foyer Mode = "foyer"
	// Paced: through an ideal waiting room inside the simulator, which lets visitors in at a
	// fixed rate under a cap (pre-queue shuffled, then first come first served). It needs no
	// gateway: rehearsals use it to measure what the backend can take.
	Paced Mode = "paced"
)

// Target says where the crowd goes.
type Target struct {
	Mode Mode
	// URL is where visitors go: the backend (Direct, Paced) or foyer (Foyer).
	URL string
	// BasePath is the booking site's path, default "/book".
	BasePath string
	// Room and Prefix name foyer's room and path prefix (default "/foyer").
	Room   string
	Prefix string
	// BackendURL is where the box office's /boxoffice/ routes are (stats, reset); default URL
	// in Direct and Paced mode, none in Foyer mode.
	BackendURL string
	// ResetBackend resets the box office (seats and figures) before the run.
	ResetBackend bool
	// RatePerMinute and MaxActive drive the Paced waiting room, in sale time.
	RatePerMinute float64
	MaxActive     int
	// ForwardedFor sends each visitor's own X-Forwarded-For, so a gateway that trusts the
	// loopback as a proxy rate-limits visitors one by one.
	ForwardedFor bool
	// BearerToken sends the admission token as Authorization: Bearer (token mode); otherwise
	// the cookie carries it (proxy mode).
	BearerToken bool
	// RedisRoundTrips, when set, reads a counter of the Redis round trips foyer's Redis has
	// served (e.g. INFO's total_reads_processed of a private Redis); read before and after the
	// crowd, it gives the round trips per status poll.
	RedisRoundTrips func(ctx context.Context) (int64, error)
	// Flagged, when set, counts the people on foyer's refund list (charged, not booked) once
	// the run is over and the box office has reported every outcome.
	Flagged func(ctx context.Context) (int64, error)
	// Prepare, when set, runs before the crowd starts with the wall time of the opening, e.g.
	// to set the room's opens_at.
	Prepare func(ctx context.Context, opening time.Time) error
}

// Options tune the run itself.
type Options struct {
	// Label names the run in the report, e.g. "straight at the backend".
	Label string
	// Workers is how many HTTP exchanges may be in progress at once (default 1024): the
	// crowd's concurrency limit, far above any backend's capacity.
	Workers int
	// Progress, when set, gets a progress bar.
	Progress io.Writer
	// ProgressTTY redraws the bar in place; otherwise a line is written now and then.
	ProgressTTY bool
	// Transport carries the requests; default a loopback-tuned one.
	Transport http.RoundTripper
	// InProcess says what else runs in this process (its CPU counts as the simulator's).
	InProcess string
}

// runner is one run in progress.
type runner struct {
	sc            Scenario
	tgt           Target
	opt           Options
	clock         clock
	base          string
	roomPath      string
	client        *http.Client
	clientTimeout time.Duration
	visitors      []visitor
	eng           *engine
	pacer         *pacer
	cancel        context.CancelFunc

	count struct {
		requests                                  [len(actionNames)]atomic.Int64
		finished, gotIn, bookings, sentBack, errs atomic.Int64
		stalled                                   atomic.Int64
	}
	// redisTrips is the Redis round trips during the run (Target.RedisRoundTrips); -1 unknown.
	redisTrips int64
	// Notes are remarks for the result.
	Notes []string
	// prequeueSize is how many tickets foyer shuffled at the opening (its fairness record):
	// places 1..prequeueSize are the pre-queue's. 0 when unknown.
	prequeueSize int64

	errMu      sync.Mutex
	errRecs    []errRec
	errSamples map[string]string // "action kind" -> first body seen
	rises      []string          // the first place rises seen
}

type errRec struct {
	t    float32
	kind errKind
}

// clock maps wall time to sale time: sale0 at wall0, Speed sale seconds per wall second.
type clock struct {
	wall0 time.Time
	sale0 float64
	speed float64
}

func (c clock) sale(w time.Time) float64 { return c.sale0 + w.Sub(c.wall0).Seconds()*c.speed }

func (c clock) wall(s float64) time.Time {
	return c.wall0.Add(time.Duration((s - c.sale0) / c.speed * float64(time.Second)))
}

// Run plays sc against tgt and measures it.
func Run(ctx context.Context, sc Scenario, tgt Target, opt Options) (*Result, error) {
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("sim: scenario: %w", err)
	}
	if err := tgt.fill(); err != nil {
		return nil, fmt.Errorf("sim: target: %w", err)
	}
	if opt.Workers <= 0 {
		opt.Workers = 1024
	}
	if opt.Label == "" {
		opt.Label = string(tgt.Mode)
	}
	r := &runner{sc: sc, tgt: tgt, opt: opt, base: strings.TrimRight(tgt.URL, "/"), errSamples: map[string]string{}}
	r.roomPath = tgt.Prefix + "/v1/rooms/" + tgt.Room
	// A browser gives up after ClientTimeout of sale time; the floor keeps a moment of the
	// simulator's own CPU starvation (the opening spike, compressed) from passing for one.
	r.clientTimeout = max(time.Duration(float64(sc.ClientTimeout)/sc.Speed), 5*time.Second)
	tr := opt.Transport
	if tr == nil {
		own := loopbackTransport(opt.Workers)
		defer own.CloseIdleConnections()
		tr = own
	}
	r.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	r.build()

	if tgt.ResetBackend && tgt.BackendURL != "" {
		if err := r.resetBackend(ctx); err != nil {
			return nil, err
		}
	}
	sale0 := 0.0
	if tgt.Mode == Foyer {
		sale0 = sc.start()
	}
	r.clock = clock{wall0: time.Now().Add(300 * time.Millisecond), sale0: sale0, speed: sc.Speed}
	if tgt.Mode == Foyer && tgt.Prepare == nil {
		// Nobody sets the opening: follow the room's own, from its public fairness record.
		if at, ok := r.fetchOpening(ctx); ok && time.Until(at) > 0 {
			r.clock.wall0 = at.Add(-time.Duration(-sale0 / sc.Speed * float64(time.Second)))
			if time.Until(r.clock.wall0) < 0 { // the pre-queue window began already: its early part arrives at once
				r.Notes = append(r.Notes, fmt.Sprintf("the room opens at %s, sooner than the scenario's pre-queue window: visitors drawn to arrive earlier join at the start", at.Format(time.RFC3339)))
			}
		} else {
			r.Notes = append(r.Notes, "the room's opening is unknown or past: the scenario's opening is the start of the run")
		}
	}
	if tgt.Prepare != nil {
		if err := tgt.Prepare(ctx, r.clock.wall(0)); err != nil {
			return nil, fmt.Errorf("sim: prepare: %w", err)
		}
		if time.Now().After(r.clock.wall0) { // preparing took a while: start from now
			r.clock.wall0 = time.Now().Add(100 * time.Millisecond)
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.cancel = cancel
	r.eng = newEngine(opt.Workers)
	r.schedule()
	stopAt := time.AfterFunc(time.Until(r.clock.wall(sc.MaxSaleTime.Seconds())), cancel)
	defer stopAt.Stop()

	r.redisTrips = -1
	var trips0 int64
	if tgt.RedisRoundTrips != nil {
		if n, err := tgt.RedisRoundTrips(ctx); err == nil {
			trips0, r.redisTrips = n, 0
		}
	}
	ov := startOverhead()
	progressDone := r.progress(runCtx)
	r.eng.run(runCtx, opt.Workers)
	wallEnd := time.Now()
	over := ov.stop(r.eng)
	<-progressDone

	if r.redisTrips == 0 {
		if n, err := tgt.RedisRoundTrips(ctx); err == nil {
			r.redisTrips = n - trips0
		} else {
			r.redisTrips = -1
		}
	}
	if tgt.Mode == Foyer {
		r.prequeueSize = r.fetchPrequeueSize(ctx)
	}
	backend, berr := r.backendStats(ctx)
	res := r.result(wallEnd, backend, over)
	res.Flagged = -1
	if tgt.Flagged != nil {
		n, err := tgt.Flagged(ctx)
		if err != nil {
			res.Notes = append(res.Notes, "foyer's refund list unavailable: "+err.Error())
		} else {
			res.Flagged = n
		}
	}
	res.Notes = append(res.Notes, r.Notes...)
	for _, s := range r.rises {
		res.Notes = append(res.Notes, "place rose: "+s)
	}
	if berr != nil {
		res.Notes = append(res.Notes, "backend figures unavailable: "+berr.Error())
	}
	return res, nil
}

func (t *Target) fill() error {
	if t.BasePath == "" {
		t.BasePath = "/book"
	}
	if t.Prefix == "" {
		t.Prefix = "/foyer"
	}
	if t.URL == "" {
		return errors.New("url is required")
	}
	switch t.Mode {
	case Direct, Paced:
		if t.BackendURL == "" {
			t.BackendURL = t.URL
		}
		if t.Mode == Paced && (t.RatePerMinute <= 0 || t.MaxActive <= 0) {
			return errors.New("paced mode needs rate_per_minute and max_active")
		}
	case Foyer:
		if t.Room == "" {
			return errors.New("foyer mode needs a room")
		}
	default:
		return fmt.Errorf("unknown mode %q", t.Mode)
	}
	return nil
}

// loopbackTransport keeps a connection per worker alive, so the crowd does not churn ports.
func loopbackTransport(workers int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        workers * 2,
		MaxIdleConnsPerHost: workers * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// build draws the crowd.
func (r *runner) build() {
	sc := r.sc
	arr := sc.arrivals()
	r.visitors = make([]visitor, len(arr))
	rng := rand.New(rand.NewPCG(sc.Seed, 0xbe4a))
	inf := math.Inf(1)
	hot := max(1, sc.Screenings/10)
	// shared addresses: enough groups that each holds about (GroupMin+GroupMax)/2 visitors
	groups := 1
	if c := sc.Crowd; c.GroupShare > 0 {
		groups = max(1, int(float64(len(arr))*c.GroupShare/float64(c.GroupMin+c.GroupMax)*2))
	}
	for i := range r.visitors {
		v := &r.visitors[i]
		v.id = int32(i)
		v.arrival = arr[i]
		v.joined = math.NaN() // set when its first request goes out
		if v.arrival < 0 && r.tgt.Mode == Paced {
			v.joined = v.arrival // the ideal room takes the pre-queue as drawn
		}
		v.prequeue = arr[i] < 0
		v.tabs = 1
		v.abandonAt, v.awayAt, v.awayUntil, v.tab2At = inf, inf, inf, inf
		from := math.Max(arr[i], 0)
		v.returnAt, v.hidden, v.group, v.skippedAt = inf, inf, -1, math.NaN()
		if rng.Float64() < sc.AbandonShare {
			v.abandonAt = from + rng.ExpFloat64()*sc.Patience.Seconds()
			if rng.Float64() < sc.ReturnShare {
				v.returnAt = v.abandonAt + uniformSec(sc.ReturnMin, sc.ReturnMax)
			}
		}
		c := sc.Crowd
		switch x := rng.Float64(); {
		case x < c.BotShare:
			v.kind, v.abandonAt, v.returnAt = kBot, inf, inf
			v.group = int32(groups + rng.IntN(max(1, c.BotAddrs)))
		case x < c.BotShare+c.PhoneShare:
			v.kind = kPhone
			v.awayAt = from + rng.ExpFloat64()*c.PhoneAwake.Seconds()
			v.awayUntil = v.awayAt + c.SleepMin.Seconds() + rng.Float64()*(c.SleepMax-c.SleepMin).Seconds()
		case x < c.BotShare+c.PhoneShare+c.HiddenShare:
			v.kind = kHidden
			v.hidden = from + c.HiddenAfter.Seconds()
		case x < c.BotShare+c.PhoneShare+c.HiddenShare+c.ImpatientShare:
			v.kind = kImpatient
		}
		if v.kind != kBot && c.GroupShare > 0 && rng.Float64() < c.GroupShare {
			// groups of GroupMin..GroupMax: the group is drawn so that a group fills up on average
			v.group = int32(rng.IntN(groups))
		}
		if v.kind != kPhone && rng.Float64() < sc.AwayShare {
			v.awayAt = from + rng.ExpFloat64()*120
			v.awayUntil = v.awayAt + rng.ExpFloat64()*sc.AwayMean.Seconds()
		}
		if v.kind != kBot && rng.Float64() < sc.SecondTabShare && r.tgt.Mode == Foyer {
			v.tab2At = arr[i] + 5 + rng.ExpFloat64()*60
		}
		switch x := rng.Float64(); {
		case x < 0.2:
			v.seats = 1
		case x < 0.7:
			v.seats = 2
		case x < 0.85:
			v.seats = 3
		default:
			v.seats = 4
		}
		if rng.Float64() < 0.3 { // a third go for the festival's hot titles
			v.screening = 1 + rng.Int32N(int32(hot))
		} else {
			v.screening = 1 + rng.Int32N(int32(sc.Screenings))
		}
	}
}

// schedule puts every visitor's first step on the engine.
func (r *runner) schedule() {
	if r.tgt.Mode == Paced {
		r.pacer = newPacer(r)
	}
	jitter := r.sc.ClickJitter.Seconds()
	rng := rand.New(rand.NewPCG(r.sc.Seed, 0xc11c))
	for i := range r.visitors {
		v := &r.visitors[i]
		t := &tab{r: r, v: v}
		at := v.arrival
		switch r.tgt.Mode {
		case Direct:
			if at < 0 { // waiting on the countdown page, they click when it opens
				at = rng.Float64() * jitter
			}
		case Paced:
			if v.prequeue {
				v.ph = phWait
				r.pacer.pre = append(r.pacer.pre, v)
				continue
			}
		case Foyer:
			if !math.IsInf(v.tab2At, 1) {
				v.tabs++
				r.eng.schedule(r.clock.wall(v.tab2At), &tab{r: r, v: v, second: true})
			}
		}
		r.eng.schedule(r.clock.wall(at), t)
	}
	if r.pacer != nil {
		r.eng.schedule(r.clock.wall(0), r.pacer)
	}
}

// riseSample keeps the first few place rises' details for the result's notes.
func (r *runner) riseSample(s string) {
	r.errMu.Lock()
	if len(r.rises) < 5 {
		r.rises = append(r.rises, s)
	}
	r.errMu.Unlock()
}

func (r *runner) recordError(k errKind, act action, body []byte, now float64) {
	r.count.errs.Add(1)
	r.errMu.Lock()
	r.errRecs = append(r.errRecs, errRec{float32(now), k})
	key := actionNames[act] + " " + errKindNames[k]
	if _, seen := r.errSamples[key]; !seen {
		if len(body) > 160 {
			body = body[:160]
		}
		r.errSamples[key] = string(body)
	}
	r.errMu.Unlock()
}

func (r *runner) resetBackend(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(r.tgt.BackendURL, "/")+"/boxoffice/reset", nil)
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("sim: reset backend: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("sim: reset backend: status %d (start it with --allow-reset)", resp.StatusCode)
	}
	return nil
}

// fetchOpening reads the room's opening from its public fairness record.
func (r *runner) fetchOpening(ctx context.Context) (time.Time, bool) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.base+r.roomPath+"/fairness", nil)
	resp, err := r.client.Do(req)
	if err != nil {
		return time.Time{}, false
	}
	defer resp.Body.Close()
	var f struct {
		OpensAt string `json:"opens_at"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&f) != nil {
		return time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339, f.OpensAt)
	return at, err == nil
}

// fetchPrequeueSize reads the room's public fairness record; 0 when it cannot.
func (r *runner) fetchPrequeueSize(ctx context.Context) int64 {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.base+r.roomPath+"/fairness", nil)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var f struct {
		Opened       bool  `json:"opened"`
		PrequeueSize int64 `json:"prequeue_size"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&f) != nil || !f.Opened {
		return 0
	}
	return f.PrequeueSize
}

// backendStats reads the box office's figures once its requests in progress have drained.
func (r *runner) backendStats(ctx context.Context) (*boxoffice.Stats, error) {
	if r.tgt.BackendURL == "" {
		return nil, errors.New("no backend URL")
	}
	url := strings.TrimRight(r.tgt.BackendURL, "/") + "/boxoffice/stats"
	// requests in progress end by the client timeout; release calls to foyer (retried) within 30 s
	deadline := time.Now().Add(max(r.clientTimeout+2*time.Second, 30*time.Second))
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("sim: backend stats: %w", err)
		}
		var s boxoffice.Stats
		err = json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&s)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("sim: backend stats: %w", err)
		}
		if (s.InFlight == 0 && s.Queued == 0 && s.ReleasesPending == 0) || time.Now().After(deadline) {
			return &s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pacer is the Paced mode's ideal waiting room: it admits at a fixed rate (credit accrues
// continuously, at most one second's worth banked) while fewer than MaxActive are in.
type pacer struct {
	r      *runner
	rate   float64 // per sale second
	mu     sync.Mutex
	pre    []*visitor // arrived before the opening: shuffled then
	line   []*visitor
	head   int
	opened bool
	credit float64
	last   float64
	active atomic.Int64
}

func newPacer(r *runner) *pacer {
	return &pacer{r: r, rate: r.tgt.RatePerMinute / 60}
}

func (p *pacer) join(v *visitor) {
	p.mu.Lock()
	p.line = append(p.line, v)
	p.mu.Unlock()
}

func (p *pacer) leave() { p.active.Add(-1) }

func (p *pacer) step(ctx context.Context, wall time.Time) (time.Time, bool) {
	r := p.r
	now := r.clock.sale(wall)
	p.mu.Lock()
	if !p.opened {
		rng := rand.New(rand.NewPCG(r.sc.Seed, 0x5ca1e))
		rng.Shuffle(len(p.pre), func(i, j int) { p.pre[i], p.pre[j] = p.pre[j], p.pre[i] })
		p.line = append(p.pre, p.line...)
		p.pre, p.opened, p.last = nil, true, now
	}
	p.credit = math.Min(p.credit+(now-p.last)*p.rate, math.Max(1, p.rate))
	p.last = now
	p.mu.Unlock()
	for {
		p.mu.Lock()
		if p.credit < 1 || p.active.Load() >= int64(r.tgt.MaxActive) || p.head >= len(p.line) {
			p.mu.Unlock()
			break
		}
		v := p.line[p.head]
		p.line[p.head] = nil
		p.head++
		p.mu.Unlock()

		v.mu.Lock()
		switch {
		case v.ph == phDone:
		case now >= v.abandonAt:
			r.finish(v, Abandoned, now)
		default:
			p.mu.Lock()
			p.credit--
			p.mu.Unlock()
			p.active.Add(1)
			v.admitted, v.adm, v.ph = true, Interval{now, now}, phBrowse
			r.count.gotIn.Add(1)
			r.eng.schedule(wall, &tab{r: r, v: v})
		}
		v.mu.Unlock()
	}
	// Ten ticks per sale second at most, and at least every 50 ms of wall time.
	next := wall.Add(min(50*time.Millisecond, time.Duration(float64(100*time.Millisecond)/r.sc.Speed)))
	return next, ctx.Err() == nil
}
