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
	// ReturnShare of those who abandon come back later (uniform in [ReturnMin, ReturnMax]
	// after leaving) with the same cookies, and wait on.
	ReturnShare          float64
	ReturnMin, ReturnMax time.Duration
	// Crowd is the mix of behaviours of the real 14:00 crowd (shares of the visitors).
	Crowd Crowd
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

// Crowd is how visitors behave while they wait, beyond polling as told (shares of the visitors,
// exclusive; the rest are desktops with a visible tab). Durations are sale time, so a run at
// Speed x plays them Speed times faster, as it does foyer's own timings. The defaults
// (DefaultCrowd) are /work/shared/CROWDS.md's assumptions.
type Crowd struct {
	// PhoneShare: phones that lock: awake for an exponential time of mean PhoneAwake, then
	// asleep (no polls at all) for a uniform time in [SleepMin, SleepMax], then resume at once,
	// over and over.
	PhoneShare         float64
	PhoneAwake         time.Duration
	SleepMin, SleepMax time.Duration
	// HiddenShare: desktop tabs hidden from join; after HiddenAfter hidden their timers wake at
	// most once every HiddenEvery (Chrome's intensive throttling).
	HiddenShare              float64
	HiddenAfter, HiddenEvery time.Duration
	// ImpatientShare: reload the page every [ReloadMin, ReloadMax], whatever foyer said.
	ImpatientShare       float64
	ReloadMin, ReloadMax time.Duration
	// BotShare: join, never poll; they come from BotAddrs addresses.
	BotShare float64
	BotAddrs int
	// GroupShare of the visitors sit behind shared addresses, in groups of [GroupMin, GroupMax].
	GroupShare         float64
	GroupMin, GroupMax int
}

// DefaultCrowd is CROWDS.md's crowd: 35% phones locking for 1-10 minutes, 10% hidden desktop
// tabs, 5% impatient reloaders, 5% bots, a third of the crowd behind shared addresses (the 15%
// who leave, a third of whom come back, are Scenario.AbandonShare and ReturnShare).
func DefaultCrowd() Crowd {
	return Crowd{
		PhoneShare: 0.35, PhoneAwake: 3 * time.Minute, SleepMin: time.Minute, SleepMax: 10 * time.Minute,
		HiddenShare: 0.10, HiddenAfter: 5 * time.Minute, HiddenEvery: time.Minute,
		ImpatientShare: 0.05, ReloadMin: 5 * time.Second, ReloadMax: 30 * time.Second,
		BotShare: 0.05, BotAddrs: 4,
		GroupShare: 0.3, GroupMin: 50, GroupMax: 2000,
	}
}

// Ideal is s with every visitor patient and polling as told: no leaving, stepping away,
// sleeping phones, hidden tabs, reloads or bots.
func (s Scenario) Ideal() Scenario {
	s.AbandonShare, s.AwayShare, s.ReturnShare = 0, 0, 0
	s.Crowd = Crowd{}
	return s
}

// Mixed is the festival with a harsher crowd: a quarter leave right after joining, and
// admitted visitors hold their session only a few seconds (ThinkMean), so that with a small
// cap the cap binds part of the time.
func Mixed(n int) Scenario {
	s := Festival(n)
	s.Name = "mixed"
	s.AbandonShare, s.Patience = 0.25, 2*time.Second
	s.ThinkMean = 3 * time.Second
	return s
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
		AbandonShare:   0.15,
		Patience:       10 * time.Minute,
		AwayMean:       45 * time.Second,
		SecondTabShare: 0.05,
		ReturnShare:    1.0 / 3,
		ReturnMin:      time.Minute,
		ReturnMax:      20 * time.Minute,
		Crowd:          DefaultCrowd(),
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
		"abandon_share": s.AbandonShare, "away_share": s.AwayShare, "second_tab_share": s.SecondTabShare,
		"return_share": s.ReturnShare, "group_share": s.Crowd.GroupShare} {
		if v < 0 || v > 1 {
			bad(name, "must be 0..1")
		}
	}
	c := s.Crowd
	if c.PhoneShare < 0 || c.HiddenShare < 0 || c.ImpatientShare < 0 || c.BotShare < 0 ||
		c.PhoneShare+c.HiddenShare+c.ImpatientShare+c.BotShare > 1 {
		bad("crowd", "phone, hidden, impatient and bot shares must be 0..1 and add up to at most 1")
	}
	if c.PhoneShare > 0 && (c.PhoneAwake <= 0 || c.SleepMin <= 0 || c.SleepMax < c.SleepMin) {
		bad("crowd", "phones need phone_awake > 0 and 0 < sleep_min <= sleep_max")
	}
	if c.HiddenShare > 0 && c.HiddenEvery <= 0 {
		bad("crowd", "hidden tabs need hidden_every > 0")
	}
	if c.ImpatientShare > 0 && (c.ReloadMin <= 0 || c.ReloadMax < c.ReloadMin) {
		bad("crowd", "impatient visitors need 0 < reload_min <= reload_max")
	}
	if c.GroupShare > 0 && (c.GroupMin < 1 || c.GroupMax < c.GroupMin) {
		bad("crowd", "groups need 1 <= group_min <= group_max")
	}
	if s.ReturnShare > 0 && (s.ReturnMin < 0 || s.ReturnMax < s.ReturnMin) {
		bad("return", "0 <= return_min <= return_max")
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
