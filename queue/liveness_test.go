package queue

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestSkipAbsentAndReturn: absent visitors are skipped without using credit or capacity, and
// one back within grace is served before the line.
func TestSkipAbsentAndReturn(t *testing.T) {
	t.Parallel() // mostly sleeping
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newTestEngine(t, b)
		ensure(t, e, "skip", Settings{RatePerMinute: 60000, MaxActive: 2, AbsentAfter: time.Second, Grace: time.Minute, QueueAll: true})
		paused, open := StatePaused, StateOpen
		if _, _, err := e.UpdateSettings(ctx, "skip", SettingsPatch{State: &paused}, 0, nil); err != nil {
			t.Fatal(err)
		}
		js := join(t, e, "skip", 7)
		present := []int{1, 4, 6, 7} // ticket numbers of visitors who keep polling
		// Paused: the line holds while the protection windows pass (AbsentAfter after opening,
		// and tickets issued at least AbsentAfter ago).
		for i := 0; i < 2; i++ {
			time.Sleep(time.Second + 50*time.Millisecond)
			if s := step(t, e, "skip"); s.head != 0 {
				t.Fatalf("head moved while paused: %d", s.head)
			}
		}
		for _, n := range present {
			if st := status(t, e, js[n-1].t); st.State != StatePaused || st.Place != int64(n) {
				t.Fatalf("ticket %d: %+v", n, st)
			}
		}
		flush(t, e, "skip")
		if _, _, err := e.UpdateSettings(ctx, "skip", SettingsPatch{State: &open}, 0, nil); err != nil {
			t.Fatal(err)
		}
		s := step(t, e, "skip")
		// 1 and 4 offered (cap 2), 2 3 5 skipped on the way, 6 waits for capacity
		if s.head != 5 || s.offers != 2 {
			t.Fatalf("head=%d offers=%d, want 5 and 2", s.head, s.offers)
		}
		if got := zsetInts(t, b, e.cached("skip").keys.offers); !slices.Equal(got, []int64{1, 4}) {
			t.Fatalf("offers %v, want [1 4]", got)
		}
		if got := zsetInts(t, b, e.cached("skip").keys.skipped); !slices.Equal(got, []int64{2, 3, 5}) {
			t.Fatalf("skipped %v, want [2 3 5]", got)
		}
		if st, _ := e.Stats(ctx, "skip"); st.Skipped != 3 || st.Admitted != 2 {
			t.Fatalf("stats %+v", st)
		}
		// visitor 3 comes back: their place is behind the head, the claim puts them in the
		// returning set
		st := status(t, e, js[2].t)
		if !st.Admitted {
			t.Fatalf("returning visitor's status %+v", st)
		}
		if _, err := e.Claim(ctx, js[2].t); !errors.Is(err, ErrNotYourTurn) {
			t.Fatalf("claim of a returning visitor: %v, want ErrNotYourTurn", err)
		}
		// capacity frees: the returning visitor goes before 6
		l1, err := e.Claim(ctx, js[0].t)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Release(ctx, "skip", l1.JTI, OutcomeAbandoned); err != nil {
			t.Fatal(err)
		}
		s = step(t, e, "skip")
		if got := zsetInts(t, b, e.cached("skip").keys.offers); !slices.Equal(got, []int64{3, 4}) || s.head != 5 {
			t.Fatalf("offers %v head %d, want [3 4] and 5", got, s.head)
		}
		if _, err := e.Claim(ctx, js[2].t); err != nil {
			t.Fatalf("returning visitor's claim: %v", err)
		}
		if st, _ := e.Stats(ctx, "skip"); st.Returned != 1 {
			t.Fatalf("returned = %d", st.Returned)
		}
		// an offer not claimed within AbsentAfter goes back to capacity
		time.Sleep(1100 * time.Millisecond)
		status(t, e, js[5].t)
		status(t, e, js[6].t)
		flush(t, e, "skip")
		s = step(t, e, "skip")
		got := zsetInts(t, b, e.cached("skip").keys.offers)
		if !slices.Equal(got, []int64{6}) || s.head != 6 {
			t.Fatalf("after 4's offer expired: offers %v head %d, want [6] and 6", got, s.head)
		}
		// 5 never came back within... it can still: grace is a minute
		if _, err := e.Claim(ctx, js[4].t); !errors.Is(err, ErrNotYourTurn) {
			t.Fatalf("claim of skipped 5: %v", err)
		}
	})
}

func TestNoSkipRightAfterOpening(t *testing.T) {
	t.Parallel() // mostly sleeping
	b := singleBackend(t)
	e := newTestEngine(t, b)
	ensure(t, e, "fresh", Settings{RatePerMinute: 60000, MaxActive: 1, AbsentAfter: time.Second, QueueAll: true})
	join(t, e, "fresh", 5)
	// nobody polls, but they have just joined: nobody is skipped
	for i := 0; i < 3; i++ {
		if s := step(t, e, "fresh"); s.head != 1 || s.stats["skipped"] != 0 {
			t.Fatalf("head=%d skipped=%d right after joining", s.head, s.stats["skipped"])
		}
		time.Sleep(200 * time.Millisecond)
	}
}
