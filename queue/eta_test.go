package queue

import (
	"testing"
	"time"
)

// etaRoom is a room whose rate samples say: closed (nothing admitted) until openedAgo, then
// perMin admissions a minute since; now is the last sample.
func etaRoom(t *testing.T, openedAgo time.Duration, perMin float64) (*room, time.Time) {
	t.Helper()
	r := newRoom("eta-test", "r")
	now := r.redisNow()
	open := now.Add(-openedAgo)
	for at := now.Add(-time.Minute); !at.After(now); at = at.Add(time.Second) {
		n := int64(0)
		if at.After(open) {
			n = int64(at.Sub(open).Minutes() * perMin)
		}
		r.sample(at, n)
	}
	return r, open
}

func etaSnap(open time.Time, rate, maxActive int, head, active int64) *snapshot {
	return &snapshot{
		settings: Settings{RatePerMinute: rate, MaxActive: maxActive, Session: 10 * time.Minute, OpensAt: open},
		head:     head, opened: true, active: active, stats: map[string]int64{"admitted": head},
	}
}

func within(t *testing.T, what string, lo, hi, want time.Duration) {
	t.Helper()
	if want < lo || want > hi {
		t.Errorf("%s: range %v-%v does not hold the wait %v", what, lo, hi, want)
	}
	if hi > 20*max(want, time.Second) {
		t.Errorf("%s: range %v-%v is far too wide for a wait of %v", what, lo, hi, want)
	}
}

// Just after the opening, the last minute of samples is mostly the closed room: the range must
// still hold a line moving at the configured rate (it used to count the closed time and tell
// the spike five times its real wait).
func TestETAJustAfterOpening(t *testing.T) {
	r, open := etaRoom(t, 10*time.Second, 60)
	s := etaSnap(open, 60, 1000, 10, 10)
	lo, hi := r.eta(s, 110, false, 100) // 99 ahead in the main line, 60 a minute: about 100 s
	within(t, "just opened", lo, hi, 100*time.Second)
}

// A cap that binds: 10 slots, sessions of 30 s measured, so 20 a minute get in, not the
// configured 60.
func TestETACapBinds(t *testing.T) {
	r, open := etaRoom(t, 5*time.Minute, 20)
	s := etaSnap(open, 60, 10, 100, 10)
	s.stats["sessions"], s.stats["session_ms"] = 50, 50*30_000
	r.snap.Store(s)
	lo, hi := r.eta(s, 140, false, 40) // 40 to go at 20 a minute: 2 minutes
	within(t, "cap binds", lo, hi, 2*time.Minute)
}

// Nothing admitted lately though the line is not stalled (say it was empty): the range stays
// bounded instead of growing without limit.
func TestETABoundedWhenNothingMeasured(t *testing.T) {
	r, open := etaRoom(t, 5*time.Minute, 0)
	s := etaSnap(open, 60, 1000, 0, 0)
	lo, hi := r.eta(s, 30, false, 30)
	if lo <= 0 || hi <= lo || hi > 30*time.Minute/6*2 {
		t.Errorf("range %v-%v: want a positive, bounded range (at most 30 places at a tenth of the rate, widened)", lo, hi)
	}
}

// A returner's range counts only the returners ahead in its lane.
func TestETAReturner(t *testing.T) {
	r, open := etaRoom(t, 5*time.Minute, 60)
	s := etaSnap(open, 60, 1000, 500, 5)
	s.skipped, s.returning = 300, 3
	lo, hi := r.eta(s, 10, true, 3) // third in the returning lane: about 3 s
	within(t, "returner", lo, hi, 3*time.Second)
}

// At the opening the cap fills with offers at once, but nothing says sessions will last the
// configured Session: the low end must stay at the configured pace (it used to take the cap's
// turnover at the configured session, and tell place 57 half a minute for a 2 s wait).
func TestETACapFullAtOpening(t *testing.T) {
	r, open := etaRoom(t, 2*time.Second, 2000)
	s := etaSnap(open, 2000, 40, 40, 40)
	s.settings.Session = 30 * time.Second
	r.snap.Store(s)
	lo, hi := r.eta(s, 97, false, 57) // 56 ahead at 2,000 a minute: under 2 s
	if lo > 2*time.Second {
		t.Errorf("range %v-%v: the low end should allow the configured pace (1.7 s)", lo, hi)
	}
	if hi < 2*time.Second {
		t.Errorf("range %v-%v: the high end should allow the cap to bind", lo, hi)
	}
}
