package queue

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// Every admission gets a record; the release's outcome, observations and the lease's end are
// in it; a lease that runs out is "expired"; the ledger's keys have its TTL and it is trimmed
// to its size bound.
func TestLedgerRecordsAndBounds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e := newTestEngine(t, b, func(c *Config) { c.LedgerMax = 3; c.LedgerTTL = 2 * 24 * time.Hour })
		ensure(t, e, "led", Settings{RatePerMinute: 6000, MaxActive: 10, QueueAll: true, Session: 10 * time.Second})
		js := join(t, e, "led", 5)
		step(t, e, "led")
		var leases []Lease
		for _, j := range js {
			l, err := e.Claim(ctx, j.t)
			if err != nil {
				t.Fatalf("claim: %v", err)
			}
			leases = append(leases, l)
		}
		// a second claim of the same lease writes no second record
		if _, err := e.Claim(ctx, js[4].t); err != nil {
			t.Fatal(err)
		}
		if err := e.Release(ctx, "led", leases[4].JTI, OutcomeBooked); err != nil {
			t.Fatal(err)
		}
		if err := e.Observe(ctx, "led", leases[3].JTI, ObservePayment, "2xx", "ORD-1"); err != nil {
			t.Fatal(err)
		}
		recs, err := e.Ledger(ctx, "led", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 3 { // 5 admissions, bound 3: the oldest two trimmed
			t.Fatalf("%d records, want 3 (the size bound): %+v", len(recs), recs)
		}
		top := recs[0]
		if top.Lease != leases[4].JTI || top.Visitor != js[4].t.Visitor || top.Outcome != OutcomeBooked ||
			top.Position != leases[4].Position || top.AdmittedAt.IsZero() || top.SessionEnd.Before(top.AdmittedAt) {
			t.Fatalf("newest record %+v, lease %+v", top, leases[4])
		}
		if r := recs[1]; r.Outcome != "" || r.Payment["2xx"] != 1 || r.OrderRef != "ORD-1" || r.Flag != "" ||
			!r.SessionEnd.Equal(leases[3].ExpiresAt) {
			t.Fatalf("paid, still inside: %+v", r)
		}
		for _, key := range []string{e.cached("led").keys.ledger(), e.cached("led").keys.ledgerIndex()} {
			ttl, err := b.rdb.PTTL(ctx, key).Result()
			if err != nil || ttl <= 24*time.Hour || ttl > 2*24*time.Hour {
				t.Fatalf("%s ttl %s %v, want the ledger's 2 days", key, ttl, err)
			}
		}
		// the lease runs out: expired, and the paid one with no confirmation is flagged
		if _, err := b.rdb.ZRem(ctx, e.cached("led").keys.leases, leases[3].JTI, leases[2].JTI).Result(); err != nil {
			t.Fatal(err)
		}
		recs, _ = e.Ledger(ctx, "led", 100)
		if recs[1].Outcome != OutcomeExpired || recs[1].Flag != FlagNoConfirm || recs[2].Outcome != OutcomeExpired || recs[2].Flag != "" {
			t.Fatalf("after expiry: %+v", recs[1:])
		}
		size, _ := b.rdb.MemoryUsage(ctx, e.cached("led").keys.ledger()).Result()
		t.Logf("ledger hash: %d bytes for %d records", size, len(recs))
		if err := e.Observe(ctx, "led", leases[3].JTI, "refund", "2xx", ""); !errors.Is(err, ErrInvalidObservation) {
			t.Fatalf("bad kind: %v", err)
		}
	})
}

// Charged but not booked: a payment followed by a timed-out confirmation is flagged at once;
// a confirmation that succeeds clears it; a backend's "failed" after payment is flagged; a
// resolution takes it off the list, is audited, and cannot be made twice.
func TestLedgerFlagsChargedNotBooked(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "flag", Settings{RatePerMinute: 6000, MaxActive: 10, QueueAll: true})
	js := join(t, e, "flag", 3)
	step(t, e, "flag")
	var ls []Lease
	for _, j := range js {
		l, err := e.Claim(ctx, j.t)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	obs := func(l Lease, kind, class, ref string) {
		t.Helper()
		if err := e.Observe(ctx, "flag", l.JTI, kind, class, ref); err != nil {
			t.Fatal(err)
		}
	}
	obs(ls[0], ObservePayment, "2xx", "A-1")
	obs(ls[0], ObserveConfirm, "timeout", "")
	obs(ls[1], ObservePayment, "2xx", "B-2")
	obs(ls[1], ObserveConfirm, "5xx", "")
	obs(ls[1], ObserveConfirm, "2xx", "") // the retry worked
	obs(ls[2], ObservePayment, "2xx", "C-3")
	if err := e.Release(ctx, "flag", ls[2].JTI, OutcomeFailed); err != nil {
		t.Fatal(err)
	}
	fl, err := e.Flagged(ctx, "flag", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(fl) != 2 || fl[0].Lease != ls[0].JTI || fl[0].Flag != FlagConfirmTimeout || fl[0].OrderRef != "A-1" ||
		fl[1].Lease != ls[2].JTI || fl[1].Flag != FlagFailedAfterPayment {
		t.Fatalf("flagged: %+v", fl)
	}
	r, err := e.Resolve(ctx, "flag", ls[0].JTI, ResolutionRefunded, "alice", func(r LedgerRecord) []byte {
		b, _ := json.Marshal(map[string]string{"actor": r.ResolvedBy, "resolution": r.Resolution, "order_ref": r.OrderRef})
		return b
	})
	if err != nil || r.Resolution != ResolutionRefunded || r.ResolvedBy != "alice" || r.ResolvedAt.IsZero() {
		t.Fatalf("resolve: %+v %v", r, err)
	}
	if _, err := e.Resolve(ctx, "flag", ls[0].JTI, ResolutionRefunded, "bob", nil); !errors.Is(err, ErrAlreadyResolved) {
		t.Fatalf("second resolve: %v", err)
	}
	if _, err := e.Resolve(ctx, "flag", "zz.nope", ResolutionRefunded, "bob", nil); !errors.Is(err, ErrNotFlagged) {
		t.Fatalf("unknown resolve: %v", err)
	}
	fl, _ = e.Flagged(ctx, "flag", 100)
	if len(fl) != 1 || fl[0].Lease != ls[2].JTI {
		t.Fatalf("after resolve: %+v", fl)
	}
	au, err := e.Audit(ctx, []string{"flag"}, 10)
	if err != nil || len(au) != 1 || string(au[0]) != `{"actor":"alice","order_ref":"A-1","resolution":"refunded"}` {
		t.Fatalf("audit: %q %v", au, err)
	}
}

// TestLedgerFailedWithoutObservedPayment: the backend's "failed" puts the visitor on the refund
// list even when foyer saw no payment (token mode, or a booking made in one request), as
// docs/backend-integration.md promises; "abandoned" and "booked" do not.
func TestLedgerFailedWithoutObservedPayment(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "flag1", Settings{RatePerMinute: 6000, MaxActive: 10, QueueAll: true})
	js := join(t, e, "flag1", 3)
	step(t, e, "flag1")
	var ls []Lease
	for _, j := range js {
		l, err := e.Claim(ctx, j.t)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	for i, o := range []Outcome{OutcomeFailed, OutcomeAbandoned, OutcomeBooked} {
		if err := e.Release(ctx, "flag1", ls[i].JTI, o); err != nil {
			t.Fatal(err)
		}
	}
	fl, err := e.Flagged(ctx, "flag1", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(fl) != 1 || fl[0].Lease != ls[0].JTI || fl[0].Flag != FlagFailedAfterPayment || fl[0].Visitor != js[0].t.Visitor {
		t.Fatalf("flagged: %+v", fl)
	}
}
