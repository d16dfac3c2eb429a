package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foyerhq/foyer/queue/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

var testTicketKeys = []TicketKey{{ID: 1, Secret: []byte("test ticket key, 32 bytes long!!")}}

// backend is a Redis the integration tests run against: the shared single server, or a
// private 3-master cluster.
type backend struct {
	name   string
	rdb    redis.UniversalClient
	prefix string
}

func singleBackend(t testing.TB) backend {
	t.Helper()
	db := redistest.New(t)
	return backend{name: "single", rdb: db.Client, prefix: db.Prefix}
}

// forEachBackend runs fn against a single Redis and, unless -short, a Redis Cluster.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("single", func(t *testing.T) { fn(t, singleBackend(t)) })
	if testing.Short() {
		return
	}
	t.Run("cluster", func(t *testing.T) { fn(t, clusterBackend(t)) })
}

func newTestEngine(t testing.TB, b backend, mod ...func(*Config)) *Engine {
	t.Helper()
	cfg := Config{
		Prefix:     b.prefix,
		TicketKeys: testTicketKeys,
		FlushEvery: 100 * time.Millisecond,
		Logger:     zerolog.Nop(),
	}
	for _, m := range mod {
		m(&cfg)
	}
	e, err := New(b.rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// runEngine runs e's background loops until the test ends.
func runEngine(t testing.TB, e *Engine) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return cancel
}

func step(t testing.TB, e *Engine, room string) *snapshot {
	t.Helper()
	r := e.cached(room)
	if r == nil {
		t.Fatalf("room %s unknown", room)
	}
	s, err := e.refresh(context.Background(), r)
	if err != nil {
		t.Fatalf("step: %v", err)
	}
	return s
}

func flush(t testing.TB, e *Engine, room string) {
	t.Helper()
	if err := e.flush(context.Background(), e.cached(room)); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func ensure(t testing.TB, e *Engine, room string, s Settings) Settings {
	t.Helper()
	got, err := e.EnsureRoom(context.Background(), room, s)
	if err != nil {
		t.Fatalf("ensure room: %v", err)
	}
	return got
}

type joined struct {
	t   Ticket
	enc string
}

func join(t testing.TB, e *Engine, room string, n int) []joined {
	t.Helper()
	out := make([]joined, n)
	for i := range out {
		tk, enc, err := e.Join(context.Background(), room, NewVisitorID())
		if err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
		out[i] = joined{tk, enc}
	}
	return out
}

func status(t testing.TB, e *Engine, tk Ticket) Status {
	t.Helper()
	st, err := e.Status(context.Background(), tk)
	if err != nil {
		t.Fatalf("status of ticket %d: %v", tk.Number, err)
	}
	return st
}

func TestFIFOAfterOpening(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newTestEngine(t, b)
		ensure(t, e, "fifo", Settings{RatePerMinute: 600, MaxActive: 1000, QueueAll: true})
		js := join(t, e, "fifo", 30)
		for i, j := range js {
			if j.t.Number != int64(i+1) || j.t.Prequeue {
				t.Fatalf("ticket %d: number %d prequeue %v", i, j.t.Number, j.t.Prequeue)
			}
		}
		s := step(t, e, "fifo")
		// credit starts at one second's worth (10) at most
		if s.head < 1 || s.head > 11 {
			t.Fatalf("head after the first step = %d, want 1..11", s.head)
		}
		var lastPlace int64
		for i, j := range js {
			st := status(t, e, j.t)
			if st.Position != j.t.Number {
				t.Fatalf("position of ticket %d = %d", j.t.Number, st.Position)
			}
			if j.t.Number <= s.head {
				if !st.Admitted || st.Place != 0 {
					t.Fatalf("ticket %d behind head %d not admitted: %+v", j.t.Number, s.head, st)
				}
				continue
			}
			if st.Admitted || st.Place != j.t.Number-s.head || st.Ahead != st.Place-1 {
				t.Fatalf("ticket %d: %+v (head %d)", j.t.Number, st, s.head)
			}
			if i > 0 && st.Place <= lastPlace {
				t.Fatalf("places out of order: %d after %d", st.Place, lastPlace)
			}
			lastPlace = st.Place
			if st.ETALow <= 0 || st.ETAHigh < st.ETALow {
				t.Fatalf("eta %v..%v", st.ETALow, st.ETAHigh)
			}
		}
		// Claims follow the order: the first admitted claims, the first waiting cannot.
		if _, err := e.Claim(context.Background(), js[0].t); err != nil {
			t.Fatalf("claim of ticket 1: %v", err)
		}
		if _, err := e.Claim(context.Background(), js[29].t); !errors.Is(err, ErrNotYourTurn) {
			t.Fatalf("claim of ticket 30: %v, want ErrNotYourTurn", err)
		}
		offers := zsetInts(t, b, e.cached("fifo").keys.offers)
		for i, o := range offers {
			if o != int64(i+2) || len(offers) != int(s.head)-1 {
				t.Fatalf("offers %v are not the positions 2..%d", offers, s.head)
			}
		}
	})
}
