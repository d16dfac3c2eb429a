package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Scenario is a crowd and how it behaves. Durations are sale time; the opening is at sale
// time zero.
type Scenario struct {
	// Name labels the report.
	Name string
	// Visitors is the crowd size.
	Visitors int
	// Speed is sale seconds per wall second.
	Speed float64
	// Seed makes the crowd (arrivals and behaviours) reproducible.
	Seed uint64

	// PrequeueShare of the crowd arrives in the PrequeueWindow before the opening.
	PrequeueShare  float64
	PrequeueWindow time.Duration
	// SpikeShare arrives in the opening seconds, exponentially with mean SpikeMean.
	SpikeShare float64
	SpikeMean  time.Duration
	// The rest arrives after the spike, exponentially with mean TailMean, within TailMax.
	TailMean time.Duration
	TailMax  time.Duration
	// ClickJitter is how late after the opening an early visitor clicks "book" when there is
	// no waiting room (uniform in [0, ClickJitter]).
	ClickJitter time.Duration

	// AbandonShare of the visitors give up waiting for good after an exponential patience of
	// mean Patience.
	AbandonShare float64
	Patience     time.Duration
	// AwayShare step away while waiting (their browser stops polling) for an exponential time
	// of mean AwayMean, then come back.
	AwayShare float64
	AwayMean  time.Duration
	// SecondTabShare open a second tab on the queue some time after joining.
	SecondTabShare float64
	// Retries is how many errors a visitor puts up with before giving up; after each error they
	// retry after a uniform delay in [RetryMin, RetryMax].
	Retries  int
	RetryMin time.Duration
	RetryMax time.Duration
	// ThinkMean is the mean time from getting in to pressing "book" (exponential, at least 2 s).
	ThinkMean time.Duration
	// BookTries is how many screenings a visitor tries when the first is sold out.
	BookTries int
	// ClientTimeout is how long a browser waits for an answer.
	ClientTimeout time.Duration
	// Screenings is how many screenings there are to choose from (ids 1..Screenings).
	Screenings int
	// MaxSaleTime ends the run when reached, counting unfinished visitors.
	MaxSaleTime time.Duration
	// FairnessTolerance: visitors whose first requests went out closer together than this (sale
	// time), or than FairnessWallTolerance of wall time, are not counted as a pair when judging
	// the order they got in. The wall part matters under time compression: the opening spike
	// arrives Speed times denser than in life, and a server working through a second's backlog
	// of joins takes them in no particular order.
	FairnessTolerance     time.Duration
	FairnessWallTolerance time.Duration
}

// fairnessTolerance is the effective tolerance in sale seconds.
func (s Scenario) fairnessTolerance() float64 {
	return math.Max(s.FairnessTolerance.Seconds(), s.FairnessWallTolerance.Seconds()*s.Speed)
}

// Festival is the 14:00 rush of a film festival's general sale, scaled to n visitors: about a
// third arrive in the ten minutes before the opening, 45% in the opening seconds, the rest over
// the next twenty minutes; Speed 30 plays the thirty-minute sale in about a minute.
func Festival(n int) Scenario {
	return Scenario{
		Name:           "festival",
		Visitors:       n,
		Speed:          30,
		Seed:           2026,
		PrequeueShare:  0.35,
		PrequeueWindow: 10 * time.Minute,
		SpikeShare:     0.45,
		SpikeMean:      3 * time.Second,
		TailMean:       5 * time.Minute,
		TailMax:        20 * time.Minute,
		ClickJitter:    2 * time.Second,
		AbandonShare:   0.05,
		Patience:       10 * time.Minute,
		AwayShare:      0.08,
		AwayMean:       45 * time.Second,
		SecondTabShare: 0.10,
		Retries:        6,
		RetryMin:       time.Second,
		RetryMax:       5 * time.Second,
		ThinkMean:      20 * time.Second,
		BookTries:      3,
		ClientTimeout:  30 * time.Second,
		Screenings:     270,
		MaxSaleTime:    3 * time.Hour,

		FairnessTolerance:     2 * time.Second,
		FairnessWallTolerance: time.Second,
	}
}

// Validate reports every problem of s at once.
func (s Scenario) Validate() error {
	var errs []error
	bad := func(field, msg string) { errs = append(errs, fmt.Errorf("%s: %s", field, msg)) }
	if s.Visitors < 1 || s.Visitors > 10_000_000 {
		bad("visitors", "must be 1..10000000")
	}
	if !(s.Speed > 0 && s.Speed <= 10000) {
		bad("speed", "must be in (0, 10000]")
	}
	for name, v := range map[string]float64{"prequeue_share": s.PrequeueShare, "spike_share": s.SpikeShare,
		"abandon_share": s.AbandonShare, "away_share": s.AwayShare, "second_tab_share": s.SecondTabShare} {
		if v < 0 || v > 1 {
			bad(name, "must be 0..1")
		}
	}
	if s.PrequeueShare+s.SpikeShare > 1 {
		bad("spike_share", "prequeue_share + spike_share must be at most 1")
	}
	if s.PrequeueShare > 0 && s.PrequeueWindow <= 0 {
		bad("prequeue_window", "must be positive when prequeue_share is")
	}
	if s.SpikeMean <= 0 || s.TailMean <= 0 || s.TailMax <= 0 {
		bad("arrivals", "spike_mean, tail_mean and tail_max must be positive")
	}
	if s.Retries < 0 || s.RetryMin < 0 || s.RetryMax < s.RetryMin {
		bad("retries", "retries must not be negative and retry_min <= retry_max")
	}
	if s.BookTries < 1 {
		bad("book_tries", "must be at least 1")
	}
	if s.ClientTimeout <= 0 || s.MaxSaleTime <= 0 {
		bad("timeouts", "client_timeout and max_sale_time must be positive")
	}
	if s.Screenings < 1 {
		bad("screenings", "must be at least 1")
	}
	return errors.Join(errs...)
}

// start is the sale time of the first possible arrival, in seconds (negative: before the
// opening).
func (s Scenario) start() float64 {
	if s.PrequeueShare > 0 {
		return -s.PrequeueWindow.Seconds()
	}
	return 0
}

// arrivals draws the crowd's arrival times in sale seconds, sorted.
func (s Scenario) arrivals() []float64 {
	r := rand.New(rand.NewPCG(s.Seed, 0x5eed))
	n := s.Visitors
	nPre := int(math.Round(float64(n) * s.PrequeueShare))
	nSpike := int(math.Round(float64(n) * s.SpikeShare))
	if nPre+nSpike > n {
		nSpike = n - nPre
	}
	out := make([]float64, 0, n)
	w := s.PrequeueWindow.Seconds()
	for i := 0; i < nPre; i++ {
		// Denser towards the opening: most early birds come in the last minutes.
		u := r.Float64()
		out = append(out, -w*u*u-1e-6)
	}
	spikeMean := s.SpikeMean.Seconds()
	for i := 0; i < nSpike; i++ {
		out = append(out, r.ExpFloat64()*spikeMean)
	}
	tailStart, tailMean, tailMax := 4*spikeMean, s.TailMean.Seconds(), s.TailMax.Seconds()
	for i := nPre + nSpike; i < n; i++ {
		t := r.ExpFloat64() * tailMean
		for t > tailMax {
			t = r.ExpFloat64() * tailMean
		}
		out = append(out, tailStart+t)
	}
	sort.Float64s(out)
	return out
}

// uniformSec draws seconds uniformly in [lo, hi].
func uniformSec(lo, hi time.Duration) float64 {
	return lo.Seconds() + rand.Float64()*(hi-lo).Seconds()
}
