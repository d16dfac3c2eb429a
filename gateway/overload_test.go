package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/queue/redistest"
)

// scriptHook slows down or fails chosen script calls (EVALSHA with a given number of keys: 1
// and 6 arguments is join.lua, 8 keys is claim.lua), to play a Redis that is slow for those
// calls while the admission step keeps answering.
type scriptHook struct {
	numkeys, nargs int          // which calls
	delay          atomic.Int64 // nanoseconds each such call waits first (bounded by its context)
	failNext       atomic.Int64 // how many such calls fail with a timeout instead
	seen           atomic.Int64 // such calls made
	_              [0]func()    // not comparable
}

func (h *scriptHook) match(cmd redis.Cmder) bool {
	a := cmd.Args()
	if cmd.Name() != "evalsha" && cmd.Name() != "eval" || len(a) < 3 {
		return false
	}
	if fmt.Sprint(a[2]) != fmt.Sprint(h.numkeys) {
		return false
	}
	return h.nargs == 0 || len(a) == h.nargs
}

func (h *scriptHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *scriptHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *scriptHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !h.match(cmd) {
			return next(ctx, cmd)
		}
		h.seen.Add(1)
		if h.failNext.Add(-1) >= 0 {
			cmd.SetErr(context.DeadlineExceeded)
			return context.DeadlineExceeded
		}
		if d := time.Duration(h.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				cmd.SetErr(ctx.Err())
				return ctx.Err()
			}
		}
		return next(ctx, cmd)
	}
}

// errorCode is the code of a JSON error body.
func errorCode(b []byte) string {
	var e errorBody
	_ = json.Unmarshal(b, &e)
	return e.Error.Code
}

// TestSlowStoreGivesSlowerJoin: Redis stalls for one and a half times the configured timeout
// (CLIENT PAUSE on a private server): a visitor's join is answered once Redis is back, not
// with 503 "reconnecting" (issue 12: a starved machine turned slow answers into errors).
func TestSlowStoreGivesSlowerJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	srv := redistest.StartServer(t)
	timeout := time.Second
	rdb, closeStore, err := OpenStore(context.Background(), RedisConfig{URL: srv.URL(), Timeout: timeout}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	h := newHarness(t, harnessOpt{rdb: rdb, prefix: redistest.Prefix(t), mod: func(c *Config) { c.Redis.Timeout = timeout }})
	h.visitor().join(testRoom)

	if err := srv.Client(t).Do(context.Background(), "CLIENT", "PAUSE", (3 * timeout / 2).Milliseconds(), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	v := h.visitor()
	resp, b := v.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join", "application/json", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("join while Redis stalled %s: %d %s, want 200 (slower, not an error)", 3*timeout/2, resp.StatusCode, b)
	}
}

// TestOverloadAnswersBusy: a join whose Redis call does not come back in time while Redis is
// still answering the admission step is answered 503 `busy` with Retry-After (the page waits
// it out quietly), not "reconnecting", and counted in foyer_shed_total.
func TestOverloadAnswersBusy(t *testing.T) {
	db := redistest.New(t)
	hook := &scriptHook{numkeys: 3, nargs: 10} // join.lua: meta and two address-count keys, four arguments (no per-join part)
	db.Client.AddHook(hook)
	h := newHarness(t, harnessOpt{rdb: db.Client, prefix: db.Prefix})
	h.visitor().join(testRoom)

	hook.delay.Store(int64(time.Minute))
	resp, b := h.visitor().do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join", "application/json", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || errorCode(b) != "busy" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("join while the join call is stuck: %d %s (Retry-After %q), want 503 busy with Retry-After",
			resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	if hook.seen.Load() < 2 {
		t.Fatalf("the hook saw %d join calls: it did not catch join.lua", hook.seen.Load())
	}
	if got := counterValue(h.gw.shed.WithLabelValues("join")); got != 1 {
		t.Fatalf("foyer_shed_total{op=join} = %v, want 1", got)
	}
}

// TestClaimRetriedOnce: the claim of a visitor whose turn has come fails once with a timeout;
// the gateway retries it (a claim is idempotent per ticket) and the visitor is admitted by the
// same poll, never shown "reconnecting".
func TestClaimRetriedOnce(t *testing.T) {
	db := redistest.New(t)
	hook := &scriptHook{numkeys: 11, nargs: 20} // claim.lua: 11 keys, 6 arguments (step.lua has 11 keys too)
	db.Client.AddHook(hook)
	h := newHarness(t, harnessOpt{rdb: db.Client, prefix: db.Prefix, rooms: func(backend string) []RoomConfig {
		rc := defaultRoom(backend)
		rc.QueueAll = true
		return []RoomConfig{rc}
	}})
	v := h.visitor()
	v.join(testRoom)
	hook.failNext.Store(1)
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := v.status(testRoom)
		if s.Reconnecting {
			t.Fatalf("a claim that failed once showed the visitor %+v", s)
		}
		if s.Admitted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not admitted within 20s: %+v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := hook.seen.Load(); n < 2 {
		t.Fatalf("claim.lua calls seen: %d, want the failed one and its retry", n)
	}
}
