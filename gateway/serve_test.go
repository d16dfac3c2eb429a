package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/queue/redistest"
)

// slowMarks delays every liveness mark by d, so a shutdown that does not wait for the engine's
// final flush closes the client under it.
type slowMarks struct{ d time.Duration }

func (h slowMarks) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h slowMarks) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		for _, a := range cmd.Args() {
			if s, ok := a.(string); ok && strings.Contains(s, "}:seen:") {
				time.Sleep(h.d)
				break
			}
		}
		return next(ctx, cmd)
	}
}
func (h slowMarks) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// serveConfig is a valid one-room configuration on a free loopback port over db's prefix.
func serveConfig(t *testing.T, db *redistest.DB, backend string) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Redis.Prefix = db.Prefix
	cfg.Redis.Timeout = time.Second
	cfg.Tokens.KeyDir = t.TempDir()
	cfg.Limits.JoinsPerMinute = 0
	cfg.Rooms = []RoomConfig{{Name: testRoom, Paths: []string{"/book/"}, Backend: backend,
		RatePerMinute: 1, MaxActive: 1, QueueAll: true, AbsentAfter: time.Minute}}
	cfg.FillDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestServeWaitsForFinalFlush: when Serve returns, the liveness the engine saw last has reached
// Redis, so main may close the client at once. Before gateway.Serve, `foyer serve` returned
// without waiting for the engine and closed Redis under its final flush: visitors seen in the
// last second before a restart were then skipped as absent.
func TestServeWaitsForFinalFlush(t *testing.T) {
	db := redistest.New(t)
	opt, err := redis.ParseURL(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	rdb.AddHook(slowMarks{d: 300 * time.Millisecond})
	cfg := serveConfig(t, db, "http://127.0.0.1:1")
	parts, err := Build(cfg, rdb, []queue.TicketKey{{ID: 1, Secret: []byte("test-ticket-secret-0123456789abcdef")}},
		zerolog.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- parts.Serve(ctx, ServeOptions{RoomsWithin: 10 * time.Second, Ready: func(a string) { ready <- a }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	// Two visitors join (each join records the visitor as seen), then the gateway stops at once.
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/foyer/v1/rooms/"+testRoom+"/join", nil)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("join: status %d", resp.StatusCode)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return within 30s of the cancellation")
	}
	_ = rdb.Close() // what main does right after

	keys, err := db.Client.Keys(context.Background(), db.Prefix+":{"+testRoom+"}:seen:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var seen int64
	for _, k := range keys {
		n, err := db.Client.BitCount(context.Background(), k, nil).Result()
		if err != nil {
			t.Fatal(err)
		}
		seen += n
	}
	if seen != 2 {
		t.Fatalf("the liveness bitmaps hold %d visitors after shutdown, want 2 (keys %v)", seen, keys)
	}
}
