package gateway

import (
	"sync"
	"time"
)

// clientLimiter is a per-client token bucket (GCRA form: one timestamp per client), used to bound
// joins per client address. It forgets idle clients so memory stays bounded. Safe for concurrent
// use.
type clientLimiter struct {
	mu       sync.Mutex
	interval time.Duration // one token every interval
	burst    time.Duration // burst × interval
	tat      map[string]time.Time
	maxKeys  int
	lastGC   time.Time
}

// newClientLimiter allows perMinute events per client with a burst of burst.
func newClientLimiter(perMinute, burst int) *clientLimiter {
	if perMinute <= 0 {
		return nil
	}
	iv := time.Minute / time.Duration(perMinute)
	return &clientLimiter{interval: iv, burst: iv * time.Duration(burst), tat: map[string]time.Time{}, maxKeys: 1 << 20}
}

// allow takes one token for key at now; when refused it says how long until the next one.
func (l *clientLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastGC) > time.Minute || len(l.tat) > l.maxKeys {
		for k, t := range l.tat {
			if t.Before(now) {
				delete(l.tat, k)
			}
		}
		l.lastGC = now
	}
	tat := l.tat[key]
	if tat.Before(now) {
		tat = now
	}
	newTat := tat.Add(l.interval)
	if allowAt := newTat.Add(-l.burst - l.interval); allowAt.After(now) {
		return false, allowAt.Sub(now)
	}
	l.tat[key] = newTat
	return true, 0
}
