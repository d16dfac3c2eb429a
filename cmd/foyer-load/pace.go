package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// paceConfig shapes a pace run.
type paceConfig struct {
	replicas  int
	rate      int // admitted per minute, configured
	maxActive int
	duration  time.Duration // the measured window
	warmup    time.Duration // from the first admission to the start of the window
	crowd     int           // waiting visitors kept in line
	holdMin   time.Duration // how long an admitted visitor keeps the slot before releasing it
	holdMax   time.Duration
	absent    time.Duration
}

// paceSample is one reading of the room from a replica's admin API.
type paceSample struct {
	at                        time.Time
	admitted, active, waiting int64
	offers                    int64
	skipped                   int64
}

type adminRoomJSON struct {
	Settings struct {
		RatePerMinute int   `json:"rate_per_minute"`
		MaxActive     int   `json:"max_active"`
		Version       int64 `json:"version"`
	} `json:"settings"`
	Live struct {
		Waiting  int64 `json:"waiting"`
		Admitted int64 `json:"admitted"`
		Active   int64 `json:"active"`
		Offers   int64 `json:"offers"`
		Skipped  int64 `json:"skipped"`
	} `json:"live"`
}

func runPace(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rf redisFlags
	rf.bind(fs)
	var pc paceConfig
	fs.IntVar(&pc.replicas, "replicas", 3, "gateway replicas (processes) on the room")
	fs.IntVar(&pc.rate, "rate", 600, "the room's rate_per_minute")
	fs.IntVar(&pc.maxActive, "max-active", 300, "the room's max_active (the cap; set above rate x hold so the rate binds)")
	fs.DurationVar(&pc.duration, "duration", 10*time.Minute, "measured window")
	fs.DurationVar(&pc.warmup, "warmup", 20*time.Second, "from the first admission to the start of the window")
	fs.IntVar(&pc.crowd, "crowd", 0, "waiting visitors kept in line (default: two minutes of the rate, at least 200)")
	fs.DurationVar(&pc.holdMin, "hold-min", 5*time.Second, "shortest time an admitted visitor keeps the slot before release")
	fs.DurationVar(&pc.holdMax, "hold-max", 20*time.Second, "longest time an admitted visitor keeps the slot")
	fs.DurationVar(&pc.absent, "absent-after", 30*time.Second, "the room's absent_after")
	keep := fs.Bool("keep", false, "keep the temporary directory (configs, logs)")
	strict := fs.Bool("strict", false, "exit with status 3 when a budget is missed")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if pc.crowd == 0 {
		pc.crowd = max(200, 2*pc.rate)
	}
	if pc.replicas < 1 || pc.replicas > 8 || pc.rate < 1 || pc.rate > 6000 || pc.duration < 30*time.Second || pc.duration > time.Hour ||
		pc.crowd > 20000 || pc.holdMin < 0 || pc.holdMax < pc.holdMin || pc.warmup < 0 || pc.warmup > 10*time.Minute {
		fmt.Fprintln(stderr, "foyer-load pace: replicas 1..8, rate 1..6000, duration 30s..1h, crowd <= 20000, hold-min <= hold-max, warmup <= 10m")
		return 2
	}
	dir, st, done, err := begin(ctx, "pace", rf, *keep, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer done()

	const room = "pace"
	set := newSetup(dir, st, roomSpec{Name: room, RatePerMinute: pc.rate, MaxActive: pc.maxActive, Session: time.Minute,
		AbsentAfter: pc.absent, Grace: 5 * time.Minute})
	gws, err := set.startGateways(ctx, pc.replicas)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer stopAll(gws)
	var bases []string
	for _, g := range gws {
		bases = append(bases, "http://"+g.ready.Listen)
		fmt.Fprintf(stdout, "replica: pid %d on %s\n", g.pid(), g.ready.Listen)
	}
	fmt.Fprintf(stdout, "room %s: rate %d/min, max_active %d, absent_after %s, everyone queued; crowd of %d waiting, "+
		"each request to a random replica, admitted visitors release after %s..%s\n", room, pc.rate, pc.maxActive, pc.absent,
		pc.crowd, pc.holdMin, pc.holdMax)
	fmt.Fprintf(stdout, "window: %s, starting %s after the first admission\n\n", pc.duration, pc.warmup)

	res, err := runPaceCrowd(ctx, stdout, pc, bases, room, set.adminToken)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	prop, perr := measurePropagation(ctx, bases, room, set.adminToken, pc.rate)
	fmt.Fprintln(stdout)
	ok := printPace(stdout, pc, res)
	if perr != nil {
		ok = false
		fmt.Fprintf(stdout, "  settings change seen by every replica: %v\n", perr)
	} else {
		ok = ok && prop <= time.Second
		fmt.Fprintf(stdout, "  settings change seen by every replica: %s after the PATCH answered (slowest of %d), budget <= 1s: %s\n",
			prop.Round(time.Millisecond), len(bases), verdict(prop <= time.Second))
	}
	fmt.Fprintf(stdout, "load average after: %s\n", loadAvg())
	if *strict && !ok {
		return 3
	}
	return 0
}

// paceResult is what the crowd and the sampler saw.
type paceResult struct {
	samples           []paceSample // from the window's start to its end
	windowStart       time.Time
	joined, claimed   int64
	released, errs    int64
	polls             int64
	lineDry           int // samples in the window with nobody waiting
	maxActive, capNow int64
	firstErr          string
}

// crowd is the visitors: join, poll as told, claim when admitted, hold, release.
type crowd struct {
	cl      *http.Client
	bases   []string
	room    string
	pc      paceConfig
	waiting atomic.Int64
	joined  atomic.Int64
	claimed atomic.Int64
	release atomic.Int64
	polls   atomic.Int64
	errs    atomic.Int64
	errMu   sync.Mutex
	lastErr string
}

type visitorStatus struct {
	Admitted    bool   `json:"admitted"`
	Token       string `json:"token"`
	Ticket      string `json:"ticket"`
	PollAfterMS int64  `json:"poll_after_ms"`
	Place       *int64 `json:"place"`
}

func (c *crowd) base() string { return c.bases[rand.IntN(len(c.bases))] }

func (c *crowd) fail(err error) {
	c.errs.Add(1)
	c.errMu.Lock()
	c.lastErr = err.Error()
	c.errMu.Unlock()
}

func (c *crowd) do(ctx context.Context, method, path string, hdr map[string]string, body []byte) (int, visitorStatus, error) {
	var vs visitorStatus
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base()+"/foyer/v1/rooms/"+c.room+path, rd)
	if err != nil {
		return 0, vs, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(visitorSecretHeader, loadVisitorSecret)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.cl.Do(req)
	if err != nil {
		return 0, vs, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &vs); err != nil {
			return resp.StatusCode, vs, err
		}
	}
	return resp.StatusCode, vs, nil
}

// visit is one visitor's whole stay.
func (c *crowd) visit(ctx context.Context) {
	c.waiting.Add(1)
	waiting := true
	defer func() {
		if waiting {
			c.waiting.Add(-1)
		}
	}()
	code, vs, err := c.do(ctx, http.MethodPost, "/join", nil, nil)
	if err != nil || code != http.StatusOK || vs.Ticket == "" {
		if ctx.Err() == nil {
			c.fail(fmt.Errorf("join: %d %v", code, err))
		}
		return
	}
	c.joined.Add(1)
	ticket := vs.Ticket
	for !vs.Admitted {
		wait := time.Duration(max(vs.PollAfterMS, 200)) * time.Millisecond
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		code, vs, err = c.do(ctx, http.MethodGet, "/status", map[string]string{"Foyer-Ticket": ticket}, nil)
		c.polls.Add(1)
		if err != nil || code != http.StatusOK {
			if ctx.Err() != nil {
				return
			}
			c.fail(fmt.Errorf("status: %d %v", code, err))
			vs = visitorStatus{PollAfterMS: 1000} // try again, as the page does
		}
	}
	c.waiting.Add(-1)
	waiting = false
	c.claimed.Add(1)
	hold := c.pc.holdMin + time.Duration(rand.Int64N(int64(c.pc.holdMax-c.pc.holdMin)+1))
	select {
	case <-ctx.Done():
		return
	case <-time.After(hold):
	}
	code, _, err = c.do(ctx, http.MethodPost, "/release", map[string]string{"Authorization": "Bearer " + vs.Token,
		"Content-Type": "application/json"}, []byte(`{"outcome":"booked"}`))
	if err != nil || code != http.StatusNoContent {
		if ctx.Err() == nil {
			c.fail(fmt.Errorf("release: %d %v", code, err))
		}
		return
	}
	c.release.Add(1)
}

// runPaceCrowd keeps the line at the crowd size, samples the room once a second, and returns
// when the window is over.
func runPaceCrowd(ctx context.Context, w io.Writer, pc paceConfig, bases []string, room, adminToken string) (paceResult, error) {
	var res paceResult
	c := &crowd{bases: bases, room: room, pc: pc, cl: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 1024}}}
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	// arrivals: top the line up to the crowd size, at most a few hundred a second
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-t.C:
			}
			for n := min(int64(pc.crowd)-c.waiting.Load(), 50); n > 0; n-- {
				wg.Add(1)
				go func() { defer wg.Done(); c.visit(cctx) }()
			}
		}
	}()

	admin := &http.Client{Timeout: 5 * time.Second}
	sample := func() (paceSample, error) {
		var a adminRoomJSON
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, bases[0]+"/foyer/admin/v1/rooms/"+room, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := admin.Do(req)
		if err != nil {
			return paceSample{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return paceSample{}, fmt.Errorf("admin room: %s", resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			return paceSample{}, err
		}
		res.capNow = int64(a.Settings.MaxActive)
		return paceSample{at: time.Now(), admitted: a.Live.Admitted, active: a.Live.Active, waiting: a.Live.Waiting,
			offers: a.Live.Offers, skipped: a.Live.Skipped}, nil
	}

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	started := time.Now()
	var windowEnd time.Time
	lastReport := time.Now()
	for {
		select {
		case <-ctx.Done():
			return res, errInterrupted
		case <-tick.C:
		}
		s, err := sample()
		if err != nil {
			return res, err
		}
		if res.windowStart.IsZero() {
			if s.admitted > 0 && windowEnd.IsZero() {
				windowEnd = s.at.Add(pc.warmup) // window start, for now
				fmt.Fprintf(w, "first admission %s after start; the window opens in %s\n", time.Since(started).Round(time.Second), pc.warmup)
			}
			if !windowEnd.IsZero() && !s.at.Before(windowEnd) {
				res.windowStart = s.at
				windowEnd = s.at.Add(pc.duration)
				res.samples = append(res.samples, s)
			}
			if s.admitted == 0 && time.Since(started) > 2*time.Minute {
				return res, errors.New("nobody was admitted within two minutes")
			}
			continue
		}
		res.samples = append(res.samples, s)
		res.maxActive = max(res.maxActive, s.active+s.offers)
		if s.waiting == 0 {
			res.lineDry++
		}
		if time.Since(lastReport) >= time.Minute {
			lastReport = time.Now()
			fmt.Fprintf(w, "  %s into the window: admitted %d (%.1f/min so far), waiting %d, active %d, crowd joined %d, claimed %d, released %d, errors %d\n",
				s.at.Sub(res.windowStart).Round(time.Second), s.admitted-res.samples[0].admitted,
				float64(s.admitted-res.samples[0].admitted)/s.at.Sub(res.windowStart).Minutes(), s.waiting, s.active,
				c.joined.Load(), c.claimed.Load(), c.release.Load(), c.errs.Load())
		}
		if !s.at.Before(windowEnd) {
			break
		}
	}
	res.joined, res.claimed, res.released, res.errs, res.polls = c.joined.Load(), c.claimed.Load(), c.release.Load(), c.errs.Load(), c.polls.Load()
	res.firstErr = c.lastErr
	return res, nil
}

// measurePropagation changes the rate on the first replica (by one, and back) and returns how
// long after the PATCH answered the slowest other replica served the new settings version.
func measurePropagation(ctx context.Context, bases []string, room, adminToken string, rate int) (time.Duration, error) {
	cl := &http.Client{Timeout: 5 * time.Second}
	get := func(base string) (adminRoomJSON, error) {
		var a adminRoomJSON
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/foyer/admin/v1/rooms/"+room, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := cl.Do(req)
		if err != nil {
			return a, err
		}
		defer resp.Body.Close()
		return a, json.NewDecoder(resp.Body).Decode(&a)
	}
	patch := func(r int) (int64, time.Time, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, bases[0]+"/foyer/admin/v1/rooms/"+room,
			strings.NewReader(fmt.Sprintf(`{"rate_per_minute":%d}`, r)))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := cl.Do(req)
		if err != nil {
			return 0, time.Time{}, err
		}
		done := time.Now()
		defer resp.Body.Close()
		var a adminRoomJSON
		if resp.StatusCode != http.StatusOK {
			return 0, done, fmt.Errorf("patch: %s", resp.Status)
		}
		return a.Settings.Version, done, json.NewDecoder(resp.Body).Decode(&a)
	}
	var worst time.Duration
	for _, r := range []int{rate + 1, rate} {
		_, done, err := patch(r)
		if err != nil {
			return 0, err
		}
		for _, b := range bases[1:] {
			for {
				a, err := get(b)
				if err == nil && a.Settings.RatePerMinute == r {
					worst = max(worst, time.Since(done))
					break
				}
				if time.Since(done) > 10*time.Second {
					return 0, fmt.Errorf("replica %s did not see rate %d within 10s", b, r)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	return worst, nil
}

// printPace prints the pace figures and reports whether the budgets held.
func printPace(w io.Writer, pc paceConfig, res paceResult) bool {
	s := res.samples
	if len(s) < 2 {
		fmt.Fprintln(w, "no window measured")
		return false
	}
	first, last := s[0], s[len(s)-1]
	mins := last.at.Sub(first.at).Minutes()
	got := float64(last.admitted - first.admitted)
	perMin := got / mins
	errPct := 100 * (perMin - float64(pc.rate)) / float64(pc.rate)
	fmt.Fprintf(w, "pace, %d replicas, configured %d/min, window %.2f min:\n", pc.replicas, pc.rate, mins)
	fmt.Fprintf(w, "  %-8s %10s %12s %9s\n", "minute", "admitted", "vs rate", "waiting")
	minLo, minHi := math.Inf(1), math.Inf(-1)
	for m := 1; ; m++ {
		end := first.at.Add(time.Duration(m) * time.Minute)
		i := 0
		for i < len(s) && s[i].at.Before(end) {
			i++
		}
		if i >= len(s) {
			break
		}
		startI := 0
		for startI < len(s) && s[startI].at.Before(end.Add(-time.Minute)) {
			startI++
		}
		a, b := s[startI], s[i]
		rate := float64(b.admitted-a.admitted) / b.at.Sub(a.at).Minutes()
		minLo, minHi = min(minLo, rate), max(minHi, rate)
		fmt.Fprintf(w, "  %-8d %10.1f %+11.2f%% %9d\n", m, rate, 100*(rate-float64(pc.rate))/float64(pc.rate), b.waiting)
	}
	fmt.Fprintf(w, "\n  admitted per minute over the window: %.2f (configured %d): %+.3f%%, budget within 1%%: %s\n", perMin, pc.rate, errPct,
		verdict(math.Abs(errPct) <= 1))
	if !math.IsInf(minLo, 0) {
		fmt.Fprintf(w, "  single minutes: %.1f .. %.1f per minute\n", minLo, minHi)
	}
	fmt.Fprintf(w, "  active sessions + open offers, highest sample: %d, cap %d: %s\n", res.maxActive, res.capNow, verdict(res.maxActive <= res.capNow))
	if res.lineDry > 0 {
		fmt.Fprintf(w, "  the line was empty in %d of %d samples: the rate was then limited by arrivals, not by foyer\n", res.lineDry, len(s))
	}
	fmt.Fprintf(w, "  crowd: %d joined, %d admitted (token received), %d released, %d status polls, %d errors%s\n",
		res.joined, res.claimed, res.released, res.polls, res.errs, func() string {
			if res.firstErr != "" {
				return " (last: " + res.firstErr + ")"
			}
			return ""
		}())
	fmt.Fprintf(w, "  skipped (absent) during the window: %d\n", last.skipped-first.skipped)
	return math.Abs(errPct) <= 1 && res.maxActive <= res.capNow
}
