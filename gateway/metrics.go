package gateway

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus collectors. Room figures that live in Redis (waiting,
// active, admitted, skipped) are exported by a collector that reads the engine's cache at
// scrape time, so a scrape costs no Redis round trip.
type metrics struct {
	joins        *prometheus.CounterVec
	polls        *prometheus.CounterVec
	claims       *prometheus.CounterVec
	claimLatency *prometheus.HistogramVec
	redisErrors  *prometheus.CounterVec
	backendLat   *prometheus.HistogramVec
	backendResp  *prometheus.CounterVec
	proxied      *prometheus.CounterVec
	refused      *prometheus.CounterVec
	requests     *prometheus.CounterVec
	rateLimited  prometheus.Counter
	rateChanges  *prometheus.CounterVec

	// The counters every request touches, memoized by label: a map read instead of hashing
	// the labels under the vector's lock.
	pollsBy    labelCache[prometheus.Counter]
	joinsBy    labelCache[prometheus.Counter]
	requestsBy labelCache[*[5]prometheus.Counter]
}

// labelCache memoizes a metric vector's children by one string key. Reads take no lock (the
// map is replaced, never changed, when a key is added); keys are bounded (configured rooms,
// registered routes).
type labelCache[T any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]T]
}

func (c *labelCache[T]) get(key string, build func() T) T {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[key]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[key]; ok {
			return v
		}
	}
	next := build()
	m := make(map[string]T, 1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[key] = next
	c.m.Store(&m)
	return next
}

// poll counts one answered status poll of room.
func (m *metrics) poll(room string) {
	m.pollsBy.get(room, func() prometheus.Counter { return m.polls.WithLabelValues(room) }).Inc()
}

// join counts one ticket issued in room.
func (m *metrics) join(room string) {
	m.joinsBy.get(room, func() prometheus.Counter { return m.joins.WithLabelValues(room) }).Inc()
}

// request counts one served request by route and status class.
func (m *metrics) request(route string, status int) {
	byClass := m.requestsBy.get(route, func() *[5]prometheus.Counter {
		var a [5]prometheus.Counter
		for i, class := range [5]string{"1xx", "2xx", "3xx", "4xx", "5xx"} {
			a[i] = m.requests.WithLabelValues(route, class)
		}
		return &a
	})
	byClass[classIndex(status)].Inc()
}

// classIndex is statusClass as an index into 1xx..5xx.
func classIndex(code int) int {
	switch {
	case code >= 500:
		return 4
	case code >= 400:
		return 3
	case code >= 300:
		return 2
	case code >= 200:
		return 1
	default:
		return 0
	}
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_joins_total",
			Help: "Visitors who took a ticket, by room."}, []string{"room"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_polls_total",
			Help: "Status polls answered, by room."}, []string{"room"}),
		claims: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_claims_total",
			Help: "Admission claims, by room and result."}, []string{"room", "result"}),
		claimLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "foyer_claim_duration_seconds",
			Help: "Time to claim a slot and sign the admission token.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"room"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_redis_errors_total",
			Help: "Redis calls that failed or timed out, by operation."}, []string{"op"}),
		backendLat: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "foyer_backend_request_duration_seconds",
			Help: "Latency of proxied backend requests, by room.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"room"}),
		backendResp: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_backend_responses_total",
			Help: "Proxied backend responses by room and status class (2xx..5xx, error)."}, []string{"room", "class"}),
		proxied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_proxied_requests_total",
			Help: "Requests passed to the backend with a valid admission, by room."}, []string{"room"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_admission_refused_total",
			Help: "Admission tokens refused at a protected path, by room and reason."}, []string{"room", "reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_http_requests_total",
			Help: "HTTP requests served, by route and status class."}, []string{"route", "class"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{Name: "foyer_join_rate_limited_total",
			Help: "Joins refused by the per-client rate limit."}),
		rateChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "foyer_adaptive_rate_changes_total",
			Help: "Rate changes made by the adaptive controller, by room and direction."}, []string{"room", "direction"}),
	}
	reg.MustRegister(m.joins, m.polls, m.claims, m.claimLatency, m.redisErrors, m.backendLat, m.backendResp,
		m.proxied, m.refused, m.requests, m.rateLimited, m.rateChanges)
	return m
}

// forgetRoom drops a deleted room's series (rooms.go endClosing).
func (m *metrics) forgetRoom(name string) {
	l := prometheus.Labels{"room": name}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		m.joins, m.polls, m.claims, m.claimLatency, m.backendLat, m.backendResp, m.proxied, m.refused, m.rateChanges,
	} {
		v.DeletePartialMatch(l)
	}
}

func statusClass(code int) string {
	switch {
	case code >= 500:
		return "5xx"
	case code >= 400:
		return "4xx"
	case code >= 300:
		return "3xx"
	case code >= 200:
		return "2xx"
	default:
		return "1xx"
	}
}
