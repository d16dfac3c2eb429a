package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of private redis-server processes on loopback ports, each a
// master with an equal share of the slots and no replicas.
type Cluster struct {
	Servers []*Server
	bus     []int
}

// StartCluster starts a cluster of masters redis-servers (--cluster-enabled yes), assigns the
// slots, joins the nodes, waits until the cluster is ok and stops it when the test ends.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	c, err := NewCluster(masters)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// NewCluster is StartCluster for callers that manage the lifetime themselves (a TestMain that
// shares one cluster between tests); call Stop when done.
func NewCluster(masters int) (*Cluster, error) {
	if masters < 1 {
		return nil, fmt.Errorf("cluster needs at least one master")
	}
	c := &Cluster{}
	for i := 0; i < masters; i++ {
		bus, err := FreePort()
		if err != nil {
			c.Stop()
			return nil, err
		}
		s, err := startServer("", "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", "5000", "--cluster-config-file", "nodes-"+strconv.Itoa(bus)+".conf")
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("%s (%v)", howTo, err)
		}
		c.Servers = append(c.Servers, s)
		c.bus = append(c.bus, bus)
	}
	if err := c.form(); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) form() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*redis.Client, len(c.Servers))
	for i, s := range c.Servers {
		clients[i] = redis.NewClient(&redis.Options{Addr: s.Addr()})
		defer clients[i].Close()
	}
	n := len(c.Servers)
	for i, cl := range clients {
		lo, hi := i*16384/n, (i+1)*16384/n-1
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return fmt.Errorf("cluster addslotsrange on %s: %w", c.Servers[i].Addr(), err)
		}
	}
	for i, s := range c.Servers[1:] {
		// the bus port is not port+10000 here, so name it (Redis >= 7)
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", s.Port, c.bus[i+1]).Err(); err != nil {
			return fmt.Errorf("cluster meet %s: %w", s.Addr(), err)
		}
	}
	for {
		ok := true
		for _, cl := range clients {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r") {
				ok = false
				break
			}
		}
		if ok {
			// every node must route every slot before clients are handed out
			for _, cl := range clients {
				slots, err := cl.ClusterSlots(ctx).Result()
				if err != nil || len(slots) != n {
					ok = false
				}
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster of %d did not become ok within 30s", n)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addrs lists the nodes' host:port.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		out[i] = s.Addr()
	}
	return out
}

// Client returns a cluster client, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// Stop stops every node (their data is gone) and removes their directories.
func (c *Cluster) Stop() {
	for _, s := range c.Servers {
		s.p.Stop()
	}
}
