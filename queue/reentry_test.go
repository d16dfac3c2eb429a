package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// admitAll steps once and claims every ticket (a room with QueueAll and room to spare).
func admitAll(t *testing.T, e *Engine, room string, js []joined) []Lease {
	t.Helper()
	step(t, e, room)
	out := make([]Lease, len(js))
	for i, j := range js {
		l, err := e.Claim(context.Background(), j.t)
		if err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
		out[i] = l
	}
	return out
}

func ledgerOf(t *testing.T, e *Engine, room, jti string) LedgerRecord {
	t.Helper()
	recs, err := e.Ledger(context.Background(), room, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Lease == jti {
			return r
		}
	}
	t.Fatalf("no ledger record for %s", jti)
	return LedgerRecord{}
}

// A second chance is granted only on evidence: the backend's failed report, or the ledger's
// charged-but-not-booked evidence; never on a visitor's own abandon, nor after a confirmed
// payment. It is used once: the re-entry's own failure earns nothing. It belongs to the
// visitor the admission was made for: another visitor presenting the same ticket number gets
// nothing and leaves the grant intact. The grant and its use are in the ledger and the stats.
func TestReentryGrantedOnceAndOnlyOnEvidence(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		const room = "second"
		e := newTestEngine(t, b)
		other := newTestEngine(t, b) // another replica: a forged poll must not poison this one's cache
		ensure(t, e, room, Settings{RatePerMinute: 60000, MaxActive: 100, QueueAll: true, Grace: time.Minute, ReentryShare: 0.5})
		js := join(t, e, room, 5)
		ls := admitAll(t, e, room, js)
		a, bb, c, d, x := js[0], js[1], js[2], js[3], js[4]

		// A: the backend reports failed (a grant); B: the visitor gave up itself (none);
		// C: paid, no confirmation, then gave up (evidence); D: paid and confirmed (none);
		// X: failed is reported once the organiser turned re-entry off (below)
		if err := e.Release(ctx, room, ls[0].JTI, OutcomeFailed); err != nil {
			t.Fatal(err)
		}
		if err := e.Release(ctx, room, ls[1].JTI, OutcomeAbandoned); err != nil {
			t.Fatal(err)
		}
		for _, o := range []struct {
			l           Lease
			kind, class string
		}{{ls[2], ObservePayment, "2xx"}, {ls[2], ObserveConfirm, "timeout"}, {ls[3], ObservePayment, "2xx"}, {ls[3], ObserveConfirm, "2xx"}} {
			if err := e.Observe(ctx, room, o.l.JTI, o.kind, o.class, ""); err != nil {
				t.Fatal(err)
			}
		}
		for _, l := range ls[2:4] {
			if err := e.Release(ctx, room, l.JTI, OutcomeAbandoned); err != nil {
				t.Fatal(err)
			}
		}
		if r := ledgerOf(t, e, room, ls[0].JTI); r.ReentryGrantedBy != ReentryByBackend || r.ReentryGrantedAt.IsZero() ||
			!r.ReentryUntil.After(r.ReentryGrantedAt) || !r.ReentryUsedAt.IsZero() {
			t.Fatalf("A's record after the failed report: %+v", r)
		}

		// someone else presenting A's and C's numbers (a copied ticket: another visitor id)
		for _, j := range []joined{a, c} {
			forged := j.t
			forged.Visitor = NewVisitorID()
			if _, err := other.Poll(ctx, forged, PollOptions{}); !errors.Is(err, ErrTicketSpent) {
				t.Fatalf("forged poll of ticket %d: %v, want spent", j.t.Number, err)
			}
		}

		// B and D: no evidence, spent as before
		for _, j := range []joined{bb, d} {
			if _, err := e.Poll(ctx, j.t, PollOptions{}); !errors.Is(err, ErrTicketSpent) {
				t.Fatalf("ticket %d without evidence: %v, want spent", j.t.Number, err)
			}
		}
		// A and C: the re-entry lane, in the order they came back
		da := poll(t, e, a.t, 0)
		dc := poll(t, e, c.t, 0)
		if !da.Reentry || da.Lease != nil || da.Place != 1 || !dc.Reentry || dc.Place != 2 || dc.Admitted {
			t.Fatalf("back after a failed booking: A %+v, C %+v", da.Status, dc.Status)
		}
		if r := ledgerOf(t, e, room, ls[2].JTI); r.ReentryGrantedBy != ReentryByEvidence || r.ReentryUsedAt.IsZero() || r.Flag == "" {
			t.Fatalf("C's record: %+v", r)
		}
		step(t, e, room)
		da, dc = poll(t, e, a.t, 0), poll(t, e, c.t, 0)
		if da.Lease == nil || !da.Reentry || da.Lease.ReentryOf != ls[0].JTI || dc.Lease == nil || dc.Lease.ReentryOf != ls[2].JTI {
			t.Fatalf("served from the lane: A %+v %+v, C %+v %+v", da.Status, da.Lease, dc.Status, dc.Lease)
		}
		if r := ledgerOf(t, e, room, da.Lease.JTI); r.ReentryOf != ls[0].JTI {
			t.Fatalf("the re-entry's record %+v", r)
		}
		if r := ledgerOf(t, e, room, ls[0].JTI); r.ReentryUsedAt.IsZero() {
			t.Fatalf("A's record after use: %+v", r)
		}
		// a second poll of the re-entry's lease is the same admission, still a re-entry
		if again := poll(t, e, a.t, 0); again.Lease == nil || again.Lease.JTI != da.Lease.JTI || !again.Reentry {
			t.Fatalf("again: %+v", again)
		}

		// once per admission: the re-entry fails too (reported by the backend): nothing more
		if err := e.Release(ctx, room, da.Lease.JTI, OutcomeFailed); err != nil {
			t.Fatal(err)
		}
		if r := ledgerOf(t, e, room, da.Lease.JTI); r.ReentryGrantedBy != "" {
			t.Fatalf("the re-entry's failure granted another: %+v", r)
		}
		if _, err := e.Poll(ctx, a.t, PollOptions{}); !errors.Is(err, ErrTicketSpent) {
			t.Fatalf("A after the re-entry failed: %v, want spent", err)
		}

		// re-entry off: a failed report grants nothing
		off := 0.0
		if _, _, err := e.UpdateSettings(ctx, room, SettingsPatch{ReentryShare: &off}, 0, nil); err != nil {
			t.Fatal(err)
		}
		if err := e.Release(ctx, room, ls[4].JTI, OutcomeFailed); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Poll(ctx, x.t, PollOptions{}); !errors.Is(err, ErrTicketSpent) {
			t.Fatalf("re-entry off: %v, want spent", err)
		}

		step(t, e, room)
		st, err := e.Stats(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		want := ReentryStats{GrantedBackend: 1, GrantedEvidence: 1, Used: 2, Offered: 2, Admitted: 2}
		if st.Reentry != want {
			t.Fatalf("stats %+v, want %+v", st.Reentry, want)
		}
	})
}

// A backend's grant expires with the room's grace.
func TestReentryGrantExpires(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	const room = "expiry"
	ensure(t, e, room, Settings{RatePerMinute: 60000, MaxActive: 10, QueueAll: true, Grace: time.Second, ReentryShare: 1})
	js := join(t, e, room, 1)
	ls := admitAll(t, e, room, js)
	if err := e.Release(ctx, room, ls[0].JTI, OutcomeFailed); err != nil {
		t.Fatal(err)
	}
	r := ledgerOf(t, e, room, ls[0].JTI)
	if r.ReentryGrantedBy != ReentryByBackend {
		t.Fatalf("no grant: %+v", r)
	}
	for time.Now().Before(r.ReentryUntil.Add(200 * time.Millisecond)) {
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := e.Poll(ctx, js[0].t, PollOptions{}); !errors.Is(err, ErrTicketSpent) {
		t.Fatalf("after the grant's grace: %v, want spent", err)
	}
}

// With many re-entries waiting, they get at most their share of the pace and the line keeps
// moving: share 0.2 of 600 a minute, 40 re-entries waiting, 300 in the line. Measured over the
// real steps (every 100 ms) until 40 of the line went in: re-entries took at most a quarter
// as many (0.2 : 0.8) plus the lane's one-second burst.
func TestReentryShareOfThePace(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	const room = "share"
	ensure(t, e, room, Settings{RatePerMinute: 60000, MaxActive: 10000, QueueAll: true, Grace: 10 * time.Minute, ReentryShare: 0.2})
	const failed = 40
	js := join(t, e, room, failed)
	ls := admitAll(t, e, room, js)
	paused := StatePaused
	if _, _, err := e.UpdateSettings(ctx, room, SettingsPatch{State: &paused}, 0, nil); err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		if err := e.Release(ctx, room, l.JTI, OutcomeFailed); err != nil {
			t.Fatal(err)
		}
		if d := poll(t, e, js[i].t, 0); !d.Reentry || d.Place != int64(i+1) {
			t.Fatalf("re-entry %d: %+v", i, d.Status)
		}
	}
	line := join(t, e, room, 300)
	s := step(t, e, room)
	if s.reentering != failed {
		t.Fatalf("%d waiting in the re-entry lane, want %d", s.reentering, failed)
	}
	if d := poll(t, e, line[0].t, 0); d.Place != 1 || d.Reentry {
		t.Fatalf("the line's first: %+v (re-entries are not counted in a place: it must never rise)", d.Status)
	}
	rate, open := 600, StateOpen
	if _, _, err := e.UpdateSettings(ctx, room, SettingsPatch{RatePerMinute: &rate, State: &open}, 0, nil); err != nil {
		t.Fatal(err)
	}
	head0 := s.head
	runEngine(t, e)
	deadline := time.Now().Add(60 * time.Second)
	for {
		s = e.cached(room).snap.Load()
		if s.head-head0 >= 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the line moved %d in 60 s", s.head-head0)
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, _ := e.Stats(ctx, room)
	line0, re := s.head-head0, st.Reentry.Offered
	t.Logf("line admitted %d, re-entries offered %d (share 0.2), %d still waiting", line0, re, st.Reentry.Waiting)
	if re < 1 || float64(re) > float64(line0)*0.25+2 {
		t.Fatalf("re-entries %d for %d of the line: want at least 1 and at most a quarter plus the burst", re, line0)
	}
	if st.Reentry.Waiting != failed-re {
		t.Fatalf("waiting %d, want %d", st.Reentry.Waiting, failed-re)
	}
}

// Cost: a re-entry adds no round trip to the release (the grant rides on the ledger's call);
// coming back costs the one claim a returning visitor's poll makes anyway; waiting in the lane
// costs nothing; going in costs the claim and the ledger record, as any admission.
func TestReentryRoundTrips(t *testing.T) {
	b, calls := countedBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	const room = "cost"
	ensure(t, e, room, Settings{RatePerMinute: 60000, MaxActive: 10, QueueAll: true, Grace: time.Minute, ReentryShare: 0.5})
	js := join(t, e, room, 2)
	ls := admitAll(t, e, room, js)
	n0 := calls.n.Load()
	if err := e.Release(ctx, room, ls[1].JTI, OutcomeAbandoned); err != nil {
		t.Fatal(err)
	}
	plain := calls.n.Load() - n0
	n0 = calls.n.Load()
	if err := e.Release(ctx, room, ls[0].JTI, OutcomeFailed); err != nil {
		t.Fatal(err)
	}
	granted := calls.n.Load() - n0
	n0 = calls.n.Load()
	if d := poll(t, e, js[0].t, 0); !d.Reentry {
		t.Fatalf("%+v", d.Status)
	}
	back := calls.n.Load() - n0
	n0 = calls.n.Load()
	for i := 0; i < 10; i++ {
		poll(t, e, js[0].t, 0)
	}
	waiting := calls.n.Load() - n0
	step(t, e, room)
	n0 = calls.n.Load()
	if d := poll(t, e, js[0].t, 0); d.Lease == nil {
		t.Fatalf("%+v", d.Status)
	}
	in := calls.n.Load() - n0
	t.Logf("round trips: release abandoned %d, release failed with its grant %d, coming back %d, 10 polls in the lane %d, going in %d",
		plain, granted, back, waiting, in)
	if granted != plain || back != 1 || waiting != 0 || in != 2 {
		t.Fatalf("round trips: release %d (plain %d), back %d, waiting %d, in %d", granted, plain, back, waiting, in)
	}
}

// dropHook fails every script call with numkeys keys and nargs words in all (a lost call).
type dropHook struct {
	numkeys, nargs int
	dropped        atomic.Int64
}

func (h *dropHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *dropHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *dropHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		a := cmd.Args()
		if (cmd.Name() == "evalsha" || cmd.Name() == "eval") && len(a) == h.nargs && fmt.Sprint(a[2]) == fmt.Sprint(h.numkeys) {
			h.dropped.Add(1)
			cmd.SetErr(errors.New("dropped by the test"))
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}

// The backend's grant is made by the release itself, atomically: a visitor who comes back the
// moment the slot is freed finds it, even if the ledger's call after it is lost. A failed
// report that comes late (the lease had already run out) still grants it, from the ledger.
func TestReentryGrantAtomicWithReleaseAndLate(t *testing.T) {
	b, _ := countedBackend(t)
	hook := &dropHook{numkeys: 5, nargs: 3 + 5 + 3} // ledger_end.lua
	b.rdb.AddHook(hook)
	ctx := context.Background()
	e := newTestEngine(t, b)
	const room = "atomic"
	ensure(t, e, room, Settings{RatePerMinute: 60000, MaxActive: 10, QueueAll: true, Grace: time.Minute, ReentryShare: 0.5})
	js := join(t, e, room, 2)
	ls := admitAll(t, e, room, js)
	if err := e.Release(ctx, room, ls[0].JTI, OutcomeFailed); err != nil {
		t.Fatal(err)
	}
	if hook.dropped.Load() != 1 {
		t.Fatalf("the ledger's call was not dropped (%d): the test hook misses it", hook.dropped.Load())
	}
	if d := poll(t, e, js[0].t, 0); !d.Reentry {
		t.Fatalf("the release's own grant: %+v", d.Status)
	}

	// late: the lease ran out (as the step would end it), then the backend says failed
	hook.numkeys = -1
	k := e.cached(room).keys
	if err := b.rdb.ZRem(ctx, k.leases, ls[1].JTI).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.rdb.HDel(ctx, k.lease, "j:"+ls[1].JTI, "p:"+strconv.FormatInt(ls[1].Position, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.Release(ctx, room, ls[1].JTI, OutcomeFailed); !errors.Is(err, ErrUnknownLease) {
		t.Fatalf("late release: %v, want unknown lease", err)
	}
	if d := poll(t, e, js[1].t, 0); !d.Reentry {
		t.Fatalf("a late failed report: %+v", d.Status)
	}
	if r := ledgerOf(t, e, room, ls[1].JTI); r.ReentryGrantedBy != ReentryByBackend || r.ReentryUsedAt.IsZero() {
		t.Fatalf("late grant's record: %+v", r)
	}
	step(t, e, room)
	st, _ := e.Stats(ctx, room)
	if st.Reentry.GrantedBackend != 2 || st.Reentry.Used != 2 {
		t.Fatalf("stats %+v", st.Reentry)
	}
}

// Turning re-entry off grants no more, but leaves nobody stranded in the re-entry line: those
// already in it are served at the room's pace.
func TestReentryOffDrainsTheLane(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	const room = "drain"
	ensure(t, e, room, Settings{RatePerMinute: 60000, MaxActive: 10, QueueAll: true, Grace: time.Minute, ReentryShare: 0.5})
	js := join(t, e, room, 1)
	ls := admitAll(t, e, room, js)
	paused, open, off := StatePaused, StateOpen, 0.0
	if _, _, err := e.UpdateSettings(ctx, room, SettingsPatch{State: &paused}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Release(ctx, room, ls[0].JTI, OutcomeFailed); err != nil {
		t.Fatal(err)
	}
	if d := poll(t, e, js[0].t, 0); !d.Reentry || d.Place != 1 {
		t.Fatalf("in the lane: %+v", d.Status)
	}
	if _, _, err := e.UpdateSettings(ctx, room, SettingsPatch{State: &open, ReentryShare: &off}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if s := step(t, e, room); s.reentering != 0 {
		t.Fatalf("%d still in the re-entry lane after it was turned off", s.reentering)
	}
	if d := poll(t, e, js[0].t, 0); d.Lease == nil || d.Lease.ReentryOf != ls[0].JTI {
		t.Fatalf("not let in: %+v", d)
	}
}
