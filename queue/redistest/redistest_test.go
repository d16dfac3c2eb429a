package redistest

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestNewIsolatesAndCleans(t *testing.T) {
	var prefix string
	var db *DB
	t.Run("write", func(t *testing.T) {
		db = New(t)
		prefix = db.Prefix
		if !strings.HasPrefix(prefix, "t-") {
			t.Fatalf("prefix %q does not start with t-", prefix)
		}
		if err := db.Client.Set(context.Background(), prefix+":k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	})
	// the subtest's cleanup ran: its key must be gone
	other := New(t)
	n, err := other.Client.Exists(context.Background(), prefix+":k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("key under %s survived the test's cleanup", prefix)
	}
}

func TestServerRestartLosesData(t *testing.T) {
	s := StartServer(t)
	c := s.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("ping succeeded on a stopped server")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, "k").Result(); n != 0 {
		t.Fatal("data survived a restart without persistence")
	}
}

func TestStartCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three redis-servers")
	}
	c := StartCluster(t, 3)
	cl := c.Client(t)
	ctx := context.Background()
	// keys in different slots land on different masters and all work
	for _, k := range []string{"a", "b", "c", "{x}1", "{x}2"} {
		if err := cl.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
	}
	var n atomic.Int64 // ForEachMaster runs in parallel
	_ = cl.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		if k, _ := m.DBSize(ctx).Result(); k > 0 {
			n.Add(1)
		}
		return nil
	})
	if n.Load() < 2 {
		t.Fatalf("keys on %d masters, want spread over several", n.Load())
	}
}
