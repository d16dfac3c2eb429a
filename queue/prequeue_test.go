package queue

import (
	"crypto/rand"
	"testing"
)

func TestPrequeuePermutationIsBijection(t *testing.T) {
	sizes := []int64{1, 2, 3, 4, 5, 7, 16, 17, 100, 255, 256, 257, 1000, 4097, 20001}
	for _, p := range sizes {
		for trial := 0; trial < 3; trial++ {
			seed := make([]byte, SeedLen)
			_, _ = rand.Read(seed)
			perm := newPrequeuePerm(seed, p)
			seen := make([]bool, p+1)
			for n := int64(1); n <= p; n++ {
				pos := perm.position(n)
				if pos < 1 || pos > p {
					t.Fatalf("P=%d: ticket %d -> %d out of range", p, n, pos)
				}
				if seen[pos] {
					t.Fatalf("P=%d: position %d given twice", p, pos)
				}
				seen[pos] = true
				if n%97 == 1 || p < 300 {
					if v := VerifyPrequeuePlace(seed, p, n); v != pos {
						t.Fatalf("P=%d: VerifyPrequeuePlace(%d)=%d, engine %d", p, n, v, pos)
					}
				}
			}
		}
	}
}

func TestPrequeuePermutationDependsOnSeed(t *testing.T) {
	a, b := make([]byte, SeedLen), make([]byte, SeedLen)
	b[0] = 1
	const p = 1000
	same := 0
	fixed := 0
	for n := int64(1); n <= p; n++ {
		x, y := VerifyPrequeuePlace(a, p, n), VerifyPrequeuePlace(b, p, n)
		if x == y {
			same++
		}
		if x == n {
			fixed++
		}
	}
	// A random permutation agrees with another (or fixes a point) about once per P.
	if same > 20 || fixed > 20 {
		t.Fatalf("not shuffled: %d equal places across seeds, %d fixed points", same, fixed)
	}
	if VerifyPrequeuePlace(a, p, 0) != 0 || VerifyPrequeuePlace(a, p, p+1) != 0 || VerifyPrequeuePlace(a, 0, 1) != 0 {
		t.Fatal("out-of-range input should give 0")
	}
}

func BenchmarkPrequeuePosition(b *testing.B) {
	perm := newPrequeuePerm(make([]byte, SeedLen), 1_000_000)
	b.ReportAllocs()
	n := int64(0)
	for b.Loop() {
		n = n%1_000_000 + 1
		perm.position(n)
	}
}
