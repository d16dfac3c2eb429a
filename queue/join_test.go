package queue

import (
	"context"
	"slices"
	"sync"
	"testing"
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
