package queue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foyerhq/foyer/queue/redistest"
)

// TestRecoveryAfterKeysDeleted deletes every key of a room mid-run: no number is issued twice
// (the restored counter leaves a margin: numbers after the loss may skip some), nobody's place
// changes, the seed commitment survives and admitted visitors still get in.
func TestRecoveryAfterKeysDeleted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e1, e2 := newTestEngine(t, b), newTestEngine(t, b)
		ensure(t, e1, "lost", Settings{RatePerMinute: 6000, MaxActive: 5, QueueAll: true})
		ensure(t, e2, "lost", Settings{})
		var js []joined
		for i := 0; i < 10; i++ {
			js = append(js, join(t, e1, "lost", 1)...)
			js = append(js, join(t, e2, "lost", 1)...)
		}
		step(t, e1, "lost")
		step(t, e2, "lost")
		if _, err := e1.Claim(ctx, js[0].t); err != nil {
			t.Fatal(err)
		}
		fair, _ := e1.Fairness("lost")
		before := map[int64]Status{}
		for _, j := range js {
			before[j.t.Number] = status(t, e2, j.t)
		}

		redistest.DeletePrefix(ctx, b.rdb, b.prefix)

		// a join before any step: the counter floor and the restore keep numbers unique
		more := join(t, e2, "lost", 5)
		step(t, e1, "lost")
		step(t, e2, "lost")
		js = append(js, more...)
		var numbers []int64
		for _, j := range js {
			numbers = append(numbers, j.t.Number)
		}
		slices.Sort(numbers)
		for i, n := range numbers {
			if i < 20 && n != int64(i+1) || i > 0 && n == numbers[i-1] {
				t.Fatalf("ticket numbers after the loss: %v (duplicate, or a number lost before it)", numbers)
			}
		}
		for _, j := range js[:20] {
			st := status(t, e1, j.t)
			was := before[j.t.Number]
			// places never rise; the next in line may be counted as admitted (the head margin)
			if st.Position != was.Position || st.Place > was.Place || was.Admitted && !st.Admitted {
				t.Fatalf("ticket %d: before %+v, after %+v", j.t.Number, was, st)
			}
		}
		if e1.restores.Load()+e2.restores.Load() == 0 {
			t.Fatal("no restore recorded")
		}
		if f, _ := e1.Fairness("lost"); f.Commitment != fair.Commitment {
			t.Fatal("seed commitment changed in the restore")
		}
		// visitors whose offers were lost get in once: via the returning set, once the gateways
		// have had time to mark what they saw claimed
		time.Sleep(orphanSettle + 50*time.Millisecond)
		admitted := 0
		for _, j := range js[1:5] {
			if _, err := e1.Claim(ctx, j.t); !errors.Is(err, ErrNotYourTurn) {
				t.Fatalf("claim of ticket %d after the loss: %v", j.t.Number, err)
			}
		}
		time.Sleep(100 * time.Millisecond) // credit for 4 at 100/s: they count against the pace too
		step(t, e1, "lost")
		for _, j := range js[1:5] {
			if _, err := e1.Claim(ctx, j.t); err == nil {
				admitted++
			}
		}
		if admitted != 4 {
			t.Fatalf("%d of 4 admitted visitors got in after the loss", admitted)
		}
		if _, err := e1.Claim(ctx, js[1].t); err != nil {
			t.Fatalf("claim again is idempotent: %v", err)
		}
	})
}

// TestRecoveryBeyondIssued: a valid ticket with a number Redis no longer has raises the counter.
func TestRecoveryBeyondIssued(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e1 := newTestEngine(t, b)
	ensure(t, e1, "beyond", Settings{})
	js := join(t, e1, "beyond", 3)
	// another gateway with no memory of those joins, after Redis lost everything
	redistest.DeletePrefix(ctx, b.rdb, b.prefix)
	e2 := newTestEngine(t, b)
	ensure(t, e2, "beyond", Settings{})
	if _, err := e2.Status(ctx, js[2].t); err != nil {
		t.Fatal(err)
	}
	step(t, e2, "beyond")
	tk, _, err := e2.Join(ctx, "beyond", NewVisitorID())
	if err != nil {
		t.Fatal(err)
	}
	if tk.Number <= 3 || tk.Number > 3+minCounterMargin+1 {
		t.Fatalf("next number %d, want above 3 (issued before the loss) by at most the margin", tk.Number)
	}
}

// TestNoFalseRestore: joins racing with steps (a join's number known before the step's reply
// shows it) must not be taken for data loss.
func TestNoFalseRestore(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b, func(c *Config) { c.StepEvery = 2 * time.Millisecond })
	ensure(t, e, "race", Settings{RatePerMinute: 6000, MaxActive: 10})
	runEngine(t, e)
	deadline := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, _, err := e.Join(ctx, "race", NewVisitorID()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := e.restores.Load(); n != 0 {
		t.Fatalf("%d restores without any data loss", n)
	}
}

// TestRedisRestart: while Redis is down, Status still answers from the cache (and says so)
// and Join fails fast with ErrStoreUnavailable; after Redis comes back empty, the room is
// restored and numbering continues.
func TestRedisRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a private redis-server")
	}
	t.Parallel() // mostly waiting
	srv := redistest.StartServer(t)
	c := srv.Client(t)
	c.Options().MaxRetries = 0
	b := backend{name: "private", rdb: c, prefix: "restart"}
	ctx := context.Background()
	e := newTestEngine(t, b, func(c *Config) { c.CallTimeout = 200 * time.Millisecond })
	ensure(t, e, "rs", Settings{RatePerMinute: 60, MaxActive: 10, QueueAll: true})
	js := join(t, e, "rs", 10)
	runEngine(t, e)
	time.Sleep(300 * time.Millisecond)
	before := status(t, e, js[7].t)

	srv.Stop()
	start := time.Now()
	if _, _, err := e.Join(ctx, "rs", NewVisitorID()); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("join with Redis down: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("join with Redis down took %v", d)
	}
	for {
		st := status(t, e, js[7].t)
		if st.Position != before.Position || st.Place > before.Place {
			t.Fatalf("status while down: %+v, before %+v", st, before)
		}
		if st.StoreDown {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("Status never reported the store down")
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	for e.restores.Load() == 0 {
		if time.Since(start) > 15*time.Second {
			t.Fatal("the room was not restored after Redis came back empty")
		}
		time.Sleep(50 * time.Millisecond)
	}
	tk, _, err := e.Join(ctx, "rs", NewVisitorID())
	if err != nil {
		t.Fatal(err)
	}
	if tk.Number <= 10 || tk.Number > 10+minCounterMargin+100 {
		t.Fatalf("first number after the restart: %d, want above 10 by a bounded margin", tk.Number)
	}
	if st := status(t, e, js[7].t); st.StoreDown || st.Position != before.Position || st.Place > before.Place {
		t.Fatalf("status after the restart: %+v, before %+v", st, before)
	}
}

// TestCapHeldAfterLeasesLost: leases lost with the data still count against the cap (their
// tokens verify offline), and releasing one of them frees its slot at once.
func TestCapHeldAfterLeasesLost(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "cap", Settings{RatePerMinute: 60000, MaxActive: 2, QueueAll: true})
	js := join(t, e, "cap", 4)
	time.Sleep(20 * time.Millisecond)
	step(t, e, "cap")
	var leases []Lease
	for _, j := range js[:2] {
		l, err := e.Claim(ctx, j.t)
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	step(t, e, "cap")

	redistest.DeletePrefix(ctx, b.rdb, b.prefix)
	step(t, e, "cap")
	time.Sleep(50 * time.Millisecond)
	step(t, e, "cap")

	if v, _ := e.View("cap"); v.Active < 2 {
		t.Fatalf("active after the loss = %d, want the 2 lost leases still counted", v.Active)
	}
	time.Sleep(orphanSettle + 50*time.Millisecond)
	if n := len(admitNow(t, e, "cap", js[2:])); n != 0 {
		t.Fatalf("%d admitted past the cap after the loss", n)
	}
	if err := e.Release(ctx, "cap", leases[0].JTI, OutcomeBooked); err != nil {
		t.Fatalf("release of a lost lease: %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	step(t, e, "cap")
	if n := len(admitNow(t, e, "cap", js[2:])); n != 1 {
		t.Fatalf("%d admitted after a lost lease was released, want 1", n)
	}
}
