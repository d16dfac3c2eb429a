package sim

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/foyerhq/foyer/internal/boxoffice"
)

// Result is what one run measured. Times are sale seconds from the opening unless named
// otherwise.
type Result struct {
	Label    string  `json:"label"`
	Mode     Mode    `json:"mode"`
	Scenario string  `json:"scenario"`
	Visitors int     `json:"visitors"`
	Speed    float64 `json:"speed"`
	// WallSeconds is how long the run took; SaleSeconds the sale time it covered.
	WallSeconds float64 `json:"wall_seconds"`
	SaleStart   float64 `json:"sale_start"`
	SaleEnd     float64 `json:"sale_end"`
	// Outcomes counts visitors by how their visit ended.
	Outcomes map[string]int `json:"outcomes"`
	// GotIn counts visitors who got in: admitted by the waiting room, or (Direct) served the
	// programme page.
	GotIn    int              `json:"got_in"`
	Requests map[string]int64 `json:"requests"`
	// Errors counts the errors visitors saw, by kind; VisitorsWithErrors how many saw any.
	Errors map[string]int64 `json:"errors"`
	// ErrorSamples holds the first answer seen for each "request kind", e.g. "join 503".
	ErrorSamples       map[string]string `json:"error_samples,omitempty"`
	ErrorsTotal        int64             `json:"errors_total"`
	VisitorsWithErrors int               `json:"visitors_with_errors"`
	// SentBack counts protected requests answered with the line instead (session gone).
	SentBack   int64 `json:"sent_back"`
	SecondTabs int   `json:"second_tabs"`
	StepsAway  int   `json:"steps_away"`
	// Wait is from arrival (or the opening, for early arrivals) to getting in, for those who
	// got in, in sale seconds.
	Wait     Summary          `json:"wait_seconds"`
	Fairness Fairness         `json:"fairness"`
	Backend  *boxoffice.Stats `json:"backend,omitempty"`
	// Series is the run over time, one Point per SeriesStep sale seconds.
	Series     []Point  `json:"series"`
	SeriesStep float64  `json:"series_step"`
	Overhead   Overhead `json:"overhead"`
	// ETA is how well the ETA ranges shown held (foyer mode).
	ETA ETAAccuracy `json:"eta"`
	// PlacesSeen counts the places shown after the opening; PlaceRises those above the best
	// the visitor had been shown before (must be 0); Notices the answers that carried a notice.
	PlacesSeen int64 `json:"places_seen"`
	PlaceRises int64 `json:"place_rises"`
	Notices    int64 `json:"notices"`
	// InOrder is the share of the InOrderN admitted visitors that nobody from further back in
	// the line overtook, returners included (inOrder).
	InOrder  float64 `json:"in_order"`
	InOrderN int     `json:"in_order_n"`
	// StatusPolls counts the status requests (joins not included); RedisRoundTrips the Redis
	// round trips during the run, everything foyer did included (-1 when not measured).
	StatusPolls       int64    `json:"status_polls"`
	RedisRoundTrips   int64    `json:"redis_round_trips"`
	RoundTripsPerPoll float64  `json:"redis_round_trips_per_poll"`
	Notes             []string `json:"notes,omitempty"`
	// Flagged is how many people foyer's refund list holds after the run (Target.Flagged;
	// -1 when not asked): to match the box office's own Backend.CustomersRefundDue.
	Flagged int64 `json:"flagged"`
	// Distorted says why the run's timings cannot be trusted ("" when they can): the machine
	// ran short of CPU, so at Speed x every wall-clock hiccup became Speed times longer.
	Distorted string `json:"distorted,omitempty"`
}

// StarvedLimitMs is the heartbeat lateness beyond which a run is flagged as distorted.
const StarvedLimitMs = 150

// LateLimit is the lateness, in sale time, of the simulator's sends (p99) or of the box
// office's step timers (p99) beyond which a run is flagged as distorted: 3 s of sale time is a
// tenth of the festival box office's 30 s timeout, and bunches a second's arrivals together.
const LateLimit = 3 * time.Second

// Fairness is how closely getting in followed arriving.
type Fairness struct {
	// Basis says what "order of getting in" means: "places" (the places in line foyer
	// reported, after its pre-queue shuffle: the order it lets visitors in) or "moments" (when
	// each visitor got in, as far as its polls or its requests could tell).
	Basis string `json:"basis"`
	// Tolerance (sale seconds): visitors whose first requests went out closer together than
	// this are not a pair.
	Tolerance float64 `json:"tolerance"`
	// LateN visitors arrived after the opening and got in. Of their pairs (LatePairs), the
	// share surely let in out of arrival order is LateCertain; LatePossible adds the pairs
	// whose order could not be told apart.
	LateN        int     `json:"late_n"`
	LatePairs    int64   `json:"late_pairs"`
	LateCertain  float64 `json:"late_out_of_order"`
	LatePossible float64 `json:"late_out_of_order_possible"`
	// SeenCertain is, with basis "places", the same share judged from the moments of getting
	// in instead, beyond the measurement's resolution (SeenResolution sale seconds: a few
	// polls' worth of caching and coalescing on foyer's wall clock).
	SeenCertain    float64 `json:"seen_out_of_order,omitempty"`
	SeenResolution float64 `json:"seen_resolution,omitempty"`
	// PreN visitors arrived before the opening and got in. A fair shuffle makes their order of
	// getting in independent of their order of arriving: Spearman near 0, and a chi-square
	// test of independence (arrival decile × admission decile) that does not reject.
	PreN int `json:"pre_n"`
	// PrequeueSize is the pre-queue's size by foyer's fairness record, when known.
	PrequeueSize int64   `json:"prequeue_size,omitempty"`
	PreSpearman  float64 `json:"pre_spearman"`
	PreChi2      float64 `json:"pre_chi2"`
	PreDF        int     `json:"pre_df"`
	PreP         float64 `json:"pre_p"`
}

// Point is one step of the run's series.
type Point struct {
	T              float64 `json:"t"`
	Waiting        int     `json:"waiting"`
	GotInPerMin    float64 `json:"got_in_per_min"`
	BookedPerMin   float64 `json:"booked_per_min"`
	ErrorsPerMin   float64 `json:"errors_per_min"`
	BackendBusy    int     `json:"backend_in_flight"`
	BackendQueued  int     `json:"backend_queued"`
	BackendP95Ms   float64 `json:"backend_p95_ms"`
	ChargedNoBook  int64   `json:"charged_not_booked"`
	BackendSamples int     `json:"-"`
}

// Overhead is what the simulator itself cost.
type Overhead struct {
	CPUSeconds  float64 `json:"cpu_seconds"`
	UserSeconds float64 `json:"user_seconds"`
	SysSeconds  float64 `json:"sys_seconds"`
	// CPUPerVisitorMs is CPU milliseconds per simulated visitor.
	CPUPerVisitorMs float64 `json:"cpu_per_visitor_ms"`
	MaxGoroutines   int     `json:"max_goroutines"`
	PeakHeapMB      float64 `json:"peak_heap_mb"`
	Steps           int64   `json:"steps"`
	// LagP50Ms and LagP99Ms are how late (wall ms) steps ran against their schedule: the
	// simulator keeping up, or not.
	LagP50Ms float64 `json:"lag_p50_ms"`
	LagP99Ms float64 `json:"lag_p99_ms"`
	// StarvedP99Ms is how late (wall ms, 99th percentile) a 20 ms heartbeat woke up: the
	// machine's CPU starvation. Past StarvedLimitMs the run's timings are distorted.
	StarvedP99Ms float64 `json:"starved_p99_ms"`
	// SendLateP99Ms is how late (wall ms, 99th percentile) the simulator sent visitors' steps
	// against their schedule, when a worker was free to send them (the crowd's concurrency
	// limit apart): its own CPU starvation. Times the speed, past LateLimit of sale time, the
	// crowd did not arrive as drawn and the run is distorted.
	SendLateP99Ms float64 `json:"send_late_p99_ms"`
	// CPUPressure is the share of the run's wall time during which some task on the machine
	// waited for a CPU (Linux PSI "some"); -1 when unknown. Context for the figures above.
	CPUPressure float64 `json:"cpu_pressure"`
	// InProcess names what else ran in the process and so counts in the CPU time.
	InProcess string `json:"in_process,omitempty"`
}

// BackendPeak is the most requests the backend held at once and its capacity, when known.
func (res *Result) BackendPeak() (peak, capacity int, ok bool) {
	if res.Backend == nil {
		return 0, 0, false
	}
	return res.Backend.PeakConcurrency, res.Backend.Capacity.Workers, true
}

func (r *runner) result(wallEnd time.Time, backend *boxoffice.Stats, over Overhead) *Result {
	res := &Result{
		Label: r.opt.Label, Mode: r.tgt.Mode, Scenario: r.sc.Name, Visitors: len(r.visitors), Speed: r.sc.Speed,
		WallSeconds: wallEnd.Sub(r.clock.wall0).Seconds(), SaleStart: r.clock.sale0, SaleEnd: r.clock.sale(wallEnd),
		Outcomes: map[string]int{}, Requests: map[string]int64{}, Errors: map[string]int64{},
		Backend: backend, Overhead: over, SentBack: r.count.sentBack.Load(),
	}
	res.Overhead.InProcess = r.opt.InProcess
	res.Overhead.CPUPerVisitorMs = over.CPUSeconds * 1000 / float64(len(r.visitors))
	for i, n := range actionNames {
		if c := r.count.requests[i].Load(); c > 0 {
			res.Requests[n] = c
		}
	}
	r.errMu.Lock()
	for _, e := range r.errRecs {
		res.Errors[errKindNames[e.kind]]++
		res.ErrorsTotal++
	}
	r.errMu.Unlock()

	judge := &etaJudge{res: r.sc.Speed}
	all0 := make([]*visitor, 0, len(r.visitors))
	var waits []float64
	type got struct {
		joined, arrival float64
		adm             Interval
		position        int64
		pre             bool
	}
	var all []got
	withPos := 0
	for i := range r.visitors {
		v := &r.visitors[i]
		v.mu.Lock()
		if v.ph != phDone {
			v.out = Unfinished
		}
		res.Outcomes[v.out.String()]++
		if v.errs > 0 {
			res.VisitorsWithErrors++
		}
		if !math.IsInf(v.tab2At, 1) && v.tab2At < res.SaleEnd {
			res.SecondTabs++
		}
		if !math.IsInf(v.awayAt, 1) && v.awayAt < res.SaleEnd {
			res.StepsAway++
		}
		judge.visitor(v)
		all0 = append(all0, v)
		res.PlacesSeen += int64(len(v.seen))
		res.PlaceRises += int64(v.rises)
		res.Notices += int64(v.notices)
		if v.admitted {
			res.GotIn++
			waits = append(waits, v.adm.Hi-math.Max(v.arrival, 0))
			all = append(all, got{v.joined, v.arrival, v.adm, v.position, v.prequeue})
			if v.position > 0 {
				withPos++
			}
		}
		v.mu.Unlock()
	}
	res.Wait = Summarize(waits)
	res.ETA = judge.done()
	res.ETA.Stalled = int(r.count.stalled.Load())
	res.InOrder, res.InOrderN = inOrder(all0, r.sc.fairnessTolerance())
	res.StatusPolls = r.count.requests[actPoll].Load()
	res.RedisRoundTrips = -1
	if r.redisTrips >= 0 && res.StatusPolls > 0 {
		res.RedisRoundTrips = r.redisTrips
		res.RoundTripsPerPoll = float64(r.redisTrips) / float64(res.StatusPolls)
	}
	f := &res.Fairness
	f.Tolerance = r.sc.fairnessTolerance()
	usePlaces := len(all) > 0 && withPos >= len(all)*9/10
	f.Basis = "moments"
	if usePlaces {
		f.Basis = "places"
	}
	if usePlaces && r.prequeueSize > 0 {
		// foyer's own record says which places were the pre-queue's: its clock, not ours,
		// decided who joined before the opening.
		f.PrequeueSize = r.prequeueSize
		for i := range all {
			all[i].pre = all[i].position > 0 && all[i].position <= r.prequeueSize
		}
	}
	var late []got
	var preArr, preAdm []float64
	for _, g := range all {
		switch {
		case usePlaces && g.position == 0:
		case g.pre:
			preArr = append(preArr, g.arrival)
			if usePlaces {
				preAdm = append(preAdm, float64(g.position))
			} else {
				preAdm = append(preAdm, (g.adm.Lo+g.adm.Hi)/2)
			}
		default:
			late = append(late, g)
		}
	}
	sort.Slice(late, func(i, j int) bool { return late[i].joined < late[j].joined })
	joined := make([]float64, len(late))
	order := make([]Interval, len(late))
	seen := make([]Interval, len(late))
	for i, l := range late {
		joined[i], seen[i] = l.joined, l.adm
		order[i] = l.adm
		if usePlaces {
			order[i] = Interval{float64(l.position), float64(l.position)}
		}
	}
	f.LateN = len(late)
	c, p, pairs := Inversions(joined, order, f.Tolerance)
	f.LatePairs = pairs
	if pairs > 0 {
		f.LateCertain, f.LatePossible = float64(c)/float64(pairs), float64(p)/float64(pairs)
	}
	if usePlaces {
		// Beyond the polls' own uncertainty (the intervals), foyer's cached head and coalesced
		// joins blur the moments by a fraction of a second of wall time: within the tolerance.
		f.SeenResolution = f.Tolerance
		for i := range seen {
			seen[i].Lo -= f.SeenResolution
		}
		c, _, pairs := Inversions(joined, seen, f.SeenResolution)
		if pairs > 0 {
			f.SeenCertain = float64(c) / float64(pairs)
		}
	}
	f.PreN = len(preArr)
	if f.PreN >= 2 {
		f.PreSpearman = Spearman(preArr, preAdm)
		f.PreChi2, f.PreDF, f.PreP = ChiSquare(preArr, preAdm, 10)
	}
	res.ErrorSamples = r.errSamples
	r.series(res)
	var why []string
	if over.StarvedP99Ms > StarvedLimitMs {
		why = append(why, fmt.Sprintf("the simulator's process was starved of CPU (a 20 ms heartbeat woke %.0f ms late at p99)", over.StarvedP99Ms))
	}
	if sale := over.SendLateP99Ms * r.sc.Speed; sale > float64(LateLimit.Milliseconds()) {
		why = append(why, fmt.Sprintf("the simulator sent visitors' requests %.0f ms late at p99 (%.1f s of sale time; limit %v)",
			over.SendLateP99Ms, sale/1000, LateLimit))
	}
	if b := res.Backend; b != nil {
		limit := math.Min(float64(LateLimit.Milliseconds()), b.Capacity.TimeoutMs/10)
		if sale := b.TimerLateP99Ms * b.Capacity.Speed; sale > limit {
			why = append(why, fmt.Sprintf("the box office's step timers woke %.0f ms late at p99 (%.1f s of sale time against its %.0f s timeout)",
				b.TimerLateP99Ms, sale/1000, b.Capacity.TimeoutMs/1000))
		}
	}
	if b := res.Backend; b != nil && b.Latency.Max > 1.3*b.Capacity.TimeoutMs {
		why = append(why, fmt.Sprintf("the box office answered %.0f s after arrival though its timeout is %.0f s (its timers ran late)",
			b.Latency.Max/1000, b.Capacity.TimeoutMs/1000))
	}
	if len(why) > 0 {
		res.Distorted = strings.Join(why, "; ") + ": rerun on a quieter machine, or with a lower --speed or fewer --visitors"
	}
	return res
}

// series builds res.Series from the visitors' times, the errors and the backend's samples.
func (r *runner) series(res *Result) {
	start := math.Min(r.clock.sale0, r.visitors[0].arrival)
	end := res.SaleEnd
	span := math.Max(end-start, 1)
	step := 10.0
	for _, s := range []float64{10, 15, 30, 60, 120, 300, 600} {
		step = s
		if span/s <= 150 {
			break
		}
	}
	res.SeriesStep = step
	n := int(math.Ceil(span / step))
	pts := make([]Point, n)
	for i := range pts {
		pts[i].T = start + float64(i+1)*step
	}
	idx := func(t float64) int {
		i := int((t - start) / step)
		return min(max(i, 0), n-1)
	}
	perMin := 60 / step
	var ins, outs []float64
	for i := range r.visitors {
		v := &r.visitors[i]
		ins = append(ins, v.arrival)
		leave := math.Inf(1)
		if v.admitted {
			leave = v.adm.Hi
			pts[idx(v.adm.Hi)].GotInPerMin += perMin
		} else if v.ph == phDone {
			leave = v.doneAt
		}
		outs = append(outs, leave)
		if v.out == Booked {
			pts[idx(v.doneAt)].BookedPerMin += perMin
		}
	}
	sort.Float64s(ins)
	sort.Float64s(outs)
	for i := range pts {
		t := pts[i].T
		in := sort.SearchFloat64s(ins, t+1e-9)
		out := sort.SearchFloat64s(outs, t+1e-9)
		pts[i].Waiting = in - out
	}
	r.errMu.Lock()
	for _, e := range r.errRecs {
		pts[idx(float64(e.t))].ErrorsPerMin += perMin
	}
	r.errMu.Unlock()
	if res.Backend != nil {
		for _, s := range res.Backend.Series {
			t := r.clock.sale(time.UnixMilli(s.T))
			if t < start || t > end+step {
				continue
			}
			p := &pts[idx(t)]
			p.BackendBusy = max(p.BackendBusy, s.InFlightPeak)
			p.BackendQueued = max(p.BackendQueued, s.QueuedPeak)
			p.BackendP95Ms = math.Max(p.BackendP95Ms, s.P95Ms)
			p.ChargedNoBook += s.ChargedNotBooked
			p.BackendSamples++
		}
	}
	res.Series = pts
}
