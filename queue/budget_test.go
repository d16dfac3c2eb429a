package queue

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyerhq/foyer/queue/redistest"
	"github.com/redis/go-redis/v9"
)

// TestBudgetMemoryPerWaitingVisitor measures Redis memory per waiting visitor with one million
// tickets issued and every one of them marked present in both live liveness bitmaps (the worst
// case). Budget: 16 bytes.
func TestBudgetMemoryPerWaitingVisitor(t *testing.T) {
	if testing.Short() {
		t.Skip("marks two million bits")
	}
	b := singleBackend(t)
	ctx := context.Background()
	// setting up a million tickets and two million bits is slow work for a shared Redis on a busy
	// machine: generous deadlines (this test measures memory, not time)
	e := newTestEngine(t, b, func(c *Config) { c.CallTimeout = 15 * time.Second })
	ensure(t, e, "mem", Settings{RatePerMinute: 600, MaxActive: 1000})
	r := e.cached("mem")
	const n = 1_000_000
	if _, _, _, _, err := e.issue(ctx, r, n); err != nil {
		t.Fatal(err)
	}
	s := step(t, e, "mem")
	epoch := r.redisNow().UnixMilli() / s.settings.AbsentAfter.Milliseconds()
	all := make([]int64, n)
	for i := range all {
		all[i] = int64(i + 1)
	}
	for _, ep := range []int64{epoch, epoch - 1} {
		if err := e.mark(ctx, r, markBatch{ep, all}, s.settings.AbsentAfter.Milliseconds()); err != nil {
			t.Fatal(err)
		}
	}
	s = step(t, e, "mem")
	var total int64
	var detail []string
	iter := b.rdb.Scan(ctx, 0, r.keys.base+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		m, err := b.rdb.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		total += m
		detail = append(detail, strings.TrimPrefix(k, r.keys.base)+"="+strconv.FormatInt(m, 10))
	}
	per := float64(total) / n
	t.Logf("issued %d, head %d: %d bytes in the room's keys (%s): %.3f bytes per waiting visitor",
		s.issued, s.head, total, strings.Join(detail, " "), per)
	if per > 16 {
		t.Fatalf("%.2f bytes per waiting visitor, budget 16", per)
	}
}

// countHook counts the commands a client sends (one per round trip outside pipelines).
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// TestBudgetCommandsPerStatus measures Redis commands per status poll on a private Redis while
// the engine runs its background loops (step every 100 ms, flush every second) and 10,000
// visitors poll. Budget: 0.05 round trips per poll.
func TestBudgetCommandsPerStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a private redis-server for 3 s")
	}
	srv := redistest.StartServer(t)
	c := srv.Client(t)
	hook := &countHook{}
	c.AddHook(hook)
	b := backend{name: "private", rdb: c, prefix: "budget"}
	ctx := context.Background()
	e := newTestEngine(t, b, func(c *Config) { c.FlushEvery = time.Second })
	ensure(t, e, "polls", Settings{RatePerMinute: 600, MaxActive: 1000})
	const visitors = 10000
	r := e.cached("polls")
	last, _, _, _, err := e.issue(ctx, r, visitors)
	if err != nil {
		t.Fatal(err)
	}
	runEngine(t, e)
	time.Sleep(300 * time.Millisecond)

	stats := func() int64 {
		info, err := c.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, line := range strings.Split(info, "\n") {
			if i := strings.Index(line, "calls="); i >= 0 {
				v := line[i+6:]
				v = v[:strings.IndexByte(v, ',')]
				n, _ := strconv.ParseInt(v, 10, 64)
				sum += n
			}
		}
		return sum
	}
	cmd0, rt0 := stats(), hook.n.Load()
	var polls atomic.Int64
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk := Ticket{Room: "polls", Visitor: "v"}
			for i := int64(g); time.Now().Before(deadline); i += 4 {
				tk.Number = last - visitors + 1 + i%visitors
				if _, err := e.Status(ctx, tk); err != nil {
					t.Error(err)
					return
				}
				polls.Add(1)
			}
		}()
	}
	wg.Wait()
	cmd1, rt1 := stats(), hook.n.Load()
	p := polls.Load()
	rt := rt1 - rt0 - 1         // minus the INFO call
	cmds := cmd1 - cmd0 - 1     // minus the first INFO (counted by the server)
	perSec := float64(rt) / 3.0 // background round trips per second for the room
	t.Logf("%d polls in 3 s (%.0f/s): %d round trips (%.6f per poll; %.1f/s background, i.e. %.5f per poll at 44,000 polls/s), %d server-side commands incl. script internals (%.6f per poll)",
		p, float64(p)/3, rt, float64(rt)/float64(p), perSec, perSec/44000, cmds, float64(cmds)/float64(p))
	if float64(rt)/float64(p) > 0.05 {
		t.Fatalf("%.4f round trips per poll, budget 0.05", float64(rt)/float64(p))
	}
}
