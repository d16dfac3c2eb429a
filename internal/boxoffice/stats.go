package boxoffice

import (
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"time"
)

// Stats is the office's figures since start (or the last reset), as served at
// /boxoffice/stats. Latencies are in sale-time milliseconds.
type Stats struct {
	Capacity Capacity `json:"capacity"`
	// Requests counts visitor-facing requests that reached the office (past the token check).
	Requests int64 `json:"requests"`
	InFlight int   `json:"in_flight"`
	// ReleasesPending counts the release calls to foyer still in progress; ReleasesLost those
	// given up on (foyer unavailable after retries, or the call refused).
	ReleasesPending int64 `json:"releases_pending"`
	ReleasesLost    int64 `json:"releases_lost"`
	Queued          int   `json:"queued"`
	// PeakInFlight is the most requests processed at once (at most Capacity.Workers).
	PeakInFlight int `json:"peak_in_flight"`
	// PeakQueued is the most requests waiting for a worker at once.
	PeakQueued int `json:"peak_queued"`
	// PeakConcurrency is the most requests inside the office at once, waiting or processed:
	// the load the office was asked to carry, against its capacity of Capacity.Workers.
	PeakConcurrency int   `json:"peak_concurrency"`
	Bookings        int64 `json:"bookings"`
	SeatsSold       int64 `json:"seats_sold"`
	// Charged counts payments taken; Charged = Bookings + ChargedNotBooked.
	Charged int64 `json:"charged"`
	// ChargedNotBooked counts attempts whose payment went through and whose booking did not.
	ChargedNotBooked int64 `json:"charged_not_booked"`
	// CustomersChargedNotBooked counts customers charged at least once who hold no booking.
	CustomersChargedNotBooked int64 `json:"customers_charged_not_booked"`
	// CustomersRefundDue counts customers with at least one payment taken without a booking,
	// whatever they booked later: the people owed a refund, the office's own refund list.
	CustomersRefundDue int64 `json:"customers_refund_due"`
	// FailedAfterPayment counts the attempts that failed after payment by the configured
	// probability (Config.FailAfterPayment), not by load; they are in ChargedNotBooked too.
	FailedAfterPayment int64 `json:"failed_after_payment"`
	// TimerLateP99Ms is how late (wall ms, 99th percentile) the office's step timers woke:
	// this process's CPU starvation. Times Speed, it is sale time the office lost.
	TimerLateP99Ms float64 `json:"timer_late_p99_ms"`
	SoldOut        int64   `json:"sold_out"`
	// Rejected counts 503 answers: the worker queue was full.
	Rejected int64 `json:"rejected"`
	// TimedOut counts 504 answers, by the stage the deadline struck in (queue, reserve,
	// payment, confirm) in TimedOutAt.
	TimedOut   int64            `json:"timed_out"`
	TimedOutAt map[string]int64 `json:"timed_out_at"`
	// Latency covers every answered visitor-facing request; BookingLatency the bookings made.
	Latency        Percentiles `json:"latency_ms"`
	BookingLatency Percentiles `json:"booking_latency_ms"`
	SeatsLeft      int64       `json:"seats_left"`
	// Series is the load over time, one Sample per Capacity.SeriesEveryMs of sale time.
	Series []Sample `json:"series"`
}

// Capacity restates the office's configuration.
type Capacity struct {
	Workers       int     `json:"workers"`
	MaxQueue      int     `json:"max_queue"`
	TimeoutMs     float64 `json:"timeout_ms"`
	StepBaseMs    float64 `json:"step_base_ms"`
	StepPerInflMs float64 `json:"step_per_inflight_ms"`
	PaymentMs     float64 `json:"payment_ms"`
	Speed         float64 `json:"speed"`
	SeriesEveryMs float64 `json:"series_every_ms"`
	Seats         int64   `json:"seats"`
}

// Percentiles summarises a latency distribution, in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Sample is one bucket of the load series. T is the bucket's start, Unix milliseconds of the
// wall clock (a simulator maps it to its own sale time).
type Sample struct {
	T                int64   `json:"t"`
	InFlightPeak     int     `json:"in_flight_peak"`
	QueuedPeak       int     `json:"queued_peak"`
	Done             int64   `json:"done"`
	Errors           int64   `json:"errors"`
	Bookings         int64   `json:"bookings"`
	ChargedNotBooked int64   `json:"charged_not_booked"`
	P95Ms            float64 `json:"p95_ms"`
}

// histogram is a log-bucketed latency histogram with about 5% resolution, 0 to ~10^7 ms.
type histogram struct {
	n      int64
	sum    float64
	max    float64
	counts [histBuckets]uint32
}

const (
	histScale   = 20.0
	histBuckets = 330
)

func (h *histogram) add(ms float64) {
	if ms < 0 {
		ms = 0
	}
	i := int(math.Log1p(ms) * histScale)
	if i >= histBuckets {
		i = histBuckets - 1
	}
	h.counts[i]++
	h.n++
	h.sum += ms
	if ms > h.max {
		h.max = ms
	}
}

// quantile returns the value below which q of the samples lie (bucket midpoint).
func (h *histogram) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i, c := range h.counts {
		seen += int64(c)
		if seen >= rank {
			v := math.Expm1((float64(i) + 0.5) / histScale)
			return math.Min(v, h.max)
		}
	}
	return h.max
}

func (h *histogram) percentiles() Percentiles {
	mean := 0.0
	if h.n > 0 {
		mean = h.sum / float64(h.n)
	}
	return Percentiles{Count: h.n, Mean: mean, P50: h.quantile(0.5), P90: h.quantile(0.9), P95: h.quantile(0.95),
		P99: h.quantile(0.99), Max: h.max}
}

// bucket is one Sample in the making.
type bucket struct {
	Sample
	hist histogram
}

// recorder keeps the figures. It is safe for concurrent use.
type recorder struct {
	mu       sync.Mutex
	cfg      Config
	start    time.Time
	width    time.Duration // wall width of a series bucket
	s        Stats
	lat      histogram
	bookLat  histogram
	buckets  []*bucket
	first    int64           // index of buckets[0]
	charged  map[string]int8 // customer -> 1 charged without booking so far, 2 booked
	cbnbCust int64
	refund   map[string]bool // customers charged at least once without a booking

	lateMu sync.Mutex
	lateH  histogram // step timers' lateness, wall ms
}

// late records how late a step's timer woke.
func (r *recorder) late(d time.Duration) {
	r.lateMu.Lock()
	r.lateH.add(float64(d) / float64(time.Millisecond))
	r.lateMu.Unlock()
}

func newRecorder(cfg Config, now time.Time) *recorder {
	r := &recorder{cfg: cfg}
	r.reset(now)
	return r
}

func (r *recorder) reset(now time.Time) {
	r.start = now
	r.width = r.cfg.wall(r.cfg.SeriesEvery)
	if r.width <= 0 {
		r.width = time.Millisecond
	}
	r.s = Stats{TimedOutAt: map[string]int64{}}
	r.lat, r.bookLat = histogram{}, histogram{}
	r.buckets, r.first = nil, 0
	r.charged = map[string]int8{}
	r.cbnbCust = 0
	r.refund = map[string]bool{}
	r.s.CustomersRefundDue = 0
	r.lateMu.Lock()
	r.lateH = histogram{}
	r.lateMu.Unlock()
}

// bucketAt returns the series bucket for now, creating it. Caller holds mu.
func (r *recorder) bucketAt(now time.Time) *bucket {
	idx := int64(now.Sub(r.start) / r.width)
	if idx < 0 {
		idx = 0
	}
	for r.first+int64(len(r.buckets)) <= idx {
		i := r.first + int64(len(r.buckets))
		b := &bucket{}
		b.T = r.start.Add(time.Duration(i) * r.width).UnixMilli()
		r.buckets = append(r.buckets, b)
		if len(r.buckets) > r.cfg.SeriesLen {
			r.buckets[0] = nil
			r.buckets = r.buckets[1:]
			r.first++
		}
	}
	if idx < r.first {
		idx = r.first
	}
	return r.buckets[idx-r.first]
}

// occupancy records the pool's state; called by the pool under its lock.
func (r *recorder) occupancy(now time.Time, inflight, queued int) {
	r.mu.Lock()
	r.s.InFlight, r.s.Queued = inflight, queued
	r.s.PeakInFlight = max(r.s.PeakInFlight, inflight)
	r.s.PeakQueued = max(r.s.PeakQueued, queued)
	r.s.PeakConcurrency = max(r.s.PeakConcurrency, inflight+queued)
	b := r.bucketAt(now)
	b.InFlightPeak = max(b.InFlightPeak, inflight)
	b.QueuedPeak = max(b.QueuedPeak, queued)
	r.mu.Unlock()
}

// outcome is how one request ended.
type outcome struct {
	booking   bool // a booking request (not a page or list)
	status    int
	stage     string // where a timeout struck
	charged   bool
	booked    bool
	injected  bool // failed after payment by Config.FailAfterPayment
	seats     int
	customer  string
	wallSpent time.Duration
}

func (r *recorder) request() {
	r.mu.Lock()
	r.s.Requests++
	r.mu.Unlock()
}

func (r *recorder) done(now time.Time, o outcome) {
	ms := float64(o.wallSpent) * r.cfg.Speed / float64(time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bucketAt(now)
	b.Done++
	r.lat.add(ms)
	b.hist.add(ms)
	switch o.status {
	case 503:
		r.s.Rejected++
	case 504:
		r.s.TimedOut++
		r.s.TimedOutAt[o.stage]++
	case 409:
		r.s.SoldOut++
	}
	if o.status >= 500 {
		b.Errors++
	}
	if o.charged {
		r.s.Charged++
	}
	if o.booked {
		r.s.Bookings++
		r.s.SeatsSold += int64(o.seats)
		b.Bookings++
		r.bookLat.add(ms)
	}
	if o.charged && !o.booked {
		r.s.ChargedNotBooked++
		b.ChargedNotBooked++
		if o.injected {
			r.s.FailedAfterPayment++
		}
		if o.customer != "" && !r.refund[o.customer] {
			r.refund[o.customer] = true
			r.s.CustomersRefundDue++
		}
	}
	if o.customer != "" && o.charged {
		prev := r.charged[o.customer]
		switch {
		case o.booked && prev == 1:
			r.charged[o.customer] = 2
			r.cbnbCust--
		case o.booked:
			r.charged[o.customer] = 2
		case prev == 0:
			r.charged[o.customer] = 1
			r.cbnbCust++
		}
	}
}

func (r *recorder) snapshot(seatsLeft int64) Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.s
	s.TimedOutAt = make(map[string]int64, len(r.s.TimedOutAt))
	for k, v := range r.s.TimedOutAt {
		s.TimedOutAt[k] = v
	}
	s.CustomersChargedNotBooked = r.cbnbCust
	r.lateMu.Lock()
	s.TimerLateP99Ms = r.lateH.quantile(0.99)
	r.lateMu.Unlock()
	s.Latency = r.lat.percentiles()
	s.BookingLatency = r.bookLat.percentiles()
	s.SeatsLeft = seatsLeft
	s.Capacity = Capacity{
		Workers:       r.cfg.Workers,
		MaxQueue:      r.cfg.MaxQueue,
		TimeoutMs:     ms(r.cfg.Timeout),
		StepBaseMs:    ms(r.cfg.StepBase),
		StepPerInflMs: ms(r.cfg.StepPerInflight),
		PaymentMs:     ms(r.cfg.PaymentTime),
		Speed:         r.cfg.Speed,
		SeriesEveryMs: ms(r.cfg.SeriesEvery),
		Seats:         int64(r.cfg.Screenings) * int64(r.cfg.Seats),
	}
	s.Series = make([]Sample, len(r.buckets))
	for i, b := range r.buckets {
		s.Series[i] = b.Sample
		s.Series[i].P95Ms = b.hist.quantile(0.95)
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writePrometheus writes s in the Prometheus text format.
func writePrometheus(w io.Writer, s Stats) {
	metric := func(name, typ, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %g\n", name, help, name, typ, name, v)
	}
	metric("boxoffice_workers", "gauge", "Worker slots (capacity).", float64(s.Capacity.Workers))
	metric("boxoffice_requests_total", "counter", "Visitor-facing requests received.", float64(s.Requests))
	metric("boxoffice_in_flight", "gauge", "Requests being processed.", float64(s.InFlight))
	metric("boxoffice_queued", "gauge", "Requests waiting for a worker.", float64(s.Queued))
	metric("boxoffice_peak_concurrency", "gauge", "Most requests inside the office at once.", float64(s.PeakConcurrency))
	metric("boxoffice_bookings_total", "counter", "Bookings confirmed.", float64(s.Bookings))
	metric("boxoffice_seats_sold_total", "counter", "Seats sold.", float64(s.SeatsSold))
	metric("boxoffice_charged_total", "counter", "Payments taken.", float64(s.Charged))
	metric("boxoffice_charged_not_booked_total", "counter", "Payments taken without a booking.", float64(s.ChargedNotBooked))
	metric("boxoffice_customers_charged_not_booked", "gauge", "Customers charged who hold no booking.", float64(s.CustomersChargedNotBooked))
	metric("boxoffice_customers_refund_due", "gauge", "Customers with a payment taken without a booking.", float64(s.CustomersRefundDue))
	metric("boxoffice_failed_after_payment_total", "counter", "Bookings failed after payment by the configured probability.", float64(s.FailedAfterPayment))
	metric("boxoffice_rejected_total", "counter", "Requests answered 503 (queue full).", float64(s.Rejected))
	metric("boxoffice_sold_out_total", "counter", "Booking attempts on a sold-out screening.", float64(s.SoldOut))
	fmt.Fprintf(w, "# HELP boxoffice_timed_out_total Requests answered 504, by stage.\n# TYPE boxoffice_timed_out_total counter\n")
	stages := make([]string, 0, len(s.TimedOutAt))
	for k := range s.TimedOutAt {
		stages = append(stages, k)
	}
	sort.Strings(stages)
	for _, k := range stages {
		fmt.Fprintf(w, "boxoffice_timed_out_total{stage=%q} %d\n", k, s.TimedOutAt[k])
	}
	fmt.Fprintf(w, "# HELP boxoffice_latency_seconds Request latency in sale time.\n# TYPE boxoffice_latency_seconds summary\n")
	for _, q := range []struct {
		q string
		v float64
	}{{"0.5", s.Latency.P50}, {"0.9", s.Latency.P90}, {"0.95", s.Latency.P95}, {"0.99", s.Latency.P99}} {
		fmt.Fprintf(w, "boxoffice_latency_seconds{quantile=%q} %g\n", q.q, q.v/1000)
	}
	fmt.Fprintf(w, "boxoffice_latency_seconds_sum %g\n", s.Latency.Mean*float64(s.Latency.Count)/1000)
	fmt.Fprintf(w, "boxoffice_latency_seconds_count %d\n", s.Latency.Count)
}
