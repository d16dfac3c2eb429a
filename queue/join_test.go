package queue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestJoinCoalesces: concurrent joins get distinct consecutive numbers from fewer round trips.
func TestJoinCoalesces(t *testing.T) {
	b := singleBackend(t)
	hook := &countHook{}
	b.rdb.AddHook(hook)
	e := newTestEngine(t, b)
	ensure(t, e, "burst", Settings{})
	const n = 400
	start := make(chan struct{})
	numbers := make([]int64, n)
	var wg sync.WaitGroup
	before := hook.n.Load()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tk, enc, err := e.Join(context.Background(), "burst", NewVisitorID())
			if err != nil {
				t.Error(err)
				return
			}
			if back, err := e.DecodeTicket("burst", enc); err != nil || back != tk {
				t.Errorf("ticket does not decode to itself: %v", err)
			}
			numbers[i] = tk.Number
		}()
	}
	close(start)
	wg.Wait()
	trips := hook.n.Load() - before
	slices.Sort(numbers)
	for i, x := range numbers {
		if x != int64(i+1) {
			t.Fatalf("numbers are not 1..%d: %v", n, numbers)
		}
	}
	t.Logf("%d joins in %d round trips", n, trips)
	if trips >= n/2 {
		t.Fatalf("%d round trips for %d concurrent joins: not coalesced", trips, n)
	}
}

// TestRefusedJoinCatchesUp: a join refused because the room was closed on another engine,
// whose announcement has not reached this one, brings this engine's view up to date at once:
// its waiting visitors are told "closed" on their next poll, as the joiner was.
func TestRefusedJoinCatchesUp(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	// no Run loops: no announcements arrive; generous deadlines, as the catch-up step is tried once
	e1, e2 := newTestEngine(t, b), newTestEngine(t, b, func(c *Config) { c.CallTimeout = 10 * time.Second })
	ensure(t, e1, "late", Settings{RatePerMinute: 60, MaxActive: 1, QueueAll: true})
	ensure(t, e2, "late", Settings{})
	js := join(t, e2, "late", 2)
	step(t, e2, "late")
	closed := StateClosed
	if _, _, err := e1.UpdateSettings(ctx, "late", SettingsPatch{State: &closed}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if d := poll(t, e2, js[1].t, 0); d.State == StateClosed {
		t.Fatal("the test needs e2 not to know of the close yet")
	}
	if _, _, err := e2.Join(ctx, "late", NewVisitorID()); !errors.Is(err, ErrRoomClosed) {
		t.Fatalf("join after the close: %v, want ErrRoomClosed", err)
	}
	if d := poll(t, e2, js[1].t, 0); d.State != StateClosed {
		t.Fatalf("a waiting visitor on the engine that refused the join is told %s, want closed", d.State)
	}
}
