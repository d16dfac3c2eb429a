package queue

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestClaimIsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newTestEngine(t, b)
		e2 := newTestEngine(t, b) // a second replica: the other tab hit another gateway
		ensure(t, e, "tabs", Settings{RatePerMinute: 600, MaxActive: 10})
		js := join(t, e, "tabs", 3)
		step(t, e, "tabs")
		var leases [4]Lease
		var wg sync.WaitGroup
		for i := range leases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				eng := e
				if i%2 == 1 {
					eng = e2
				}
				l, err := eng.Claim(context.Background(), js[1].t)
				if err != nil {
					t.Errorf("claim %d: %v", i, err)
				}
				leases[i] = l
			}()
		}
		wg.Wait()
		for _, l := range leases[1:] {
			if l != leases[0] {
				t.Fatalf("two tabs got different leases: %+v vs %+v", l, leases[0])
			}
		}
		l := leases[0]
		if l.Ticket != 2 || l.Position != 2 || l.Visitor != js[1].t.Visitor || l.Room != "tabs" || !l.ExpiresAt.After(l.IssuedAt) {
			t.Fatalf("lease %+v", l)
		}
		if st := step(t, e, "tabs"); st.active != 1 {
			t.Fatalf("active = %d, want 1 lease for 4 claims", st.active)
		}
	})
}

func TestReleaseFreesCapacityAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newTestEngine(t, b)
		ensure(t, e, "rel", Settings{RatePerMinute: 6000, MaxActive: 2, QueueAll: true})
		js := join(t, e, "rel", 5)
		if s := step(t, e, "rel"); s.head != 2 {
			t.Fatalf("head = %d, want 2 (cap 2)", s.head)
		}
		l1, err := e.Claim(ctx, js[0].t)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Claim(ctx, js[1].t); err != nil {
			t.Fatal(err)
		}
		if s := step(t, e, "rel"); s.head != 2 || s.active != 2 {
			t.Fatalf("cap 2 full but head=%d active=%d", s.head, s.active)
		}
		if err := e.Release(ctx, "rel", l1.JTI, OutcomeBooked); err != nil {
			t.Fatal(err)
		}
		if s := step(t, e, "rel"); s.head != 3 || s.active != 1 || s.offers != 1 {
			t.Fatalf("after release: head=%d active=%d offers=%d, want 3 1 1", s.head, s.active, s.offers)
		}
		if err := e.Release(ctx, "rel", l1.JTI, OutcomeBooked); !errors.Is(err, ErrUnknownLease) {
			t.Fatalf("second release: %v, want ErrUnknownLease", err)
		}
		if _, err := e.Claim(ctx, js[0].t); !errors.Is(err, ErrTicketSpent) {
			t.Fatalf("claim after release: %v, want ErrTicketSpent", err)
		}
		st, err := e.Stats(ctx, "rel")
		if err != nil {
			t.Fatal(err)
		}
		if st.Released[OutcomeBooked] != 1 || st.Admitted != 3 || st.Joined != 5 || st.Waiting != 2 {
			t.Fatalf("stats %+v", st)
		}
		if err := e.Release(ctx, "rel", l1.JTI, "won"); !errors.Is(err, ErrInvalidOutcome) {
			t.Fatalf("bad outcome: %v", err)
		}
	})
}

func TestExtendSlidesUpToMax(t *testing.T) {
	t.Parallel() // mostly sleeping
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "ext", Settings{RatePerMinute: 600, MaxActive: 5, Session: 10 * time.Second, MaxSession: 11 * time.Second})
	js := join(t, e, "ext", 1)
	l, err := e.Claim(ctx, js[0].t) // passthrough: next in an empty line
	if err != nil {
		t.Fatalf("passthrough claim: %v", err)
	}
	if l.MaxUntil.Sub(l.IssuedAt) != 11*time.Second || l.ExpiresAt.Sub(l.IssuedAt) != 10*time.Second {
		t.Fatalf("lease times %+v", l)
	}
	time.Sleep(1100 * time.Millisecond)
	x, err := e.Extend(ctx, "ext", l.JTI, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !x.ExpiresAt.Equal(l.MaxUntil) {
		t.Fatalf("extended to %v, want capped at %v", x.ExpiresAt, l.MaxUntil)
	}
	if _, err := e.Extend(ctx, "ext", "zz.nope", time.Now()); !errors.Is(err, ErrUnknownLease) {
		t.Fatalf("extend unknown: %v", err)
	}
	if _, err := e.Extend(ctx, "ext", "bad id with spaces", time.Now()); !errors.Is(err, ErrUnknownLease) {
		t.Fatalf("extend malformed: %v", err)
	}
}

func TestPassthroughCountsAgainstRateAndCap(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "pass", Settings{RatePerMinute: 120, MaxActive: 100}) // burst 2
	var got, waited int
	for i := 0; i < 5; i++ {
		js := join(t, e, "pass", 1)
		if _, err := e.Claim(ctx, js[0].t); err == nil {
			got++
		} else if errors.Is(err, ErrNotYourTurn) {
			waited++
		} else {
			t.Fatal(err)
		}
	}
	// one second's credit is 2: the rest of an instant burst waits for the pace
	if got < 1 || got > 3 || waited < 2 {
		t.Fatalf("passthrough admitted %d and held %d of 5 instant arrivals at 2/s", got, waited)
	}
	st, _ := e.Stats(ctx, "pass")
	step(t, e, "pass")
	st, _ = e.Stats(ctx, "pass")
	if st.Admitted > 3 {
		t.Fatalf("admitted %d within a second at 2/s", st.Admitted)
	}
}

// capScript reads offers + leases atomically.
var capScript = redis.NewScript(`return redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])`)

func TestCapNeverExceeded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		const maxActive = 5
		var engines []*Engine
		for i := 0; i < 3; i++ {
			e := newTestEngine(t, b, func(c *Config) { c.StepEvery = 20 * time.Millisecond })
			engines = append(engines, e)
		}
		ensure(t, engines[0], "cap", Settings{RatePerMinute: 60000, MaxActive: maxActive})
		for _, e := range engines[1:] {
			ensure(t, e, "cap", Settings{})
		}
		for _, e := range engines {
			runEngine(t, e)
		}
		const visitors = 60
		var holding, peak, served atomic.Int64
		deadline := time.Now().Add(8 * time.Second)
		var wg sync.WaitGroup
		for v := 0; v < visitors; v++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := engines[v%3]
				tk, _, err := e.Join(ctx, "cap", NewVisitorID())
				if err != nil {
					t.Error(err)
					return
				}
				for time.Now().Before(deadline) {
					st, err := e.Status(ctx, tk)
					if err != nil {
						t.Error(err)
						return
					}
					if st.Admitted || st.Place == 1 {
						l, err := e.Claim(ctx, tk)
						if err == nil {
							n := holding.Add(1)
							for {
								p := peak.Load()
								if n <= p || peak.CompareAndSwap(p, n) {
									break
								}
							}
							time.Sleep(5 * time.Millisecond)
							holding.Add(-1)
							if err := e.Release(ctx, "cap", l.JTI, OutcomeBooked); err != nil {
								t.Error(err)
							}
							served.Add(1)
							return
						}
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
		}
		// watch Redis too: offers + leases never above the cap
		stop := make(chan struct{})
		var redisPeak int64
		var watch sync.WaitGroup
		watch.Add(1)
		go func() {
			defer watch.Done()
			k := engines[0].cached("cap").keys
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, _ := capScript.Run(ctx, b.rdb, []string{k.offers, k.leases}).Int64()
				redisPeak = max(redisPeak, n)
				time.Sleep(2 * time.Millisecond)
			}
		}()
		wg.Wait()
		close(stop)
		watch.Wait()
		if p := peak.Load(); p > maxActive {
			t.Fatalf("%d sessions held at once, cap %d", p, maxActive)
		}
		if redisPeak > maxActive {
			t.Fatalf("offers+leases reached %d, cap %d", redisPeak, maxActive)
		}
		if served.Load() != visitors {
			t.Fatalf("served %d of %d", served.Load(), visitors)
		}
	})
}
