package boxoffice

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func TestPoolQueueAndCancel(t *testing.T) {
	var lastIn, lastQ int
	p := newPool(1, 2, func(in, q int) { lastIn, lastQ = in, q })
	ctx := context.Background()
	if err := p.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	// A waiter whose deadline passes leaves the queue.
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if err := p.acquire(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire past deadline: %v", err)
	}
	if lastIn != 1 || lastQ != 0 {
		t.Fatalf("after cancel: in=%d q=%d, want 1 0", lastIn, lastQ)
	}
	got := make(chan error, 2)
	go func() { got <- p.acquire(ctx) }()
	go func() { got <- p.acquire(ctx) }()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		p.mu.Lock()
		n := len(p.waiters)
		p.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("waiters did not queue")
		}
	}
	if err := p.acquire(ctx); !errors.Is(err, errQueueFull) {
		t.Fatalf("third waiter: %v, want errQueueFull", err)
	}
	p.release() // to one waiter
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	p.release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	p.release()
	if p.inflight() != 0 || lastIn != 0 || lastQ != 0 {
		t.Fatalf("after all released: inflight=%d", p.inflight())
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(float64(i))
	}
	tests := []struct {
		q, want float64
	}{{0.5, 500}, {0.9, 900}, {0.99, 990}, {1, 1000}}
	for _, tt := range tests {
		if got := h.quantile(tt.q); math.Abs(got-tt.want)/tt.want > 0.05 {
			t.Errorf("quantile(%v) = %.1f, want %.0f ± 5%%", tt.q, got, tt.want)
		}
	}
	if p := h.percentiles(); p.Count != 1000 || p.Max != 1000 || math.Abs(p.Mean-500.5) > 1e-9 {
		t.Fatalf("percentiles %+v", p)
	}
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Fatal("empty histogram quantile not 0")
	}
}
