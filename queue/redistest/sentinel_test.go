package redistest

import (
	"context"
	"testing"
	"time"
)

// TestSentinelFailover: the five processes start, a write through the failover client survives
// SENTINEL FAILOVER, and the client follows the new master.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two redis-servers and three sentinels")
	}
	s := StartSentinel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c := s.Client(t)
	key := Prefix(t) + ":k"
	if err := c.Set(ctx, key, "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	old, _ := s.MasterAddr(ctx)
	now, err := s.Failover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if now == old || now != s.Replica.Addr() {
		t.Fatalf("master after failover %s, want the replica %s (was %s)", now, s.Replica.Addr(), old)
	}
	for {
		v, err := c.Get(ctx, key).Result()
		if err == nil && v == "before" && c.Set(ctx, key, "after", 0).Err() == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the failover client never wrote to the new master: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
