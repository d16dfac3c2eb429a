package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/queue/redistest"
	"github.com/foyerhq/foyer/web"
)

// countCmds counts every command sent, those in pipelines one by one, by name.
type countCmds struct {
	mu  sync.Mutex
	n   atomic.Int64
	per map[string]int
}

func (h *countCmds) add(cmd redis.Cmder) {
	name := cmd.Name()
	if name == "hello" || name == "client" { // a new connection's handshake
		return
	}
	if a := cmd.Args(); len(a) > 1 && name == "script" {
		name += " " + strings.ToLower(fmt.Sprint(a[1]))
	}
	h.n.Add(1)
	h.mu.Lock()
	h.per[name]++
	h.mu.Unlock()
}
func (h *countCmds) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countCmds) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.add(cmd); return next(ctx, cmd) }
}
func (h *countCmds) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.add(c)
		}
		return next(ctx, cmds)
	}
}

// TestReadyzIsCheap: /readyz loads the scripts once and then costs at most one Redis command a
// second, however often it is probed; a Redis that lost the scripts gets them again. Each
// probe once sent nine SCRIPT LOADs.
func TestReadyzIsCheap(t *testing.T) {
	srv := redistest.StartServer(t) // private: the test flushes the script cache
	rdb := srv.Client(t)
	hook := &countCmds{per: map[string]int{}}
	rdb.AddHook(hook)
	var clock atomic.Int64
	clock.Store(time.Date(2026, 5, 1, 14, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }

	cfg := DefaultConfig()
	cfg.Tokens.KeyDir = t.TempDir()
	cfg.FillDefaults()
	log := zerolog.New(io.Discard)
	engine, err := queue.New(rdb, queue.Config{Prefix: "readyz", Logger: log,
		TicketKeys: []queue.TicketKey{{ID: 1, Secret: []byte("test-ticket-secret-0123456789abcdef")}}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := admission.LoadOrGenerate(cfg.Tokens.KeyDir, admission.Algorithm(cfg.Tokens.Algorithm), log)
	if err != nil {
		t.Fatal(err)
	}
	site, err := web.New(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := New(cfg, Deps{Engine: engine, Keys: keys, Site: site, Logger: log, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(gw.Handler())
	defer hs.Close()
	probe := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			resp, err := http.Get(hs.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("readyz: %d", resp.StatusCode)
			}
		}
	}
	counts := func() (int64, map[string]int) {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		per := map[string]int{}
		for k, v := range hook.per {
			per[k] = v
		}
		return hook.n.Load(), per
	}

	probe(50) // within one second
	n, per := counts()
	// each script once (25 today; the bound leaves room for new ones, far below one per probe)
	if loads := per["script load"]; loads > 40 || n > int64(loads)+1 {
		t.Fatalf("50 probes in one second sent %d commands (%v); want each script loaded once and at most one check", n, per)
	}

	// Ten more seconds of probes, five a second: one SCRIPT EXISTS a second, no load.
	for s := 0; s < 10; s++ {
		clock.Add(int64(time.Second))
		probe(5)
	}
	n2, per2 := counts()
	if n2-n != 10 || per2["script load"] != per["script load"] {
		t.Fatalf("10 s of probes sent %d commands (%v), want 10 and no SCRIPT LOAD", n2-n, per2)
	}

	// Redis lost its scripts (a restart, a SCRIPT FLUSH): the next check loads them again.
	if err := rdb.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(time.Second))
	probe(1)
	_, per3 := counts()
	if per3["script load"] != per2["script load"]+per["script load"] {
		t.Fatalf("after a SCRIPT FLUSH: %d SCRIPT LOADs, want %d", per3["script load"], per2["script load"]+per["script load"])
	}
}
