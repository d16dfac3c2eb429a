package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/foyerhq/foyer/queue"
)

// historySamples is 30 minutes at one sample a second.
const historySamples = 30 * 60

// Sample is one second of a room's figures, for the dashboard's charts.
type Sample struct {
	T                 int64   `json:"t"`
	Waiting           int64   `json:"waiting"`
	JoinsPerMinute    float64 `json:"joins_per_minute"`
	AdmittedPerMinute float64 `json:"admitted_per_minute"`
	RatePerMinute     int     `json:"rate_per_minute"`
	Active            int64   `json:"active"`
	MaxActive         int     `json:"max_active"`
	Skipped           int64   `json:"skipped"`
	Returned          int64   `json:"returned"`
	BackendP50ms      float64 `json:"backend_p50_ms"`
	BackendP95ms      float64 `json:"backend_p95_ms"`
	BackendErrorRate  float64 `json:"backend_error_rate"`
	StoreOK           bool    `json:"store_ok"`

	joined, admitted int64 // cumulative, for the per-minute rates
}

// history is a ring of samples. Safe for concurrent use.
type history struct {
	mu      sync.Mutex
	samples []Sample
	next    int
	full    bool
}

func newHistory(n int) *history { return &history{samples: make([]Sample, n)} }

func (h *history) add(s Sample) {
	h.mu.Lock()
	h.samples[h.next] = s
	h.next = (h.next + 1) % len(h.samples)
	if h.next == 0 {
		h.full = true
	}
	h.mu.Unlock()
}

// ordered returns the samples oldest first; the caller holds the lock.
func (h *history) ordered() []Sample {
	if !h.full {
		return h.samples[:h.next]
	}
	out := make([]Sample, 0, len(h.samples))
	out = append(out, h.samples[h.next:]...)
	return append(out, h.samples[:h.next]...)
}

// since returns the samples with T > t, oldest first.
func (h *history) since(t int64) []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []Sample{}
	for _, s := range h.ordered() {
		if s.T > t {
			out = append(out, s)
		}
	}
	return out
}

// last returns the newest sample.
func (h *history) last() (Sample, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.full && h.next == 0 {
		return Sample{}, false
	}
	i := (h.next - 1 + len(h.samples)) % len(h.samples)
	return h.samples[i], true
}

// at returns the newest sample at or before t.
func (h *history) at(t int64) (Sample, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.ordered()
	for i := len(o) - 1; i >= 0; i-- {
		if o[i].T <= t {
			return o[i], true
		}
	}
	return Sample{}, false
}

// sample records one second of a room: the engine's counters (one cheap read) and the backend
// window. Per-minute rates come from the cumulative counters a minute apart (or as far back as
// history goes).
func (s *Server) sample(ctx context.Context, name string, rm *room, now time.Time) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Redis.Timeout)
	defer cancel()
	smp := Sample{T: now.Unix()}
	st, serr := s.cachedSettings(ctx, name)
	if serr == nil {
		smp.RatePerMinute, smp.MaxActive = st.RatePerMinute, st.MaxActive
	}
	stats, err := s.engine.Stats(ctx, name)
	smp.StoreOK = err == nil && serr == nil
	if err == nil {
		smp.Waiting, smp.Active, smp.Skipped, smp.Returned = stats.Waiting, stats.Active, stats.Skipped, stats.Returned
		smp.joined, smp.admitted = stats.Joined, stats.Admitted
		if prev, ok := rm.history.at(smp.T - 60); ok && prev.StoreOK {
			span := float64(smp.T-prev.T) / 60
			smp.JoinsPerMinute = float64(smp.joined-prev.joined) / span
			smp.AdmittedPerMinute = float64(smp.admitted-prev.admitted) / span
		} else if first := rm.history.since(0); len(first) > 0 && first[0].StoreOK && smp.T > first[0].T {
			span := float64(smp.T-first[0].T) / 60
			smp.JoinsPerMinute = float64(smp.joined-first[0].joined) / span
			smp.AdmittedPerMinute = float64(smp.admitted-first[0].admitted) / span
		}
	} else if prev, ok := rm.history.last(); ok {
		// keep the chart continuous while Redis is away; store_ok=false marks the gap
		smp.Waiting, smp.Active, smp.joined, smp.admitted = prev.Waiting, prev.Active, prev.joined, prev.admitted
	}
	if rm.proxy != nil {
		b := rm.window.summary(now, 30)
		smp.BackendP50ms, smp.BackendP95ms, smp.BackendErrorRate = b.P50ms, b.P95ms, b.ErrorRate
	}
	if smp.JoinsPerMinute < 0 {
		smp.JoinsPerMinute = 0
	}
	if smp.AdmittedPerMinute < 0 { // counters restored after data loss
		smp.AdmittedPerMinute = 0
	}
	rm.history.add(smp)
}

// cachedSettings returns the room's settings from the engine's cache (refreshed by every
// admission step, at most ~100 ms old), reading Redis only when the cache has none or is stale.
// The once-a-second loops use it, so they cost no Redis call of their own.
func (s *Server) cachedSettings(ctx context.Context, name string) (queue.Settings, error) {
	if v, ok := s.engine.View(name); ok && v.StoreOK {
		return v.Settings, nil
	}
	return s.engine.Settings(ctx, name)
}
