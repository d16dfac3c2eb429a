package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"
)

// server is one side of the comparison.
type server struct {
	name   string
	base   string
	script string
	cpu    func() time.Duration // CPU the server's processes have used so far; nil if unknown
}

// measured is one server's figures in one run.
type measured struct {
	wrk wrkResult
	cpu time.Duration // the server's CPU during the run (0 if unknown)
}

// pollRun is one side-by-side measurement.
type pollRun struct {
	by    map[string]measured
	redis infoDelta   // during foyer's run
	real  infoDelta   // during the realistic crowd's run
	rown  redisCounts // the gateway's own Redis calls during the realistic crowd's run
	own   redisCounts // the gateway child's own Redis calls during foyer's run (0 with --target)
	load  string      // load average before the run
}

func (r pollRun) rps(name string) float64 { return r.by[name].wrk.RequestsPerS }

func (r pollRun) ratio() float64 {
	if r.rps("nginx") == 0 {
		return 0
	}
	return r.rps("foyer") / r.rps("nginx")
}

func (r pollRun) perPoll(n int64) float64 { return r.perPollOf("foyer", n) }

// perPollOf is n per request of the named server's run.
func (r pollRun) perPollOf(name string, n int64) float64 {
	if f := r.by[name].wrk.Requests; f > 0 {
		return float64(n) / float64(f)
	}
	return 0
}

// realName is the realistic crowd's side: foyer, with a third of its visitors back from an
// absence long enough to be skipped.
const realName = "foyer real"

// realRatio is the realistic crowd's throughput over the ideal crowd's (0 if not measured).
func (r pollRun) realRatio() float64 {
	if r.rps("foyer") == 0 || r.rps(realName) == 0 {
		return 0
	}
	return r.rps(realName) / r.rps("foyer")
}

// cpuPerRequest is CPU microseconds per request.
func cpuPerRequest(d time.Duration, requests int64) float64 {
	if requests == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(requests)
}

// cost is the CPU one request took on the bench's side of the machine: the server, the load
// client and, for foyer, Redis.
func (r pollRun) cost(name string) float64 {
	m := r.by[name]
	d := m.cpu + m.wrk.CPU
	if name == "foyer" {
		d += r.redis.cpu
	}
	return cpuPerRequest(d, m.wrk.Requests)
}

// cpuRatio is the throughput ratio two otherwise idle cores would give if everything is
// CPU-bound: nginx's cost per request over foyer's. Unlike the measured ratio it hardly
// depends on what else ran on the machine (0 when a server's CPU is not known).
func (r pollRun) cpuRatio() float64 {
	if r.by["foyer"].cpu == 0 || r.by["nginx"].cpu == 0 {
		return 0
	}
	return r.cost("nginx") / r.cost("foyer")
}

func runPolls(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("polls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rf redisFlags
	rf.bind(fs)
	target := fs.String("target", "", "poll this gateway (base URL) instead of starting one; it must use --redis and let one address join --tickets times")
	room := fs.String("room", "load", "room name (with --target: an existing room of the target, whose line should not move)")
	pathPrefix := fs.String("path-prefix", "/foyer", "the gateway's prefix for its own paths (with --target)")
	tickets := fs.Int("tickets", 100000, "tickets issued and polled in rotation")
	duration := fs.Duration("duration", 20*time.Second, "length of each measured wrk run")
	warmup := fs.Duration("warmup", 3*time.Second, "wrk warm-up before measuring each server (0 for none)")
	conns := fs.Int("connections", 64, "wrk connections")
	threads := fs.Int("threads", 2, "wrk threads")
	runs := fs.Int("runs", 1, "side-by-side measurements (foyer, then the others, each time)")
	withNginx := fs.Bool("nginx", true, "measure nginx (2 workers) on a static file of the status body's size")
	withGo := fs.Bool("baseline", true, "also measure plain Go net/http serving the same bytes: the ceiling for a Go server here")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the gateway during the first measured run to this file")
	keep := fs.Bool("keep", false, "keep the temporary directory (scripts, configs, logs)")
	strict := fs.Bool("strict", false, "exit with status 3 when a budget is missed")
	crowd := fs.String("crowd", "both", "both: the ideal crowd (everyone polls steadily) and, side by side, a realistic one (a third of the visitors were away, skipped, and came back); ideal: only the first")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *tickets < 1 || *tickets > 5_000_000 || *duration < time.Second || *duration > 10*time.Minute || *runs < 1 || *runs > 20 ||
		*conns < 1 || *conns > 10000 || *threads < 1 || *threads > 64 {
		fmt.Fprintln(stderr, "foyer-load polls: tickets 1..5000000, duration 1s..10m, runs 1..20, connections 1..10000, threads 1..64")
		return 2
	}
	if *crowd != "both" && *crowd != "ideal" {
		fmt.Fprintln(stderr, "foyer-load polls: --crowd must be both or ideal")
		return 2
	}
	realistic := *crowd == "both" && *target == ""
	if _, err := need("wrk", "wrk"); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *withNginx {
		if _, err := need("nginx", "nginx-light"); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	dir, st, done, err := begin(ctx, "polls", rf, *keep, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer done()

	base := strings.TrimRight(*target, "/")
	var gw *child
	var ts, tsReal []string
	if base == "" {
		set := newSetup(dir, st, roomSpec{Name: *room, RatePerMinute: 1, MaxActive: 10, Session: 10 * time.Minute,
			AbsentAfter: time.Minute, Grace: 10 * time.Minute})
		if realistic {
			set.extra = append(set.extra, realisticSpec(*room+"-real"))
		}
		cs, err := set.startGateways(ctx, 1)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		gw = cs[0]
		defer gw.stop()
		base = "http://" + gw.ready.Listen
		fmt.Fprintf(stdout, "gateway: pid %d on %s (room %s: rate 1/min, everyone queued)\n", gw.pid(), base, *room)
		eng, err := set.engine()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		start := time.Now()
		if ts, err = issueTickets(ctx, eng, *room, *tickets, nil); err != nil {
			fmt.Fprintln(stderr, "issue tickets:", err)
			return 1
		}
		fmt.Fprintf(stdout, "issued %d tickets through the engine in %s\n", len(ts), time.Since(start).Round(time.Millisecond))
		if realistic {
			if tsReal, err = realisticCrowd(ctx, eng, *room+"-real", *tickets, stdout); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
		}
	} else {
		start := time.Now()
		if ts, err = joinHTTP(ctx, base, *pathPrefix, *room, *tickets); err != nil {
			fmt.Fprintln(stderr, "join:", err)
			return 1
		}
		fmt.Fprintf(stdout, "target %s: joined %d visitors through the API in %s\n", base, len(ts), time.Since(start).Round(time.Millisecond))
	}
	tf := filepath.Join(dir, "tickets.txt")
	if err := writeLines(tf, shuffled(ts)); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// the body the nginx side serves: a real status answer from the middle of the line
	code, body, err := getStatus(ctx, base, *pathPrefix, *room, ts[len(ts)/2])
	if err != nil || code != 200 {
		fmt.Fprintf(stderr, "status of ticket %d: %d %v %s\n", len(ts)/2, code, err, body)
		return 1
	}
	var sb struct {
		Place *int64 `json:"place"`
		State string `json:"state"`
	}
	_ = json.Unmarshal(body, &sb)
	if sb.Place == nil {
		fmt.Fprintf(stderr, "the middle ticket has no place (%s): is the room open and its line still?\n", body)
		return 1
	}
	fmt.Fprintf(stdout, "status body: %d bytes (state %s, place %d): %s\n", len(body), sb.State, *sb.Place, body)

	var servers []server
	fs0 := server{name: "foyer", base: base, script: pollScript(*pathPrefix+"/v1/rooms/"+*room+"/status", tf)}
	if gw != nil {
		fs0.cpu = func() time.Duration { return procCPU(gw.pid()) }
	}
	servers = append(servers, fs0)
	if len(tsReal) > 0 {
		// The third who were away come back: each one's first poll places it in the returning
		// lane, one Redis call per return, counted here; the measured load is what follows.
		var c0, c1 redisCounts
		if gw != nil {
			c0, _ = gw.counts()
		}
		start := time.Now()
		returners := tsReal[:len(tsReal)/3]
		back, err := comeBack(ctx, base, *pathPrefix, *room+"-real", returners)
		if err != nil {
			fmt.Fprintf(stderr, "realistic crowd: coming back: %v\n", err)
			return 1
		}
		if gw != nil {
			c1, _ = gw.counts()
		}
		fmt.Fprintf(stdout, "realistic crowd: %d of %d returners placed in the returning lane by their first poll in %s; the gateway's Redis calls: %d (%.2f per return)\n",
			back, len(returners), time.Since(start).Round(time.Millisecond), c1.Calls-c0.Calls, float64(c1.Calls-c0.Calls)/float64(len(returners)))
		tfr := filepath.Join(dir, "tickets-real.txt")
		if err := writeLines(tfr, shuffled(tsReal)); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		servers = append(servers, server{name: realName, base: base, cpu: fs0.cpu,
			script: pollScript(*pathPrefix+"/v1/rooms/"+*room+"-real/status", tfr)})
	}
	staticScript := pollScript("/status.json", tf) // the same requests, the same header bytes
	if *withGo {
		gs, err := startStatic(ctx, dir, body)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer gs.stop()
		servers = append(servers, server{name: "go net/http", base: "http://" + gs.ready.Listen, script: staticScript,
			cpu: func() time.Duration { return procCPU(gs.pid()) }})
		fmt.Fprintf(stdout, "go net/http: pid %d on %s, the same %d bytes from a bare handler\n", gs.pid(), gs.ready.Listen, len(body))
	}
	if *withNginx {
		ng, err := startNginx(ctx, dir, body)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer ng.stop()
		servers = append(servers, server{name: "nginx", base: "http://" + ng.addr, script: staticScript,
			cpu: func() time.Duration { return treeCPU(ng.p.pid()) }})
		fmt.Fprintf(stdout, "nginx: pid %d on %s, 2 workers, /status.json of %d bytes\n", ng.p.pid(), ng.addr, len(body))
	}
	load := wrkLoad{threads: *threads, connections: *conns, duration: *duration}
	fmt.Fprintf(stdout, "load: %s, Lua script rotating through the %d tickets (Foyer-Ticket header), %d run(s)\n\n", load, len(ts), *runs)

	if *warmup > 0 {
		wl := wrkLoad{threads: *threads, connections: *conns, duration: max(*warmup, time.Second)}
		for _, sv := range servers {
			if _, err := runWrk(ctx, dir, "warm", wl, sv.base, sv.script); err != nil {
				fmt.Fprintf(stderr, "warm-up %s: %v\n", sv.name, err)
				return 1
			}
		}
	}

	var results []pollRun
	for i := range *runs {
		r := pollRun{by: map[string]measured{}, load: loadAvg()}
		for _, sv := range servers {
			var before redisInfo
			var c0 redisCounts
			profDone := make(chan error, 1)
			profDone <- nil
			if sv.name == realName {
				if before, err = st.info(ctx); err != nil {
					fmt.Fprintln(stderr, err)
					return 1
				}
				if gw != nil {
					c0, _ = gw.counts()
				}
			}
			if sv.name == "foyer" {
				if before, err = st.info(ctx); err != nil {
					fmt.Fprintln(stderr, err)
					return 1
				}
				if gw != nil {
					c0, _ = gw.counts()
					if i == 0 && *cpuprofile != "" {
						<-profDone
						go func() { profDone <- gw.profile(max(int(load.duration/time.Second)-1, 1), *cpuprofile) }()
					}
				}
			}
			var m measured
			var cpu0 time.Duration
			if sv.cpu != nil {
				cpu0 = sv.cpu()
			}
			if m.wrk, err = runWrk(ctx, dir, "polls", load, sv.base, sv.script); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", sv.name, err)
				return 1
			}
			if sv.cpu != nil {
				m.cpu = sv.cpu() - cpu0
			}
			r.by[sv.name] = m
			if sv.name == realName {
				after, err := st.info(ctx)
				if err != nil {
					fmt.Fprintln(stderr, err)
					return 1
				}
				r.real = diffInfo(before, after)
				if gw != nil {
					c1, _ := gw.counts()
					r.rown = redisCounts{Calls: c1.Calls - c0.Calls, Commands: c1.Commands - c0.Commands}
				}
			}
			if sv.name == "foyer" {
				after, err := st.info(ctx)
				if err != nil {
					fmt.Fprintln(stderr, err)
					return 1
				}
				r.redis = diffInfo(before, after)
				if gw != nil {
					c1, _ := gw.counts()
					r.own = redisCounts{Calls: c1.Calls - c0.Calls, Commands: c1.Commands - c0.Commands}
				}
				if err := <-profDone; err != nil {
					fmt.Fprintln(stderr, "cpu profile:", err)
				} else if i == 0 && *cpuprofile != "" && gw != nil {
					fmt.Fprintf(stdout, "cpu profile of the gateway: %s (go tool pprof -top %s)\n", *cpuprofile, *cpuprofile)
				}
			}
		}
		results = append(results, r)
		printPollRun(stdout, i+1, r, servers, gw != nil, st.shared)
	}
	if *runs > 1 {
		printPollSummary(stdout, results, servers)
	}
	fmt.Fprintf(stdout, "load average after: %s\n", loadAvg())
	if *strict && !pollBudgetsMet(results) {
		return 3
	}
	return 0
}

// pollBudgetsMet judges the best figures of the runs: the ratio of the best requests/s (when
// nginx ran) and the fewest Redis round trips per poll.
func pollBudgetsMet(rs []pollRun) bool {
	var f, n float64
	trips := math.Inf(1)
	for _, r := range rs {
		f, n = max(f, r.rps("foyer")), max(n, r.rps("nginx"))
		trips = min(trips, r.perPoll(r.redis.reads))
		if _, ok := r.by[realName]; ok {
			trips = max(trips, r.perPollOf(realName, r.real.reads))
		}
	}
	real := true
	if _, ok := rs[0].by[realName]; ok {
		var best float64
		for _, r := range rs {
			best = max(best, r.rps(realName))
		}
		real = best >= 0.9*f
	}
	return (n == 0 || f/n >= 0.70) && trips <= 0.05 && real
}

func sharedWord(st *store) string {
	if st.shared {
		return "shared: INFO counts every client's commands"
	}
	return "private, started for this run"
}

func ms(us float64) string {
	switch {
	case us >= 100_000:
		return fmt.Sprintf("%.0f ms", us/1000)
	case us >= 10_000:
		return fmt.Sprintf("%.1f ms", us/1000)
	default:
		return fmt.Sprintf("%.2f ms", us/1000)
	}
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func printPollRun(w io.Writer, i int, r pollRun, servers []server, own, shared bool) {
	row := func(label string, cell func(m measured, name string) string, note string) {
		fmt.Fprintf(w, "  %-36s", label)
		for _, sv := range servers {
			fmt.Fprintf(w, " %13s", cell(r.by[sv.name], sv.name))
		}
		if note != "" {
			fmt.Fprintf(w, "   %s", note)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "run %d (load average before: %s)\n", i, r.load)
	row("", func(_ measured, name string) string { return name }, "budget")
	note := ""
	if _, ok := r.by["nginx"]; ok {
		note = fmt.Sprintf("foyer/nginx %.1f%% (>= 70%%) %s", 100*r.ratio(), verdict(r.ratio() >= 0.70))
	}
	row("requests/s", func(m measured, _ string) string { return fmt.Sprintf("%.0f", m.wrk.RequestsPerS) }, note)
	row("latency p50", func(m measured, _ string) string { return ms(m.wrk.P50US) }, "")
	row("latency p99", func(m measured, _ string) string { return ms(m.wrk.P99US) }, "")
	row("requests", func(m measured, _ string) string { return fmt.Sprint(m.wrk.Requests) }, "")
	row("  failed or non-2xx", func(m measured, _ string) string { return fmt.Sprint(m.wrk.errors()) }, "")
	row("bytes per response (headers too)", func(m measured, _ string) string { return fmt.Sprintf("%.0f", m.wrk.ResponseBytes) }, "")
	row("CPU us/request: server", func(m measured, _ string) string { return fmt.Sprintf("%.1f", cpuPerRequest(m.cpu, m.wrk.Requests)) }, "")
	row("CPU us/request: wrk", func(m measured, _ string) string {
		return fmt.Sprintf("%.1f", cpuPerRequest(m.wrk.CPU, m.wrk.Requests))
	}, "")
	row("CPU us/request: redis", func(_ measured, name string) string {
		if name != "foyer" {
			return ""
		}
		return fmt.Sprintf("%.1f", cpuPerRequest(r.redis.cpu, r.by["foyer"].wrk.Requests))
	}, "")
	if cr := r.cpuRatio(); cr > 0 {
		row("at equal CPU (idle 2 cores)", func(measured, string) string { return "" },
			fmt.Sprintf("foyer/nginx %.1f%%: nginx+wrk CPU per request over gateway+wrk+redis", 100*cr))
	}
	shr := ""
	if shared {
		shr = " (shared Redis: counts every client)"
	}
	fmt.Fprintf(w, "  %-36s %13.5f   <= 0.05 %s%s\n", "Redis round trips per poll (INFO)", r.perPoll(r.redis.reads),
		verdict(r.perPoll(r.redis.reads) <= 0.05), shr)
	if own {
		fmt.Fprintf(w, "  %-36s %13.5f   (%d calls, %d commands in the run)\n", "  the gateway's own, counted", r.perPoll(r.own.Calls),
			r.own.Calls, r.own.Commands)
	}
	fmt.Fprintf(w, "  %-36s %13.5f   (%s)\n", "Redis commands run per poll (INFO)", r.perPoll(r.redis.processed), r.redis.top(4))
	if _, ok := r.by[realName]; ok {
		t := r.perPollOf(realName, r.real.reads)
		fmt.Fprintf(w, "  %-36s %13.5f   <= 0.05 %s%s\n", "  realistic crowd: round trips/poll", t, verdict(t <= 0.05), shr)
		if own {
			fmt.Fprintf(w, "  %-36s %13.5f   (%d calls, %d commands in the run)\n", "    the gateway's own, counted", r.perPollOf(realName, r.rown.Calls),
				r.rown.Calls, r.rown.Commands)
		}
		fmt.Fprintf(w, "  %-36s %12.1f%%   >= 90%% %s\n", "  realistic/ideal requests/s", 100*r.realRatio(), verdict(r.realRatio() >= 0.9))
	}
	fmt.Fprintln(w)
}

func printPollSummary(w io.Writer, rs []pollRun, servers []server) {
	stat := func(f func(pollRun) float64) (lo, hi float64) {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, r := range rs {
			v := f(r)
			lo, hi = min(lo, v), max(hi, v)
		}
		return lo, hi
	}
	fmt.Fprintf(w, "summary of %d runs: best (spread). Noise from other work only slows a run down, so the best is the figure.\n", len(rs))
	best := map[string]float64{}
	for _, sv := range servers {
		lo, hi := stat(func(r pollRun) float64 { return r.rps(sv.name) })
		best[sv.name] = hi
		fmt.Fprintf(w, "  %-28s %9.0f  (%.0f .. %.0f)\n", sv.name+" requests/s", hi, lo, hi)
	}
	if n := best["nginx"]; n > 0 {
		lo, hi := stat(func(r pollRun) float64 { return 100 * r.ratio() })
		b := 100 * best["foyer"] / n
		fmt.Fprintf(w, "  %-28s %8.1f%%  (per run %.1f%% .. %.1f%%), budget >= 70%%: %s\n", "foyer/nginx, bests", b, lo, hi, verdict(b >= 70))
		if g := best["go net/http"]; g > 0 {
			fmt.Fprintf(w, "  %-28s %8.1f%%  (the ceiling for a Go server under this load)\n", "go net/http/nginx, bests", 100*g/n)
			fmt.Fprintf(w, "  %-28s %8.1f%%\n", "foyer/go net/http, bests", 100*best["foyer"]/g)
		}
		if rs[0].cpuRatio() > 0 {
			lo, hi = stat(func(r pollRun) float64 { return 100 * r.cpuRatio() })
			fmt.Fprintf(w, "  %-28s %8.1f%%  (%.1f%% .. %.1f%%)\n", "foyer/nginx at equal CPU", hi, lo, hi)
		}
	}
	for _, sv := range servers {
		if sv.cpu == nil {
			continue
		}
		lo, hi := stat(func(r pollRun) float64 { return -cpuPerRequest(r.by[sv.name].cpu, r.by[sv.name].wrk.Requests) })
		fmt.Fprintf(w, "  %-28s %9.1f  (%.1f .. %.1f)\n", sv.name+" CPU us/request", -hi, -hi, -lo)
	}
	lo, hi := stat(func(r pollRun) float64 { return -r.by["foyer"].wrk.P50US })
	fmt.Fprintf(w, "  %-28s %9s  (%s .. %s)\n", "foyer p50", ms(-hi), ms(-hi), ms(-lo))
	lo, hi = stat(func(r pollRun) float64 { return -r.by["foyer"].wrk.P99US })
	fmt.Fprintf(w, "  %-28s %9s  (%s .. %s)\n", "foyer p99", ms(-hi), ms(-hi), ms(-lo))
	lo, hi = stat(func(r pollRun) float64 { return -r.perPoll(r.redis.reads) })
	fmt.Fprintf(w, "  %-28s %9.5f  (%.5f .. %.5f), budget <= 0.05: %s\n", "Redis round trips per poll", -hi, -hi, -lo, verdict(-hi <= 0.05))
	lo, hi = stat(func(r pollRun) float64 { return -r.perPoll(r.redis.processed) })
	fmt.Fprintf(w, "  %-28s %9.5f  (%.5f .. %.5f), scripts' inner commands included\n", "Redis commands run per poll", -hi, -hi, -lo)
	if _, ok := rs[0].by[realName]; ok {
		lo, hi = stat(func(r pollRun) float64 { return -r.perPollOf(realName, r.real.reads) })
		fmt.Fprintf(w, "  %-28s %9.5f  (%.5f .. %.5f), budget <= 0.05: %s\n", "realistic: round trips/poll", -hi, -hi, -lo, verdict(-hi <= 0.05))
		b := best[realName] / best["foyer"]
		fmt.Fprintf(w, "  %-28s %8.1f%%  budget >= 90%%: %s\n", "realistic/ideal, bests", 100*b, verdict(b >= 0.9))
	}
	fmt.Fprintln(w)
}
