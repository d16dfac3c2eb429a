package queue

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// shuffleVectors is the published test vectors file (testdata/shuffle-vectors.json): for each
// seed and pre-queue size P, the commitment, the permutation key, and ticket -> place pairs.
type shuffleVectors struct {
	Algorithm string          `json:"algorithm"`
	Note      string          `json:"note"`
	Vectors   []shuffleVector `json:"vectors"`
}

type shuffleVector struct {
	Seed       string     `json:"seed"`
	Commitment string     `json:"commitment"`
	Key        string     `json:"key"`
	P          int64      `json:"p"`
	Pairs      [][2]int64 `json:"pairs"` // [ticket, place]
}

const vectorsFile = "testdata/shuffle-vectors.json"

// makeVectors computes the vectors with this implementation (FOYER_WRITE_VECTORS=1 writes them).
func makeVectors() shuffleVectors {
	seeds := []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	}
	sizes := []int64{1, 2, 3, 4, 5, 10, 17, 100, 256, 1000, 4097, 65537, 1000003}
	v := shuffleVectors{Algorithm: FairnessAlgorithm,
		Note: "docs/fairness.md describes the algorithm; pairs are [pre-queue ticket number, place in line]"}
	for _, sh := range seeds {
		seed, _ := hex.DecodeString(sh)
		c := sha256.Sum256(seed)
		k := sha256.Sum256(append([]byte(seedDomain), seed...))
		for _, p := range sizes {
			var tickets []int64
			if p <= 20 {
				for n := int64(1); n <= p; n++ {
					tickets = append(tickets, n)
				}
			} else {
				tickets = []int64{1, 2, 3, p / 3, p / 2, p - 1, p}
			}
			x := shuffleVector{Seed: sh, Commitment: hex.EncodeToString(c[:]), Key: hex.EncodeToString(k[:]), P: p}
			for _, n := range tickets {
				x.Pairs = append(x.Pairs, [2]int64{n, VerifyPrequeuePlace(seed, p, n)})
			}
			v.Vectors = append(v.Vectors, x)
		}
	}
	return v
}

// The published shuffle vectors hold for the Go implementation (the JS verifier is checked
// against the same file in web's browser tests).
func TestShuffleVectors(t *testing.T) {
	if os.Getenv("FOYER_WRITE_VECTORS") == "1" {
		b, _ := json.MarshalIndent(makeVectors(), "", " ")
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var v shuffleVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.Algorithm != FairnessAlgorithm || len(v.Vectors) < 40 {
		t.Fatalf("vectors file: algorithm %q, %d vectors", v.Algorithm, len(v.Vectors))
	}
	pairs := 0
	for _, x := range v.Vectors {
		seed, err := hex.DecodeString(x.Seed)
		if err != nil || len(seed) != SeedLen {
			t.Fatalf("seed %q", x.Seed)
		}
		c := sha256.Sum256(seed)
		k := sha256.Sum256(append([]byte(seedDomain), seed...))
		if hex.EncodeToString(c[:]) != x.Commitment || hex.EncodeToString(k[:]) != x.Key {
			t.Errorf("seed %s: commitment or key differs", x.Seed)
		}
		for _, p := range x.Pairs {
			if got := VerifyPrequeuePlace(seed, x.P, p[0]); got != p[1] {
				t.Errorf("seed %s P %d ticket %d: place %d, vector says %d", x.Seed[:8], x.P, p[0], got, p[1])
			}
			pairs++
		}
	}
	t.Logf("%d vectors, %d ticket/place pairs", len(v.Vectors), pairs)
}
