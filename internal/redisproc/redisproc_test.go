package redisproc

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"

	"github.com/redis/go-redis/v9"
)

func needServer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("%v", ErrNoServer)
	}
}

// TestStartRetriesATakenPort: a port taken between choosing it and redis-server binding it
// costs one attempt, not the start (the demo, the load tool and the simulator once failed
// there while only the tests retried).
func TestStartRetriesATakenPort(t *testing.T) {
	needServer(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	calls := 0
	freePort = func() (int, error) {
		calls++
		if calls == 1 {
			return takenPort, nil
		}
		return FreePort()
	}
	defer func() { freePort = FreePort }()

	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer s.Stop()
	if calls != 2 || s.Port == takenPort {
		t.Fatalf("ports asked %d, port %d (taken %d): want a second attempt on another port", calls, s.Port, takenPort)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	if err := c.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestKillRestartStop: Kill loses the data and frees the port, Restart comes back on the same
// port, Stop removes the directory Start made.
func TestKillRestartStop(t *testing.T) {
	needServer(t)
	ctx := context.Background()
	s, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	port, pid := s.Port, s.PID()
	s.Kill()
	if s.PID() != 0 {
		t.Fatal("PID after Kill")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Port != port || s.PID() == pid || s.PID() == 0 {
		t.Fatalf("restart: port %d pid %d, was %d %d", s.Port, s.PID(), port, pid)
	}
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("after a kill the data must be gone: exists=%d err=%v", n, err)
	}
	dir := s.Dir
	s.Stop()
	s.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Stop left %s: %v", dir, err)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("the server still answers after Stop")
	}
}
