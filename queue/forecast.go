package queue

import (
	"context"
	"math"
	"time"
)

// The crowd forecast before the opening (issue 14). The model, stated so an organiser can
// weigh it:
//
//   - Arrivals until the opening: the joins per minute of the last complete minutes (the minute
//     series, minutes.go) projected to the opening two ways, flat at the mean of the last three
//     minutes and along the least-squares trend of the last ten (never below zero); the range
//     spans both, widened by two Poisson standard deviations.
//   - The opening spike: people who come at the opening itself rather than before it. CROWDS.md's
//     crowd has about 30% in the ten minutes before and 40% in the first seconds after, so
//     the spike is assumed to be SpikeLow to SpikeHigh times the pre-queue. An assumption to
//     tune with a room's own past, not a measurement.
//   - Clearing: the line at the opening divided by the pace the queue itself would keep:
//     the configured rate, or the cap's turnover (capTurnover, the visitors' ETA's own
//     estimate) when that is lower. Later arrivals are not counted, nor visitors who leave.
//
// It reads one minute series and the cache: one Redis call.

// The opening spike's assumed size, as a multiple of the pre-queue (see above).
const (
	SpikeLow  = 0.5
	SpikeHigh = 1.5
)

// forecastWindow is how many complete minutes the trend is fitted on.
const forecastWindow = 10

// Forecast is the expected line at the opening and how long it takes to go in.
type Forecast struct {
	Room    string
	Now     time.Time
	OpensAt time.Time
	// Opened: the room has opened; Prequeue is then its pre-queue size and Waiting the line
	// now, and the forecast figures are those of the line now.
	Opened   bool
	Prequeue int64
	Waiting  int64
	// Joined is the pre-queue so far (tickets issued before the opening).
	Joined int64
	// PerMinute is the joins of each complete minute the forecast rests on, oldest first;
	// Flat the mean of the last three and Trend the fitted change per minute (joins/min/min).
	PerMinute []float64
	Flat      float64
	Trend     float64
	// Basis says what the arrivals projection rests on: "trend" (3+ minutes), "flat" (1-2
	// minutes) or "none" (nothing measured yet: only the joins so far).
	Basis string
	// ArrivalsLow/High: further joins expected before the opening; PrequeueLow/High the
	// pre-queue at the opening; SpikeLow/High the opening spike; LineLow/High their sum.
	ArrivalsLow, ArrivalsHigh int64
	PrequeueLow, PrequeueHigh int64
	SpikeLow, SpikeHigh       int64
	LineLow, LineHigh         int64
	// Pace is the admissions per minute assumed and Limit what sets it ("rate" or "cap");
	// CapPerMinute the cap's turnover (MaxActive per session, measured or configured).
	Pace         float64
	Limit        string
	CapPerMinute float64
	// ClearLow/High is how long the line at the opening takes to go in at Pace; 0 when Pace
	// is 0 (paused, or no rate).
	ClearLow, ClearHigh time.Duration
}

// Forecast forecasts the room's line at the opening from its pre-queue joins per minute, and
// how long that line takes to go in at the room's current rate and cap. See the model above.
func (e *Engine) Forecast(ctx context.Context, room string) (Forecast, error) {
	r, err := e.roomFor(ctx, room)
	if err != nil {
		return Forecast{}, err
	}
	now := r.redisNow()
	ms, err := e.Minutes(ctx, room, now.Add(-time.Duration(forecastWindow+5)*time.Minute))
	if err != nil {
		return Forecast{}, err
	}
	s := r.snap.Load()
	issued := max(s.issued, r.known.Load())
	in := forecastInput{joined: issued, perMin: prequeueMinutes(ms), left: s.settings.OpensAt.Sub(now)}
	in.pace, in.limit, in.capPerMin = r.pace(s)
	if st := s.state(now); st == StatePaused || st == StateClosed || st == StateSoldOut {
		in.pace = 0
	}
	f := forecastFrom(in)
	f.Room, f.Now, f.OpensAt = room, now, s.settings.OpensAt
	if s.opened {
		f.Opened, f.Prequeue = true, s.pq
		f.Waiting = max(0, issued-s.head) + s.returning
		f.PrequeueLow, f.PrequeueHigh, f.SpikeLow, f.SpikeHigh = s.pq, s.pq, 0, 0
		f.ArrivalsLow, f.ArrivalsHigh = 0, 0
		f.LineLow, f.LineHigh = f.Waiting, f.Waiting
		f.ClearLow, f.ClearHigh = clearIn(f.Waiting, in.pace), clearIn(f.Waiting, in.pace)
	}
	return f, nil
}

// pace is the admissions per minute the line would go in at: the configured rate, or the cap's
// turnover when the cap binds and turns over slower (the same estimate a visitor's ETA uses).
func (r *room) pace(s *snapshot) (perMin float64, limit string, capPerMin float64) {
	probe := *s
	probe.active = int64(s.settings.MaxActive) // as when the cap binds
	capPerMin, _, _ = r.capTurnover(&probe)
	perMin, limit = float64(s.settings.RatePerMinute), "rate"
	if capPerMin > 0 && capPerMin < perMin {
		perMin, limit = capPerMin, "cap"
	}
	return perMin, limit, capPerMin
}

// prequeueMinutes turns the minute series into joins per complete minute before the opening,
// oldest first; a gap between records (no replica recorded) is spread evenly over its minutes.
func prequeueMinutes(ms []MinuteSample) []float64 {
	var out []float64
	for i := 1; i < len(ms); i++ {
		a, b := ms[i-1], ms[i]
		if a.Opened || b.Opened {
			break
		}
		gap := int(b.T.Sub(a.T) / time.Minute)
		if gap < 1 || b.Issued < a.Issued {
			out = out[:0] // a restore or a reset: start again
			continue
		}
		per := float64(b.Issued-a.Issued) / float64(gap)
		for j := 0; j < gap; j++ {
			out = append(out, per)
		}
	}
	if len(out) > forecastWindow {
		out = out[len(out)-forecastWindow:]
	}
	return out
}

type forecastInput struct {
	joined    int64
	perMin    []float64 // joins per complete minute, oldest first
	left      time.Duration
	pace      float64
	limit     string
	capPerMin float64
}

// forecastFrom is the model (see the top of this file) on its inputs; no I/O.
func forecastFrom(in forecastInput) Forecast {
	f := Forecast{Joined: in.joined, PerMinute: append([]float64{}, in.perMin...), Pace: in.pace, Limit: in.limit,
		CapPerMinute: in.capPerMin, Basis: "none"}
	if f.PerMinute == nil {
		f.PerMinute = []float64{}
	}
	n := len(in.perMin)
	left := math.Max(0, in.left.Minutes())
	var lo, hi float64
	if n > 0 {
		k := min(3, n)
		for _, x := range in.perMin[n-k:] {
			f.Flat += x
		}
		f.Flat /= float64(k)
		level, slope := f.Flat, 0.0
		f.Basis = "flat"
		if n >= 3 {
			f.Basis = "trend"
			slope, level = fitLine(in.perMin)
		}
		f.Trend = slope
		flat := f.Flat * left
		trend := rampIntegral(level, slope, left)
		lo, hi = math.Min(flat, trend), math.Max(flat, trend)
		lo = math.Max(0, lo-2*math.Sqrt(lo))
		hi += 2 * math.Sqrt(hi)
	}
	f.ArrivalsLow, f.ArrivalsHigh = int64(math.Floor(lo)), int64(math.Ceil(hi))
	f.PrequeueLow, f.PrequeueHigh = in.joined+f.ArrivalsLow, in.joined+f.ArrivalsHigh
	f.SpikeLow = int64(math.Floor(float64(f.PrequeueLow) * SpikeLow))
	f.SpikeHigh = int64(math.Ceil(float64(f.PrequeueHigh) * SpikeHigh))
	f.LineLow, f.LineHigh = f.PrequeueLow+f.SpikeLow, f.PrequeueHigh+f.SpikeHigh
	f.ClearLow, f.ClearHigh = clearIn(f.LineLow, in.pace), clearIn(f.LineHigh, in.pace)
	return f
}

// fitLine fits y = a + b·x by least squares over x = 0..n-1 and returns the slope b and the
// fitted value at the last point.
func fitLine(y []float64) (slope, last float64) {
	n := float64(len(y))
	var sx, sy, sxx, sxy float64
	for i, v := range y {
		x := float64(i)
		sx, sy, sxx, sxy = sx+x, sy+v, sxx+x*x, sxy+x*v
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, sy / n
	}
	slope = (n*sxy - sx*sy) / d
	a := (sy - slope*sx) / n
	return slope, a + slope*(n-1)
}

// rampIntegral is the joins over t minutes at a rate starting at level and changing by slope
// per minute, never below zero.
func rampIntegral(level, slope, t float64) float64 {
	level = math.Max(0, level)
	if slope < 0 {
		if stop := level / -slope; stop < t {
			t = stop
		}
	}
	return math.Max(0, level*t+slope*t*t/2)
}

// clearIn is how long n visitors take to go in at perMin; 0 when the line does not move.
func clearIn(n int64, perMin float64) time.Duration {
	if perMin <= 0 || n <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(float64(n)/perMin*60)) * time.Second
}
