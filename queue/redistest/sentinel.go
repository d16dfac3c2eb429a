package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the sentinels of StartSentinel monitor.
const SentinelMaster = "foyer"

// Sentinel is a Sentinel-managed Redis of private processes on loopback ports: one master,
// one replica and three sentinels (quorum 2), as Debian's redis-server and redis-sentinel
// packages provide them.
type Sentinel struct {
	// Master and Replica are the data servers as started; after a failover their roles swap.
	Master, Replica *Server
	sentinels       []*sentinelProc
	dir             string
}

// StartSentinel starts the five processes, waits until the replica is in sync and every
// sentinel knows the replica and the other sentinels, and stops them when the test ends.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s, err := NewSentinel(t.TempDir())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// NewSentinel is StartSentinel for callers that manage the lifetime themselves; dir holds the
// configuration files and logs. Call Stop when done.
func NewSentinel(dir string) (*Sentinel, error) {
	s := &Sentinel{dir: dir}
	for _, d := range []string{"master", "replica"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	var err error
	if s.Master, err = startServer(filepath.Join(dir, "master")); err != nil {
		return nil, fmt.Errorf("%s (%v)", howTo, err)
	}
	if s.Replica, err = startServer(filepath.Join(dir, "replica"), "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port)); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%s (%v)", howTo, err)
	}
	for i := range 3 {
		sp, err := startSentinel(filepath.Join(dir, fmt.Sprintf("sentinel-%d", i+1)), s.Master.Port)
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.sentinels = append(s.sentinels, sp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.settle(ctx, s.Master.Addr(), 1); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Addrs lists the sentinels' host:port.
func (s *Sentinel) Addrs() []string {
	out := make([]string, len(s.sentinels))
	for i, sp := range s.sentinels {
		out[i] = sp.addr()
	}
	return out
}

// Client returns a failover client for the master, closed when the test ends.
func (s *Sentinel) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: s.Addrs()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// MasterAddr is the master's host:port as the sentinels see it now.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: s.sentinels[0].addr()})
	defer c.Close()
	a, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
	if err != nil {
		return "", err
	}
	return a[0] + ":" + a[1], nil
}

// Failover makes the replica the master: it waits until the replica has every write of the
// master (so the switch loses nothing), asks a sentinel for SENTINEL FAILOVER and waits until
// every sentinel names the new master and the old one follows it. It returns the new master.
func (s *Sentinel) Failover(ctx context.Context) (string, error) {
	old, err := s.MasterAddr(ctx)
	if err != nil {
		return "", err
	}
	mc := redis.NewClient(&redis.Options{Addr: old})
	defer mc.Close()
	for {
		info, err := mc.Info(ctx, "replication").Result()
		if err == nil && replicaCaughtUp(info) {
			break
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return "", fmt.Errorf("replica did not catch up with the master: %w", err)
		}
	}
	c := redis.NewSentinelClient(&redis.Options{Addr: s.sentinels[0].addr()})
	defer c.Close()
	if err := c.Failover(ctx, SentinelMaster).Err(); err != nil {
		return "", fmt.Errorf("sentinel failover: %w", err)
	}
	var now string
	for {
		if now, err = s.MasterAddr(ctx); err == nil && now != old {
			break
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return "", fmt.Errorf("no new master after SENTINEL FAILOVER: %w", err)
		}
	}
	return now, s.settle(ctx, now, 1)
}

// replicaCaughtUp reads INFO replication of a master: one replica online at its offset.
func replicaCaughtUp(info string) bool {
	var offset string
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "master_repl_offset:"); ok {
			offset = v
		}
	}
	for _, l := range strings.Split(info, "\r\n") {
		if strings.HasPrefix(l, "slave0:") {
			return strings.Contains(l, "state=online") && strings.Contains(l, "offset="+offset+",")
		}
	}
	return false
}

// settle waits until every sentinel names master, knows replicas replicas and the two other
// sentinels, and the master's replicas are linked.
func (s *Sentinel) settle(ctx context.Context, master string, replicas int) error {
	for {
		if s.settled(ctx, master, replicas) {
			return nil
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("sentinels did not settle on master %s: %w (logs in %s)", master, err, s.dir)
		}
	}
}

func (s *Sentinel) settled(ctx context.Context, master string, replicas int) bool {
	for _, sp := range s.sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sp.addr()})
		a, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		reps, rerr := c.Replicas(ctx, SentinelMaster).Result()
		sens, serr := c.Sentinels(ctx, SentinelMaster).Result()
		_ = c.Close()
		if err != nil || rerr != nil || serr != nil || a[0]+":"+a[1] != master || len(sens) != len(s.sentinels)-1 {
			return false
		}
		up := 0
		for _, r := range reps {
			if !strings.Contains(r["flags"], "down") && !strings.Contains(r["flags"], "disconnected") {
				up++
			}
		}
		if up < replicas {
			return false
		}
	}
	mc := redis.NewClient(&redis.Options{Addr: master})
	defer mc.Close()
	info, err := mc.Info(ctx, "replication").Result()
	return err == nil && strings.Contains(info, "role:master") && strings.Contains(info, "connected_slaves:"+strconv.Itoa(replicas))
}

// Stop stops every process.
func (s *Sentinel) Stop() {
	for _, sp := range s.sentinels {
		sp.stop()
	}
	if s.Replica != nil {
		s.Replica.Stop()
	}
	if s.Master != nil {
		s.Master.Stop()
	}
}

// sentinelProc is one redis-sentinel process.
type sentinelProc struct {
	port int
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func (sp *sentinelProc) addr() string { return fmt.Sprintf("127.0.0.1:%d", sp.port) }

// startSentinel starts a sentinel monitoring the master on masterPort, on a free port (trying
// another when the port is taken between FreePort and the bind).
func startSentinel(dir string, masterPort int) (*sentinelProc, error) {
	bin, args := "redis-sentinel", []string(nil)
	if _, err := exec.LookPath(bin); err != nil {
		// Debian's redis-sentinel is the redis-server binary under another name
		bin, args = "redis-server", []string{"--sentinel"}
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%s (%v)", howTo, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		conf := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(conf, []byte(sentinelConf(port, dir, masterPort)), 0o600); err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, append([]string{conf}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		sp := &sentinelProc{port: port, cmd: cmd}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		if lastErr = sp.wait(exited); lastErr == nil {
			return sp, nil
		}
		sp.stop()
	}
	return nil, fmt.Errorf("redis-sentinel: %w (see %s)", lastErr, dir)
}

// sentinelConf is a sentinel's configuration (it rewrites the file as it learns).
func sentinelConf(port int, dir string, masterPort int) string {
	m := SentinelMaster
	return fmt.Sprintf("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\nlogfile %s\n", port, dir, filepath.Join(dir, "sentinel.log")) +
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n", m, masterPort) +
		fmt.Sprintf("sentinel down-after-milliseconds %s 1000\n", m) +
		fmt.Sprintf("sentinel failover-timeout %s 10000\n", m) +
		fmt.Sprintf("sentinel parallel-syncs %s 1\n", m)
}

// wait waits until the sentinel answers PING, or says why not.
func (sp *sentinelProc) wait(exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{Addr: sp.addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("sentinel on port %d exited at start", sp.port)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("sentinel on port %d did not answer within 10s", sp.port)
}

func (sp *sentinelProc) stop() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.cmd != nil {
		_ = sp.cmd.Process.Kill()
		sp.cmd = nil
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
