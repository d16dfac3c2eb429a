package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
)

func TestPrequeueShuffleAtOpening(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newTestEngine(t, b)
		opens := time.Now().Add(400 * time.Millisecond)
		ensure(t, e, "pre", Settings{RatePerMinute: 600, MaxActive: 1000, OpensAt: opens, QueueAll: true})
		f, err := e.Fairness("pre")
		if err != nil || len(f.Commitment) != 64 || f.Seed != "" || f.Opened {
			t.Fatalf("fairness before opening: %+v %v", f, err)
		}
		js := join(t, e, "pre", 40)
		for _, j := range js {
			if !j.t.Prequeue {
				t.Fatalf("ticket %d issued before opening is not pre-queue", j.t.Number)
			}
		}
		if st := status(t, e, js[0].t); st.State != StatePrequeue || st.Position != 0 || st.Admitted {
			t.Fatalf("status before opening: %+v", st)
		}
		time.Sleep(time.Until(opens) + 20*time.Millisecond)
		step(t, e, "pre")
		f, _ = e.Fairness("pre")
		seed, _ := hex.DecodeString(f.Seed)
		sum := sha256.Sum256(seed)
		if !f.Opened || f.PrequeueSize != 40 || hex.EncodeToString(sum[:]) != f.Commitment {
			t.Fatalf("fairness after opening: %+v", f)
		}
		shuffled := 0
		seen := map[int64]bool{}
		for _, j := range js {
			st := status(t, e, j.t)
			want := VerifyPrequeuePlace(seed, 40, j.t.Number)
			if st.Position != want || seen[want] {
				t.Fatalf("ticket %d at position %d, verification says %d", j.t.Number, st.Position, want)
			}
			seen[want] = true
			if want != j.t.Number {
				shuffled++
			}
		}
		if shuffled < 30 {
			t.Fatalf("only %d of 40 moved by the shuffle", shuffled)
		}
		late := join(t, e, "pre", 1)[0]
		if late.t.Prequeue || late.t.Number != 41 || status(t, e, late.t).Position != 41 {
			t.Fatalf("a ticket after opening: %+v", late.t)
		}
	})
}

// TestPaceAccuracy: 600/minute for 10 s with three engines stepping concurrently admits 100 ± 1.
func TestPaceAccuracy(t *testing.T) {
	t.Parallel() // mostly sleeping
	if testing.Short() {
		t.Skip("takes 10 s")
	}
	b := singleBackend(t)
	ctx := context.Background()
	var engines []*Engine
	var stops []context.CancelFunc
	opens := time.Now().Add(500 * time.Millisecond)
	for i := 0; i < 3; i++ {
		e := newTestEngine(t, b)
		ensure(t, e, "pace", Settings{RatePerMinute: 600, MaxActive: 100000, OpensAt: opens})
		engines = append(engines, e)
	}
	for i := 0; i < 300; i++ {
		if _, _, err := engines[i%3].Join(ctx, "pace", NewVisitorID()); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range engines {
		stops = append(stops, runEngine(t, e))
	}
	time.Sleep(time.Until(opens.Add(5 * time.Second)))
	mid, _ := engines[1].Stats(ctx, "pace")
	time.Sleep(time.Until(opens.Add(10*time.Second - 150*time.Millisecond)))
	for _, stop := range stops {
		stop()
	}
	// one last step as close after opens+10s as Redis's clock allows
	for {
		now, err := b.rdb.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if !now.Before(opens.Add(10 * time.Second)) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s := step(t, engines[0], "pace")
	got := s.stats["admitted"]
	t.Logf("admitted %d in 10 s at 600/min (at 5 s: %d; last step %v after the 10 s mark)", got, mid.Admitted, s.redisNow.Sub(opens.Add(10*time.Second)))
	if got < 99 || got > 101 {
		t.Fatalf("admitted %d, want 100 ± 1", got)
	}
	if mid.Admitted < 45 || mid.Admitted > 55 {
		t.Fatalf("admitted %d at half time: not smooth", mid.Admitted)
	}
	// the measured rate, from once-a-second samples over the run
	if v, _ := engines[2].View("pace"); v.AdmitRatePerMinute < 540 || v.AdmitRatePerMinute > 660 {
		t.Fatalf("measured rate %.1f/min, configured 600", v.AdmitRatePerMinute)
	}
}
