package gateway

import (
	"net"
	"sync"
	"time"
)

// clientLimiter is a per-client token bucket (GCRA form: one timestamp per client), used to
// bound joins per client address. It forgets idle clients so memory stays bounded. Safe for
// concurrent use. It counts per replica; the limit that holds for the fleet is the count kept in
// the coalesced join call (queue.JoinOptions), whose replies raise this limiter (raise), so
// it is the cheap first filter that spares an address already over its allowance a round trip.
//
// allow refuses past the burst (proof_of_work mode off: 429). take always counts and reports
// how far past the burst the client is, which the proof-of-work turns into a higher difficulty
// instead of a refusal: shared addresses (a campus, a carrier NAT) pay more, never get shut out.
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

// gc drops clients whose bucket is full again. Caller holds l.mu.
func (l *clientLimiter) gc(now time.Time) {
	if now.Sub(l.lastGC) > time.Minute || len(l.tat) > l.maxKeys {
		for k, t := range l.tat {
			if t.Before(now) {
				delete(l.tat, k)
			}
		}
		l.lastGC = now
	}
}

// allow takes one token for key at now; when refused it says how long until the next one.
func (l *clientLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
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

// over reports how many events past the burst key would be with one more (0 when within it),
// without counting it.
func (l *clientLimiter) over(key string, now time.Time) int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.overAt(l.tat[key], now)
}

// take counts one event for key and returns how many events past the burst it is.
func (l *clientLimiter) take(key string, now time.Time) int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	tat := l.tat[key]
	over := l.overAt(tat, now)
	if tat.Before(now) {
		tat = now
	}
	l.tat[key] = tat.Add(l.interval)
	return over
}

// raise makes key at least over events past the burst at now: the fleet-wide count a join's
// reply carried (queue.JoinInfo) teaches this replica's limiter what the other replicas saw.
func (l *clientLimiter) raise(key string, over int, now time.Time) {
	if l == nil || over <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	if tat := now.Add(l.burst + time.Duration(over)*l.interval); tat.After(l.tat[key]) {
		l.tat[key] = tat
	}
}

func (l *clientLimiter) overAt(tat time.Time, now time.Time) int {
	if tat.Before(now) {
		tat = now
	}
	debt := tat.Add(l.interval).Sub(now) - l.burst - l.interval
	if debt <= 0 {
		return 0
	}
	return int((debt + l.interval - 1) / l.interval)
}

// clientKey is the unit a per-address limit counts: the IPv4 address, or the /64 of an IPv6
// address (one subscriber's whole prefix: rotating addresses inside it gains nothing).
func clientKey(ip string) string {
	p := net.ParseIP(ip)
	if p == nil {
		return ip[:min(len(ip), 45)] // not an address (a proxy's odd header): bounded, for the join's count
	}
	if v4 := p.To4(); v4 != nil {
		return v4.String()
	}
	return p.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
