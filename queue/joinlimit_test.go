package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// An address's join allowance is counted fleet-wide in the coalesced join call: two engines
// (two replicas) sharing one address allow the allowance once, not twice; joins with a proof
// are exempt but counted; other addresses are not affected; numbers stay consecutive.
func TestJoinAllowanceIsFleetWide(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e1, e2 := newTestEngine(t, b), newTestEngine(t, b)
		ensure(t, e1, "nat", Settings{RatePerMinute: 600, MaxActive: 10})
		const allowance = 8
		opt := JoinOptions{Address: "192.0.2.7", Allowance: allowance}
		ok, over := 0, 0
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 30 { // concurrent: batches of both engines interleave
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := e1
				if i%2 == 1 {
					e = e2
				}
				_, _, info, err := e.JoinWith(ctx, "nat", fmt.Sprintf("v%d", i), opt)
				mu.Lock()
				defer mu.Unlock()
				var ae *AllowanceError
				switch {
				case err == nil:
					ok++
				case errors.As(err, &ae) && errors.Is(err, ErrOverAllowance):
					over++
					if ae.Joins < allowance || info.AddressJoins != ae.Joins {
						t.Errorf("refused at %.2f joins (info %.2f), allowance %d", ae.Joins, info.AddressJoins, allowance)
					}
				default:
					t.Errorf("join %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		if ok != allowance || over != 30-allowance {
			t.Fatalf("two replicas, one address: %d joined, %d refused; want %d joined fleet-wide", ok, over, allowance)
		}
		// a join with a proof is exempt, and counted
		_, _, info, err := e2.JoinWith(ctx, "nat", "paid", JoinOptions{Address: opt.Address, Allowance: allowance,
			Proof: "nonce-1", ProofExpires: time.Now().Add(5 * time.Minute)})
		if err != nil || info.AddressJoins < allowance+1 {
			t.Fatalf("paid join: %v, count %.2f", err, info.AddressJoins)
		}
		// another address has its own allowance
		t2, _, info, err := e1.JoinWith(ctx, "nat", "other", JoinOptions{Address: "2001:db8:1:2::/64", Allowance: allowance})
		if err != nil || info.AddressJoins != 1 {
			t.Fatalf("other address: %v, count %.2f", err, info.AddressJoins)
		}
		if t2.Number != allowance+2 {
			t.Fatalf("numbers: the other address got %d, want %d (refused joins take no number)", t2.Number, allowance+2)
		}
	})
}

// A proof-of-work id is good once fleet-wide: the same proof on a second engine is refused,
// and the refused join takes no number.
func TestJoinProofSpentFleetWide(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e1, e2 := newTestEngine(t, b), newTestEngine(t, b)
		ensure(t, e1, "replay", Settings{RatePerMinute: 600, MaxActive: 10})
		exp := time.Now().Add(5 * time.Minute)
		opt := JoinOptions{Proof: "AAAAAAAAAAAAAAAA", ProofExpires: exp}
		if _, _, _, err := e1.JoinWith(ctx, "replay", "v1", opt); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := e2.JoinWith(ctx, "replay", "v1", opt); !errors.Is(err, ErrProofSpent) {
			t.Fatalf("replay on another replica: %v, want ErrProofSpent", err)
		}
		if _, _, _, err := e1.JoinWith(ctx, "replay", "v1", opt); !errors.Is(err, ErrProofSpent) {
			t.Fatalf("replay on the same replica: %v, want ErrProofSpent", err)
		}
		opt.Proof = "BBBBBBBBBBBBBBBB"
		tk, _, _, err := e2.JoinWith(ctx, "replay", "v2", opt)
		if err != nil || tk.Number != 2 {
			t.Fatalf("a fresh proof: %v, number %d (want 2: refused joins take no number)", err, tk.Number)
		}
		// the spent set expires with the proofs
		r := e1.cached("replay")
		ttl, err := b.rdb.PTTL(ctx, r.keys.spentProofs(exp.UnixMilli()/60000+1)).Result()
		if err != nil || ttl <= 0 || ttl > 8*time.Minute {
			t.Fatalf("spent proofs TTL %s (%v), want about the proof's life", ttl, err)
		}
	})
}
