package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestDecideRate(t *testing.T) {
	c := AdaptiveConfig{Enabled: true, MinRate: 100, MaxRate: 1000, TargetP95: time.Second, MaxErrorRate: 0.05}
	tests := []struct {
		name    string
		cur     int
		b       BackendSummary
		healthy time.Duration
		want    int
		ok      bool
		reason  string
	}{
		{"too few requests", 500, BackendSummary{Requests: 5, P95ms: 9000}, 0, 500, false, ""},
		{"slow backend", 500, BackendSummary{Requests: 100, P95ms: 2000}, 0, 400, true, "p95 2000ms"},
		{"errors", 500, BackendSummary{Requests: 100, P95ms: 100, ErrorRate: 0.2}, 0, 400, true, "errors 20.0%"},
		{"floor", 110, BackendSummary{Requests: 100, P95ms: 2000}, 0, 100, true, "rate 110 -> 100"},
		{"at floor", 100, BackendSummary{Requests: 100, P95ms: 2000}, 0, 100, false, ""},
		{"healthy not long", 500, BackendSummary{Requests: 100, P95ms: 100}, 30 * time.Second, 500, false, ""},
		{"healthy, raise", 500, BackendSummary{Requests: 100, P95ms: 100}, 2 * time.Minute, 550, true, "healthy"},
		{"ceiling", 990, BackendSummary{Requests: 100, P95ms: 100}, 2 * time.Minute, 1000, true, "rate 990 -> 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, ok := decideRate(tt.cur, tt.b, c, tt.healthy)
			if got != tt.want || ok != tt.ok || !strings.Contains(reason, tt.reason) {
				t.Fatalf("decideRate = %d %q %v; want %d %q %v", got, reason, ok, tt.want, tt.reason, tt.ok)
			}
		})
	}
}
