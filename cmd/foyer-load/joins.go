package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/foyerhq/foyer/queue"
)

func runJoins(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("joins", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rf redisFlags
	rf.bind(fs)
	duration := fs.Duration("duration", 10*time.Second, "length of each measured wrk run (0 to skip the HTTP joins)")
	warmup := fs.Duration("warmup", 2*time.Second, "wrk warm-up before measuring (0 for none)")
	conns := fs.Int("connections", 64, "wrk connections")
	threads := fs.Int("threads", 2, "wrk threads")
	runs := fs.Int("runs", 1, "measured wrk runs")
	memTickets := fs.Int("memory-tickets", 1_000_000, "tickets issued for the memory measurement (0 to skip it)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the gateway during the first measured run to this file")
	keep := fs.Bool("keep", false, "keep the temporary directory (scripts, configs, logs)")
	strict := fs.Bool("strict", false, "exit with status 3 when a budget is missed")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *duration < 0 || *duration > 10*time.Minute || *runs < 1 || *runs > 20 || *memTickets < 0 || *memTickets > 10_000_000 ||
		*conns < 1 || *conns > 10000 || *threads < 1 || *threads > 64 || (*duration > 0 && *duration < time.Second) {
		fmt.Fprintln(stderr, "foyer-load joins: duration 0 or 1s..10m, runs 1..20, memory-tickets 0..10000000, connections 1..10000, threads 1..64")
		return 2
	}
	if *duration > 0 {
		if _, err := need("wrk", "wrk"); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	dir, st, done, err := begin(ctx, "joins", rf, *keep, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer done()

	ok := true
	if *duration > 0 {
		best, err := measureJoins(ctx, stdout, dir, st, wrkLoad{threads: *threads, connections: *conns, duration: *duration},
			*warmup, *runs, *cpuprofile)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		ok = ok && best >= 20000
	}
	if *memTickets > 0 {
		per, err := measureMemory(ctx, stdout, dir, st, *memTickets)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		ok = ok && per <= 16
	}
	fmt.Fprintf(stdout, "load average after: %s\n", loadAvg())
	if !ok && *strict {
		return 3
	}
	return 0
}

// measureJoins drives POST join with fresh visitors (wrk keeps no cookies, so every request is
// a new visitor who gets a ticket) and returns the best joins per second.
func measureJoins(ctx context.Context, w io.Writer, dir string, st *store, load wrkLoad, warmup time.Duration, runs int,
	cpuprofile string) (float64, error) {
	const room = "joins"
	set := newSetup(dir, st, roomSpec{Name: room, RatePerMinute: 1, MaxActive: 10, Session: 10 * time.Minute,
		AbsentAfter: time.Minute, Grace: 10 * time.Minute})
	cs, err := set.startGateways(ctx, 1)
	if err != nil {
		return 0, err
	}
	gw := cs[0]
	defer gw.stop()
	base := "http://" + gw.ready.Listen
	script := joinScript("/foyer/v1/rooms/" + room + "/join")
	fmt.Fprintf(w, "joins: gateway pid %d on %s, room %s (rate 1/min, everyone queued), per-client join limit off\n", gw.pid(), base, room)
	fmt.Fprintf(w, "load: %s, POST /foyer/v1/rooms/%s/join without cookies (a fresh visitor each), %d run(s)\n\n", load, room, runs)
	if warmup > 0 {
		if _, err := runWrk(ctx, dir, "warm-joins", wrkLoad{threads: load.threads, connections: load.connections,
			duration: max(warmup, time.Second)}, base, script); err != nil {
			return 0, err
		}
	}
	fmt.Fprintf(w, "  %-4s %-12s %10s %9s %9s %8s %12s %12s %12s %9s\n", "run", "load avg", "joins/s", "p50", "p99", "failed",
		"CPU us/join", "round trips", "cmds run", "")
	fmt.Fprintf(w, "  %-4s %-12s %10s %9s %9s %8s %12s %12s %12s\n", "", "before", "", "", "", "", "(gateway)", "per join", "per join")
	best, worst := 0.0, math.Inf(1)
	for i := range runs {
		la := loadAvg()
		before, err := st.info(ctx)
		if err != nil {
			return 0, err
		}
		c0, _ := gw.counts()
		cpu0 := procCPU(gw.pid())
		profDone := make(chan error, 1)
		if i == 0 && cpuprofile != "" {
			go func() { profDone <- gw.profile(max(int(load.duration/time.Second)-1, 1), cpuprofile) }()
		} else {
			profDone <- nil
		}
		res, err := runWrk(ctx, dir, "joins", load, base, script)
		if err != nil {
			return 0, err
		}
		cpu := procCPU(gw.pid()) - cpu0
		after, err := st.info(ctx)
		if err != nil {
			return 0, err
		}
		c1, _ := gw.counts()
		if err := <-profDone; err != nil {
			fmt.Fprintln(w, "cpu profile:", err)
		}
		d := diffInfo(before, after)
		per := func(n int64) float64 { return float64(n) / math.Max(1, float64(res.Requests)) }
		fmt.Fprintf(w, "  %-4d %-12s %10.0f %9s %9s %8d %12.1f %12.4f %12.4f   gateway's own %.4f/join; %s\n", i+1, strings.Fields(la)[0],
			res.RequestsPerS, ms(res.P50US), ms(res.P99US), res.errors(), cpuPerRequest(cpu, res.Requests), per(d.reads),
			per(d.processed), per(c1.Calls-c0.Calls), d.top(3))
		if res.errors() > res.Requests/1000 {
			return 0, fmt.Errorf("%d of %d joins failed", res.errors(), res.Requests)
		}
		best, worst = max(best, res.RequestsPerS), min(worst, res.RequestsPerS)
	}
	if cpuprofile != "" {
		fmt.Fprintf(w, "cpu profile of the gateway: %s\n", cpuprofile)
	}
	fmt.Fprintf(w, "\n  joins per second: best %.0f (spread %.0f .. %.0f), budget >= 20000: %s\n\n", best, worst, best, verdict(best >= 20000))
	return best, nil
}

// measureMemory issues n tickets in a room of their own through this process's engine, marks
// every one of them present in both live liveness epochs (each visitor polling, as they do
// while they wait), and reads MEMORY USAGE of the room's keys.
func measureMemory(ctx context.Context, w io.Writer, dir string, st *store, n int) (float64, error) {
	const room = "memory"
	const absent = 5 * time.Second // short epochs, so two fill within the run
	set := newSetup(dir, st, roomSpec{})
	eng, err := set.engine()
	if err != nil {
		return 0, err
	}
	s := queue.DefaultSettings()
	s.RatePerMinute, s.MaxActive, s.AbsentAfter, s.QueueAll = 1, 10, absent, true
	if _, err := eng.EnsureRoom(ctx, room, s); err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = eng.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()

	fmt.Fprintf(w, "memory: room %s, %d tickets issued through the engine (concurrent joins, coalesced)\n", room, n)
	start := time.Now()
	ts, err := issueTickets(ctx, eng, room, n, w)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(w, "  issued %d in %s (%.0f joins/s through the engine alone)\n", n, time.Since(start).Round(time.Millisecond),
		float64(n)/time.Since(start).Seconds())
	mem0, detail0, err := st.keyMemory(ctx, "{"+room+"}")
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(w, "  nobody polled yet: %d bytes, %.3f bytes per waiting visitor (%s)\n", mem0, float64(mem0)/float64(n),
		strings.Join(detail0, " "))

	poll := func() error {
		for _, raw := range ts {
			t, err := eng.DecodeTicket(room, raw)
			if err != nil {
				return err
			}
			if _, err := eng.Status(ctx, t); err != nil {
				return err
			}
		}
		return nil
	}
	epochOf := func(t time.Time) int64 { return t.UnixMilli() / absent.Milliseconds() }
	// start right after an epoch boundary, so a whole pass lands in one epoch
	waitEpoch := func() {
		e := epochOf(time.Now())
		for epochOf(time.Now()) == e && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	var per float64
	for pass := 1; pass <= 2; pass++ {
		waitEpoch()
		start := time.Now()
		if err := poll(); err != nil {
			return 0, err
		}
		took := time.Since(start)
		time.Sleep(2500 * time.Millisecond) // the engine flushes marks every second
		mem, detail, err := st.keyMemory(ctx, "{"+room+"}")
		if err != nil {
			return 0, err
		}
		per = float64(mem) / float64(n)
		what := "every visitor polled in one epoch"
		if pass == 2 {
			what = "and again in the next: both live liveness bitmaps full (the steady state)"
		}
		fmt.Fprintf(w, "  %s (%s a pass): %d bytes, %.3f bytes per waiting visitor\n    %s\n", what, took.Round(time.Millisecond),
			mem, per, strings.Join(detail, " "))
	}
	fmt.Fprintf(w, "\n  Redis memory per waiting visitor, %d waiting: %.3f bytes, budget <= 16: %s\n\n", n, per, verdict(per <= 16))
	return per, nil
}
