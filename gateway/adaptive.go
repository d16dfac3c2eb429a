package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/foyerhq/foyer/queue"
)

// Adaptive rate control: when the backend's p95 latency or error rate over the last 30 s goes
// past the organiser's bounds, the rate is cut by a fifth (not below min_rate); after a minute
// of health it is raised by a tenth (not above max_rate). Each change goes through the normal
// settings path with the version check, so when every replica decides at once only one change
// lands, and it is audited with its reason. A cooldown stops the controller from reacting to
// its own last change before that change can show.
const (
	adaptiveCooldown  = 15 * time.Second
	adaptiveHealthyUp = time.Minute
	adaptiveMinSample = 20 // requests in the window before the controller trusts it
)

type adaptiveState struct {
	mu           sync.Mutex
	lastChange   time.Time
	healthySince time.Time
	lastReason   string
}

// adaptiveView is the controller's state for the dashboard.
type adaptiveView struct {
	Enabled      bool    `json:"enabled"`
	MinRate      int     `json:"min_rate"`
	MaxRate      int     `json:"max_rate"`
	TargetP95ms  float64 `json:"target_p95_ms"`
	MaxErrorRate float64 `json:"max_error_rate"`
	LastReason   string  `json:"last_reason,omitempty"`
}

func (a *adaptiveState) view(c AdaptiveConfig) adaptiveView {
	a.mu.Lock()
	defer a.mu.Unlock()
	return adaptiveView{Enabled: true, MinRate: c.MinRate, MaxRate: c.MaxRate,
		TargetP95ms: float64(c.TargetP95 / time.Millisecond), MaxErrorRate: c.MaxErrorRate, LastReason: a.lastReason}
}

// decideRate is the controller's pure decision: the new rate and why, or ok=false.
func decideRate(cur int, b BackendSummary, c AdaptiveConfig, healthyFor time.Duration) (int, string, bool) {
	if b.Requests < adaptiveMinSample {
		return cur, "", false
	}
	target := float64(c.TargetP95 / time.Millisecond)
	switch {
	case b.P95ms > target || b.ErrorRate > c.MaxErrorRate:
		next := max(c.MinRate, cur*4/5)
		if next >= cur {
			return cur, "", false
		}
		return next, fmt.Sprintf("backend p95 %.0fms (target %.0fms), errors %.1f%% (max %.1f%%): rate %d -> %d",
			b.P95ms, target, b.ErrorRate*100, c.MaxErrorRate*100, cur, next), true
	case healthyFor >= adaptiveHealthyUp && cur < c.MaxRate:
		next := min(c.MaxRate, max(cur+1, cur*11/10))
		return next, fmt.Sprintf("backend healthy for %s (p95 %.0fms, errors %.1f%%): rate %d -> %d",
			healthyFor.Truncate(time.Second), b.P95ms, b.ErrorRate*100, cur, next), true
	}
	return cur, "", false
}

func (s *Server) adapt(ctx context.Context, name string, rm *room, now time.Time) {
	a := rm.adaptive
	b := rm.window.summary(now, 30)
	a.mu.Lock()
	healthy := b.Requests >= adaptiveMinSample && b.P95ms <= float64(rm.cfg.Adaptive.TargetP95/time.Millisecond) && b.ErrorRate <= rm.cfg.Adaptive.MaxErrorRate
	if !healthy {
		a.healthySince = time.Time{}
	} else if a.healthySince.IsZero() {
		a.healthySince = now
	}
	var healthyFor time.Duration
	if !a.healthySince.IsZero() {
		healthyFor = now.Sub(a.healthySince)
	}
	cooling := now.Sub(a.lastChange) < adaptiveCooldown
	a.mu.Unlock()
	if cooling {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*s.cfg.Redis.Timeout)
	defer cancel()
	st, err := s.cachedSettings(ctx, name) // a stale version only makes the conditional update refuse
	if err != nil || st.State != queue.StateOpen {
		return
	}
	next, reason, ok := decideRate(st.RatePerMinute, b, rm.cfg.Adaptive, healthyFor)
	if !ok {
		return
	}
	if _, err := s.applyPatch(ctx, rm, queue.SettingsPatch{RatePerMinute: &next}, st.Version, "adaptive", reason); err != nil {
		return // another replica changed it first: fine
	}
	dir := "down"
	if next > st.RatePerMinute {
		dir = "up"
	}
	s.m.rateChanges.WithLabelValues(name, dir).Inc()
	a.mu.Lock()
	a.lastChange, a.lastReason = now, reason
	if dir == "up" {
		a.healthySince = now
	}
	a.mu.Unlock()
	s.log.Warn().Str("room", name).Str("reason", reason).Msg("adaptive rate change")
}
