package queue

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// scriptCounter counts the calls of one script (EVALSHA or EVAL) a client sends.
type scriptCounter struct {
	hash string
	n    atomic.Int64
}

func (c *scriptCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *scriptCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if a := cmd.Args(); len(a) > 1 && strings.EqualFold(fmt.Sprint(a[0]), "evalsha") && fmt.Sprint(a[1]) == c.hash {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *scriptCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestIdleRoomsAreNotSteppedEveryTick: rooms with nobody in them are stepped every
// IdleStepEvery, not every StepEvery (issue 15: 1,000 idle rooms cost 10,000 step scripts a
// second per replica before), and their cache still counts as fresh. Fails on the code before
// idle.go: 40 rooms × 3 s / 100 ms = 1,200 steps against a bound of 160.
func TestIdleRoomsAreNotSteppedEveryTick(t *testing.T) {
	b := singleBackend(t)
	ctr := &scriptCounter{hash: stepScript.Hash()}
	b.rdb.AddHook(ctr)
	e := newTestEngine(t, b, func(c *Config) { c.IdleStepEvery = 2 * time.Second })
	const rooms = 40
	for i := range rooms {
		ensure(t, e, fmt.Sprintf("idle-%d", i), Settings{})
	}
	runEngine(t, e)
	const window = 3 * time.Second
	start := ctr.n.Load()
	time.Sleep(window) // a measurement window, not a wait for a condition
	steps := ctr.n.Load() - start
	bound := int64(rooms * (int(window/(2*time.Second)) + 3))
	t.Logf("%d idle rooms: %d step scripts in %s (bound %d; %d without idle skipping)", rooms, steps, window, bound, rooms*int(window/(100*time.Millisecond)))
	if steps > bound {
		t.Fatalf("%d step scripts for %d idle rooms in %s, want at most %d", steps, rooms, window, bound)
	}
	v, ok := e.View("idle-0")
	if !ok || !v.StoreOK {
		t.Fatalf("an idle room's view must stay fresh while Redis answers: %+v", v)
	}

	// a join here wakes the room at the next tick: the visitor is let in as soon as usual
	tk, _, err := e.Join(context.Background(), "idle-7", NewVisitorID())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := e.Poll(context.Background(), tk, PollOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Lease != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a visitor of a woken idle room was not let in: %+v", d.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIdleRoomSeesJoinsOfOtherReplicas: a replica that skips an idle room still learns of
// joins made on another replica (by its keep-alive step), so its figures catch up.
func TestIdleRoomSeesJoinsOfOtherReplicas(t *testing.T) {
	b := singleBackend(t)
	a := newTestEngine(t, b, func(c *Config) { c.IdleStepEvery = time.Second })
	other := newTestEngine(t, b)
	ensure(t, a, "quiet", Settings{OpensAt: time.Now().Add(time.Hour)})
	ensure(t, other, "quiet", Settings{})
	runEngine(t, a)
	waitFor(t, 10*time.Second, "room quiet on A", func() bool { return a.cached("quiet").quiet.Load() })
	join(t, other, "quiet", 3)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v, _ := a.View("quiet"); v.Waiting == 3 {
			break
		}
		if time.Now().After(deadline) {
			v, _ := a.View("quiet")
			t.Fatalf("replica A never saw the joins made on B: %+v", v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
