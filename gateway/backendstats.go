package gateway

import (
	"math"
	"sync"
	"time"
)

// latencyBuckets are upper bounds (ms) of a log-scale histogram: 1 ms to about 65 s.
var latencyBuckets = func() []float64 {
	var b []float64
	for v := 1.0; v < 70_000; v *= 1.25 {
		b = append(b, v)
	}
	return b
}()

// backendWindow keeps per-second histograms of backend latency and errors for the last
// windowSeconds, so p50/p95 and the error rate over a recent window cost a merge of small
// arrays. Safe for concurrent use.
type backendWindow struct {
	mu      sync.Mutex
	seconds [windowSeconds]secondBucket
}

const windowSeconds = 60

type secondBucket struct {
	unix   int64
	count  int64
	errors int64
	hist   []int64
}

func (w *backendWindow) observe(now time.Time, latency time.Duration, failed bool) {
	ms := float64(latency) / float64(time.Millisecond)
	i := bucketIndex(ms)
	sec := now.Unix()
	w.mu.Lock()
	b := &w.seconds[sec%windowSeconds]
	if b.unix > sec { // a late observation for a second already reused: drop it
		w.mu.Unlock()
		return
	}
	if b.unix != sec {
		b.unix, b.count, b.errors = sec, 0, 0
		if b.hist == nil {
			b.hist = make([]int64, len(latencyBuckets)+1)
		} else {
			clear(b.hist)
		}
	}
	b.count++
	if failed {
		b.errors++
	}
	b.hist[i]++
	w.mu.Unlock()
}

func bucketIndex(ms float64) int {
	lo, hi := 0, len(latencyBuckets)
	for lo < hi {
		m := (lo + hi) / 2
		if latencyBuckets[m] < ms {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// BackendSummary is the recent health of a room's backend.
type BackendSummary struct {
	P50ms             float64 `json:"p50_ms"`
	P95ms             float64 `json:"p95_ms"`
	ErrorRate         float64 `json:"error_rate"`
	RequestsPerMinute float64 `json:"requests_per_minute"`
	Requests          int64   `json:"requests"`
}

// summary merges the last span seconds (up to the window) ending at now.
func (w *backendWindow) summary(now time.Time, span int) BackendSummary {
	if span > windowSeconds {
		span = windowSeconds
	}
	merged := make([]int64, len(latencyBuckets)+1)
	var count, errs int64
	cur := now.Unix()
	w.mu.Lock()
	for i := range w.seconds {
		b := &w.seconds[i]
		if b.unix > cur-int64(span) && b.unix <= cur && b.hist != nil {
			count += b.count
			errs += b.errors
			for j, v := range b.hist {
				merged[j] += v
			}
		}
	}
	w.mu.Unlock()
	s := BackendSummary{Requests: count, RequestsPerMinute: float64(count) * 60 / float64(span)}
	if count == 0 {
		return s
	}
	s.ErrorRate = float64(errs) / float64(count)
	s.P50ms = quantile(merged, count, 0.50)
	s.P95ms = quantile(merged, count, 0.95)
	return s
}

func quantile(hist []int64, count int64, q float64) float64 {
	target := int64(math.Ceil(q * float64(count)))
	var seen int64
	for i, v := range hist {
		seen += v
		if seen >= target {
			if i < len(latencyBuckets) {
				return latencyBuckets[i]
			}
			return latencyBuckets[len(latencyBuckets)-1]
		}
	}
	return 0
}
