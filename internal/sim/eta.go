package sim

import (
	"fmt"
	"math"
	"os"
	"sort"
)

// etaDebug prints a sample of the judged join ETAs to stderr (FOYER_SIM_ETA_DEBUG=1).
var etaDebug = os.Getenv("FOYER_SIM_ETA_DEBUG") != ""

// ETAAccuracy is how well the ETA ranges foyer showed held, judged against when each visitor
// really got in (the middle of its admission interval: between its last "wait" and its first
// "in"). Sale seconds. A range is the one shown, [low, high+1) in foyer's whole wall seconds.
type ETAAccuracy struct {
	// JoinN visitors were shown an ETA (the first after the opening: at join, or at the
	// opening for the pre-queue) and got in without leaving or being skipped meanwhile;
	// JoinCovered of them got in within that range, JoinEarly before it, JoinLate after it.
	JoinN       int     `json:"join_n"`
	JoinCovered float64 `json:"join_covered"`
	JoinEarly   float64 `json:"join_early"`
	JoinLate    float64 `json:"join_late"`
	// JoinErr is |actual - midpoint| / actual of the range at join: p50 and p90.
	JoinErrP50 float64 `json:"join_err_p50"`
	JoinErrP90 float64 `json:"join_err_p90"`
	// JoinWidth is the range's width over its midpoint (p50), and in sale seconds (p50).
	JoinWidthP50    float64 `json:"join_width_p50"`
	JoinWidthSecP50 float64 `json:"join_width_seconds_p50"`
	// PollN answers with an ETA (every poll of those visitors, returners' polls after they came
	// back included); PollCovered of them held.
	PollN       int     `json:"poll_n"`
	PollCovered float64 `json:"poll_covered"`
	PollErrP50  float64 `json:"poll_err_p50"`
	PollErrP90  float64 `json:"poll_err_p90"`
	// Left and Skipped count the admitted visitors whose join ETA is not judged: they left and
	// came back, or were away when their turn came and were skipped (their polls after coming
	// back are judged).
	Left    int `json:"left"`
	Skipped int `json:"skipped"`
	// Stalled counts answers that said the line was stalled (no ETA, in words).
	Stalled int `json:"stalled_answers"`
}

// etaJudge accumulates ETAAccuracy.
type etaJudge struct {
	res                     float64 // resolution: one wall second in sale seconds
	a                       ETAAccuracy
	joinHit, early, late    int
	pollHit                 int
	joinErr, pollErr, width []float64
	widthSec                []float64
}

// judge one shown range against the admission interval adm. It reports whether it held and
// the relative error.
func (j *etaJudge) judge(s shown, adm Interval) (held, early bool, err float64) {
	lo, hi := float64(s.at)+float64(s.lo), float64(s.at)+float64(s.hi)
	actual := (adm.Lo+adm.Hi)/2 - float64(s.at)
	mid := (float64(s.lo) + float64(s.hi)) / 2
	err = math.Abs(actual-mid) / math.Max(actual, j.res)
	held = adm.Hi >= lo && adm.Lo <= hi // the moment, as far as the polls tell, meets the range
	return held, !held && adm.Hi < lo, err
}

// visitor judges one admitted visitor's ranges.
func (j *etaJudge) visitor(v *visitor) {
	if !v.admitted || len(v.seen) == 0 {
		return
	}
	from := math.Inf(-1) // answers before this are not judged
	switch {
	case v.left:
		j.a.Left++
		from = v.returnAt
	case !math.IsNaN(v.skippedAt):
		j.a.Skipped++
		from = v.skippedAt
	}
	first := true
	for _, s := range v.seen {
		if float64(s.at) > v.adm.Hi {
			break // waiting again after a session: another story
		}
		if s.lo < 0 {
			continue
		}
		held, early, err := j.judge(s, v.adm)
		if first && math.IsInf(from, -1) {
			if etaDebug && early && j.early%20 == 0 {
				fmt.Fprintf(os.Stderr, "eta: v%d %s place %d at %.0f: %.0f-%.0f; got in %.0f-%.0f (%.0f after); held %v\n",
					v.id, kindNames[v.kind], s.place, s.at, s.lo, s.hi, v.adm.Lo, v.adm.Hi, (v.adm.Lo+v.adm.Hi)/2-float64(s.at), held)
			}
			j.a.JoinN++
			switch {
			case held:
				j.joinHit++
			case early:
				j.early++
			default:
				j.late++
			}
			j.joinErr = append(j.joinErr, err)
			mid := (float64(s.lo) + float64(s.hi)) / 2
			j.width = append(j.width, float64(s.hi-s.lo)/math.Max(mid, j.res))
			j.widthSec = append(j.widthSec, float64(s.hi-s.lo))
		}
		first = false
		if float64(s.at) < from {
			continue
		}
		j.a.PollN++
		if held {
			j.pollHit++
		}
		j.pollErr = append(j.pollErr, err)
	}
}

func (j *etaJudge) done() ETAAccuracy {
	a := j.a
	if a.JoinN > 0 {
		n := float64(a.JoinN)
		a.JoinCovered, a.JoinEarly, a.JoinLate = float64(j.joinHit)/n, float64(j.early)/n, float64(j.late)/n
	}
	if a.PollN > 0 {
		a.PollCovered = float64(j.pollHit) / float64(a.PollN)
	}
	q := func(xs []float64, p float64) float64 { sort.Float64s(xs); return Quantile(xs, p) }
	a.JoinErrP50, a.JoinErrP90 = q(j.joinErr, 0.5), q(j.joinErr, 0.9)
	a.PollErrP50, a.PollErrP90 = q(j.pollErr, 0.5), q(j.pollErr, 0.9)
	a.JoinWidthP50, a.JoinWidthSecP50 = q(j.width, 0.5), q(j.widthSec, 0.5)
	return a
}

// inOrder is the share of admitted visitors that nobody from further back in the line
// overtook: no visitor with a higher position surely got in before them (by more than tol),
// returners included. A returner is overtaken only by visitors from further back let in
// after it came back; visitors who were themselves skipped and came back do not overtake
// (the returning lane is served ahead of the line by design).
func inOrder(vs []*visitor, tol float64) (share float64, n int) {
	type e struct {
		pos    int64
		lo, hi float64
		back   float64 // came back (returner): from then on it is owed its turn; -Inf otherwise
		ret    bool
	}
	var es []e
	for _, v := range vs {
		if !v.admitted || v.position <= 0 {
			continue
		}
		x := e{pos: v.position, lo: v.adm.Lo, hi: v.adm.Hi, back: math.Inf(-1)}
		if !math.IsNaN(v.skippedAt) {
			x.back, x.ret = v.skippedAt, true
		} else if v.left {
			x.back, x.ret = v.returnAt, true
		}
		es = append(es, x)
	}
	if len(es) == 0 {
		return 0, 0
	}
	sort.Slice(es, func(i, j int) bool { return es[i].pos > es[j].pos })
	// walking from the back of the line: minHi is the earliest surely-admitted moment of a
	// non-returner further back
	ok := 0
	minHi := math.Inf(1)
	var behind []e // non-returners further back, for the returners' check
	for i := 0; i < len(es); {
		k := i
		for k < len(es) && es[k].pos == es[i].pos {
			k++
		}
		for _, x := range es[i:k] {
			over := false
			if !x.ret {
				over = minHi < x.lo-tol
			} else {
				for _, b := range behind {
					if b.hi > x.back+tol && b.hi < x.lo-tol {
						over = true
						break
					}
				}
			}
			if !over {
				ok++
			}
		}
		for _, x := range es[i:k] {
			if !x.ret {
				minHi = math.Min(minHi, x.hi)
				behind = append(behind, x)
			}
		}
		i = k
	}
	return float64(ok) / float64(len(es)), len(es)
}
