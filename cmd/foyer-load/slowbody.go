package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The slow-body attack of issue 12: thousands of connections that send the full headers of
// POST .../join and then a body byte every few seconds, and thousands that connect and send
// nothing, all from loopback addresses other than 127.0.0.1 (every 127.x.y.z is on lo, so the
// attack comes from many "clients"), while a health checker and real visitors on 127.0.0.1
// measure what they get. The attacker keeps its connections open: one that the gateway closes
// is opened again. Everything stops by itself after --duration.

func runSlowBody(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("slowbody", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rf redisFlags
	rf.bind(fs)
	slow := fs.Int("slow", 10000, "slow-body connections the attacker keeps open")
	idle := fs.Int("idle", 5000, "idle connections (nothing sent) the attacker keeps open")
	sources := fs.Int("sources", 20, "attacking loopback addresses (127.0.1.1 and up)")
	interval := fs.Duration("byte-every", 3*time.Second, "a slow body sends one byte this often")
	duration := fs.Duration("duration", 30*time.Second, "how long the attack is held once opened")
	baseline := fs.Duration("baseline", 5*time.Second, "measuring without the attack first")
	visitors := fs.Int("visitors", 8, "real visitors on 127.0.0.1, each joining and then polling")
	maxConns := fs.Int("max-conns", 10000, "the gateway's limits.max_conns (-1: leave the limits out of the configuration)")
	perIP := fs.Int("max-conns-per-ip", 512, "the gateway's limits.max_conns_per_ip")
	nofile := fs.Int("gateway-nofile", 0, "lower the gateway's open-file limit to this (prlimit; 0 leaves it), to see what running out looks like")
	nice := fs.Int("attacker-nice", 10, "niceness of the attacking child process: on one machine it competes with the gateway for the CPU, which a remote attacker does not")
	keep := fs.Bool("keep", false, "keep the temporary directory (configs, logs)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *nice < 0 || *nice > 19 {
		fmt.Fprintln(stderr, "foyer-load slowbody: attacker-nice 0..19")
		return 2
	}
	if *slow < 0 || *idle < 0 || *slow+*idle > 50000 || *sources < 1 || *sources > 250 || *duration < time.Second ||
		*duration > 10*time.Minute || *baseline < 0 || *baseline > time.Minute || *visitors < 1 || *visitors > 256 ||
		*interval < 10*time.Millisecond || *maxConns < -1 || *perIP < 0 {
		fmt.Fprintln(stderr, "foyer-load slowbody: slow+idle 0..50000, sources 1..250, duration 1s..10m, baseline 0..1m, visitors 1..256")
		return 2
	}
	dir, st, done, err := begin(ctx, "slowbody", rf, *keep, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer done()
	a := attackRun{slow: *slow, idle: *idle, sources: *sources, interval: *interval, duration: *duration,
		baseline: *baseline, visitors: *visitors, maxConns: *maxConns, perIP: *perIP, nice: *nice, nofile: *nofile}
	if err := a.run(ctx, stdout, dir, st); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

type attackRun struct {
	slow, idle, sources int
	interval            time.Duration
	duration, baseline  time.Duration
	visitors            int
	maxConns, perIP     int
	nice                int
	nofile              int
}

// probe is what the health checker and the visitors saw in one phase.
type probe struct {
	mu      sync.Mutex
	lat     map[string][]time.Duration // by kind: healthz, join, status
	status  map[string]map[string]int  // by kind, by status ("200", "503 busy", "error")
	current string                     // the phase being recorded
}

func (p *probe) record(kind string, d time.Duration, outcome string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.current + "/" + kind
	p.lat[k] = append(p.lat[k], d)
	if p.status[k] == nil {
		p.status[k] = map[string]int{}
	}
	p.status[k][outcome]++
}

func (p *probe) phase(name string) {
	p.mu.Lock()
	p.current = name
	p.mu.Unlock()
}

func (a attackRun) run(ctx context.Context, w io.Writer, dir string, st *store) error {
	const room = "attack"
	set := newSetup(dir, st, roomSpec{Name: room, RatePerMinute: 600, MaxActive: 1000000, Session: 10 * time.Minute,
		AbsentAfter: time.Minute, Grace: 10 * time.Minute})
	port, err := freePort()
	if err != nil {
		return err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cp, err := set.writeConfig("gateway", listen)
	if err != nil {
		return err
	}
	if a.maxConns >= 0 { // -1: write no limits of our own (a gateway built before they existed)
		if err := addLimits(cp, fmt.Sprintf("  max_conns: %d\n  max_conns_per_ip: %d\n", a.maxConns, a.perIP)); err != nil {
			return err
		}
	}
	gw, err := startGateway(ctx, "gateway", cp, dir+"/gateway.log")
	if err != nil {
		return err
	}
	defer gw.stop()
	base := "http://" + gw.ready.Listen
	if a.nofile > 0 {
		n := strconv.Itoa(a.nofile)
		if out, err := exec.Command("prlimit", "--pid", strconv.Itoa(gw.pid()), "--nofile="+n+":"+n).CombinedOutput(); err != nil {
			return fmt.Errorf("prlimit: %v: %s", err, out)
		}
		fmt.Fprintf(w, "the gateway's open-file limit is lowered to %d\n", a.nofile)
	}
	fmt.Fprintf(w, "slowbody: gateway pid %d on %s (listening on 127.0.0.1 only), limits.max_conns %d, limits.max_conns_per_ip %d, other limits default\n",
		gw.pid(), base, a.maxConns, a.perIP)
	fmt.Fprintf(w, "attack: %d slow-body connections (POST join headers, Content-Length 200000 for half and 8000 for the other half, then a byte every %s) and %d idle ones, from %d loopback addresses, reopened when closed, held %s\n",
		a.slow, a.interval, a.idle, a.sources, a.duration)
	fmt.Fprintf(w, "measured: GET /healthz every 100 ms on a new connection from 127.0.0.1; %d visitors (127.0.2.x) joining and polling the status every 500 ms (keep-alive)\n\n", a.visitors)

	p := &probe{lat: map[string][]time.Duration{}, status: map[string]map[string]int{}, current: "baseline"}
	mctx, mcancel := context.WithCancel(ctx)
	var mwg sync.WaitGroup
	defer func() { mcancel(); mwg.Wait() }()
	mwg.Add(1)
	go func() { defer mwg.Done(); healthLoop(mctx, base, p) }()
	for i := range a.visitors {
		mwg.Add(1)
		go func() { defer mwg.Done(); visitorLoop(mctx, base, room, fmt.Sprintf("127.0.2.%d", i+1), p) }()
	}
	sleepCtx(ctx, a.baseline)

	p.phase("attack")
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var out strings.Builder
	errf, err := os.Create(dir + "/attacker.log")
	if err != nil {
		return err
	}
	defer errf.Close()
	start := time.Now()
	gwCPU0 := procCPU(gw.pid())
	ap, err := startProc("attacker", &lockedWriter{w: &out}, errf, self, "slowbody-attacker", "--addr", gw.ready.Listen,
		"--slow", strconv.Itoa(a.slow), "--idle", strconv.Itoa(a.idle), "--sources", strconv.Itoa(a.sources),
		"--byte-every", a.interval.String(), "--duration", a.duration.String(), "--nice", strconv.Itoa(a.nice))
	if err != nil {
		return err
	}
	defer ap.stop(syscall.SIGKILL, 0)
	actx, acancel := context.WithCancel(ctx)
	go func() { <-ap.done; acancel() }()
	peak := monitor(actx, gw.pid(), base)
	acancel()
	select {
	case <-ap.done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the attacker did not stop (see %s/attacker.log)", dir)
	}
	held := time.Since(start)
	gwCPU, attCPU := procCPU(gw.pid())-gwCPU0, ap.cmd.ProcessState.SystemTime()+ap.cmd.ProcessState.UserTime()
	var stats attackTotals
	if err := json.Unmarshal([]byte(out.String()), &stats); err != nil {
		return fmt.Errorf("attacker: %v (%q; see %s/attacker.log)", err, out.String(), dir)
	}

	p.phase("after")
	sleepCtx(ctx, min(a.baseline, 3*time.Second))
	mcancel()
	mwg.Wait()
	if ctx.Err() != nil {
		return errInterrupted
	}
	m, _ := scrapeConnMetrics(base)
	fmt.Fprintf(w, "attack held %s: %d connections opened by the attacker, at most %d open at once (%d answered 503 busy or closed before a byte was read, %d answered 413, %d cut off by a deadline while sending, %d idle ones closed by the header deadline, %d dials failed)\n",
		held.Round(time.Second), stats.Opened, stats.MaxOpen, stats.Refused, stats.TooLarge, stats.CutOff, stats.IdleClosed, stats.DialErrors)
	fmt.Fprintf(w, "gateway at the peak: %d open connections, %d file descriptors, RSS %d MiB; refused %s, reclaimed idle %s\n",
		peak.open, peak.fds, peak.rssKiB>>10, m["refused"], m["reclaimed"])
	fmt.Fprintf(w, "CPU during the attack: gateway %.1f s (%.0f%% of one core), attacker (nice %d) %.1f s (%.0f%%); load average %s\n\n",
		gwCPU.Seconds(), 100*gwCPU.Seconds()/held.Seconds(), a.nice, attCPU.Seconds(), 100*attCPU.Seconds()/held.Seconds(), loadAvg())
	fmt.Fprintf(w, "  %-9s %-8s %8s %9s %9s %9s  %s\n", "phase", "request", "count", "p50", "p99", "max", "answers")
	for _, ph := range []string{"baseline", "attack", "after"} {
		for _, kind := range []string{"healthz", "join", "status"} {
			k := ph + "/" + kind
			ds := p.lat[k]
			if len(ds) == 0 {
				continue
			}
			slices.Sort(ds)
			fmt.Fprintf(w, "  %-9s %-8s %8d %9s %9s %9s  %s\n", ph, kind, len(ds), durMS(pct(ds, 0.5)), durMS(pct(ds, 0.99)),
				durMS(ds[len(ds)-1]), outcomes(p.status[k]))
		}
	}
	fmt.Fprintf(w, "load average after: %s\n", loadAvg())
	return nil
}

// addLimits adds lines to the limits block of a configuration written by writeConfig.
func addLimits(path, lines string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := strings.Replace(string(b), "limits:\n", "limits:\n"+lines, 1)
	return os.WriteFile(path, []byte(s), 0o600)
}

type attackStats struct {
	opened, refused, tooLarge, cutOff, idleClosed, dialErrors atomic.Int64
	open, maxOpen                                             atomic.Int64
}

// attackTotals is what the attacker child reports on stdout when it ends.
type attackTotals struct {
	Opened, MaxOpen, Refused, TooLarge, CutOff, IdleClosed, DialErrors int64
}

// lockedWriter makes a strings.Builder safe for the goroutine exec copies a child's output in.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// runSlowBodyAttacker is the attacking child of slowbody: it keeps --slow slow-body and --idle
// idle connections open against --addr for --duration, then prints its totals as JSON.
func runSlowBodyAttacker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("slowbody-attacker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "the gateway's host:port (loopback)")
	slow := fs.Int("slow", 0, "slow-body connections")
	idle := fs.Int("idle", 0, "idle connections")
	sources := fs.Int("sources", 20, "attacking loopback addresses (127.0.1.1 and up)")
	every := fs.Duration("byte-every", 3*time.Second, "a slow body sends one byte this often")
	duration := fs.Duration("duration", 30*time.Second, "how long to attack")
	nice := fs.Int("nice", 10, "niceness to run at")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() || *slow+*idle > 50000 || *sources < 1 || *sources > 250 ||
		*duration > 10*time.Minute {
		fmt.Fprintln(stderr, "foyer-load slowbody-attacker: a loopback --addr, slow+idle at most 50000, sources 1..250, duration at most 10m")
		return 2
	}
	lowerPriority(*nice)
	var st attackStats
	actx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := range *slow + *idle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := fmt.Sprintf("127.0.1.%d", 1+i%*sources)
			clen := 200000
			if i%2 == 1 {
				clen = 8000
			}
			attacker(actx, *addr, src, i < *slow, clen, *every, &st)
		}()
		if i%500 == 499 { // open at up to ~10,000 a second, not all in one burst
			sleepCtx(actx, 50*time.Millisecond)
		}
	}
	wg.Wait()
	b, _ := json.Marshal(attackTotals{Opened: st.opened.Load(), MaxOpen: st.maxOpen.Load(), Refused: st.refused.Load(),
		TooLarge: st.tooLarge.Load(), CutOff: st.cutOff.Load(), IdleClosed: st.idleClosed.Load(), DialErrors: st.dialErrors.Load()})
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}

// attacker keeps one hostile connection open until ctx ends, reopening it when the gateway
// closes it.
func attacker(ctx context.Context, addr, src string, slowBody bool, clen int, every time.Duration, st *attackStats) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			st.dialErrors.Add(1)
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		st.opened.Add(1)
		if n := st.open.Add(1); n > st.maxOpen.Load() {
			st.maxOpen.Store(n) // racy maximum: good enough for a report
		}
		hostile(ctx, c, slowBody, clen, every, st)
		st.open.Add(-1)
		_ = c.Close()
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

// hostile plays one connection until the gateway ends it or ctx does.
func hostile(ctx context.Context, c net.Conn, slowBody bool, clen int, every time.Duration, st *attackStats) {
	closed := make(chan string, 1)
	go func() { // what the gateway says, if anything, before it closes
		var got []byte
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			if len(got) < 512 {
				got = append(got, buf[:n]...)
			}
			if err != nil {
				closed <- string(got)
				return
			}
		}
	}()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if slowBody {
		fmt.Fprintf(c, "POST /foyer/v1/rooms/attack/join HTTP/1.1\r\nHost: foyer\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", clen)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	wrote := false
	for {
		select {
		case got := <-closed:
			switch {
			case ctx.Err() != nil:
			case strings.Contains(got, " 503 "):
				st.refused.Add(1)
			case strings.Contains(got, " 413 "):
				st.tooLarge.Add(1)
			case !slowBody:
				st.idleClosed.Add(1)
			case wrote || got != "":
				st.cutOff.Add(1)
			default:
				st.refused.Add(1)
			}
			return
		case <-t.C:
			if slowBody {
				if _, err := c.Write([]byte("x")); err == nil {
					wrote = true
				}
			}
		}
	}
}

// peakFigures are the gateway's largest figures seen during the attack.
type peakFigures struct {
	open, fds int
	rssKiB    int64
}

// monitor samples the gateway's open connections, descriptors and memory each second until
// ctx ends.
func monitor(ctx context.Context, pid int, base string) peakFigures {
	var pk peakFigures
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return pk
		case <-t.C:
		}
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
			pk.fds = max(pk.fds, len(ents))
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
					kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
					pk.rssKiB = max(pk.rssKiB, kb)
				}
			}
		}
		if m, err := scrapeConnMetrics(base); err == nil {
			n, _ := strconv.ParseFloat(m["open"], 64)
			pk.open = max(pk.open, int(n))
		}
	}
}

// scrapeConnMetrics reads the connection figures from the gateway's /metrics.
func scrapeConnMetrics(base string) (map[string]string, error) {
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]string{"refused": "", "reclaimed": "0"}
	var refused []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "foyer_http_connections_open "):
			out["open"] = strings.Fields(l)[1]
		case strings.HasPrefix(l, "foyer_http_connections_reclaimed_total "):
			out["reclaimed"] = strings.Fields(l)[1]
		case strings.HasPrefix(l, "foyer_http_connections_refused_total{"):
			refused = append(refused, strings.TrimPrefix(l, "foyer_http_connections_refused_total"))
		}
	}
	out["refused"] = strings.Join(refused, ", ")
	if out["refused"] == "" {
		out["refused"] = "none"
	}
	return out, sc.Err()
}

// healthLoop checks /healthz every 100 ms on a new connection, as a load balancer would.
func healthLoop(ctx context.Context, base string, p *probe) {
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for ctx.Err() == nil {
		start := time.Now()
		out := get(ctx, cl, http.MethodGet, base+"/healthz", nil)
		if ctx.Err() != nil {
			return
		}
		p.record("healthz", time.Since(start), out)
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

// visitorLoop joins and then polls the status every 500 ms, joining again now and then, from
// its own loopback address (visitors are different people from the health checker).
func visitorLoop(ctx context.Context, base, room, from string, p *probe) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	for ctx.Err() == nil {
		var ticket string
		start := time.Now()
		out := get(ctx, cl, http.MethodPost, base+"/foyer/v1/rooms/"+room+"/join", func(b []byte) {
			var v struct {
				Ticket string `json:"ticket"`
			}
			if json.Unmarshal(b, &v) == nil {
				ticket = v.Ticket
			}
		})
		if ctx.Err() != nil {
			return
		}
		p.record("join", time.Since(start), out)
		for i := 0; i < 10 && ticket != "" && ctx.Err() == nil; i++ {
			sleepCtx(ctx, 500*time.Millisecond)
			start := time.Now()
			out := getTicket(ctx, cl, base+"/foyer/v1/rooms/"+room+"/status", ticket)
			if ctx.Err() != nil {
				return
			}
			p.record("status", time.Since(start), out)
		}
		if ticket == "" {
			sleepCtx(ctx, 500*time.Millisecond)
		}
	}
}

func get(ctx context.Context, cl *http.Client, method, url string, body func([]byte)) string {
	req, _ := http.NewRequestWithContext(ctx, method, url, nil)
	req.Header.Set("Accept", "application/json")
	return do(cl, req, body)
}

func getTicket(ctx context.Context, cl *http.Client, url, ticket string) string {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Foyer-Ticket", ticket)
	return do(cl, req, nil)
}

// do sends req and names the outcome: the status, with the error code for errors.
func do(cl *http.Client, req *http.Request, body func([]byte)) string {
	resp, err := cl.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return "cancelled"
		}
		return "error"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode >= 400 {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return strconv.Itoa(resp.StatusCode) + " " + e.Error.Code
	}
	if body != nil {
		body(b)
	}
	return strconv.Itoa(resp.StatusCode)
}

func pct(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func durMS(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func outcomes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
