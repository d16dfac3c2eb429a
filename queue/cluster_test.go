package queue

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/foyerhq/foyer/queue/redistest"
)

var (
	clusterOnce sync.Once
	cluster     *redistest.Cluster
	clusterErr  error
)

// clusterBackend gives the test a fresh prefix on a 3-master cluster shared by the package's
// tests (started once, stopped by TestMain).
func clusterBackend(t testing.TB) backend {
	t.Helper()
	clusterOnce.Do(func() { cluster, clusterErr = redistest.NewCluster(3) })
	if clusterErr != nil {
		t.Fatalf("cluster: %v", clusterErr)
	}
	c := cluster.Client(t)
	prefix := redistest.Prefix(t)
	t.Cleanup(func() { redistest.DeletePrefix(context.Background(), c, prefix) })
	return backend{name: "cluster", rdb: c, prefix: prefix}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	os.Exit(code)
}
