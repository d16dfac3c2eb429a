package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyerhq/foyer/internal/redisproc"
)

// redisFlags choose the Redis a run uses.
type redisFlags struct {
	url    string
	prefix string
}

func (f *redisFlags) bind(fs *flag.FlagSet) {
	def := os.Getenv("FOYER_REDIS_URL")
	if def == "" {
		def = "redis://127.0.0.1:6379/0"
	}
	fs.StringVar(&f.url, "redis", def, `Redis URL (env FOYER_REDIS_URL), or "private" to start a redis-server of the run's own on a free port`)
	fs.StringVar(&f.prefix, "prefix", "", "key prefix (default foyer-load-<random>); every key of the run starts with it and is deleted at the end")
}

// store is the run's Redis.
type store struct {
	url     string
	prefix  string
	rdb     *redis.Client
	private *redisproc.Server
	shared  bool
}

// openStore connects to the chosen Redis, starting a private one if asked.
func openStore(ctx context.Context, f redisFlags, dir string) (*store, error) {
	s := &store{url: f.url, prefix: f.prefix}
	if s.prefix == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		s.prefix = "foyer-load-" + hex.EncodeToString(b[:])
	}
	if f.url == "private" {
		rdir := filepath.Join(dir, "redis")
		if err := os.MkdirAll(rdir, 0o700); err != nil {
			return nil, err
		}
		srv, err := redisproc.Start(ctx, redisproc.Options{Dir: rdir})
		if err != nil {
			return nil, err
		}
		s.private, s.url = srv, srv.URL()
	} else {
		s.shared = true
	}
	opt, err := redis.ParseURL(s.url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	opt.PoolSize = 256
	s.rdb = redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.rdb.Ping(pctx).Err(); err != nil {
		s.close(ctx)
		return nil, fmt.Errorf("redis %s: %w (set FOYER_REDIS_URL, run a redis-server on 127.0.0.1:6379, or use --redis private)", s.url, err)
	}
	return s, nil
}

// close deletes the run's keys (shared Redis) and stops the private server.
func (s *store) close(ctx context.Context) {
	if s.rdb != nil && s.shared {
		n := s.deletePrefix(context.WithoutCancel(ctx))
		fmt.Fprintf(os.Stderr, "foyer-load: deleted %d keys under %s\n", n, s.prefix)
	}
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	if s.private != nil {
		s.private.Stop()
	}
}

// deletePrefix removes every key of the run (SCAN, then UNLINK); never a FLUSH.
func (s *store) deletePrefix(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n := 0
	iter := s.rdb.Scan(ctx, 0, s.prefix+":*", 1000).Iterator()
	var batch []string
	flush := func() {
		if len(batch) > 0 {
			n += int(s.rdb.Unlink(ctx, batch...).Val())
			batch = batch[:0]
		}
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			flush()
		}
	}
	flush()
	return n
}

// keyMemory is MEMORY USAGE (all samples) of every key under the run's prefix whose name
// contains part.
func (s *store) keyMemory(ctx context.Context, part string) (int64, []string, error) {
	var total int64
	var detail []string
	iter := s.rdb.Scan(ctx, 0, s.prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if !strings.Contains(k, part) {
			continue
		}
		m, err := s.rdb.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			return 0, nil, err
		}
		total += m
		detail = append(detail, fmt.Sprintf("%s=%d", strings.TrimPrefix(k, s.prefix+":"), m))
	}
	sort.Strings(detail)
	return total, detail, iter.Err()
}

// redisInfo is what one INFO stats/commandstats read gave.
type redisInfo struct {
	processed int64            // total_commands_processed: every command run, scripts' inner ones included
	reads     int64            // total_reads_processed: reads from client sockets, about one a round trip
	cpu       time.Duration    // used_cpu_user + used_cpu_sys of the server
	calls     map[string]int64 // commandstats calls, scripts' inner commands included
}

func (s *store) info(ctx context.Context) (redisInfo, error) {
	txt, err := s.rdb.Info(ctx, "stats", "commandstats", "cpu").Result()
	if err != nil {
		return redisInfo{}, err
	}
	return parseInfo(txt), nil
}

// parseInfo reads the counters foyer-load uses from INFO text.
func parseInfo(txt string) redisInfo {
	ri := redisInfo{calls: map[string]int64{}}
	for _, line := range strings.Split(txt, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			ri.processed, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "total_reads_processed:"); ok {
			ri.reads, _ = strconv.ParseInt(v, 10, 64)
		}
		for _, k := range []string{"used_cpu_user:", "used_cpu_sys:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				ri.cpu += time.Duration(f * float64(time.Second))
			}
		}
		if rest, ok := strings.CutPrefix(line, "cmdstat_"); ok {
			name, fields, _ := strings.Cut(rest, ":")
			for _, f := range strings.Split(fields, ",") {
				if v, ok := strings.CutPrefix(f, "calls="); ok {
					ri.calls[name], _ = strconv.ParseInt(v, 10, 64)
				}
			}
		}
	}
	return ri
}

// infoDelta is what happened in Redis between two INFO reads.
type infoDelta struct {
	processed int64            // commands run, scripts' inner ones included, the first INFO excluded
	reads     int64            // client socket reads (round trips), the INFO reads excluded
	cpu       time.Duration    // Redis server CPU time
	byCmd     map[string]int64 // commandstats calls by command, INFO excluded
}

func diffInfo(a, b redisInfo) infoDelta {
	d := infoDelta{processed: b.processed - a.processed - 1, reads: b.reads - a.reads - 1, cpu: b.cpu - a.cpu,
		byCmd: map[string]int64{}}
	for k, v := range b.calls {
		if k == "info" {
			continue
		}
		if n := v - a.calls[k]; n > 0 {
			d.byCmd[k] = n
		}
	}
	return d
}

// top lists the busiest commands of a delta.
func (d infoDelta) top(n int) string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range d.byCmd {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var out []string
	for i, e := range all {
		if i == n {
			break
		}
		out = append(out, fmt.Sprintf("%s=%d", e.k, e.v))
	}
	return strings.Join(out, " ")
}
