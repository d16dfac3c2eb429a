package queue

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyerhq/foyer/queue/redistest"
)

// countedBackend is a private key prefix on the shared Redis over a client whose commands are
// counted.
func countedBackend(t *testing.T) (backend, *countHook) {
	t.Helper()
	db := redistest.New(t)
	opt, err := redis.ParseURL(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	h := &countHook{}
	c.AddHook(h)
	return backend{name: "single", rdb: c, prefix: db.Prefix}, h
}

func poll(t testing.TB, e *Engine, tk Ticket, best int64) Decision {
	t.Helper()
	d, err := e.Poll(context.Background(), tk, PollOptions{BestPlace: best})
	if err != nil {
		t.Fatalf("poll of ticket %d: %v", tk.Number, err)
	}
	return d
}

// skipScene: cap 2, seven visitors; 1, 4, 6, 7 keep polling, so the first step offers 1 and 4
// and skips 2, 3 and 5 on the way (head 5); 6 and 7 wait for capacity.
func skipScene(t *testing.T, e *Engine, room string) []joined {
	t.Helper()
	ctx := context.Background()
	ensure(t, e, room, Settings{RatePerMinute: 60000, MaxActive: 2, AbsentAfter: time.Second, Grace: time.Minute, QueueAll: true})
	paused, open := StatePaused, StateOpen
	if _, _, err := e.UpdateSettings(ctx, room, SettingsPatch{State: &paused}, 0, nil); err != nil {
		t.Fatal(err)
	}
	js := join(t, e, room, 7)
	for i := 0; i < 2; i++ { // the protection windows pass while paused
		time.Sleep(time.Second + 50*time.Millisecond)
		step(t, e, room)
	}
	for _, n := range []int{1, 4, 6, 7} {
		status(t, e, js[n-1].t)
	}
	flush(t, e, room)
	if _, _, err := e.UpdateSettings(ctx, room, SettingsPatch{State: &open}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if s := step(t, e, room); s.head != 5 || s.skipped != 3 {
		t.Fatalf("head %d skipped %d, want 5 and 3", s.head, s.skipped)
	}
	return js
}

// A visitor skipped while away who comes back is shown a real place in the returning lane
// (not place 0 and an ETA of 0 s), and their polls make no Redis call until the lane reaches
// them. Everyone in the main line counts the returners (and those who may still return) ahead.
func TestReturnerHasRealPlaceAndCostsNothing(t *testing.T) {
	t.Parallel() // mostly sleeping
	b, calls := countedBackend(t)
	e := newTestEngine(t, b)
	js := skipScene(t, e, "back")
	ctx := context.Background()

	// 3 and then 5 come back: one claim call each puts them in the lane, in that order
	d3 := poll(t, e, js[2].t, 0)
	d5 := poll(t, e, js[4].t, 0)
	if !d3.Returning || d3.Place != 1 || d3.Admitted || d3.Lease != nil || d3.ETAHigh <= 0 {
		t.Fatalf("returner 3: %+v, want returning, place 1, an ETA", d3.Status)
	}
	if !d5.Returning || d5.Place != 2 || d5.Ahead != 1 {
		t.Fatalf("returner 5: %+v, want returning, place 2", d5.Status)
	}
	// main line: 6 is behind the two returners and the one skipped visitor who may come back
	if d6 := poll(t, e, js[5].t, 0); d6.Place != 6-5+2+1 || d6.Returning {
		t.Fatalf("visitor 6: place %d, want 4 (1 ahead in line + 2 returning + 1 may return)", d6.Place)
	}
	before := calls.n.Load()
	for i := 0; i < 50; i++ {
		poll(t, e, js[2].t, 0)
		poll(t, e, js[4].t, 0)
	}
	if n := calls.n.Load() - before; n != 0 {
		t.Fatalf("100 polls of waiting returners made %d Redis calls, want 0", n)
	}

	// a slot frees: the lane's first returner is served (offered), then claims
	l1, err := e.Claim(ctx, js[0].t)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Release(ctx, "back", l1.JTI, OutcomeAbandoned); err != nil {
		t.Fatal(err)
	}
	step(t, e, "back")
	if d := poll(t, e, js[2].t, 0); d.Lease == nil || !d.Admitted {
		t.Fatalf("returner 3 at the front of the lane: %+v, want admitted", d.Status)
	}
	if d := poll(t, e, js[4].t, 0); !d.Returning || d.Place != 1 {
		t.Fatalf("returner 5 after 3 went in: %+v, want place 1", d.Status)
	}
}

// A spent ticket (its session ended) is refused from memory after the first claim says so.
func TestSpentTicketRefusedWithoutRedis(t *testing.T) {
	t.Parallel()
	b, calls := countedBackend(t)
	e := newTestEngine(t, b)
	ensure(t, e, "spent", Settings{RatePerMinute: 60000, MaxActive: 5})
	js := join(t, e, "spent", 1)
	d := poll(t, e, js[0].t, 0) // passthrough
	if d.Lease == nil {
		t.Fatalf("first poll: %+v, want admitted at once", d.Status)
	}
	if err := e.Release(context.Background(), "spent", d.Lease.JTI, OutcomeBooked); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Poll(context.Background(), js[0].t, PollOptions{}); !errors.Is(err, ErrTicketSpent) {
		t.Fatalf("poll after release: %v, want ErrTicketSpent", err)
	}
	before := calls.n.Load()
	for i := 0; i < 100; i++ {
		if _, err := e.Poll(context.Background(), js[0].t, PollOptions{}); !errors.Is(err, ErrTicketSpent) {
			t.Fatalf("poll %d: %v", i, err)
		}
	}
	if n := calls.n.Load() - before; n != 0 {
		t.Fatalf("100 polls of a spent ticket made %d Redis calls, want 0", n)
	}
}

// Fail-open stays paced: with Redis unreachable, a room with on_store_error open, rate 1/min
// and cap 1 admits one of thirty waiting visitors, with a short lease-less token, not all.
func TestFailOpenIsPaced(t *testing.T) {
	t.Parallel()
	db := redistest.New(t)
	opt, err := redis.ParseURL(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	b := backend{name: "single", rdb: c, prefix: db.Prefix}
	e := newTestEngine(t, b)
	ensure(t, e, "failopen", Settings{RatePerMinute: 1, MaxActive: 1, Session: time.Hour, MaxSession: time.Hour, OnStoreError: "open", QueueAll: true})
	js := join(t, e, "failopen", 30)
	_ = c.Close() // Redis is now unreachable for this engine
	time.Sleep(1700 * time.Millisecond)
	admitted := 0
	for round := 0; round < 3; round++ {
		for _, j := range js {
			d := poll(t, e, j.t, 0)
			if !d.StoreDown {
				t.Fatalf("store down not reported: %+v", d.Status)
			}
			if d.Lease != nil {
				admitted++
				if !d.Lease.Unbacked || !IsUnbacked(d.Lease.JTI) || d.Lease.ExpiresAt.Sub(d.Lease.IssuedAt) > unbackedSession {
					t.Fatalf("fail-open lease %+v", d.Lease)
				}
			}
		}
	}
	if admitted != 1 {
		t.Fatalf("fail-open admitted %d of 30 at rate 1/min and cap 1, want 1", admitted)
	}
}

// A line stalled by the cap (sessions not ending) says so and shows no ETA from the
// configured rate; a paused one says paused.
func TestStalledLineSaysSo(t *testing.T) {
	t.Parallel() // mostly sleeping
	b := singleBackend(t)
	e := newTestEngine(t, b)
	ensure(t, e, "stall", Settings{RatePerMinute: 600, MaxActive: 1, Session: time.Hour, MaxSession: time.Hour, QueueAll: true})
	runEngine(t, e)
	js := join(t, e, "stall", 41)
	deadline := time.Now().Add(10 * time.Second)
	for poll(t, e, js[0].t, 0).Lease == nil {
		if time.Now().After(deadline) {
			t.Fatal("the first visitor was never admitted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// the only slot is held for an hour: nobody else can go in
	var d Decision
	for deadline = time.Now().Add(stallWindow + 10*time.Second); ; {
		d = poll(t, e, js[40].t, 0)
		if d.Stalled != StallNone || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if d.Stalled != StallSessions || d.ETALow != 0 || d.ETAHigh != 0 || d.Place != 40 {
		t.Fatalf("place 40 behind a full cap: %+v, want stalled=sessions, no ETA", d.Status)
	}
	paused := StatePaused
	if _, _, err := e.UpdateSettings(context.Background(), "stall", SettingsPatch{State: &paused}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if d = poll(t, e, js[40].t, 0); d.Stalled != StallPaused || d.State != StatePaused || d.Place != 40 {
		t.Fatalf("paused: %+v", d.Status)
	}
}

// Places never rise: three replicas polled round-robin through pause and resume, skips,
// returns and a cap that binds, each visitor carrying the best place it was shown.
func TestPlacesNeverRiseAcrossReplicas(t *testing.T) {
	t.Parallel() // mostly sleeping
	b := singleBackend(t)
	var es []*Engine
	for i := 0; i < 3; i++ {
		e := newTestEngine(t, b)
		ensure(t, e, "mono", Settings{RatePerMinute: 1200, MaxActive: 4, AbsentAfter: time.Second, Grace: time.Minute, QueueAll: true})
		runEngine(t, e)
		es = append(es, e)
	}
	ctx := context.Background()
	js := join(t, es[0], "mono", 60)
	type seen struct {
		best   int64
		away   int // polls left to skip (a phone asleep)
		leased *Lease
		done   bool
	}
	vs := make([]seen, len(js))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range vs {
		if i%4 == 1 {
			vs[i].away = 8 + rng.IntN(10) // ~2-4 s asleep: skipped, then back within grace
		}
	}
	rises, polls := 0, 0
	for round := 0; round < 60; round++ {
		if round == 15 || round == 25 {
			st := StatePaused
			if round == 25 {
				st = StateOpen
			}
			if _, _, err := es[round%3].UpdateSettings(ctx, "mono", SettingsPatch{State: &st}, 0, nil); err != nil {
				t.Fatal(err)
			}
		}
		for i := range vs {
			v := &vs[i]
			if v.done {
				continue
			}
			if v.away > 0 {
				v.away--
				continue
			}
			if v.leased != nil { // a short session, then done
				if rng.IntN(3) == 0 {
					_ = es[i%3].Release(ctx, "mono", v.leased.JTI, OutcomeBooked)
					v.done = true
				}
				continue
			}
			d, err := es[(round+i)%3].Poll(ctx, js[i].t, PollOptions{BestPlace: v.best})
			if errors.Is(err, ErrTicketSpent) {
				v.done = true // away past grace: nothing to compare
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			polls++
			if d.Lease != nil {
				v.leased = d.Lease
				continue
			}
			if d.PlaceRose || (v.best > 0 && d.Place > v.best) {
				rises++
				t.Errorf("visitor %d: place %d after %d (rose=%v, returning=%v)", i+1, d.Place, v.best, d.PlaceRose, d.Returning)
			}
			if d.Place > 0 && (v.best == 0 || d.Place < v.best) {
				v.best = d.Place
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	admitted := 0
	for _, v := range vs {
		if v.leased != nil {
			admitted++
		}
	}
	t.Logf("%d polls, %d admitted, %d rises", polls, admitted, rises)
	if admitted < 20 {
		t.Fatalf("only %d admitted: the scene did not exercise the line", admitted)
	}
}
