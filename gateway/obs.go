package gateway

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/foyerhq/foyer/queue"
)

// Shared observability: the dashboard's history lives in Redis (queue.RecordHistory), so any
// replica behind a load balancer shows the same charts.
//
// Every second each replica samples each room (history.go, its own ring, which also feeds the
// metrics collector) and records it: one script call that adds this replica's counts since
// its last record (joins refused, by reason; proof-of-work challenges issued and solved) to the
// room's fleet counters and stores the sample if no replica has for this second. A replica
// skips the call when its figures have not changed, it counted nothing, and it recorded the
// room less than obsIdleEvery ago: a busy room costs one call a second per replica, an idle one
// a call every obsIdleEvery. The history endpoint reads a window in one call and derives the
// per-minute rates from the stored cumulative counters, so they are the fleet's.

// obsIdleEvery is how often a replica records a room whose figures did not change.
const obsIdleEvery = 10 * time.Second

// Fleet counters, by their name in Redis. The refusal reasons are the error codes a join can
// be refused with; any other code counts as "other".
var obsCounterNames = [...]string{
	"refused:rate_limited", "refused:busy", "refused:reconnecting", "refused:room_closed",
	"refused:not_open_yet", "refused:other", "pow:issued", "pow:solved",
}

// Indexes into obsCounterNames.
const (
	obsRefusedOther = 5
	obsPoWIssued    = 6
	obsPoWSolved    = 7
)

// refusalReasons are the reasons of refused joins, as the history shows them.
var refusalReasons = []string{"rate_limited", "busy", "reconnecting", "room_closed", "not_open_yet", "other"}

// obsState is the gateway's share of the shared history: each room's counts not yet recorded.
// Safe for concurrent use.
type obsState struct {
	mu    sync.Mutex
	rooms map[string]*roomObs

	refused *prometheus.CounterVec
	pow     *prometheus.CounterVec
	records *prometheus.CounterVec
}

// roomObs is one room's counts since this replica last recorded it, and what it recorded.
type roomObs struct {
	counts [len(obsCounterNames)]atomic.Int64

	last   []int64 // the figures last recorded (only the Run loop touches these)
	lastAt time.Time
}

func newObsState(reg prometheus.Registerer) *obsState {
	o := &obsState{rooms: map[string]*roomObs{},
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_join_refused_total",
			Help: "Joins refused, by room and reason (rate_limited is a 429; busy, reconnecting a 503)."}, []string{"room", "reason"}),
		pow: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_pow_challenges_total",
			Help: "Proof-of-work challenges on join, by room and result (issued, solved)."}, []string{"room", "result"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_history_records_total",
			Help: "Calls that recorded a room in the shared history (one Redis script each), by room."}, []string{"room"}),
	}
	reg.MustRegister(o.refused, o.pow, o.records)
	return o
}

// forgetRoom drops a deleted room's counts and series (its closing period ended).
func (o *obsState) forgetRoom(name string) {
	o.mu.Lock()
	delete(o.rooms, name)
	o.mu.Unlock()
	l := prometheus.Labels{"room": name}
	o.refused.DeletePartialMatch(l)
	o.pow.DeletePartialMatch(l)
	o.records.DeletePartialMatch(l)
}

func (o *obsState) room(name string) *roomObs {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.rooms[name]
	if r == nil {
		r = &roomObs{}
		o.rooms[name] = r
	}
	return r
}

// joinRefused counts a join of room that ended in err: a proof-of-work challenge handed out,
// or a refusal by its code.
func (o *obsState) joinRefused(room string, err error) {
	var e *Error
	code := "other"
	if errors.As(err, &e) {
		code = e.Code
	}
	if code == "pow_required" {
		o.room(room).counts[obsPoWIssued].Add(1)
		o.pow.WithLabelValues(room, "issued").Inc()
		return
	}
	i := slices.Index(refusalReasons, code)
	if i < 0 {
		i, code = obsRefusedOther, "other"
	}
	o.room(room).counts[i].Add(1)
	o.refused.WithLabelValues(room, code).Inc()
}

// powSolved counts a join of room let through by a valid proof-of-work.
func (o *obsState) powSolved(room string) {
	o.room(room).counts[obsPoWSolved].Add(1)
	o.pow.WithLabelValues(room, "solved").Inc()
}

// take returns the counts since the last take (zeros left out) and resets them.
func (r *roomObs) take() map[string]int64 {
	var out map[string]int64
	for i := range r.counts {
		if n := r.counts[i].Swap(0); n != 0 {
			if out == nil {
				out = map[string]int64{}
			}
			out[obsCounterNames[i]] = n
		}
	}
	return out
}

// giveBack returns counts a failed record did not deliver, so none is lost.
func (r *roomObs) giveBack(m map[string]int64) {
	for i, name := range obsCounterNames {
		if n := m[name]; n != 0 {
			r.counts[i].Add(n)
		}
	}
}

// Positions of a recorded sample's figures (version 1).
const (
	figVersion = iota
	figWaiting
	figActive
	figMaxActive
	figRate
	figSkipped
	figReturned
	figJoined
	figAdmitted
	figP50x10   // backend p50, tenths of a millisecond
	figP95x10   // backend p95, tenths of a millisecond
	figErrorPPM // backend error rate, parts per million
	figPoWBits  // proof-of-work difficulty a join pays now (0: none)
	figCount
)

// record writes the room's newest sample to the shared history (see the top of this file).
func (s *Server) record(ctx context.Context, name string, rm *room, now time.Time) {
	smp, ok := rm.history.last()
	if !ok || !smp.StoreOK || smp.T != now.Unix() {
		return // nothing new is known: Redis was not readable this second
	}
	o := s.obs.room(name)
	figs := make([]int64, figCount)
	figs[figVersion] = 1
	figs[figWaiting], figs[figActive], figs[figMaxActive], figs[figRate] = smp.Waiting, smp.Active, int64(smp.MaxActive), int64(smp.RatePerMinute)
	figs[figSkipped], figs[figReturned], figs[figJoined], figs[figAdmitted] = smp.Skipped, smp.Returned, smp.joined, smp.admitted
	figs[figP50x10], figs[figP95x10] = int64(math.Round(smp.BackendP50ms*10)), int64(math.Round(smp.BackendP95ms*10))
	figs[figErrorPPM] = int64(math.Round(smp.BackendErrorRate * 1e6))
	figs[figPoWBits] = int64(s.powDifficulty(rm, now))
	counts := o.take()
	if counts == nil && slices.Equal(figs, o.last) && now.Sub(o.lastAt) < obsIdleEvery {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Redis.Timeout)
	defer cancel()
	s.obs.records.WithLabelValues(name).Inc()
	if _, _, err := s.engine.RecordHistory(ctx, name, figs, counts); err != nil {
		o.giveBack(counts)
		s.m.redisErrors.WithLabelValues("record_history").Inc()
		return
	}
	o.last, o.lastAt = figs, now
}

// powDifficulty is the proof-of-work a join from an address within its allowance pays now in
// room rm (bits; 0: none), from this replica's view of the room's join pressure.
func (s *Server) powDifficulty(rm *room, now time.Time) int {
	cfg := rm.cfg.ProofOfWork
	if cfg.Mode == "off" {
		return 0
	}
	roomBits := s.pow.roomExtra(rm, now, false)
	if cfg.Mode == "auto" && roomBits == 0 {
		return 0
	}
	return min(cfg.Difficulty+max(roomBits-1, 0), cfg.MaxDifficulty)
}

// historyPoint is one sample as the history endpoint answers it: the figures, and the fleet's
// per-minute rates derived from the stored counters.
type historyPoint struct {
	Sample
	Joined   int64 `json:"joined"`
	Admitted int64 `json:"admitted"`
	// RefusedPerMinute is every refused join; Refused splits it by reason.
	RefusedPerMinute   float64            `json:"refused_per_minute"`
	RefusedTotal       int64              `json:"refused_total"` // every replica's, since the history began
	Refused            map[string]float64 `json:"refused"`
	PoWIssuedPerMinute float64            `json:"pow_issued_per_minute"`
	PoWSolvedPerMinute float64            `json:"pow_solved_per_minute"`
	PoWDifficulty      int64              `json:"pow_difficulty"`
}

// historyBody is the history endpoint's answer.
type historyBody struct {
	Window string `json:"window"`
	// Step is the spacing of the samples in seconds (1, 10, or more for a long sale).
	Step int64 `json:"step"`
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// OpensAt is the room's opening (RFC 3339), for the marker; "" if none.
	OpensAt string `json:"opens_at"`
	// Source is "shared" (Redis: the same on every replica) or "replica" (Redis unreachable:
	// this replica's own memory, the last 30 minutes).
	Source  string         `json:"source"`
	Samples []historyPoint `json:"samples"`
}

// History windows.
var historyWindows = []string{"10m", "1h", "sale"}

// historyMaxPoints bounds the samples of one answer; a long sale is thinned to it.
const historyMaxPoints = 720

// historyPlan is which series and span a window reads.
type historyPlan struct {
	from, step int64
	coarse     bool
}

// planHistory picks the series and step of a window ending at now: 10m the one-second
// series; 1h the 10-second one; sale from ten minutes before the opening (or the last ten
// minutes, if the opening is later or unknown), in steps that keep it within
// historyMaxPoints, from the one-second series while it covers the span.
func planHistory(window string, now int64, opensAt time.Time) historyPlan {
	switch window {
	case "1h":
		return historyPlan{from: now - 3600, step: queue.HistoryCoarseStep, coarse: true}
	case "sale":
		from := now - 600
		if !opensAt.IsZero() && opensAt.Unix()-600 < from {
			from = opensAt.Unix() - 600
		}
		if oldest := now - queue.HistoryCoarseCap*queue.HistoryCoarseStep; from < oldest {
			from = oldest // the coarse series keeps 8 hours
		}
		span := now - from
		if span <= queue.HistoryFineCap-60 { // the fine series, with a minute to look back for rates
			return historyPlan{from: from, step: max(1, (span+historyMaxPoints-1)/historyMaxPoints)}
		}
		step := (span + historyMaxPoints - 1) / historyMaxPoints
		step = max(queue.HistoryCoarseStep, (step+queue.HistoryCoarseStep-1)/queue.HistoryCoarseStep*queue.HistoryCoarseStep)
		return historyPlan{from: from, step: step, coarse: true}
	default:
		return historyPlan{from: now - 600, step: 1}
	}
}

// handleAdminHistory: GET /foyer/admin/v1/rooms/{room}/history?window=10m|1h|sale&since=T.
// One Redis call; samples with T > since only (the dashboard asks for what is new).
func (s *Server) handleAdminHistory(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	var since int64
	if v := c.QueryParam("since"); v != "" {
		if since, err = strconv.ParseInt(v, 10, 64); err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "since must be unix seconds", Fields: map[string]string{"since": "must be unix seconds"}}
		}
	}
	window := c.QueryParam("window")
	if window == "" {
		window = "10m"
	}
	if !slices.Contains(historyWindows, window) {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "window must be 10m, 1h or sale",
			Fields: map[string]string{"window": "must be 10m, 1h or sale"}}
	}
	now := s.now().Unix()
	st := s.settings(rm)
	p := planHistory(window, now, st.OpensAt)
	out := historyBody{Window: window, Step: p.step, From: p.from, To: now, Source: "shared", Samples: []historyPoint{}}
	if !st.OpensAt.IsZero() {
		out.OpensAt = st.OpensAt.In(rm.loc).Format(time.RFC3339)
	}
	// read a minute and a step more, to derive the rates and to know each bucket's first sample
	readFrom := max(p.from, since+1) - 60 - p.step
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.Redis.Timeout)
	defer cancel()
	stored, err := s.engine.History(ctx, rm.cfg.Name, readFrom, now+60, p.coarse)
	if err != nil {
		s.m.redisErrors.WithLabelValues("history").Inc()
		out.Source = "replica"
		for _, smp := range rm.history.since(max(p.from, since)) {
			out.Samples = append(out.Samples, historyPoint{Sample: smp, Joined: smp.joined, Admitted: smp.admitted,
				Refused: map[string]float64{}})
		}
		return c.JSON(http.StatusOK, out)
	}
	start := max(p.from, since+1)
	all := historyPoints(stored, math.MinInt64, p.step)
	i := 0
	for i < len(all) && all[i].T < start {
		i++
	}
	out.Samples = append(out.Samples, all[i:]...)
	if since < p.from && i > 0 && (len(out.Samples) == 0 || out.Samples[0].T > start) {
		// the values the window starts with: an unchanged room stores nothing new, so the
		// newest sample before the window holds at its start
		carry := all[i-1]
		carry.T = start
		out.Samples = append([]historyPoint{carry}, out.Samples...)
	}
	return c.JSON(http.StatusOK, out)
}

// historyPoints turns stored samples (oldest first, starting a minute and a step before from)
// into points with T >= from: the first sample of each step-second bucket, with per-minute
// rates over the minute before it (or as far back as the samples go).
func historyPoints(stored []queue.HistorySample, from, step int64) []historyPoint {
	out := []historyPoint{}
	lastBucket := int64(math.MinInt64)
	j := 0 // the newest sample at or before t-60
	for i, hs := range stored {
		b := floorDiv(hs.T, step)
		first := b != lastBucket
		lastBucket = b
		if hs.T < from || !first || len(hs.Figures) < figCount || hs.Figures[figVersion] != 1 {
			continue
		}
		for j+1 < i && stored[j+1].T <= hs.T-60 {
			j++
		}
		out = append(out, historyPoint{})
		toPoint(&out[len(out)-1], hs, stored[j])
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// toPoint fills p from the stored sample hs, with rates against prev (an earlier sample, or hs
// itself when there is none).
func toPoint(p *historyPoint, hs, prev queue.HistorySample) {
	f := hs.Figures
	p.T, p.StoreOK = hs.T, true
	p.Waiting, p.Active, p.MaxActive, p.RatePerMinute = f[figWaiting], f[figActive], int(f[figMaxActive]), int(f[figRate])
	p.Skipped, p.Returned, p.Joined, p.Admitted = f[figSkipped], f[figReturned], f[figJoined], f[figAdmitted]
	p.BackendP50ms, p.BackendP95ms = float64(f[figP50x10])/10, float64(f[figP95x10])/10
	p.BackendErrorRate = float64(f[figErrorPPM]) / 1e6
	p.PoWDifficulty = f[figPoWBits]
	p.Refused = map[string]float64{}
	span := float64(hs.T-prev.T) / 60
	rate := func(now, then int64) float64 {
		if span <= 0 || now < then { // no span yet, or counters restored after a data loss
			return 0
		}
		return math.Round(float64(now-then)/span*10) / 10
	}
	if len(prev.Figures) >= figCount {
		p.JoinsPerMinute = rate(f[figJoined], prev.Figures[figJoined])
		p.AdmittedPerMinute = rate(f[figAdmitted], prev.Figures[figAdmitted])
	}
	for i, reason := range refusalReasons {
		n := rate(hs.Counters[obsCounterNames[i]], prev.Counters[obsCounterNames[i]])
		p.Refused[reason] = n
		p.RefusedPerMinute += n
		p.RefusedTotal += hs.Counters[obsCounterNames[i]]
	}
	p.RefusedPerMinute = math.Round(p.RefusedPerMinute*10) / 10
	p.PoWIssuedPerMinute = rate(hs.Counters[obsCounterNames[obsPoWIssued]], prev.Counters[obsCounterNames[obsPoWIssued]])
	p.PoWSolvedPerMinute = rate(hs.Counters[obsCounterNames[obsPoWSolved]], prev.Counters[obsCounterNames[obsPoWSolved]])
}
