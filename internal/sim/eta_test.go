package sim

import (
	"math"
	"testing"
)

func judged(seen []shown, adm Interval, skippedAt float64) *visitor {
	return &visitor{admitted: true, adm: adm, seen: seen, skippedAt: skippedAt, returnAt: math.Inf(1)}
}

func TestETAJudge(t *testing.T) {
	j := &etaJudge{res: 1}
	nan := math.NaN()
	// held at join (got in at 100-110, shown 80-120 at 0), then a poll whose range misses late
	j.visitor(judged([]shown{{at: 0, lo: 80, hi: 120}, {at: 50, lo: 10, hi: 20}}, Interval{100, 110}, nan))
	// early at join
	j.visitor(judged([]shown{{at: 0, lo: 200, hi: 300}}, Interval{100, 110}, nan))
	// skipped while away: the join range is not judged, the poll after coming back is
	j.visitor(judged([]shown{{at: 0, lo: 10, hi: 20}, {at: 500, lo: 5, hi: 15}}, Interval{510, 512}, 490))
	a := j.done()
	if a.JoinN != 2 || a.JoinCovered != 0.5 || a.JoinEarly != 0.5 || a.Skipped != 1 {
		t.Errorf("join: %+v", a)
	}
	if a.PollN != 4 || a.PollCovered != 0.5 {
		t.Errorf("polls: %d judged, %.2f held; want 4, 0.50", a.PollN, a.PollCovered)
	}
}

func TestInOrder(t *testing.T) {
	nan := math.NaN()
	v := func(pos int64, lo, hi, skipped float64) *visitor {
		return &visitor{admitted: true, position: pos, adm: Interval{lo, hi}, skippedAt: skipped, returnAt: math.Inf(1)}
	}
	vs := []*visitor{
		v(1, 0, 1, nan),
		v(2, 10, 11, nan),  // overtaken by 3
		v(3, 5, 6, nan),    // overtook 2
		v(4, 100, 101, 90), // a returner back at 90: 3 went in before it came back, so no overtake
		v(5, 20, 21, nan),
	}
	share, n := inOrder(vs, 0.5)
	if n != 5 || math.Abs(share-0.8) > 1e-9 {
		t.Errorf("in order %.2f of %d, want 0.80 of 5", share, n)
	}
}
