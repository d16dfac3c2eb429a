package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// rooms (issue 15): what many rooms with nobody in them cost. N rooms (from the YAML, or
// created at runtime through the admin API from a template), R gateway replicas, nobody
// waiting; after a warm-up, each replica's CPU (/proc/<pid>/stat) and Redis's commands
// (INFO stats and commandstats, a private redis-server by default so nothing else counts) are
// read over a window.

func runRooms(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rooms", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rf redisFlags
	rf.bind(fs)
	n := fs.Int("rooms", 1000, "rooms, all idle")
	replicas := fs.Int("replicas", 2, "gateway replicas (processes)")
	window := fs.Duration("window", 30*time.Second, "measured window")
	warmup := fs.Duration("warmup", 15*time.Second, "from the last replica's start to the window")
	runtimeRooms := fs.Bool("runtime", false, "create the rooms through the admin API from a room template instead of the YAML")
	keep := fs.Bool("keep", false, "keep the temporary directory (configs, logs)")
	profile := fs.String("profile", "", "write replica 1's CPU profile over the window to this `file`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *n < 1 || *n > 20000 || *replicas < 1 || *replicas > 8 || *window < 5*time.Second || *window > time.Hour {
		fmt.Fprintln(stderr, "foyer-load rooms: rooms 1..20000, replicas 1..8, window 5s..1h")
		return 2
	}
	if rf.url == os.Getenv("FOYER_REDIS_URL") || rf.url == "redis://127.0.0.1:6379/0" {
		fmt.Fprintln(stderr, "foyer-load rooms: note: a shared Redis counts other clients' commands too; --redis private measures this run alone")
	}
	dir, st, done, err := begin(ctx, "rooms", rf, *keep, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer done()

	spec := func(i int) roomSpec {
		return roomSpec{Name: fmt.Sprintf("r-%05d", i), RatePerMinute: 60, MaxActive: 10, Session: 10 * time.Minute,
			AbsentAfter: 2 * time.Minute, Grace: 30 * time.Minute}
	}
	set := newSetup(dir, st, spec(0))
	if !*runtimeRooms {
		for i := 1; i < *n; i++ {
			set.extra = append(set.extra, spec(i))
		}
	}
	var gws []*child
	defer func() { stopAll(gws) }()
	for i := range *replicas {
		port, err := freePort()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		name := fmt.Sprintf("gateway-%d", i+1)
		cp, err := set.writeConfig(name, fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil && *runtimeRooms {
			err = appendFile(cp, `room_templates:
  - name: idle
    mode: token
    return_urls: ["http://127.0.0.1/{room}/"]
    rate_per_minute: 60
    max_active: 10
`)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		c, err := startGateway(ctx, name, cp, dir+"/"+name+".log")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		gws = append(gws, c)
		fmt.Fprintf(stdout, "replica: pid %d on %s\n", c.pid(), c.ready.Listen)
	}
	how := "in the YAML"
	if *runtimeRooms {
		how = "created at runtime through replica 1's admin API"
		start := time.Now()
		if err := createRooms(ctx, "http://"+gws[0].ready.Listen, set.adminToken, *n); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "created %d rooms in %s\n", *n-1, time.Since(start).Round(time.Millisecond))
	}
	fmt.Fprintf(stdout, "%d idle rooms (%s), %d replicas; warm-up %s, window %s\n\n", *n, how, *replicas, *warmup, *window)
	select {
	case <-time.After(*warmup):
	case <-ctx.Done():
		return 1
	}
	cpu0 := make([]time.Duration, len(gws))
	for i, g := range gws {
		cpu0[i] = procCPU(g.pid())
	}
	i0, err := st.info(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	t0 := time.Now()
	var prof sync.WaitGroup
	if *profile != "" {
		prof.Add(1)
		go func() {
			defer prof.Done()
			if err := gws[0].profile(int(window.Seconds())-1, *profile); err != nil {
				fmt.Fprintln(stderr, "profile:", err)
			}
		}()
	}
	select {
	case <-time.After(*window):
	case <-ctx.Done():
		return 1
	}
	prof.Wait()
	i1, err := st.info(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	el := time.Since(t0)
	d := diffInfo(i0, i1)
	sec := el.Seconds()
	fmt.Fprintf(stdout, "over %s:\n", el.Round(time.Millisecond))
	for i, g := range gws {
		used := procCPU(g.pid()) - cpu0[i]
		fmt.Fprintf(stdout, "  replica %d CPU: %.1f%% of one core (%s)\n", i+1, 100*used.Seconds()/sec, used)
	}
	fmt.Fprintf(stdout, "  Redis commands/s: %.0f (scripts' inner commands included); round trips/s: %.0f; Redis CPU: %.1f%% of one core\n",
		float64(d.processed)/sec, float64(d.reads)/sec, 100*d.cpu.Seconds()/sec)
	fmt.Fprintf(stdout, "  busiest commands in the window: %s\n", d.top(6))
	fmt.Fprintf(stdout, "load average after: %s\n", loadAvg())
	return 0
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// createRooms creates rooms r-00001.. r-(n-1) from the template "idle", 16 at a time.
func createRooms(ctx context.Context, base, token string, n int) error {
	cl := &http.Client{Timeout: 10 * time.Second}
	return forEach(ctx, 16, 1, n, func(i int) error {
		body := fmt.Sprintf(`{"name": "r-%05d", "template": "idle"}`, i)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/foyer/admin/v1/rooms", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("create r-%05d: %s %s", i, resp.Status, b)
		}
		return nil
	})
}
