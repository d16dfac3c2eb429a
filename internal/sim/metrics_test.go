package sim

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestQuantileNearestRank(t *testing.T) {
	xs := []float64{15, 20, 35, 40, 50}
	tests := []struct {
		q, want float64
	}{{0.05, 15}, {0.30, 20}, {0.40, 20}, {0.50, 35}, {0.90, 50}, {1, 50}, {0, 15}}
	for _, tt := range tests {
		if got := Quantile(xs, tt.q); got != tt.want {
			t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // unsorted on purpose: Summarize sorts
	}
	s := Summarize(hundred)
	if s.Count != 100 || s.P50 != 50 || s.P90 != 90 || s.P99 != 99 || s.Max != 100 || s.Mean != 50.5 {
		t.Fatalf("Summarize = %+v", s)
	}
	if (Summarize(nil) != Summary{}) || Quantile(nil, 0.5) != 0 {
		t.Fatal("empty input not zero")
	}
}

func points(order ...float64) []Interval {
	out := make([]Interval, len(order))
	for i, x := range order {
		out[i] = Interval{x, x}
	}
	return out
}

func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i)
	}
	return out
}

func bruteInversions(arr []float64, adm []Interval, tol float64) (certain, possible, pairs int64) {
	for i := range adm {
		for j := i + 1; j < len(adm); j++ {
			if !(arr[j]-arr[i] >= tol && arr[i] < arr[j]) {
				continue
			}
			pairs++
			if adm[j].Hi < adm[i].Lo {
				certain++
			}
			if adm[j].Lo < adm[i].Hi {
				possible++
			}
		}
	}
	return certain, possible, pairs
}

func TestInversionsKnownAnswers(t *testing.T) {
	tests := []struct {
		name    string
		adm     []Interval
		certain int64
		pairs   int64
	}{
		{"in order", points(1, 2, 3, 4, 5), 0, 10},
		{"reversed", points(5, 4, 3, 2, 1), 10, 10},
		{"one swap", points(1, 3, 2, 4), 1, 6},
		// admission order 3,1,2 for arrivals 1,2,3: the last arrival went first (2 pairs).
		{"last first", points(2, 3, 1), 2, 3},
		// 2 4 1 3 5: inversions (2,1) (4,1) (4,3).
		{"crafted", points(2, 4, 1, 3, 5), 3, 10},
		{"single", points(7), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p, pairs := Inversions(seq(len(tt.adm)), tt.adm, 0)
			if c != tt.certain || p != tt.certain || pairs != tt.pairs {
				t.Fatalf("Inversions = %d, %d, %d; want %d, %d, %d", c, p, pairs, tt.certain, tt.certain, tt.pairs)
			}
		})
	}
}

func TestInversionsWithUncertainty(t *testing.T) {
	// Arrival order A, B, C. A was admitted in [10,20], B in [5,8] (surely before A),
	// C in [15,30] (maybe before A, surely after B).
	adm := []Interval{{10, 20}, {5, 8}, {15, 30}}
	c, p, _ := Inversions(seq(3), adm, 0)
	if c != 1 || p != 2 {
		t.Fatalf("certain %d possible %d, want 1 2", c, p)
	}
	// With a tolerance of 1.5, A and B (1 apart) and B and C are not ordered: only A, C is
	// a pair, and it is possibly but not surely inverted.
	c, p, pairs := Inversions(seq(3), adm, 1.5)
	if c != 0 || p != 1 || pairs != 1 {
		t.Fatalf("tol 1.5: certain %d possible %d pairs %d, want 0 1 1", c, p, pairs)
	}
	// Against brute force on random intervals.
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		n := 1 + r.IntN(60)
		adm := make([]Interval, n)
		arr := make([]float64, n)
		for i := range adm {
			lo := float64(r.IntN(40))
			adm[i] = Interval{lo, lo + float64(r.IntN(5))}
			arr[i] = float64(r.IntN(30)) / 2
		}
		sort.Float64s(arr) // with ties: tied arrivals are never a pair
		tol := float64(r.IntN(3))
		c, p, pairs := Inversions(arr, adm, tol)
		bc, bp, bpairs := bruteInversions(arr, adm, tol)
		if c != bc || p != bp || pairs != bpairs {
			t.Fatalf("trial %d: got %d %d %d, brute force %d %d %d", trial, c, p, pairs, bc, bp, bpairs)
		}
	}
}

func TestSpearmanAndChiSquare(t *testing.T) {
	n := 2000
	x := make([]float64, n)
	same := make([]float64, n)
	rev := make([]float64, n)
	for i := range x {
		x[i] = float64(i)
		same[i] = float64(i) * 3
		rev[i] = float64(n - i)
	}
	shuffled := append([]float64(nil), x...)
	r := rand.New(rand.NewPCG(7, 7))
	r.Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	if got := Spearman(x, same); math.Abs(got-1) > 1e-12 {
		t.Errorf("Spearman(same order) = %v, want 1", got)
	}
	if got := Spearman(x, rev); math.Abs(got+1) > 1e-12 {
		t.Errorf("Spearman(reversed) = %v, want -1", got)
	}
	if got := Spearman(x, shuffled); math.Abs(got) > 0.08 {
		t.Errorf("Spearman(shuffled) = %v, want about 0", got)
	}
	if _, df, p := ChiSquare(x, same, 10); df != 81 || p > 1e-6 {
		t.Errorf("ChiSquare(same order): df %d p %v, want 81 and ~0", df, p)
	}
	if stat, _, p := ChiSquare(x, shuffled, 10); p < 0.001 {
		t.Errorf("ChiSquare(shuffled) stat %v p %v: a fair shuffle should not be rejected", stat, p)
	}
	// Ties get average ranks.
	if got := Ranks([]float64{10, 20, 10, 30}); got[0] != 0.5 || got[2] != 0.5 || got[1] != 2 || got[3] != 3 {
		t.Errorf("Ranks with ties = %v", got)
	}
}

func TestGammaQKnownValues(t *testing.T) {
	tests := []struct {
		a, x, want float64
	}{
		{1, 1, math.Exp(-1)},        // Q(1,x) = e^-x
		{1, 5, math.Exp(-5)},        // continued-fraction branch
		{0.5, 0.5, 0.3173105078629}, // chi-square df 1 at 1.0
		{40.5, 40.5, 0.4791013817},  // df 81 at its mean: just under 0.5
		{40.5, 56.95, 0.0093691297}, // chi-square df 81 at 113.9 (numeric integration)
		{2, 0, 1},
	}
	for _, tt := range tests {
		got := GammaQ(tt.a, tt.x)
		if math.Abs(got-tt.want) > 1e-8 {
			t.Errorf("GammaQ(%v, %v) = %v, want %v", tt.a, tt.x, got, tt.want)
		}
	}
}
