// Package redisproc starts a private redis-server on a free loopback port: for `foyer demo`
// on a machine without a Redis, for the load tool and the simulator, and for the tests
// (queue/redistest). It is the one launcher, so every caller gets the same behaviour: nothing
// kept on disk, the child dies with its parent where the platform allows, and a port that is
// taken between choosing it and redis-server binding it is retried on another port.
package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyerhq/foyer/internal/childproc"
)

// ErrNoServer is returned when redis-server is not on PATH.
var ErrNoServer = errors.New("redis-server is not on PATH (Debian: apt-get install redis-server)")

// Options configure Start. The zero value is a throwaway server in a temporary directory.
type Options struct {
	// Bin is the redis-server to run [found on PATH].
	Bin string
	// Dir is the working directory (log file, cluster config); empty makes a temporary one,
	// removed by Stop.
	Dir string
	// Args are more redis-server arguments, after the launcher's own.
	Args []string
	// Attempts is how many ports are tried when redis-server cannot bind one [5].
	Attempts int
	// Within bounds how long a start waits for the server to answer PING [10s].
	Within time.Duration
	// DeathSignal is sent to the server when this process dies (Linux, FreeBSD) [SIGKILL].
	DeathSignal syscall.Signal
}

// Server is a running (or stopped, restartable) redis-server owned by this process. Safe for
// concurrent use.
type Server struct {
	// Port is the loopback port; a restart keeps it.
	Port int
	// Dir is the working directory (its redis.log says why a start failed).
	Dir string

	o      Options
	ownDir bool
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start runs redis-server on a free loopback port and returns once it answers PING. When the
// server exits at start (the port was taken meanwhile), it tries another port, up to
// o.Attempts times.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Bin == "" {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			return nil, ErrNoServer
		}
		o.Bin = bin
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Within <= 0 {
		o.Within = 10 * time.Second
	}
	if o.DeathSignal == 0 {
		o.DeathSignal = syscall.SIGKILL
	}
	s := &Server{Dir: o.Dir, o: o}
	if s.Dir == "" {
		dir, err := os.MkdirTemp("", "foyer-redis-")
		if err != nil {
			return nil, fmt.Errorf("redisproc: %w", err)
		}
		s.Dir, s.ownDir = dir, true
	}
	var lastErr error
	for attempt := 0; attempt < o.Attempts; attempt++ {
		port, err := freePort()
		if err != nil {
			s.removeDir()
			return nil, fmt.Errorf("redisproc: %w", err)
		}
		s.Port = port
		if lastErr = s.Restart(ctx); lastErr == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	s.removeDir()
	return nil, lastErr
}

// URL is the server's redis:// URL (database 0).
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Addr is 127.0.0.1:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// PID is the running process's id, 0 when stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Restart starts the process again on the same port, empty, and waits until it answers. It
// does nothing while the server runs.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	args := append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(s.Port), "--save", "",
		"--appendonly", "no", "--dir", s.Dir, "--logfile", s.logFile()}, s.o.Args...)
	cmd := exec.Command(s.o.Bin, args...)
	childproc.DieWithParent(cmd, s.o.DeathSignal)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redisproc: start %s: %w", s.o.Bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited

	ctx, cancel := context.WithTimeout(ctx, s.o.Within)
	defer cancel()
	for {
		if ping(ctx, s.URL()) == nil {
			return nil
		}
		select {
		case <-exited: // the port was taken, most likely: say so at once
			s.cmd = nil
			return fmt.Errorf("redisproc: redis-server on port %d exited at start: %s", s.Port, s.logTail())
		case <-ctx.Done():
			s.killLocked()
			return fmt.Errorf("redisproc: redis-server on port %d did not answer: %w", s.Port, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Kill kills the process at once (its data is gone) and waits until the port is free, so a
// Restart can bind it: a crash, for fault tests. The working directory stays.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = childproc.Signal(s.cmd.Process, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
	for i := 0; i < 200; i++ { // the kernel may take a moment to close the listening socket
		c, err := net.DialTimeout("tcp", s.Addr(), 50*time.Millisecond)
		if err != nil {
			return
		}
		_ = c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop ends the server politely (SIGTERM, then a kill after two seconds) and removes the
// working directory if Start made it. Safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.cmd != nil {
		_ = childproc.Signal(s.cmd.Process, syscall.SIGTERM)
		select {
		case <-s.exited:
			s.cmd = nil
		case <-time.After(2 * time.Second):
			s.killLocked()
		}
	}
	s.mu.Unlock()
	s.removeDir()
}

func (s *Server) removeDir() {
	if s.ownDir {
		_ = os.RemoveAll(s.Dir)
	}
}

func (s *Server) logFile() string { return filepath.Join(s.Dir, "redis.log") }

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logFile())
	if err != nil {
		return "no log (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}

// freePort is FreePort; a test makes it hand out a taken port first.
var freePort = FreePort

// FreePort asks the kernel for a free loopback TCP port. Another process may take it before
// it is used: callers that bind it later retry (Start does).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func ping(ctx context.Context, u string) error {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}
