// Command crowd drives a foyer room through a load balancer with a steady crowd, for the
// multi-replica run in deploy/haproxy (run.sh): visitors join, poll as told, take their
// admission, hold it for a while and release it, and new visitors arrive to keep the line at
// the crowd size. Each visitor connects from one of many loopback source addresses
// (127.0.0.2 and up), so the gateways' per-client join limit sees distinct clients only if the
// load balancer's X-Forwarded-For is believed (trusted_proxies).
//
// It samples the room's admitted counter from every replica's admin API and prints admitted
// per minute over the measured window against the configured rate, requests per second,
// errors by kind and poll latency. Bounded: it stops after --warmup + --duration.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	url        string
	replicas   []string
	room       string
	adminToken string
	crowd      int
	sources    int
	duration   time.Duration
	warmup     time.Duration
	holdMin    time.Duration
	holdMax    time.Duration
	maxPoll    time.Duration
}

func main() {
	var c config
	var replicas string
	flag.StringVar(&c.url, "url", "http://127.0.0.1:18080", "the load balancer's base URL")
	flag.StringVar(&replicas, "replicas", "", "comma-separated base URLs of the gateways, for the admin API samples")
	flag.StringVar(&c.room, "room", "sale", "room")
	flag.StringVar(&c.adminToken, "admin-token", os.Getenv("FOYER_ADMIN_TOKEN"), "admin bearer token (bare token)")
	flag.IntVar(&c.crowd, "crowd", 1500, "visitors kept waiting")
	flag.IntVar(&c.sources, "sources", 250, "loopback source addresses the visitors come from (127.0.0.2 and up)")
	flag.DurationVar(&c.duration, "duration", 3*time.Minute, "measured window")
	flag.DurationVar(&c.warmup, "warmup", 30*time.Second, "from the first admission to the window's start")
	flag.DurationVar(&c.holdMin, "hold-min", 5*time.Second, "shortest hold of an admission before release")
	flag.DurationVar(&c.holdMax, "hold-max", 20*time.Second, "longest hold")
	flag.DurationVar(&c.maxPoll, "max-poll", 30*time.Second, "cap on poll_after_ms")
	flag.Parse()
	c.replicas = strings.Split(replicas, ",")
	if replicas == "" || c.crowd < 1 || c.crowd > 20000 || c.sources < 1 || c.sources > 250 ||
		c.duration < 10*time.Second || c.duration > time.Hour || c.holdMax < c.holdMin {
		fmt.Fprintln(os.Stderr, "crowd: --replicas is required; crowd 1..20000, sources 1..250, duration 10s..1h, hold-max >= hold-min")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Hard bound, whatever happens.
	ctx, cancel := context.WithTimeout(ctx, c.warmup+c.duration+5*time.Minute)
	defer cancel()
	if err := run(ctx, c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "crowd:", err)
		os.Exit(1)
	}
}

// status is the part of foyer's status JSON the crowd reads.
type status struct {
	Admitted    bool   `json:"admitted"`
	Token       string `json:"token"`
	Ticket      string `json:"ticket"`
	PollAfterMS int64  `json:"poll_after_ms"`
}

type counters struct {
	joins, polls, claims, releases atomic.Int64
	requests, limited, errs        atomic.Int64
	waiting                        atomic.Int64
	mu                             sync.Mutex
	pollLat                        []time.Duration
	errKinds                       map[string]int
}

func (k *counters) fail(kind string) {
	k.errs.Add(1)
	k.mu.Lock()
	k.errKinds[kind]++
	k.mu.Unlock()
}

type driver struct {
	c       config
	clients []*http.Client // one per source address
	k       *counters
}

func newDriver(c config) *driver {
	d := &driver{c: c, k: &counters{errKinds: map[string]int{}}}
	for i := 0; i < c.sources; i++ {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
		dialer := &net.Dialer{LocalAddr: src, Timeout: 5 * time.Second}
		d.clients = append(d.clients, &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: dialer.DialContext, MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}})
	}
	return d
}

func (d *driver) call(ctx context.Context, cl *http.Client, method, path string, hdr map[string]string, body []byte) (int, status, error) {
	var st status
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.c.url+"/foyer/v1/rooms/"+d.c.room+path, rd)
	if err != nil {
		return 0, st, err
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	d.k.requests.Add(1)
	resp, err := cl.Do(req)
	if err != nil {
		return 0, st, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &st); err != nil {
			return resp.StatusCode, st, fmt.Errorf("decode: %w", err)
		}
	}
	return resp.StatusCode, st, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// visit is one visitor: join, poll until admitted, hold, release.
func (d *driver) visit(ctx context.Context, cl *http.Client) {
	d.k.waiting.Add(1)
	waiting := true
	defer func() {
		if waiting {
			d.k.waiting.Add(-1)
		}
	}()
	code, st, err := d.call(ctx, cl, http.MethodPost, "/join", nil, nil)
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		d.k.fail("join: transport")
		return
	case code == http.StatusTooManyRequests:
		d.k.limited.Add(1)
		d.k.fail("join: 429")
		return
	case code != http.StatusOK || st.Ticket == "":
		d.k.fail(fmt.Sprintf("join: %d", code))
		return
	}
	d.k.joins.Add(1)
	ticket := st.Ticket
	for !st.Admitted {
		wait := min(time.Duration(max(st.PollAfterMS, 200))*time.Millisecond, d.c.maxPoll)
		if !sleep(ctx, wait) {
			return
		}
		start := time.Now()
		code, st, err = d.call(ctx, cl, http.MethodGet, "/status", map[string]string{"Foyer-Ticket": ticket}, nil)
		if ctx.Err() != nil {
			return
		}
		d.k.polls.Add(1)
		if err != nil || code != http.StatusOK {
			d.k.fail(fmt.Sprintf("status: %d", code))
			st = status{PollAfterMS: 1000}
			continue
		}
		lat := time.Since(start)
		d.k.mu.Lock()
		if len(d.k.pollLat) < 1_000_000 {
			d.k.pollLat = append(d.k.pollLat, lat)
		}
		d.k.mu.Unlock()
	}
	d.k.waiting.Add(-1)
	waiting = false
	d.k.claims.Add(1)
	if !sleep(ctx, d.c.holdMin+time.Duration(rand.Int64N(int64(d.c.holdMax-d.c.holdMin)+1))) {
		return
	}
	code, _, err = d.call(ctx, cl, http.MethodPost, "/release",
		map[string]string{"Authorization": "Bearer " + st.Token, "Content-Type": "application/json"}, []byte(`{"outcome":"booked"}`))
	if ctx.Err() != nil {
		return
	}
	if err != nil || code != http.StatusNoContent {
		d.k.fail(fmt.Sprintf("release: %d", code))
		return
	}
	d.k.releases.Add(1)
}

type roomJSON struct {
	Settings struct {
		RatePerMinute int `json:"rate_per_minute"`
		MaxActive     int `json:"max_active"`
	} `json:"settings"`
	Live struct {
		Waiting  int64 `json:"waiting"`
		Admitted int64 `json:"admitted"`
		Active   int64 `json:"active"`
	} `json:"live"`
}

// sample reads the room from one replica's admin API.
func (d *driver) sample(ctx context.Context, base string) (roomJSON, error) {
	var r roomJSON
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/foyer/admin/v1/rooms/"+d.c.room, nil)
	if err != nil {
		return r, err
	}
	req.Header.Set("Authorization", "Bearer "+d.c.adminToken)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("admin %s: %s", base, resp.Status)
	}
	return r, json.NewDecoder(resp.Body).Decode(&r)
}

// sampleAll reads the room from every replica, each with a few tries: a replica restarting or a
// slow Redis read should not end the run.
func (d *driver) sampleAll(ctx context.Context) ([]roomJSON, error) {
	out := make([]roomJSON, len(d.c.replicas))
	for i, b := range d.c.replicas {
		var err error
		for try := 0; try < 5; try++ {
			if out[i], err = d.sample(ctx, b); err == nil {
				break
			}
			if !sleep(ctx, 300*time.Millisecond) {
				return nil, ctx.Err()
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func run(ctx context.Context, c config, w io.Writer) error {
	d := newDriver(c)
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	// Arrivals: keep the line at the crowd size, at most 500 newcomers a second.
	var next atomic.Int64
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
			for n := min(int64(c.crowd)-d.k.waiting.Load(), 50); n > 0; n-- {
				cl := d.clients[int(next.Add(1))%len(d.clients)]
				wg.Add(1)
				go func() { defer wg.Done(); d.visit(cctx, cl) }()
			}
		}
	}()

	start := time.Now()
	var windowStart time.Time
	var first []roomJSON
	var reqAtStart int64
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return errors.New("interrupted")
		case <-tick.C:
		}
		samples, err := d.sampleAll(ctx)
		if err != nil {
			fmt.Fprintf(w, "t=%3.0fs sample skipped: %v\n", time.Since(start).Seconds(), err)
			continue
		}
		s0 := samples[0]
		fmt.Fprintf(w, "t=%3.0fs waiting %5d admitted %6d active %4d | joins %6d polls %7d claims %6d releases %6d errors %d (429: %d)\n",
			time.Since(start).Seconds(), s0.Live.Waiting, s0.Live.Admitted, s0.Live.Active,
			d.k.joins.Load(), d.k.polls.Load(), d.k.claims.Load(), d.k.releases.Load(), d.k.errs.Load(), d.k.limited.Load())
		if windowStart.IsZero() {
			if s0.Live.Admitted > 0 && time.Since(start) >= c.warmup {
				windowStart, first, reqAtStart = time.Now(), samples, d.k.requests.Load()
				fmt.Fprintf(w, "window opens: %s measured from here\n", c.duration)
			}
			if time.Since(start) > c.warmup+2*time.Minute && windowStart.IsZero() {
				return errors.New("nobody admitted: is the room open?")
			}
			continue
		}
		if time.Since(windowStart) < c.duration {
			continue
		}
		el := time.Since(windowStart)
		fmt.Fprintf(w, "\n== window %s, configured %d/min, cap %d, crowd %d from %d source addresses\n",
			el.Round(time.Second), s0.Settings.RatePerMinute, s0.Settings.MaxActive, c.crowd, c.sources)
		for i, s := range samples {
			per := float64(s.Live.Admitted-first[i].Live.Admitted) / el.Minutes()
			fmt.Fprintf(w, "replica %s: admitted %d -> %d: %.1f/min (%+.2f%% of configured)\n", c.replicas[i],
				first[i].Live.Admitted, s.Live.Admitted, per, 100*(per/float64(s.Settings.RatePerMinute)-1))
		}
		reqs := d.k.requests.Load() - reqAtStart
		fmt.Fprintf(w, "requests through the load balancer in the window: %d (%.0f/s)\n", reqs, float64(reqs)/el.Seconds())
		d.k.mu.Lock()
		lat := slices.Clone(d.k.pollLat)
		kinds := fmt.Sprint(d.k.errKinds)
		d.k.mu.Unlock()
		slices.Sort(lat)
		if len(lat) > 0 {
			fmt.Fprintf(w, "status poll latency: p50 %s p99 %s max %s (%d polls)\n", lat[len(lat)/2].Round(10*time.Microsecond),
				lat[len(lat)*99/100].Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond), len(lat))
		}
		fmt.Fprintf(w, "totals: joins %d polls %d claims %d releases %d; errors %d %s\n",
			d.k.joins.Load(), d.k.polls.Load(), d.k.claims.Load(), d.k.releases.Load(), d.k.errs.Load(), kinds)
		return nil
	}
}
