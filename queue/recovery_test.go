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

// TestRecoveryAfterKeysDeleted deletes every key of a room mid-run: no number is issued twice,
// nobody's place changes, the seed commitment survives and admitted visitors still get in.
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
			if n != int64(i+1) {
				t.Fatalf("ticket numbers after the loss: %v (duplicate or gap)", numbers)
			}
		}
		for _, j := range js[:20] {
			st := status(t, e1, j.t)
			was := before[j.t.Number]
			if st.Position != was.Position || st.Place > was.Place || st.Admitted != was.Admitted {
				t.Fatalf("ticket %d: before %+v, after %+v", j.t.Number, was, st)
			}
		}
		if e1.restores.Load()+e2.restores.Load() == 0 {
			t.Fatal("no restore recorded")
		}
		if f, _ := e1.Fairness("lost"); f.Commitment != fair.Commitment {
			t.Fatal("seed commitment changed in the restore")
		}
		// visitors whose offers were lost get in once: via the returning set
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
	if tk.Number != 4 {
		t.Fatalf("next number %d, want 4 (3 were issued before the loss)", tk.Number)
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
