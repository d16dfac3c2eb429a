package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"time"
)

// RehearseConfig drives a rehearsal: the search for the highest admission rate at which the
// backend keeps its p95 latency under TargetP95 and nobody is charged without a booking.
type RehearseConfig struct {
	// TargetP95 is the backend latency (sale time) not to exceed at the 95th percentile.
	TargetP95 time.Duration
	// MinRate and MaxRate bound the search (visitors per minute, sale time).
	MinRate, MaxRate float64
	// Steps is how many trials to spend narrowing down once the limit is bracketed.
	Steps int
	// TrialMinutes is how long (sale time) each trial admits at its rate.
	TrialMinutes float64
	// Target builds the target for a trial at rate (and returns a cleanup). Its Mode is Paced
	// (the simulator's ideal waiting room in front of the backend) or Foyer.
	Target func(ctx context.Context, rate float64) (Target, func(), error)
	// Options for each trial's run.
	Options Options
	// Log, when set, gets a line per trial.
	Log io.Writer
}

// Trial is one rate tried.
type Trial struct {
	Rate             int     `json:"rate_per_minute"`
	P95Ms            float64 `json:"backend_p95_ms"`
	ChargedNotBooked int64   `json:"charged_not_booked"`
	Errors           int64   `json:"errors"`
	Pass             bool    `json:"pass"`
	Result           *Result `json:"-"`
}

// Rehearsal is the search's outcome.
type Rehearsal struct {
	TargetP95Ms float64 `json:"target_p95_ms"`
	Trials      []Trial `json:"trials"`
	// Recommended is the highest passing rate, rounded down; 0 when none passed.
	Recommended int    `json:"recommended_rate_per_minute"`
	Summary     string `json:"summary"`
}

// Rehearse searches for the highest safe rate: it doubles from MinRate until a trial fails
// (or MaxRate passes), then bisects. Each trial plays a crowd that all arrives in the opening
// minute, large enough to keep the line busy for TrialMinutes at the trial's rate.
func Rehearse(ctx context.Context, base Scenario, cfg RehearseConfig) (*Rehearsal, error) {
	if cfg.TargetP95 <= 0 || cfg.MinRate <= 0 || cfg.MaxRate < cfg.MinRate || cfg.Target == nil {
		return nil, fmt.Errorf("sim: rehearse: need a target p95, 0 < min rate <= max rate, and a target")
	}
	if cfg.Steps <= 0 {
		cfg.Steps = 4
	}
	if cfg.TrialMinutes <= 0 {
		cfg.TrialMinutes = 4
	}
	reh := &Rehearsal{TargetP95Ms: float64(cfg.TargetP95.Milliseconds())}
	try := func(rate float64) (bool, error) {
		rate = math.Round(rate)
		for _, t := range reh.Trials {
			if t.Rate == int(rate) {
				return t.Pass, nil
			}
		}
		sc := base
		sc.Visitors = max(200, int(rate*cfg.TrialMinutes))
		sc.PrequeueShare, sc.SpikeShare = 0, 1
		sc.SpikeMean = 20 * time.Second
		sc = sc.Ideal()
		sc.MaxSaleTime = time.Duration((cfg.TrialMinutes*3 + 10) * float64(time.Minute))
		tgt, cleanup, err := cfg.Target(ctx, rate)
		if err != nil {
			return false, err
		}
		opt := cfg.Options
		opt.Label = fmt.Sprintf("rehearsal %d/min", int(rate))
		res, err := Run(ctx, sc, tgt, opt)
		cleanup()
		if err != nil {
			return false, err
		}
		t := Trial{Rate: int(rate), Errors: res.ErrorsTotal, Result: res}
		if res.Backend != nil {
			// by load: a box office configured to fail after payment (FailAfterPayment) fails at any rate
			t.P95Ms, t.ChargedNotBooked = res.Backend.Latency.P95, res.Backend.ChargedNotBooked-res.Backend.FailedAfterPayment
		}
		t.Pass = res.Backend != nil && t.P95Ms <= reh.TargetP95Ms && t.ChargedNotBooked == 0 && t.Errors == 0 &&
			res.Outcomes[Unfinished.String()] == 0
		reh.Trials = append(reh.Trials, t)
		if cfg.Log != nil {
			verdict := "fails"
			if t.Pass {
				verdict = "passes"
			}
			fmt.Fprintf(cfg.Log, "rehearsal: %6d/min  backend p95 %7.0f ms  charged-not-booked %d  errors %d  %s\n",
				t.Rate, t.P95Ms, t.ChargedNotBooked, t.Errors, verdict)
		}
		return t.Pass, nil
	}

	lo, hi := 0.0, 0.0 // highest pass, lowest fail
	for r := cfg.MinRate; ; r *= 2 {
		r = math.Min(r, cfg.MaxRate)
		ok, err := try(r)
		if err != nil {
			return reh, err
		}
		if !ok {
			hi = r
			break
		}
		lo = r
		if r >= cfg.MaxRate {
			break
		}
	}
	for i := 0; i < cfg.Steps && hi > 0 && lo > 0 && hi-lo > math.Max(1, lo*0.03); i++ {
		mid := (lo + hi) / 2
		ok, err := try(mid)
		if err != nil {
			return reh, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	sort.Slice(reh.Trials, func(i, j int) bool { return reh.Trials[i].Rate < reh.Trials[j].Rate })
	switch {
	case lo == 0:
		reh.Summary = fmt.Sprintf("Even %d visitors a minute overload the backend (p95 over %v or someone charged without a booking): lower MinRate or fix the backend.", int(cfg.MinRate), cfg.TargetP95)
	default:
		reh.Recommended = roundDown(lo)
		what := "the highest rate tried that passed"
		if hi > 0 {
			what = fmt.Sprintf("the highest passing rate found (%d/min fails)", int(math.Round(hi)))
		} else {
			what += " (the search's upper bound: the backend may take more)"
		}
		reh.Summary = fmt.Sprintf("Recommended rate_per_minute: %d, %s: backend p95 under %v and nobody charged without a booking.",
			reh.Recommended, what, cfg.TargetP95)
	}
	return reh, nil
}

// roundDown rounds a rate down to two significant figures.
func roundDown(x float64) int {
	if x < 100 {
		return int(x)
	}
	p := math.Pow(10, math.Floor(math.Log10(x))-1)
	return int(math.Floor(x/p) * p)
}
