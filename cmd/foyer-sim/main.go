// Command foyer-sim replays a festival's opening rush against the demo box office, straight and
// through foyer, and reports what each did to the backend and to the visitors.
//
//	foyer-sim festival [--visitors 10000] [--speed 30] [--crowd real|mixed|ideal] [--skip-direct] [--report bin/report.html] [--json FILE]
//	foyer-sim run --mode direct|paced|foyer [--foyer URL --backend URL --room NAME --admin-token T]
//	foyer-sim rehearse [--target-p95 2s] [--via paced|foyer] [--min-rate N --max-rate N]
//
// festival starts what it needs itself: a box office for the straight run, and for the run
// through foyer a private Redis, the gateway and a box office behind it that checks tokens
// through foyer's JWKS. They run in child processes ("foyer-sim stack"), so that the
// simulator's own CPU time can be told apart from theirs; --in-process keeps them here.
// With --foyer and --backend it goes through an already running foyer and box office instead
// (the box office started with --allow-reset; --admin-token lets it set the room's opening,
// else it follows the room's own).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/internal/boxoffice"
	"github.com/foyerhq/foyer/internal/childproc"
	"github.com/foyerhq/foyer/internal/sim"
	"github.com/foyerhq/foyer/internal/stack"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

var commands = map[string]struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}{
	"festival": {"replay the festival rush straight at the backend and through foyer; print the comparison", runFestival},
	"run":      {"play one crowd against a target (direct, paced or foyer)", runOne},
	"rehearse": {"find the highest admission rate the backend takes within a p95 target", runRehearse},
	"stack":    {"serve a box office (and foyer in front of another) for a parent foyer-sim; internal", runStack},
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, "usage: foyer-sim <command> [flags]\n\ncommands:")
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stderr, "  %-9s %s\n", n, commands[n].summary)
		}
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "foyer-sim: unknown command %q\n", args[0])
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.run(ctx, args[1:], stdout, stderr)
}

// sizing is the festival's backend and room. The box office is given (sized from the crowd, as
// the festival's was); foyer's room is sized from the box office (foyerFor), the way an
// organiser would.
type sizing struct {
	Rate, MaxActive, Workers, Seats, Screenings int
	// Cap is the active-session cap an organiser would set (foyerFor); MaxActive, the room's,
	// adds what time compression holds up (sizeFor).
	Cap int
	// FailAfterPayment is the box office's configured probability of failing a booking after
	// its payment, whatever the load (so foyer's refund list has entries to check).
	FailAfterPayment float64
}

func sizeFor(visitors int, speed float64) sizing {
	z := sizing{
		Workers:    max(8, (visitors/15+7)/8),   // 84 workers for 10,000 visitors
		Seats:      max(20, visitors*245/27000), // about as many seats as the crowd wants
		Screenings: 270,
	}
	z.Rate, z.Cap = foyerFor(officeConfig(z, speed))
	// Time compression: an offer made to a visitor who stopped polling holds its slot until
	// foyer takes them for absent, absent_after of wall time (15 s: 7.5 min of sale time at
	// 30x, where in real time it would be 15 s). Without room for those, the cap would bind
	// for a reason real time does not have: MaxActive adds absent_after's worth of admissions.
	z.MaxActive = z.Cap + int(float64(z.Rate)*speed/60*stack.DefaultAbsentAfter.Seconds())
	return z
}

// foyerFor sizes foyer's room from the box office as an organiser would, from its worker count
// and service times (what their monitoring shows): at full load a step takes StepBase +
// Workers × StepPerInflight, a booking three steps and the payment, a visitor the programme
// page and a booking. The rate is half the visitors a minute the workers can serve at full
// load (headroom for bursts, retries and second tabs); the cap is the most bookings the
// workers clear within half the office's timeout if every admitted visitor pressed "book" at
// once, so no burst of admitted visitors can make a payment time out.
func foyerFor(oc boxoffice.Config) (rate, maxActive int) {
	step := oc.StepBase + time.Duration(oc.Workers)*oc.StepPerInflight
	booking := 3*step + oc.PaymentTime
	visitor := step + booking
	perMin := float64(oc.Workers) * float64(time.Minute) / float64(visitor)
	rate = max(1, int(perMin/2))
	maxActive = max(1, int(float64(oc.Workers)*float64(oc.Timeout/2)/float64(booking)))
	return rate, maxActive
}

// officeConfig is the festival's box office: a visitor (programme, then a booking) holds a
// worker for about 2.2 s of sale time when it is idle and 3.6 s at full load, so at 30x a
// visitor's work is 70-120 ms of wall time, large beside a timer's few milliseconds of slack.
func officeConfig(z sizing, speed float64) boxoffice.Config {
	oc := boxoffice.DefaultConfig()
	oc.Workers, oc.Seats, oc.Screenings, oc.Speed = z.Workers, z.Seats, z.Screenings, speed
	oc.StepBase = 250 * time.Millisecond
	oc.PaymentTime = 1200 * time.Millisecond
	oc.StepPerInflight = 350 * time.Millisecond / time.Duration(z.Workers) // full load adds 350 ms a step
	oc.MaxQueue = 8192
	oc.FailAfterPayment = z.FailAfterPayment
	return oc
}

type commonFlags struct {
	visitors   int
	speed      float64
	seed       uint64
	workers    int
	inProcess  bool
	cpuProfile string
	jsonOut    string
	foyerURL   string
	backendURL string
	room       string
	adminToken string
	rate       int
	maxActive  int
	prequeue   time.Duration
	tail       time.Duration
	crowd      string
	think      time.Duration
	failAfter  float64
}

func (c *commonFlags) bind(fs *flag.FlagSet, defVisitors int) {
	fs.IntVar(&c.visitors, "visitors", defVisitors, "crowd size")
	fs.Float64Var(&c.speed, "speed", 30, "sale seconds per wall second")
	fs.Uint64Var(&c.seed, "seed", 2026, "crowd seed")
	fs.IntVar(&c.workers, "workers", 4096, "requests the crowd may have in progress at once")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write the simulator's CPU profile to this file")
	fs.BoolVar(&c.inProcess, "in-process", false, "run the box office and foyer in this process (their CPU then counts as the simulator's)")
	fs.StringVar(&c.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&c.foyerURL, "foyer", "", "an already running foyer to go through (proxy mode) instead of starting one")
	fs.StringVar(&c.backendURL, "backend", "", "an already running box office (with --allow-reset) instead of starting one")
	fs.StringVar(&c.room, "room", "festival", "foyer room (with --foyer)")
	fs.StringVar(&c.adminToken, "admin-token", os.Getenv("FOYER_ADMIN_TOKEN"), "foyer admin token, to set the room's opening (with --foyer)")
	fs.IntVar(&c.rate, "rate", 0, "admission rate per minute of sale time (default: sized from the crowd)")
	fs.IntVar(&c.maxActive, "max-active", 0, "active-session cap (default: sized from the crowd)")
	fs.DurationVar(&c.prequeue, "prequeue", 10*time.Minute, "how long before the opening the early arrivals come (sale time)")
	fs.DurationVar(&c.tail, "tail", 20*time.Minute, "how long after the opening arrivals go on (sale time)")
	fs.StringVar(&c.crowd, "crowd", "real", "how visitors behave: real (CROWDS.md's mix: phones that sleep, hidden tabs, leavers, a third of whom come back, reloaders, bots, shared addresses), mixed (real, and a quarter leave right after joining; sessions of a few seconds) or ideal (everyone polls as told)")
	fs.DurationVar(&c.think, "think", 0, "mean time from getting in to booking (sale time; default 20s, mixed 3s)")
	fs.Float64Var(&c.failAfter, "fail-after-payment", 0.01, "probability that the box office fails a booking after its payment, whatever the load (foyer's refund list must then match its count); festival only unless given")
}

// noInjectedFailures turns --fail-after-payment's default off for the commands that measure
// one target (run, rehearse: a trial fails on anyone charged without a booking); festival keeps it.
func (c *commonFlags) noInjectedFailures(fs *flag.FlagSet) {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "fail-after-payment" })
	if !set {
		c.failAfter = 0
	}
}

// profile starts the CPU profile when asked; the returned func stops it.
func (c *commonFlags) profile(stderr io.Writer) func() {
	if c.cpuProfile == "" {
		return func() {}
	}
	f, err := os.Create(c.cpuProfile)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "foyer-sim: cpuprofile: %v\n", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}

func (c *commonFlags) scenario() sim.Scenario {
	sc := sim.Festival(c.visitors)
	switch c.crowd {
	case "mixed":
		sc = sim.Mixed(c.visitors)
	case "ideal":
		sc = sc.Ideal()
		sc.Name = "festival, ideal crowd"
	}
	if c.think > 0 {
		sc.ThinkMean = c.think
	}
	sc.Speed, sc.Seed = c.speed, c.seed
	sc.PrequeueWindow = c.prequeue
	if c.prequeue <= 0 {
		sc.PrequeueShare = 0
	}
	if c.tail > 0 {
		sc.TailMax, sc.TailMean = c.tail, c.tail/4
	}
	return sc
}

func (c *commonFlags) sizing() sizing {
	z := sizeFor(c.visitors, c.speed)
	if c.rate > 0 {
		z.Rate = c.rate
	}
	if c.maxActive > 0 {
		z.MaxActive, z.Cap = c.maxActive, c.maxActive
	}
	z.FailAfterPayment = c.failAfter
	return z
}

func progressOpts(stderr io.Writer, label string, workers int, inProcess string) sim.Options {
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	return sim.Options{Label: label, Workers: workers, Progress: stderr, ProgressTTY: tty, InProcess: inProcess}
}

// host is a box office (and maybe foyer) the simulator started, in a child process or here.
type host struct {
	info  stackInfo
	close func()
	cpu   func() float64 // the child's CPU seconds, once closed
	note  string
}

type stackInfo struct {
	FoyerURL   string `json:"foyer_url"`
	BackendURL string `json:"backend_url"`
	Room       string `json:"room"`
	AdminToken string `json:"admin_token"`
	Redis      string `json:"redis"`
	// RedisAddr is the private redis-server's address, for its INFO counters ("" otherwise).
	RedisAddr string `json:"redis_addr,omitempty"`
}

// startHost starts a box office, with foyer in front when withFoyer.
func startHost(ctx context.Context, c *commonFlags, z sizing, withFoyer bool, stderr io.Writer) (*host, error) {
	if c.inProcess {
		return startInProcess(ctx, c, z, withFoyer)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"stack", "--speed", fmt.Sprint(c.speed), "--rate", fmt.Sprint(z.Rate), "--max-active", fmt.Sprint(z.MaxActive),
		"--backend-workers", fmt.Sprint(z.Workers), "--seats", fmt.Sprint(z.Seats), "--fail-after-payment", fmt.Sprint(z.FailAfterPayment)}
	if !withFoyer {
		args = append(args, "--backend-only")
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = stderr
	childproc.DieWithParent(cmd, syscall.SIGTERM)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var info stackInfo
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &info)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("stack child process: %w", err)
	}
	h := &host{info: info, note: "child process"}
	var waited bool
	h.close = func() {
		if waited {
			return
		}
		waited = true
		_ = in.Close() // the child stops when its stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	h.cpu = func() float64 {
		if cmd.ProcessState == nil {
			return 0
		}
		return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	}
	return h, nil
}

func startInProcess(ctx context.Context, c *commonFlags, z sizing, withFoyer bool) (*host, error) {
	oc := officeConfig(z, c.speed)
	if !withFoyer {
		o, url, stop, err := serveOffice(oc)
		if err != nil {
			return nil, err
		}
		_ = o
		return &host{info: stackInfo{BackendURL: url}, close: stop, cpu: func() float64 { return 0 }, note: "in process"}, nil
	}
	st, err := stack.Start(ctx, stack.Config{Speed: c.speed, RatePerMinute: z.Rate, MaxActive: z.MaxActive, Office: oc,
		Room: "festival", Logger: zerolog.Nop()})
	if err != nil {
		return nil, err
	}
	return &host{info: stackInfo{FoyerURL: st.FoyerURL, BackendURL: st.BackendURL, Room: st.Room, AdminToken: st.AdminToken,
		Redis: st.Redis, RedisAddr: st.RedisAddr}, close: st.Close, cpu: func() float64 { return 0 }, note: "in process"}, nil
}

func runFestival(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("festival", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.bind(fs, 10000)
	report := fs.String("report", "", "write the HTML report to this file")
	skipDirect := fs.Bool("skip-direct", false, "only the run through foyer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sc := c.scenario()
	if err := sc.Validate(); err != nil {
		fmt.Fprintf(stderr, "foyer-sim: %v\n", err)
		return 2
	}
	if c.crowd != "real" && c.crowd != "mixed" && c.crowd != "ideal" {
		fmt.Fprintln(stderr, "foyer-sim: --crowd must be real, mixed or ideal")
		return 2
	}
	defer c.profile(stderr)()
	z := c.sizing()
	fmt.Fprintf(stderr, "festival: %s visitors at %gx; box office of %d workers (fails %g%% of bookings after payment); foyer room sized from it: %d/min, cap %d (+%d for time compression: %d)\n",
		fmtInt(c.visitors), c.speed, z.Workers, 100*z.FailAfterPayment, z.Rate, z.Cap, z.MaxActive-z.Cap, z.MaxActive)

	var runs []*sim.Result
	var notes []string
	// 1. Straight at the backend.
	if !*skipDirect {
		direct, err := c.directRun(ctx, sc, z, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "foyer-sim: straight run: %v\n", err)
			return 1
		}
		runs = append(runs, direct)
	}
	// 2. Through foyer.
	through, note, err := c.foyerRun(ctx, sc, z, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "foyer-sim: foyer run: %v\n", err)
		return 1
	}
	runs = append(runs, through)
	notes = append(notes, note)

	fmt.Fprintln(stdout)
	_ = sim.WriteTable(stdout, runs)
	notes = append(notes, readingNotes(sc, z)...)
	if *report != "" {
		if err := writeReport(*report, sim.Report{Title: "foyer-sim: the festival's opening rush",
			Subtitle: fmt.Sprintf("%s visitors, a %s-worker box office, foyer sized from it at %d/min (cap %d, %d with time compression's allowance); time compressed %gx",
				fmtInt(c.visitors), fmtInt(z.Workers), z.Rate, z.Cap, z.MaxActive, c.speed), Runs: runs, Notes: notes}); err != nil {
			fmt.Fprintf(stderr, "foyer-sim: report: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "\nreport: %s\n", *report)
	}
	if c.jsonOut != "" {
		if err := writeJSON(c.jsonOut, runs); err != nil {
			fmt.Fprintf(stderr, "foyer-sim: json: %v\n", err)
			return 1
		}
	}
	return 0
}

func (c *commonFlags) directRun(ctx context.Context, sc sim.Scenario, z sizing, stderr io.Writer) (*sim.Result, error) {
	backend := c.backendURL
	var h *host
	if backend == "" {
		var err error
		if h, err = startHost(ctx, c, z, false, stderr); err != nil {
			return nil, err
		}
		defer h.close()
		backend = h.info.BackendURL
	}
	res, err := sim.Run(ctx, sc, sim.Target{Mode: sim.Direct, URL: backend, ResetBackend: true},
		progressOpts(stderr, "straight at the backend", c.workers, inProcessNote(c)))
	if err != nil {
		return nil, err
	}
	res.Label = "straight at the backend"
	if h != nil {
		h.close()
		res.Notes = append(res.Notes, fmt.Sprintf("box office CPU (%s): %.1f s", h.note, h.cpu()))
	}
	return res, nil
}

func (c *commonFlags) foyerRun(ctx context.Context, sc sim.Scenario, z sizing, stderr io.Writer) (*sim.Result, string, error) {
	info := stackInfo{FoyerURL: c.foyerURL, BackendURL: c.backendURL, Room: c.room, AdminToken: c.adminToken}
	var h *host
	if c.foyerURL == "" {
		var err error
		if h, err = startHost(ctx, c, z, true, stderr); err != nil {
			return nil, "", err
		}
		defer h.close()
		info = h.info
	}
	tgt := sim.Target{Mode: sim.Foyer, URL: info.FoyerURL, Room: info.Room, BackendURL: info.BackendURL,
		ResetBackend: info.BackendURL != "", ForwardedFor: true}
	if info.RedisAddr != "" {
		tgt.RedisRoundTrips = redisReads(info.RedisAddr)
	}
	if info.AdminToken != "" {
		tgt.Prepare = func(ctx context.Context, at time.Time) error {
			return stack.SetOpening(ctx, info.FoyerURL, "/foyer", info.Room, info.AdminToken, at)
		}
		tgt.Flagged = func(ctx context.Context) (int64, error) {
			return stack.FlaggedPeople(ctx, info.FoyerURL, "/foyer", info.Room, info.AdminToken)
		}
	}
	res, err := sim.Run(ctx, sc, tgt, progressOpts(stderr, "through foyer", c.workers, inProcessNote(c)))
	if err != nil {
		return nil, "", err
	}
	note := fmt.Sprintf("Through foyer: the gateway at %s with Redis (%s), room %q.", info.FoyerURL, orDash(info.Redis), info.Room)
	if h != nil {
		h.close()
		res.Notes = append(res.Notes, fmt.Sprintf("foyer + box office CPU (%s): %.1f s", h.note, h.cpu()))
		note += fmt.Sprintf(" foyer, its private Redis and the box office used %.1f s of CPU in their %s.", h.cpu(), h.note)
	}
	return res, note, nil
}

func inProcessNote(c *commonFlags) string {
	if c.inProcess {
		return "box office and foyer"
	}
	return ""
}

func readingNotes(sc sim.Scenario, z sizing) []string {
	return []string{
		fmt.Sprintf("Time is compressed %gx: every duration here is sale time. foyer runs on the wall clock, so its rate is set to %d/min × %g and its poll intervals (wall time) look %gx longer in sale time.", sc.Speed, z.Rate, sc.Speed, sc.Speed),
		"Backend peak concurrency is the most requests inside the box office at once, processed or waiting for one of its workers; capacity is its number of workers.",
		"Charged but not booked: the payment went through, then the booking timed out (the festival's failure, \"by load\") or failed by the box office's configured probability (--fail-after-payment, in both runs, whatever the load). Counted by the box office per attempt, and per customer left without any booking.",
		fmt.Sprintf("foyer's room is sized from the box office as an organiser would: %d/min is half the visitors its %d workers serve a minute at full load (a step then takes its base time plus the load's; a visitor is the programme page and a booking: three steps and the payment), and the cap of %d is the most bookings those workers clear within half the office's timeout, so a burst of that many admitted visitors at once cannot make a payment time out. The room's cap is %d: at %gx an offer to a visitor who stopped polling holds its slot for foyer's absent_after of wall time (%v), %gx longer in sale time than in life, and the cap adds that many admissions so as not to bind for a reason real time does not have.", z.Rate, z.Workers, z.Cap, z.MaxActive, sc.Speed, stack.DefaultAbsentAfter, sc.Speed),
		"People owed a refund: the box office's own count of customers with a payment taken without a booking, against the distinct visitors on foyer's refund list (the admin API's flagged list, fed by the box office's failed reports); they must match.",
		"DISTORTED: the run's timings cannot be trusted: the simulator's heartbeat woke over 150 ms late (p99), or it sent visitors' steps, or the box office's timers woke, more than 3 s of sale time late (p99; at 30x, 100 ms of wall time), or the box office answered past its own timeout. CPU pressure is the share of the run during which some task on the machine waited for a CPU (Linux PSI).",
		"Wait is from arrival (early arrivals: from the opening) to getting in: admitted by foyer, or, straight at the backend, served the programme page.",
		fmt.Sprintf("Out of order: of the pairs of visitors who arrived after the opening at least %v of sale time apart (the larger of %v and %v of wall time: at %gx the opening spike reaches a server %gx denser than in life, and a second's backlog is taken in no particular order), the share let in in the opposite order. Through foyer it is judged on the places foyer gave (its order of admission, with its pre-queue size from its public fairness record), and, as seen, on the moments the visitors' polls saw they were in, beyond what the polls can resolve.",
			time.Duration(math.Max(sc.FairnessTolerance.Seconds(), sc.FairnessWallTolerance.Seconds()*sc.Speed)*float64(time.Second)),
			sc.FairnessTolerance, sc.FairnessWallTolerance, sc.Speed, sc.Speed),
		"Pre-queue: visitors who arrived before the opening should get in in an order unrelated to their arrival (foyer shuffles them): Spearman's rank correlation near 0 and a chi-square test of independence (10×10 deciles) with a p-value that is not small.",
		"Simulator lag is how late the simulator ran visitors' steps against their schedule: when it grows, the crowd arrived later than drawn (the simulator, not the target, was the limit).",
	}
}

func runOne(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.bind(fs, 2000)
	mode := fs.String("mode", "foyer", "direct, paced or foyer")
	report := fs.String("report", "", "write the HTML report to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c.noInjectedFailures(fs)
	sc := c.scenario()
	z := c.sizing()
	defer c.profile(stderr)()
	var res *sim.Result
	var err error
	switch sim.Mode(*mode) {
	case sim.Direct:
		res, err = c.directRun(ctx, sc, z, stderr)
	case sim.Foyer:
		res, _, err = c.foyerRun(ctx, sc, z, stderr)
	case sim.Paced:
		res, err = c.pacedRun(ctx, sc, z, float64(z.Rate), stderr)
	default:
		fmt.Fprintf(stderr, "foyer-sim: unknown mode %q\n", *mode)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "foyer-sim: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout)
	_ = sim.WriteTable(stdout, []*sim.Result{res})
	if *report != "" {
		if err := writeReport(*report, sim.Report{Title: "foyer-sim: " + res.Label, Runs: []*sim.Result{res},
			Notes: readingNotes(sc, z)}); err != nil {
			fmt.Fprintf(stderr, "foyer-sim: report: %v\n", err)
			return 1
		}
	}
	if c.jsonOut != "" {
		if err := writeJSON(c.jsonOut, []*sim.Result{res}); err != nil {
			fmt.Fprintf(stderr, "foyer-sim: json: %v\n", err)
			return 1
		}
	}
	return 0
}

func (c *commonFlags) pacedRun(ctx context.Context, sc sim.Scenario, z sizing, rate float64, stderr io.Writer) (*sim.Result, error) {
	backend := c.backendURL
	if backend == "" {
		h, err := startHost(ctx, c, z, false, stderr)
		if err != nil {
			return nil, err
		}
		defer h.close()
		backend = h.info.BackendURL
	}
	return sim.Run(ctx, sc, sim.Target{Mode: sim.Paced, URL: backend, ResetBackend: true, RatePerMinute: rate,
		MaxActive: z.MaxActive}, progressOpts(stderr, fmt.Sprintf("paced %d/min", int(rate)), c.workers, inProcessNote(c)))
}

func runRehearse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rehearse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.bind(fs, 20000)
	target := fs.Duration("target-p95", 2*time.Second, "backend p95 latency not to exceed (sale time)")
	via := fs.String("via", "paced", "paced (the simulator's ideal waiting room) or foyer (a fresh foyer per trial)")
	minRate := fs.Float64("min-rate", 250, "lowest rate to try (per minute)")
	maxRate := fs.Float64("max-rate", 64000, "highest rate to try (per minute)")
	minutes := fs.Float64("trial-minutes", 4, "sale minutes each trial keeps the line busy")
	report := fs.String("report", "", "write the HTML report to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c.noInjectedFailures(fs)
	// The backend is the one the festival would have for this crowd (or --backend).
	z := c.sizing()
	sc := c.scenario()
	var shared *host
	if c.backendURL == "" && *via == "paced" {
		h, err := startHost(ctx, &c, z, false, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "foyer-sim: %v\n", err)
			return 1
		}
		defer h.close()
		shared = h
	}
	cfg := sim.RehearseConfig{TargetP95: *target, MinRate: *minRate, MaxRate: *maxRate, TrialMinutes: *minutes, Log: stderr,
		Options: progressOpts(stderr, "", c.workers, inProcessNote(&c))}
	cfg.Options.Progress = nil
	cfg.Target = func(ctx context.Context, rate float64) (sim.Target, func(), error) {
		switch *via {
		case "paced":
			url := c.backendURL
			if shared != nil {
				url = shared.info.BackendURL
			}
			return sim.Target{Mode: sim.Paced, URL: url, ResetBackend: true, RatePerMinute: rate,
				MaxActive: max(z.MaxActive, int(rate))}, func() {}, nil
		case "foyer":
			zz := z
			zz.Rate, zz.MaxActive = int(rate), max(z.MaxActive, int(rate))
			h, err := startHost(ctx, &c, zz, true, stderr)
			if err != nil {
				return sim.Target{}, nil, err
			}
			info := h.info
			return sim.Target{Mode: sim.Foyer, URL: info.FoyerURL, Room: info.Room, BackendURL: info.BackendURL, ResetBackend: true,
				ForwardedFor: true, Prepare: func(ctx context.Context, at time.Time) error {
					return stack.SetOpening(ctx, info.FoyerURL, "/foyer", info.Room, info.AdminToken, at)
				}}, h.close, nil
		}
		return sim.Target{}, nil, fmt.Errorf("--via must be paced or foyer")
	}
	fmt.Fprintf(stderr, "rehearse: box office of %d workers, backend p95 target %v, via %s\n", z.Workers, *target, *via)
	reh, err := sim.Rehearse(ctx, sc, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "foyer-sim: rehearse: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\n%s\n", reh.Summary)
	if *report != "" {
		var runs []*sim.Result
		for _, t := range reh.Trials {
			if t.Result != nil && (t.Rate == reh.Recommended || !t.Pass && len(runs) < 2) {
				runs = append(runs, t.Result)
			}
		}
		if err := writeReport(*report, sim.Report{Title: "foyer-sim rehearsal", Subtitle: reh.Summary, Runs: runs,
			Rehearsal: reh, Notes: readingNotes(sc, z)}); err != nil {
			fmt.Fprintf(stderr, "foyer-sim: report: %v\n", err)
			return 1
		}
	}
	if c.jsonOut != "" {
		if err := writeJSON(c.jsonOut, reh); err != nil {
			fmt.Fprintf(stderr, "foyer-sim: json: %v\n", err)
			return 1
		}
	}
	if reh.Recommended == 0 {
		return 1
	}
	return 0
}

func writeReport(path string, rep sim.Report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := sim.WriteHTML(f, rep); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func fmtInt(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
