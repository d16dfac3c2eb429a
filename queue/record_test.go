package queue

import (
	"context"
	"testing"
	"time"
)

// The fairness record's figures on a crafted line with known answers: ten admissions written
// to the real ledger with chosen join and admission times, first ETA notes and one returner
// mark sent by the real flush. Expected: 8 in order, 1 through the returning lane, 1 overtaken
// (let in 50 s after someone from further back, beyond the 10 s offer window); waits exact by
// nearest rank; ETA held 4, early 1, late 2 of the 7 judged (the returner and the overtaken one
// are not judged).
func TestFairnessRecordFigures(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "fig", Settings{RatePerMinute: 600, MaxActive: 100, AbsentAfter: 10 * time.Second})
	step(t, e, "fig")
	r := e.cached("fig")
	t0 := r.redisNow().Truncate(time.Second).Add(time.Hour) // after the opening: waits count from joining
	sec := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	admitted := map[int64]int{1: 10, 2: 20, 3: 30, 4: 40, 5: 200, 6: 60, 7: 70, 8: 150, 9: 90, 10: 100}
	for pos, at := range admitted {
		l := Lease{JTI: "fig." + time.Duration(pos).String(), Visitor: NewVisitorID(), Room: "fig", Position: pos,
			IssuedAt: sec(at), ExpiresAt: sec(at + 600), MaxUntil: sec(at + 1200)}
		e.ledgerAdmit(ctx, r, l, t0)
	}
	notes := map[int64][2]int{1: {5, 15}, 2: {25, 40}, 3: {10, 29}, 4: {40, 50}, 5: {0, 10}, 6: {30, 90}, 8: {0, 500}, 9: {60, 120}, 10: {0, 99}}
	for pos, n := range notes {
		r.noteShown(pos, t0, time.Duration(n[0])*time.Second, time.Duration(n[1])*time.Second)
	}
	r.noteReturned(5)
	if err := e.flushNotes(ctx, r); err != nil {
		t.Fatal(err)
	}
	// first wins: a later range for position 1, noted by another replica, changes nothing
	e2 := newTestEngine(t, b)
	ensure(t, e2, "fig", Settings{})
	r2 := e2.cached("fig")
	r2.noteShown(1, t0, 0, time.Second)
	if err := e2.flushNotes(ctx, r2); err != nil {
		t.Fatal(err)
	}
	// and this replica sends a position once, however often it is shown its first place
	r.noteShown(2, t0, 0, time.Second)
	if len(r.notes.eta) != 0 {
		t.Fatalf("position 2 noted again after its flush: %v", r.notes.eta)
	}
	rec, err := e.FairnessRecord(ctx, "fig")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("record: %+v", rec)
	if rec.Admissions != 10 || rec.InOrder != 8 || rec.ReturnedLane != 1 || rec.Overtaken != 1 {
		t.Errorf("order: %d admissions, %d in order, %d returned, %d overtaken; want 10, 8, 1, 1",
			rec.Admissions, rec.InOrder, rec.ReturnedLane, rec.Overtaken)
	}
	want := Quantiles{N: 10, Min: 10, P10: 10, P25: 30, P50: 60, P75: 100, P90: 150, P99: 200, Max: 200, Mean: 77}
	if rec.Waits != want {
		t.Errorf("waits %+v, want %+v", rec.Waits, want)
	}
	if rec.ETAJudged != 7 || rec.ETAHeld != 4 || rec.ETAEarly != 1 || rec.ETALate != 2 {
		t.Errorf("ETA: judged %d held %d early %d late %d; want 7, 4, 1, 2", rec.ETAJudged, rec.ETAHeld, rec.ETAEarly, rec.ETALate)
	}
	if rec.Trimmed || rec.LedgerBound != DefaultLedgerMax || rec.OfferWindow != 10*time.Second {
		t.Errorf("basis: trimmed %v bound %d window %s", rec.Trimmed, rec.LedgerBound, rec.OfferWindow)
	}
	for _, key := range []string{r.keys.firstETA(), r.keys.returned()} {
		if ttl := b.rdb.PTTL(ctx, key).Val(); ttl <= 29*24*time.Hour {
			t.Errorf("%s: TTL %s, want the ledger's 30 days", key, ttl)
		}
	}
	if n := b.rdb.StrLen(ctx, r.keys.firstETA()).Val(); n != 10*12 {
		t.Errorf("first-ETA string %d bytes, want 12 per position up to the highest noted (120)", n)
	}
}

// A pre-queue visitor's wait counts from the opening, not from joining before it.
func TestFairnessRecordPrequeueWaitFromOpening(t *testing.T) {
	rec := Record{OfferWindow: 10 * time.Second}
	opened := int64(1_000_000)
	figure(&rec, []admission{
		{pos: 1, atMs: opened + 30_000, joinedS: (opened - 600_000) / 1000}, // joined 10 min before the opening
		{pos: 2, atMs: opened + 45_000, joinedS: (opened + 5_000) / 1000},
	}, opened)
	if rec.Waits.Min != 30 || rec.Waits.Max != 40 || rec.InOrder != 2 {
		t.Fatalf("waits %+v in order %d, want 30 s (from the opening) and 40 s, both in order", rec.Waits, rec.InOrder)
	}
}

// The record of a real line: a visitor skipped while away comes back and is let in through
// the returning lane; everyone else in order; the visitors shown a place after the opening
// have their first ETA judged.
func TestFairnessRecordFromTheLine(t *testing.T) {
	t.Parallel() // mostly sleeping
	b := singleBackend(t)
	e := newTestEngine(t, b)
	ctx := context.Background()
	js := skipScene(t, e, "line") // offers 1, 4; skipped 2, 3, 5; 6, 7 wait
	for _, n := range []int{6, 7} {
		if d := poll(t, e, js[n-1].t, 0); d.ETAHigh <= 0 {
			t.Fatalf("visitor %d shown no ETA: %+v", n, d.Status)
		}
	}
	claim := func(n int) Lease {
		t.Helper()
		d := poll(t, e, js[n-1].t, 1)
		if d.Lease == nil {
			t.Fatalf("visitor %d not admitted: %+v", n, d.Status)
		}
		return *d.Lease
	}
	l1, l4 := claim(1), claim(4)
	if d := poll(t, e, js[2].t, 0); !d.Returning {
		t.Fatalf("visitor 3 back: %+v, want returning", d.Status)
	}
	release := func(l Lease) {
		t.Helper()
		if err := e.Release(ctx, "line", l.JTI, OutcomeBooked); err != nil {
			t.Fatal(err)
		}
		step(t, e, "line")
	}
	release(l1)
	l3 := claim(3)
	release(l4)
	l6 := claim(6)
	release(l3)
	claim(7)
	release(l6)
	if err := e.flushNotes(ctx, e.cached("line")); err != nil {
		t.Fatal(err)
	}
	rec, err := e.FairnessRecord(ctx, "line")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("record: %+v", rec)
	if rec.Admissions != 5 || rec.InOrder != 4 || rec.ReturnedLane != 1 || rec.Overtaken != 0 {
		t.Errorf("order: %d admissions, %d in order, %d returned, %d overtaken; want 5, 4, 1, 0",
			rec.Admissions, rec.InOrder, rec.ReturnedLane, rec.Overtaken)
	}
	if rec.Joined != 7 || rec.Skipped != 3 || rec.Returned != 1 || rec.Waits.N != 5 {
		t.Errorf("counters: joined %d skipped %d returned %d waits %d; want 7, 3, 1, 5", rec.Joined, rec.Skipped, rec.Returned, rec.Waits.N)
	}
	if rec.ETAJudged != 2 || rec.ETAHeld+rec.ETAEarly+rec.ETALate != 2 {
		t.Errorf("ETA judged %d (held %d early %d late %d), want 2: visitors 6 and 7", rec.ETAJudged, rec.ETAHeld, rec.ETAEarly, rec.ETALate)
	}
}

// The notes' cost in Redis: 12 bytes per position shown an ETA, 1 bit per position for the
// returned marks (plus Redis's preallocation of a growing string, at most 1 MiB), written in one
// call per room per flush. Measured for 100,000 positions.
func TestFairnessNotesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("notes 100,000 positions")
	}
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "mem", Settings{RatePerMinute: 600, MaxActive: 10})
	r := e.cached("mem")
	const n = 100_000
	now := time.Now()
	for start := int64(1); start <= n; start += maxNotesPerFlush {
		for pos := start; pos < start+maxNotesPerFlush && pos <= n; pos++ {
			r.noteShown(pos, now, time.Minute, 3*time.Minute)
			if pos%10 == 0 {
				r.noteReturned(pos)
			}
		}
		if err := e.flushNotes(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	eta := b.rdb.MemoryUsage(ctx, r.keys.firstETA(), 0).Val()
	ret := b.rdb.MemoryUsage(ctx, r.keys.returned(), 0).Val()
	per := float64(eta+ret) / n
	t.Logf("%d positions: first-ETA string %d bytes, returned bitmap %d bytes: %.2f bytes per position", n, eta, ret, per)
	// Redis preallocates a growing string (doubling below 1 MiB, 1 MiB at a time beyond)
	// Redis grows a string by doubling below 1 MiB and 1 MiB at a time beyond, and the
	// allocator rounds up to its size classes: at most twice the 12 bytes, plus 1 MiB
	if limit := 24.2 + float64(1<<20)/n; per > limit {
		t.Fatalf("%.2f bytes per position, want at most %.2f (12 per position, with Redis's preallocation)", per, limit)
	}
}
