//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/foyerhq/foyer/queue/redistest"
	"github.com/redis/go-redis/v9"
)

// server is a redis-server the suite owns: killed, paused and restarted (empty or from the RDB
// its dir holds).
type server struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

func startServer(t *testing.T) *server {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{port: port, dir: t.TempDir()}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	return s
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *server) start() error {
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	go func() { _ = cmd.Wait() }()
	c := redis.NewClient(&redis.Options{Addr: s.addr()})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer", s.addr())
}

// kill ends the process at once (SIGKILL: nothing is saved).
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	s.cmd = nil
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", s.addr(), 50*time.Millisecond)
		if err != nil {
			return
		}
		_ = c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

// restartEmpty kills the server, drops any snapshot and starts it again.
func (s *server) restartEmpty() error {
	s.kill()
	_ = os.Remove(filepath.Join(s.dir, "dump.rdb"))
	return s.start()
}

// restartFromSnapshot kills the server and starts it again from the RDB written by the last SAVE.
func (s *server) restartFromSnapshot() error {
	s.kill()
	if _, err := os.Stat(filepath.Join(s.dir, "dump.rdb")); err != nil {
		return fmt.Errorf("no snapshot to restart from: %w", err)
	}
	return s.start()
}

func (s *server) signal(sig syscall.Signal) {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}
