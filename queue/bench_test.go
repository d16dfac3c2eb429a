package queue

import (
	"context"
	"sync/atomic"
	"testing"
)

// Benchmarks run against the test Redis (FOYER_TEST_REDIS_URL or 127.0.0.1:6379).

func BenchmarkJoinParallel(b *testing.B) {
	be := singleBackend(b)
	e := newTestEngine(b, be)
	ensure(b, e, "bench-join", Settings{RatePerMinute: 600, MaxActive: 100})
	ctx := context.Background()
	visitor := NewVisitorID()
	b.ReportAllocs()
	b.SetParallelism(64) // many concurrent visitors, as an HTTP server has
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := e.Join(ctx, "bench-join", visitor); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "joins/s")
}

func BenchmarkStep(b *testing.B) {
	be := singleBackend(b)
	e := newTestEngine(b, be)
	ensure(b, e, "bench-step", Settings{RatePerMinute: 600, MaxActive: 1000})
	r := e.cached("bench-step")
	if _, _, _, _, err := e.issue(context.Background(), r, 100000); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.refresh(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClaim(b *testing.B) {
	be := singleBackend(b)
	e := newTestEngine(b, be)
	ensure(b, e, "bench-claim", Settings{RatePerMinute: MaxRatePerMinute, MaxActive: MaxMaxActive, QueueAll: true})
	const n = 50000
	r := e.cached("bench-claim")
	if _, _, _, _, err := e.issue(context.Background(), r, n); err != nil {
		b.Fatal(err)
	}
	for r.snap.Load().head < n {
		step(b, e, "bench-claim")
	}
	visitor := NewVisitorID()
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			num := next.Add(1)%n + 1
			// a repeat claim of a ticket returns its lease: the idempotent path costs the same
			if _, err := e.Claim(ctx, Ticket{Room: "bench-claim", Visitor: visitor, Number: num}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkStatus(b *testing.B) {
	be := singleBackend(b)
	e := newTestEngine(b, be)
	ensure(b, e, "bench-status", Settings{RatePerMinute: 600, MaxActive: 100})
	js := join(b, e, "bench-status", 1000)
	ctx := context.Background()
	var i atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.Status(ctx, js[i.Add(1)%1000].t); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDecodeAndStatus is a poll as the gateway does it: decode the ticket, then Status.
func BenchmarkDecodeAndStatus(b *testing.B) {
	be := singleBackend(b)
	e := newTestEngine(b, be)
	ensure(b, e, "bench-poll", Settings{RatePerMinute: 600, MaxActive: 100})
	js := join(b, e, "bench-poll", 1000)
	ctx := context.Background()
	var i atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, err := e.DecodeTicket("bench-poll", js[i.Add(1)%1000].enc)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := e.Status(ctx, t); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
