package queue

import (
	"context"
	"errors"
	"testing"

	"github.com/foyerhq/foyer/queue/redistest"
)

// Sold out: the step stops advancing, claim.lua refuses an offer and a passthrough, the state
// visitors see is sold_out and Poll admits nobody; a restock lets the line move again, and with
// CapFollowsStock the cap is min(MaxActive, Remaining).
func TestSoldOutStopsAdmissions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newTestEngine(t, b)
		ensure(t, e, "so", Settings{RatePerMinute: 6000, MaxActive: 1, QueueAll: true})
		if st, _ := e.Settings(ctx, "so"); st.Remaining != RemainingUnknown {
			t.Fatalf("new room's remaining = %d, want unknown", st.Remaining)
		}
		js := join(t, e, "so", 4)
		if s := step(t, e, "so"); s.head != 1 || s.offers != 1 {
			t.Fatalf("head %d offers %d, want the first offered", s.head, s.offers)
		}
		if changed, err := e.ReportStock(ctx, "so", 0); err != nil || !changed {
			t.Fatalf("report stock: %v %v", changed, err)
		}
		s := step(t, e, "so")
		if got := s.state(s.redisNow); got != StateSoldOut {
			t.Fatalf("state %s, want sold_out", got)
		}
		// the offer made before the sell-out is not turned into a lease
		if _, err := e.Claim(ctx, js[0].t); !errors.Is(err, ErrSoldOut) {
			t.Fatalf("claim of an offer when sold out: %v, want ErrSoldOut", err)
		}
		d, err := e.Poll(ctx, js[1].t, PollOptions{})
		if err != nil || d.Lease != nil || d.Admitted || d.State != StateSoldOut {
			t.Fatalf("poll when sold out: %+v %v", d, err)
		}
		// capacity frees (the offer expires) but the step admits nobody
		if _, err := b.rdb.ZRem(ctx, e.cached("so").keys.offers, "1").Result(); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if s := step(t, e, "so"); s.head != 1 {
				t.Fatalf("head moved to %d while sold out", s.head)
			}
		}
		// a repeated report changes nothing and is not announced again
		if changed, err := e.ReportStock(ctx, "so", 0); err != nil || changed {
			t.Fatalf("repeated report: %v %v", changed, err)
		}
		// restock 2 with the cap following the stock: max_active 3 but only 2 admitted
		mx, cap2 := 3, true
		if _, _, err := e.UpdateSettings(ctx, "so", SettingsPatch{MaxActive: &mx, CapFollowsStock: &cap2}, 0, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ReportStock(ctx, "so", 2); err != nil {
			t.Fatal(err)
		}
		s = step(t, e, "so")
		if s.head != 3 || s.offers != 2 || s.state(s.redisNow) != StateOpen {
			t.Fatalf("after restock: head %d offers %d state %s, want 2 offers (cap follows stock 2)", s.head, s.offers, s.state(s.redisNow))
		}
		// fewer left than a visitor's place: told plainly
		st, err := e.Status(ctx, js[3].t)
		if err != nil || st.Place != 1 || st.StockLow {
			t.Fatalf("place 1 with 2 left: %+v %v", st, err)
		}
		if _, err := e.ReportStock(ctx, "so", 0); err != nil {
			t.Fatal(err)
		}
		step(t, e, "so")
		st, err = e.Status(ctx, js[3].t)
		if err != nil || st.State != StateSoldOut {
			t.Fatalf("status when sold out: %+v %v", st, err)
		}
		// an organiser's patch sets it too, versioned; unknown again lifts the sell-out
		unknown := int64(RemainingUnknown)
		_, after, err := e.UpdateSettings(ctx, "so", SettingsPatch{Remaining: &unknown}, 0, nil)
		if err != nil || after.Remaining != RemainingUnknown {
			t.Fatalf("patch remaining unknown: %+v %v", after, err)
		}
		bad := int64(-2)
		if _, _, err := e.UpdateSettings(ctx, "so", SettingsPatch{Remaining: &bad}, 0, nil); err == nil {
			t.Fatal("remaining -2 accepted")
		}
	})
}

func TestStockLowIsTold(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "low", Settings{RatePerMinute: 6000, MaxActive: 1, QueueAll: true})
	js := join(t, e, "low", 4)
	step(t, e, "low")
	if _, err := e.ReportStock(ctx, "low", 2); err != nil {
		t.Fatal(err)
	}
	step(t, e, "low")
	for i, want := range []bool{false, false, true} { // places 1, 2, 3 with 2 left
		st, err := e.Status(ctx, js[i+1].t)
		if err != nil {
			t.Fatal(err)
		}
		if st.StockLow != want || (want && st.Remaining != 2) {
			t.Fatalf("place %d: stock low %v remaining %d, want %v", st.Place, st.StockLow, st.Remaining, want)
		}
	}
}

// A sold-out room stays sold out when Redis loses the room's data: the restore from a
// gateway's cache brings the stock back, so nobody is admitted.
func TestSoldOutSurvivesDataLoss(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "lostso", Settings{RatePerMinute: 6000, MaxActive: 5, QueueAll: true})
	join(t, e, "lostso", 3)
	if _, err := e.ReportStock(ctx, "lostso", 0); err != nil {
		t.Fatal(err)
	}
	step(t, e, "lostso")
	redistest.DeletePrefix(ctx, b.rdb, b.prefix)
	join(t, e, "lostso", 1)
	for range 3 {
		s := step(t, e, "lostso")
		// the restore may move the head by its margin (positions possibly reached before the
		// loss); what must hold is that nobody is offered a place or admitted
		if s.settings.Remaining != 0 || s.offers != 0 || s.stats["admitted"] != 0 || s.state(s.redisNow) != StateSoldOut {
			t.Fatalf("after the loss: remaining %d offers %d admitted %d state %s", s.settings.Remaining, s.offers, s.stats["admitted"], s.state(s.redisNow))
		}
	}
}
