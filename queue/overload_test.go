package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// gateHook holds join.lua calls (EVALSHA whose second key is an address-count hash) until the
// gate opens.
type gateHook struct {
	on     atomic.Bool
	inside chan struct{}
	gate   chan struct{}
}

func (h *gateHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *gateHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *gateHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		a := cmd.Args()
		if h.on.Load() && (cmd.Name() == "evalsha" || cmd.Name() == "eval") && len(a) > 5 && strings.Contains(fmt.Sprint(a[4]), "}:joins:") {
			h.inside <- struct{}{}
			<-h.gate
		}
		return next(ctx, cmd)
	}
}

// TestJoinShedsWhenTooManyWait: while a join call is stuck, joins queue up to the bound; the
// next one is refused at once with ErrBusy (nothing issued), and the queued ones all get
// their tickets once Redis answers.
func TestJoinShedsWhenTooManyWait(t *testing.T) {
	old := maxPendingJoins
	maxPendingJoins = 4
	t.Cleanup(func() { maxPendingJoins = old })
	b := singleBackend(t)
	hook := &gateHook{inside: make(chan struct{}, 1), gate: make(chan struct{})}
	b.rdb.AddHook(hook)
	e := newTestEngine(t, b, func(c *Config) { c.CallTimeout = 10 * time.Second })
	ensure(t, e, "shed", Settings{})
	hook.on.Store(true)

	errs := make(chan error, 5)
	var wg sync.WaitGroup
	join := func() {
		defer wg.Done()
		_, _, err := e.Join(context.Background(), "shed", NewVisitorID())
		errs <- err
	}
	wg.Add(1)
	go join()
	<-hook.inside // the first call is in flight
	for range 4 {
		wg.Add(1)
		go join()
	}
	r := e.cached("shed")
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.join.mu.Lock()
		n := len(r.join.pending)
		r.join.mu.Unlock()
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d joins pending, want 4", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, err := e.Join(context.Background(), "shed", NewVisitorID()); !errors.Is(err, ErrBusy) {
		t.Fatalf("join beyond the bound: %v, want ErrBusy", err)
	}
	hook.on.Store(false)
	close(hook.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a queued join failed: %v", err)
		}
	}
}
