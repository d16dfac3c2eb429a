package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/foyerhq/foyer/internal/childproc"
)

// proc is a child process this run started; it is only ever stopped through its own PID.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProc starts bin with args. The child gets SIGKILL if this process dies first (Linux), so
// nothing outlives a crashed or killed run.
func startProc(name string, stdout, stderr io.Writer, bin string, args ...string) (*proc, error) {
	p, _, err := start(name, false, syscall.SIGKILL, stdout, stderr, bin, args...)
	return p, err
}

// startProcSig is startProc with another signal for when this process dies (nginx's master
// must get one it can pass on to its workers).
func startProcSig(name string, deathSig syscall.Signal, stdout, stderr io.Writer, bin string, args ...string) (*proc, error) {
	p, _, err := start(name, false, deathSig, stdout, stderr, bin, args...)
	return p, err
}

// startWithStdin is startProc with a pipe to the child's stdin.
func startWithStdin(name string, stdout, stderr io.Writer, bin string, args ...string) (*proc, io.WriteCloser, error) {
	return start(name, true, syscall.SIGKILL, stdout, stderr, bin, args...)
}

func start(name string, withStdin bool, deathSig syscall.Signal, stdout, stderr io.Writer, bin string, args ...string) (*proc, io.WriteCloser, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	childproc.DieWithParent(cmd, deathSig)
	var in io.WriteCloser
	if withStdin {
		var err error
		if in, err = cmd.StdinPipe(); err != nil {
			return nil, nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, in, nil
}

// pid is the child's process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the child has already ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the child's PID, waits up to grace, then kills that PID.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	_ = childproc.Signal(p.cmd.Process, sig)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = childproc.Signal(p.cmd.Process, syscall.SIGKILL)
	<-p.done
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP waits until addr accepts connections.
func waitTCP(ctx context.Context, addr string, within time.Duration, p *proc) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited before listening on %s: %v", p.name, addr, p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// need checks that a program is on PATH and says how to get it when not.
func need(prog, debianPkg string) (string, error) {
	path, err := exec.LookPath(prog)
	if err != nil {
		return "", fmt.Errorf("%s is needed and not on PATH (Debian: apt-get install -y %s)", prog, debianPkg)
	}
	return path, nil
}

// tempDir makes the run's temporary directory, readable by nginx's worker user.
func tempDir() (string, error) {
	dir, err := os.MkdirTemp("", "foyer-load-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// logTail returns the last lines of a log file, for error messages.
func logTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

var errInterrupted = errors.New("interrupted")

// begin is what every run does first: a temporary directory (kept with --keep), the store, and
// the header naming the machine, the Redis and the load. done removes what begin made.
func begin(ctx context.Context, name string, rf redisFlags, keep bool, stdout, stderr io.Writer) (string, *store, func(), error) {
	dir, err := tempDir()
	if err != nil {
		return "", nil, nil, err
	}
	st, err := openStore(ctx, rf, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, nil, err
	}
	if keep {
		fmt.Fprintf(stderr, "foyer-load: keeping %s\n", dir)
	}
	fmt.Fprintf(stdout, "foyer-load %s: %s\nmachine: %s\nredis %s at %s (%s), prefix %s\nload average before: %s\n\n",
		name, time.Now().Format(time.RFC3339), machine(), redisVersion(ctx, st.rdb), st.url, sharedWord(st), st.prefix, loadAvg())
	return dir, st, func() {
		st.close(ctx)
		if !keep {
			_ = os.RemoveAll(dir)
		}
	}, nil
}
