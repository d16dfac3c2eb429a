package gateway

import (
	"testing"
	"time"
)

func TestBackendWindow(t *testing.T) {
	var w backendWindow
	now := time.Unix(2_000_000, 0)
	for i := 0; i < 90; i++ {
		w.observe(now, 10*time.Millisecond, false)
	}
	for i := 0; i < 10; i++ {
		w.observe(now.Add(-time.Second), 2*time.Second, true)
	}
	w.observe(now.Add(-2*windowSeconds*time.Second), time.Hour, true) // older than the window: dropped
	s := w.summary(now, 30)
	if s.Requests != 100 {
		t.Fatalf("requests = %d, want 100", s.Requests)
	}
	if s.ErrorRate != 0.1 {
		t.Fatalf("error rate = %v, want 0.1", s.ErrorRate)
	}
	if s.P50ms < 10 || s.P50ms > 13 {
		t.Fatalf("p50 = %vms, want ~10ms", s.P50ms)
	}
	if s.P95ms < 2000 || s.P95ms > 2500 {
		t.Fatalf("p95 = %vms, want ~2s", s.P95ms)
	}
	if e := w.summary(now.Add(10*time.Minute), 30); e.Requests != 0 {
		t.Fatalf("stale window still counts %d", e.Requests)
	}
}
