package sim

import (
	"math"
	"sort"
)

// Summary describes a distribution: count, mean, nearest-rank percentiles and maximum.
type Summary struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Summarize sorts xs in place and describes it.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	sort.Float64s(xs)
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return Summary{Count: len(xs), Mean: sum / float64(len(xs)), P50: Quantile(xs, 0.50),
		P90: Quantile(xs, 0.90), P95: Quantile(xs, 0.95), P99: Quantile(xs, 0.99), Max: xs[len(xs)-1]}
}

// Quantile is the nearest-rank q-quantile of sorted: the smallest value with at least q of
// the values at or below it. It is 0 for an empty slice.
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Interval is when a visitor was admitted, as far as it could tell: after Lo (its last poll
// that said "wait") and at or before Hi (its first poll that said "in"). When the moment is
// known exactly, Lo == Hi.
type Interval struct{ Lo, Hi float64 }

// Inversions counts, over visitors listed in the order they arrived, the pairs let in out of
// that order. arrived holds their arrival times (ascending) and adm when each got in. Only pairs
// that arrived at least tol apart count (visitors clicking in the same instant have no order
// worth defending); pairs is how many such pairs there are. certain counts pairs i, j (i arrived
// first) where j surely got in first (Hi_j < Lo_i); possible counts pairs where j may have
// (Lo_j < Hi_i), which includes the certain ones. With exact times and tol 0 both are the
// classic inversion count. O(n log n).
func Inversions(arrived []float64, adm []Interval, tol float64) (certain, possible, pairs int64) {
	n := len(adm)
	if n < 2 || len(arrived) != n {
		return 0, 0, 0
	}
	coords := make([]float64, 0, 2*n)
	for _, a := range adm {
		coords = append(coords, a.Lo, a.Hi)
	}
	sort.Float64s(coords)
	coords = dedupe(coords)
	// rank(x) = number of coordinates <= x, so a BIT over 1..m counts values <= x.
	rank := func(x float64) int { return sort.Search(len(coords), func(i int) bool { return coords[i] > x }) }
	loTree := newFenwick(len(coords))
	hiTree := newFenwick(len(coords))
	in := 0 // visitors 0..in-1 arrived at least tol before the current one and are in the trees
	for j, a := range adm {
		for in < j && arrived[in] <= arrived[j]-tol && arrived[in] < arrived[j] {
			loTree.add(rank(adm[in].Lo))
			hiTree.add(rank(adm[in].Hi))
			in++
		}
		pairs += int64(in)
		// earlier i with Lo_i > Hi_j
		certain += int64(in) - loTree.sum(rank(a.Hi))
		// earlier i with Hi_i > Lo_j
		possible += int64(in) - hiTree.sum(rank(a.Lo))
	}
	return certain, possible, pairs
}

func dedupe(sorted []float64) []float64 {
	out := sorted[:0]
	for i, x := range sorted {
		if i == 0 || x != sorted[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// fenwick is a binary indexed tree of counts over positions 1..n.
type fenwick []int64

func newFenwick(n int) fenwick { return make(fenwick, n+1) }

func (f fenwick) add(i int) {
	for ; i < len(f); i += i & -i {
		f[i]++
	}
}

// sum counts the additions at positions 1..i.
func (f fenwick) sum(i int) int64 {
	var s int64
	for ; i > 0; i -= i & -i {
		s += f[i]
	}
	return s
}

// Ranks returns the rank of each value (0-based, ties get their average rank).
func Ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	r := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		avg := float64(i+j) / 2
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// Spearman is the rank correlation of x and y: 1 when y keeps x's order, near 0 when they are
// independent, -1 when reversed.
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 2 {
		return 0
	}
	return pearson(Ranks(x), Ranks(y))
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// ChiSquare tests whether y's order is independent of x's: both are cut into k equal rank
// bands and the k×k table of counts is compared with its expectation under independence.
// It returns the statistic, the degrees of freedom and the p-value (large when the orders look
// independent, as a fair shuffle should). k is lowered so each cell expects at least 5.
func ChiSquare(x, y []float64, k int) (stat float64, df int, p float64) {
	n := len(x)
	for k > 2 && float64(n)/float64(k*k) < 5 {
		k--
	}
	if n < 2 || k < 2 || len(y) != n {
		return 0, 0, 1
	}
	rx, ry := Ranks(x), Ranks(y)
	table := make([]float64, k*k)
	rows := make([]float64, k)
	cols := make([]float64, k)
	band := func(r float64) int { return min(int(r*float64(k)/float64(n)), k-1) }
	for i := 0; i < n; i++ {
		a, b := band(rx[i]), band(ry[i])
		table[a*k+b]++
		rows[a]++
		cols[b]++
	}
	for a := 0; a < k; a++ {
		for b := 0; b < k; b++ {
			e := rows[a] * cols[b] / float64(n)
			if e > 0 {
				d := table[a*k+b] - e
				stat += d * d / e
			}
		}
	}
	df = (k - 1) * (k - 1)
	return stat, df, GammaQ(float64(df)/2, stat/2)
}

// GammaQ is the regularized upper incomplete gamma function Q(a, x); Q(df/2, x/2) is the
// chi-square survival function.
func GammaQ(a, x float64) float64 {
	if x <= 0 {
		return 1
	}
	lg, _ := math.Lgamma(a)
	if x < a+1 {
		// Series for P, then Q = 1 - P.
		sum, term := 1/a, 1/a
		for n := 1; n < 1000; n++ {
			term *= x / (a + float64(n))
			sum += term
			if math.Abs(term) < math.Abs(sum)*1e-15 {
				break
			}
		}
		return math.Max(0, 1-sum*math.Exp(-x+a*math.Log(x)-lg))
	}
	// Continued fraction for Q (modified Lentz).
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 1000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return math.Exp(-x+a*math.Log(x)-lg) * h
}
