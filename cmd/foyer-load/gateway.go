package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/gateway"
	"github.com/foyerhq/foyer/queue"
)

// The gateway child: built and served as `foyer serve` does it (gateway.Build, gateway.Serve), plus a control
// listener on another loopback port with net/http/pprof and the count of Redis calls this
// process made, so a profile and an exact commands-per-poll figure can be had even on a Redis
// that other clients share.

// gatewayReady is the line the child prints on stdout once it serves.
type gatewayReady struct {
	Listen  string `json:"listen"`
	Control string `json:"control"`
	PID     int    `json:"pid"`
}

// redisCounts is what the control listener's /counts reports.
type redisCounts struct {
	// Calls are round trips: single commands and pipelines (a script call is one).
	Calls int64 `json:"calls"`
	// Commands counts every command sent, those inside pipelines one by one.
	Commands int64 `json:"commands"`
}

type countHook struct{ calls, cmds atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.calls.Add(1)
		h.cmds.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.calls.Add(1)
		h.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "configuration file written by the parent")
	maxLife := fs.Duration("max-life", 30*time.Minute, "stop after this long whatever happens")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// The environment is ignored on purpose: the parent wrote everything into the file.
	cfg, err := gateway.LoadConfig(*config, func(string) string { return "" })
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	lvl, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	log := zerolog.New(stderr).Level(lvl).With().Timestamp().Logger()

	ctx, cancel := context.WithTimeout(ctx, *maxLife)
	defer cancel()
	go func() { // the parent holds our stdin: when it goes, so do we
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := serveGateway(ctx, cfg, log, stdout); err != nil {
		log.Error().Err(err).Msg("gateway stopped")
		return 1
	}
	return 0
}

func serveGateway(ctx context.Context, cfg gateway.Config, log zerolog.Logger, stdout io.Writer) error {
	opt, err := redis.ParseURL(cfg.Redis.URL)
	if err != nil {
		return fmt.Errorf("redis.url: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, cfg.Redis.Timeout, cfg.Redis.Timeout
	opt.PoolSize = 64 // as cmd/foyer's openStore
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	hook := &countHook{}
	rdb.AddHook(hook)

	var tk []queue.TicketKey
	for _, s := range cfg.Tickets.Secrets {
		tk = append(tk, queue.TicketKey{ID: byte(s.ID), Secret: []byte(s.Secret)})
	}
	parts, err := gateway.Build(cfg, rdb, tk, log)
	if err != nil {
		return err
	}
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/counts", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(redisCounts{Calls: hook.calls.Load(), Commands: hook.cmds.Load()})
	})
	ctl := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = ctl.Serve(cln) }()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = ctl.Shutdown(sctx)
	}()
	// the gateway itself runs as `foyer serve` runs it (gateway.Serve), except that the rooms
	// must exist before the parent is told the address
	return parts.Serve(ctx, gateway.ServeOptions{
		RoomsWithin:   10 * time.Second,
		ShutdownGrace: 5 * time.Second,
		Ready: func(addr string) {
			b, _ := json.Marshal(gatewayReady{Listen: addr, Control: cln.Addr().String(), PID: os.Getpid()})
			fmt.Fprintf(stdout, "%s\n", b)
		},
	})
}

// child is a gateway child process seen from the parent.
type child struct {
	*proc
	ready gatewayReady
	stdin io.WriteCloser
	log   string
}

// startGateway runs this binary's gateway command on cfgPath and waits until the gateway
// answers /readyz.
func startGateway(ctx context.Context, name, cfgPath, logPath string) (*child, error) {
	return startChild(ctx, name, logPath, "/readyz", "gateway", "--config", cfgPath)
}

// startChild runs this binary with args, reads the ready line and waits until readyPath
// answers 200.
func startChild(ctx context.Context, name, logPath, readyPath string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	p, in, err := startWithStdin(name, pw, logf, self, args...)
	if err != nil {
		logf.Close()
		return nil, err
	}
	c := &child{proc: p, stdin: in, log: logPath}
	go func() { <-p.done; logf.Close(); pw.Close() }()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			c.stop()
			return nil, fmt.Errorf("%s did not start: %s", name, logTail(logPath, 5))
		}
		if err := json.Unmarshal([]byte(l), &c.ready); err != nil {
			c.stop()
			return nil, fmt.Errorf("%s: %q: %w", name, l, err)
		}
	case <-time.After(30 * time.Second):
		c.stop()
		return nil, fmt.Errorf("%s did not start within 30s: %s", name, logTail(logPath, 5))
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + c.ready.Listen + readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		if time.Now().After(deadline) || c.exited() {
			c.stop()
			return nil, fmt.Errorf("%s not ready: %v %s", name, err, logTail(logPath, 5))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop closes the child's stdin (its signal to leave), then SIGTERM and SIGKILL by PID.
func (c *child) stop() {
	if c == nil {
		return
	}
	_ = c.stdin.Close()
	select {
	case <-c.done:
		return
	case <-time.After(3 * time.Second):
	}
	c.proc.stop(syscall.SIGTERM, 5*time.Second)
}

// counts reads the child's Redis call counters.
func (c *child) counts() (redisCounts, error) {
	var rc redisCounts
	resp, err := http.Get("http://" + c.ready.Control + "/counts")
	if err != nil {
		return rc, err
	}
	defer resp.Body.Close()
	return rc, json.NewDecoder(resp.Body).Decode(&rc)
}

// profile fetches a CPU profile of seconds from the child into path.
func (c *child) profile(seconds int, path string) error {
	cl := &http.Client{Timeout: time.Duration(seconds+30) * time.Second}
	resp, err := cl.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.ready.Control, seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
