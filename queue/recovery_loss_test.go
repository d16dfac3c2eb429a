package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foyerhq/foyer/queue/redistest"
)

// privateBackend starts a redis-server of the test's own, to kill and restart.
func privateBackend(t *testing.T, name string) (*redistest.Server, backend) {
	t.Helper()
	if testing.Short() {
		t.Skip("restarts a private redis-server")
	}
	srv := redistest.StartServer(t)
	c := srv.Client(t)
	c.Options().MaxRetries = 0
	return srv, backend{name: "private", rdb: c, prefix: name}
}

// restartEmpty kills the server (its data is gone) and starts it again.
func restartEmpty(t *testing.T, srv *redistest.Server) {
	t.Helper()
	srv.Stop()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
}

// stepOK steps the room, retrying while the client reconnects after a restart.
func stepOK(t *testing.T, e *Engine, room string) *snapshot {
	t.Helper()
	r := e.cached(room)
	var err error
	for i := 0; i < 20; i++ {
		var s *snapshot
		if s, err = e.refresh(context.Background(), r); err == nil {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("step: %v", err)
	return nil
}

func claimAll(t *testing.T, e *Engine, js []joined) []Lease {
	t.Helper()
	var out []Lease
	for _, j := range js {
		l, err := e.Claim(context.Background(), j.t)
		if err != nil {
			t.Fatalf("claim of ticket %d: %v", j.t.Number, err)
		}
		out = append(out, l)
	}
	return out
}

// admitNow returns the leases the visitors of js get by claiming, a step (returning visitors,
// orphans of a restore, are served by the step), and claiming again.
func admitNow(t *testing.T, e *Engine, room string, js []joined) []Lease {
	t.Helper()
	ctx := context.Background()
	got := map[int64]Lease{}
	for pass := 0; pass < 2; pass++ {
		for _, j := range js {
			if l, err := e.Claim(ctx, j.t); err == nil {
				got[j.t.Number] = l
			}
		}
		if pass == 0 {
			time.Sleep(20 * time.Millisecond)
			stepOK(t, e, room)
		}
	}
	var out []Lease
	for _, l := range got {
		out = append(out, l)
	}
	return out
}

// TestReleaseIsOneShotAfterRestore: after Redis restarts empty, releasing one lost lease many
// times frees one slot, not one per call (issue 12: six releases admitted 9 under a cap of 5);
// a lease released before the loss, or claimed after the restore, frees nothing more when
// released again, on any gateway.
func TestReleaseIsOneShotAfterRestore(t *testing.T) {
	t.Parallel()
	srv, b := privateBackend(t, "once")
	ctx := context.Background()
	e := newTestEngine(t, b)
	other := newTestEngine(t, b) // a gateway that did not see the first releases
	ensure(t, e, "once", Settings{RatePerMinute: 60000, MaxActive: 5, QueueAll: true})
	js := join(t, e, "once", 14)
	time.Sleep(20 * time.Millisecond)
	stepOK(t, e, "once")
	leases := claimAll(t, e, js[:5])
	early := leases[4]
	if err := e.Release(ctx, "once", early.JTI, OutcomeBooked); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	stepOK(t, e, "once")
	leases = append(leases[:4], claimAll(t, e, js[5:6])...)
	stepOK(t, e, "once")

	restartEmpty(t, srv)
	stepOK(t, e, "once")
	if v, _ := e.View("once"); v.Active < 5 {
		t.Fatalf("active after the loss = %d, want the 5 lost leases counted", v.Active)
	}
	for i := 0; i < 6; i++ {
		err := e.Release(ctx, "once", leases[0].JTI, OutcomeBooked)
		if i == 0 && err != nil || i > 0 && !errors.Is(err, ErrUnknownLease) {
			t.Fatalf("release %d of a lost lease: %v", i+1, err)
		}
	}
	if err := other.Release(ctx, "once", leases[0].JTI, OutcomeBooked); !errors.Is(err, ErrUnknownLease) {
		t.Fatalf("release of a released lost lease on another gateway: %v", err)
	}
	if err := e.Release(ctx, "once", early.JTI, OutcomeAbandoned); !errors.Is(err, ErrUnknownLease) {
		t.Fatalf("release again of a lease released before the loss: %v", err)
	}
	time.Sleep(orphanSettle + 50*time.Millisecond)
	stepOK(t, e, "once")
	got := admitNow(t, e, "once", js[6:])
	if len(got) != 1 {
		t.Fatalf("%d admitted after one lost lease was released (7 releases sent), want 1", len(got))
	}

	// a lease claimed after the restore, released again and again elsewhere: one slot
	l := got[0]
	stepOK(t, e, "once")
	for i := 0; i < 4; i++ {
		err := other.Release(ctx, "once", l.JTI, OutcomeBooked)
		if i == 0 && err != nil || i > 0 && !errors.Is(err, ErrUnknownLease) {
			t.Fatalf("release %d of a lease claimed after the restore: %v", i+1, err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	stepOK(t, e, "once")
	n := 0
	for _, got := range admitNow(t, e, "once", js[6:]) {
		if got.JTI != l.JTI {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d admitted after one more release, want 1", n)
	}
	if v, _ := e.View("once"); v.Active+v.Offers > 5 {
		t.Fatalf("active %d + offers %d above the cap 5", v.Active, v.Offers)
	}
}

// TestRestoreServedNotAdmittedAgain: after Redis restarts empty, visitors who were served
// (claimed, on this gateway or another live one) are spent, while the admissions that were
// outstanding (offers not yet claimed) are re-offered once (issue 12: served visitors came back
// in ahead of the line).
func TestRestoreServedNotAdmittedAgain(t *testing.T) {
	t.Parallel()
	srv, b := privateBackend(t, "served")
	ctx := context.Background()
	e, e2 := newTestEngine(t, b), newTestEngine(t, b)
	ensure(t, e, "served", Settings{RatePerMinute: 600, MaxActive: 10, QueueAll: true})
	ensure(t, e2, "served", Settings{})
	js := join(t, e, "served", 16)
	time.Sleep(1100 * time.Millisecond) // a second's credit: 10 offers
	stepOK(t, e, "served")
	stepOK(t, e2, "served")
	leases := claimAll(t, e, js[:6])
	leases = append(leases, claimAll(t, e2, js[6:8])...)
	for _, l := range leases[:5] {
		if err := e.Release(ctx, "served", l.JTI, OutcomeBooked); err != nil {
			t.Fatal(err)
		}
	}
	stepOK(t, e, "served")
	stepOK(t, e2, "served")
	v, _ := e.View("served")
	outstanding := js[8:v.Head]

	restartEmpty(t, srv)
	stepOK(t, e, "served")  // restores
	stepOK(t, e2, "served") // sends its account of its claims
	time.Sleep(orphanSettle + 50*time.Millisecond)
	for _, j := range js[:8] {
		if _, err := e.Claim(ctx, j.t); !errors.Is(err, ErrTicketSpent) {
			t.Fatalf("served ticket %d after the loss: %v, want spent", j.t.Number, err)
		}
	}
	for _, j := range outstanding {
		if _, err := e.Claim(ctx, j.t); !errors.Is(err, ErrNotYourTurn) {
			t.Fatalf("outstanding ticket %d after the loss: %v, want returning", j.t.Number, err)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	stepOK(t, e, "served")
	for _, j := range outstanding {
		if _, err := e.Claim(ctx, j.t); err != nil {
			t.Fatalf("outstanding ticket %d not let in after the loss: %v", j.t.Number, err)
		}
	}
	stepOK(t, e, "served")
	if v, _ := e.View("served"); v.Active+v.Offers > 10 {
		t.Fatalf("active %d + offers %d above the cap 10", v.Active, v.Offers)
	}
}

// TestCounterAfterGatewayAndRedisLost: gateway A and Redis die together; gateway B, whose
// cache is a step behind A's last joins, restores the counter: it must not issue any number A
// handed out (issue 12: numbers issued twice).
func TestCounterAfterGatewayAndRedisLost(t *testing.T) {
	t.Parallel()
	srv, b := privateBackend(t, "two")
	a, gb := newTestEngine(t, b), newTestEngine(t, b)
	ensure(t, a, "two", Settings{RatePerMinute: 600, MaxActive: 10})
	ensure(t, gb, "two", Settings{})
	issued := map[int64]bool{}
	for i := 0; i < 12; i++ {
		for _, j := range join(t, a, "two", 5) {
			issued[j.t.Number] = true
		}
		stepOK(t, gb, "two")
		time.Sleep(100 * time.Millisecond)
	}
	for _, j := range join(t, a, "two", 5) { // after B's last step
		issued[j.t.Number] = true
	}

	restartEmpty(t, srv) // A is gone with it: never used again
	stepOK(t, gb, "two")
	for _, j := range join(t, gb, "two", 30) {
		if issued[j.t.Number] {
			t.Fatalf("number %d issued twice: by A before the loss and by B after", j.t.Number)
		}
	}
}

// TestClaimRefusesAnotherVisitorsLease: a second holder of a number (another visitor) is refused
// the lease; the first keeps it (issue 12: both holders were admitted on one lease).
func TestClaimRefusesAnotherVisitorsLease(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "twin", Settings{RatePerMinute: 60000, MaxActive: 5, QueueAll: true})
	js := join(t, e, "twin", 1)
	time.Sleep(20 * time.Millisecond)
	step(t, e, "twin")
	l := claimAll(t, e, js)[0]
	twin := js[0].t
	twin.Visitor = NewVisitorID()
	if got, err := e.Claim(ctx, twin); !errors.Is(err, ErrTicketSpent) {
		t.Fatalf("claim by another visitor of a leased number: %+v, %v", got, err)
	}
	again, err := e.Claim(ctx, js[0].t)
	if err != nil || again.JTI != l.JTI {
		t.Fatalf("claim again by the holder: %+v, %v", again, err)
	}
}

// TestSnapshotRestoreResumesAdmissions: Redis restarts from an older snapshot (RDB) whose
// leases were released since; admissions go on at once: the live leases count (and free their
// slot when released), the stale ones do not, and the offers outstanding at the loss are
// re-offered (issue 12: a 10-second-old snapshot stopped admissions for 42 s).
func TestSnapshotRestoreResumesAdmissions(t *testing.T) {
	t.Parallel()
	srv, b := privateBackend(t, "snap")
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "snap", Settings{RatePerMinute: 6000, MaxActive: 5, QueueAll: true})
	js := join(t, e, "snap", 20)
	time.Sleep(60 * time.Millisecond)
	stepOK(t, e, "snap")
	old := claimAll(t, e, js[:5])
	stepOK(t, e, "snap")
	if err := b.rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for _, l := range old {
		if err := e.Release(ctx, "snap", l.JTI, OutcomeBooked); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(60 * time.Millisecond)
	stepOK(t, e, "snap")
	live := claimAll(t, e, js[5:8])
	stepOK(t, e, "snap")
	if v, _ := e.View("snap"); v.Active != 3 || v.Offers != 2 || v.Head != 10 {
		t.Fatalf("before the loss: %+v", v)
	}

	restartEmpty(t, srv) // loads the RDB saved above
	if n, _ := b.rdb.Exists(ctx, e.cached("snap").keys.meta).Result(); n != 1 {
		t.Fatal("the snapshot was not loaded")
	}
	stepOK(t, e, "snap")
	time.Sleep(orphanSettle + 50*time.Millisecond)
	// admissions go on at once: 3 live leases, and the capacity the 2 outstanding offers held
	got := admitNow(t, e, "snap", js[8:])
	if len(got) != 2 {
		t.Fatalf("%d admitted after the snapshot restore, want 2 (a cap of 5, 3 live leases)", len(got))
	}
	// a live lease missing from the snapshot frees its slot when released
	for _, l := range live[:2] {
		if err := e.Release(ctx, "snap", l.JTI, OutcomeBooked); err != nil {
			t.Fatalf("release of a live lease missing from the snapshot: %v", err)
		}
	}
	time.Sleep(60 * time.Millisecond)
	stepOK(t, e, "snap")
	got = admitNow(t, e, "snap", js[8:])
	if len(got) != 4 {
		t.Fatalf("%d admitted after 2 more releases, want 4", len(got))
	}
	if v, _ := e.View("snap"); v.Active+v.Offers > 5 {
		t.Fatalf("active %d + offers %d above the cap 5", v.Active, v.Offers)
	}
	// the offers outstanding at the loss are let in (now, or once slots free)
	in := map[int64]bool{}
	for _, l := range got {
		in[l.Ticket] = true
	}
	for _, l := range append(got, live[2]) {
		if err := e.Release(ctx, "snap", l.JTI, OutcomeBooked); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(60 * time.Millisecond)
	stepOK(t, e, "snap")
	for _, l := range admitNow(t, e, "snap", js[8:10]) {
		in[l.Ticket] = true
	}
	if !in[js[8].t.Number] || !in[js[9].t.Number] {
		t.Fatalf("the offers outstanding at the loss (tickets %d, %d) were not let in: %v", js[8].t.Number, js[9].t.Number, in)
	}
}

// TestRestoreServedByDeadGateway: a gateway dies together with Redis; the visitors it served
// are still spent after the restore, because it announced their positions to the others.
func TestRestoreServedByDeadGateway(t *testing.T) {
	t.Parallel()
	srv, b := privateBackend(t, "dead")
	ctx := context.Background()
	e := newTestEngine(t, b)
	dead := newTestEngine(t, b)
	ensure(t, e, "dead", Settings{RatePerMinute: 600, MaxActive: 10, QueueAll: true})
	ensure(t, dead, "dead", Settings{})
	runEngine(t, e) // the survivor listens to the announcements
	js := join(t, dead, "dead", 12)
	time.Sleep(1100 * time.Millisecond)
	stepOK(t, dead, "dead")
	leases := claimAll(t, dead, js[:4])
	for _, l := range leases[:2] {
		if err := dead.Release(ctx, "dead", l.JTI, OutcomeBooked); err != nil {
			t.Fatal(err)
		}
	}
	stepOK(t, dead, "dead") // announces the claims
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := e.cached("dead")
		r.served.mu.Lock()
		heard := len(r.served.bits) > 0 && r.served.bits[0]&0x78 == 0x78 // positions 1..4
		r.served.mu.Unlock()
		if heard {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the survivor never heard the dead gateway's claims")
		}
		time.Sleep(20 * time.Millisecond)
	}

	restartEmpty(t, srv) // the dead gateway is never used again
	for e.restores.Load() == 0 {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("no restore")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(orphanSettle + 200*time.Millisecond)
	for _, j := range js[:4] {
		if _, err := e.Claim(ctx, j.t); !errors.Is(err, ErrTicketSpent) {
			t.Fatalf("ticket %d served by the dead gateway, after the loss: %v, want spent", j.t.Number, err)
		}
	}
}
