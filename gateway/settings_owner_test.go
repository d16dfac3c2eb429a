package gateway

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/queue/redistest"
)

// commandCounter is a go-redis hook that records every command sent, scripts included.
type commandCounter struct {
	mu   sync.Mutex
	cmds []string
}

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.record(cmd)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.record(cmd)
		}
		return next(ctx, cmds)
	}
}

func (c *commandCounter) record(cmd redis.Cmder) {
	c.mu.Lock()
	c.cmds = append(c.cmds, strings.ToLower(cmd.Name()))
	c.mu.Unlock()
}

// take returns the commands recorded since the last take.
func (c *commandCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.cmds
	c.cmds = nil
	return out
}

// countedHarness is a gateway whose engine does not run its loop, over a Redis client that
// counts commands: every Redis call a request makes is its own.
func countedHarness(t *testing.T) (*harness, *commandCounter) {
	t.Helper()
	db := redistest.New(t)
	opt, err := redis.ParseURL(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	cc := &commandCounter{}
	rdb.AddHook(cc)
	h := newHarness(t, harnessOpt{rdb: rdb, prefix: db.Prefix, noRun: true})
	cc.take()
	return h, cc
}

// Reads never write: the admin API's GETs and the dashboard's reads answer from the cache and
// do not run the admission step (which used to advance the head on every GET).
func TestAdminReadsDoNotStep(t *testing.T) {
	t.Parallel()
	h, cc := countedHarness(t)
	v := h.visitor()
	v.join(testRoom)
	ctx := context.Background()
	headKey := h.prefix + ":{" + testRoom + "}:meta"
	before := h.rdb.HGet(ctx, headKey, "head").Val()
	cc.take()
	for range 5 {
		for _, p := range []string{festivalPath, adminPath + "/rooms"} {
			if r := h.call(adminCall{method: http.MethodGet, path: p}); r.status != http.StatusOK {
				t.Fatalf("GET %s: %d", p, r.status)
			}
		}
	}
	if got := cc.take(); len(got) != 0 {
		t.Fatalf("ten admin reads sent %d Redis commands %v, want none (reads come from the cache)", len(got), got)
	}
	if after := h.rdb.HGet(ctx, headKey, "head").Val(); after != before {
		t.Fatalf("admin reads moved the head in Redis: %s -> %s", before, after)
	}
}

// A PATCH is one update script (the audit entry and the announcement inside it): at most two
// round trips even when another replica changed the settings since this one's last step.
func TestAdminPatchRoundTrips(t *testing.T) {
	t.Parallel()
	h, cc := countedHarness(t)
	for i, body := range []string{`{"rate_per_minute": 90}`, `{"max_active": 7, "state": "paused"}`, `{"session_seconds": 900}`} {
		if r := h.call(patchCall(body)); r.status != http.StatusOK {
			t.Fatalf("patch %d: %d %s", i, r.status, r.body)
		}
		got := cc.take()
		if len(got) > 2 {
			t.Fatalf("patch %s sent %d commands %v, want at most 2", body, len(got), got)
		}
	}
	// another writer changes the room behind this replica's cache: the conflict reply carries
	// the current settings, so the second attempt needs no extra read
	ctx := context.Background()
	if err := h.rdb.HIncrBy(ctx, h.prefix+":{"+testRoom+"}:meta", "version", 1).Err(); err != nil {
		t.Fatal(err)
	}
	cc.take()
	if r := h.call(patchCall(`{"rate_per_minute": 91}`)); r.status != http.StatusOK {
		t.Fatalf("patch after a concurrent change: %d %s", r.status, r.body)
	}
	if got := cc.take(); len(got) > 2 {
		t.Fatalf("patch after a concurrent change sent %d commands %v, want at most 2", len(got), got)
	}
	if e := h.auditRaw(); len(e) != 4 || e[0].After.RatePerMinute != 91 || e[0].Before.Version+1 != e[0].After.Version {
		t.Fatalf("audit %+v", e)
	}
}

// Every live setting can be PATCHed and is in force on a second replica within a second,
// including those the gateway used to read from its own copy of the YAML (the session that
// sets the extension threshold, the fail policy, queue_all, absent_after).
func TestLiveSettingsReachOtherReplica(t *testing.T) {
	t.Parallel()
	a, b := twoReplicas(t)
	body := `{"session_seconds": 1200, "max_session_seconds": 3600, "absent_after_seconds": 45,
		"grace_seconds": 120, "queue_all": false, "on_store_error": "open"}`
	sent := time.Now()
	if r := a.call(patchCall(body)); r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	rm := b.gw.roomSet().rooms[testRoom]
	d := inForce(t, "every live setting", sent, func() bool {
		st := b.gw.settings(rm)
		return st.Session == 20*time.Minute && st.MaxSession == time.Hour && st.AbsentAfter == 45*time.Second &&
			st.Grace == 2*time.Minute && !st.QueueAll && st.OnStoreError == "open"
	})
	t.Logf("in force on the other replica after %s", d)
	g := b.call(adminCall{method: http.MethodGet, path: festivalPath}).room(t)
	if g.Settings.SessionSeconds != 1200 || g.Settings.AbsentAfterSeconds != 45 || g.Settings.OnStoreError != "open" || g.Settings.QueueAll {
		t.Fatalf("other replica's GET: %+v", g.Settings)
	}
	// bounds are queue.Settings'; the 400 names the admin API's fields
	r := a.call(patchCall(`{"absent_after_seconds": 0, "on_store_error": "maybe", "queue_all": "yes"}`))
	if r.status != http.StatusBadRequest {
		t.Fatalf("bad patch: %d %s", r.status, r.body)
	}
	f := r.errBody(t).Fields
	for _, k := range []string{"absent_after_seconds", "on_store_error", "queue_all"} {
		if f[k] == "" {
			t.Errorf("400 does not name %s: %v", k, f)
		}
	}
}

// The YAML seeds a room; for an existing room the stored settings win and every differing
// YAML value is reported at start-up, naming the YAML field and both values.
func TestStartupReportsConfigDifferences(t *testing.T) {
	t.Parallel()
	db := redistest.New(t)
	first := newHarness(t, harnessOpt{rdb: db.Client, prefix: db.Prefix})
	if r := first.call(patchCall(`{"rate_per_minute": 120}`)); r.status != http.StatusOK {
		t.Fatalf("patch: %d", r.status)
	}
	cfg := first.cfg
	cfg.Rooms = []RoomConfig{cfg.Rooms[0]}
	cfg.Rooms[0].Grace = 5 * time.Minute // differs from the stored default
	var logs bytes.Buffer
	srv, err := New(cfg, Deps{Engine: first.engine, Keys: first.keys, Site: first.gw.site,
		Logger: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.EnsureRooms(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{`"field":"rate_per_minute","yaml":"600","stored":"120"`, `"field":"grace","yaml":"5m0s","stored":"30m0s"`, "the stored value is kept"} {
		if !strings.Contains(out, want) {
			t.Errorf("start-up log lacks %s:\n%s", want, out)
		}
	}
	if st, _ := first.engine.Settings(context.Background(), testRoom); st.RatePerMinute != 120 || st.Grace != 30*time.Minute {
		t.Fatalf("stored settings changed by the YAML: %+v", st)
	}
}

// Behind a trusted proxy that appends its own X-Forwarded-For line, the client's forged first
// line must not win: every line is read, the rightmost untrusted hop is the client.
func TestClientIPReadsEveryForwardedLine(t *testing.T) {
	h := newHarness(t, harnessOpt{mod: func(c *Config) { c.TrustedProxies = []string{"127.0.0.1/32"} }})
	r, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Add("X-Forwarded-For", "203.0.113.5")  // the client's own, forged
	r.Header.Add("X-Forwarded-For", "198.51.100.7") // appended by the proxy: the real client
	if got := h.gw.clientIP(r); got != "198.51.100.7" {
		t.Fatalf("client IP %q, want the hop the proxy appended", got)
	}
}
