package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/foyerhq/foyer/queue/redistest"
)

// The gateway's whole journey through its HTTP API (join, poll, claim, release) on the Redis
// topologies operators run: a 3-master cluster reached through one seed, and Sentinel with a
// failover in the middle of the line.

const journeyCap = 3

// journeyRoom is a room whose cap binds: three admitted at once, ten a second.
func journeyRoom(backend string) []RoomConfig {
	rc := defaultRoom(backend)
	rc.MaxActive, rc.RatePerMinute, rc.QueueAll = journeyCap, 600, true
	return []RoomConfig{rc}
}

// journeyVisitor is one visitor of the journey and what the test saw of it.
type journeyVisitor struct {
	v         *visitor
	number    int64
	lastPlace int64 // 0 until a place is shown
	admitted  int   // the round it was admitted in, -1 before
	token     string
	released  bool
}

// journey joins visitors, polls them round after round, lets each admitted one hold its slot
// for two rounds and release it, and checks the invariants all along: no ticket number twice,
// never more admitted at once than the cap, no shown place rising. Half-way through it calls
// mid (a failover), then more visitors join. It returns when every visitor was admitted and
// released.
func journey(t *testing.T, h *harness, first, later int, mid func()) {
	t.Helper()
	var all []*journeyVisitor
	numbers := map[int64]bool{}
	join := func() {
		jv := &journeyVisitor{v: h.visitor(), admitted: -1}
		deadline := time.Now().Add(20 * time.Second)
		for { // a join in the middle of a failover may be refused for a moment: retry it
			resp, b := jv.v.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join", "application/json", nil, nil)
			if resp.StatusCode == http.StatusOK {
				var s statusBody
				mustJSON(t, b, &s)
				tk, err := h.engine.DecodeTicket(testRoom, s.Ticket)
				if err != nil {
					t.Fatalf("join: ticket: %v", err)
				}
				if numbers[tk.Number] {
					t.Fatalf("ticket number %d issued twice", tk.Number)
				}
				numbers[tk.Number] = true
				jv.number = tk.Number
				break
			}
			if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("join: %d %s", resp.StatusCode, b)
			}
			time.Sleep(100 * time.Millisecond)
		}
		all = append(all, jv)
	}
	for range first {
		join()
	}
	active := 0
	midDone := mid == nil
	deadline := time.Now().Add(40 * time.Second)
	for round := 0; ; round++ {
		done := 0
		for _, jv := range all {
			switch {
			case jv.released:
				done++
			case jv.admitted >= 0 && round-jv.admitted >= 2:
				release(t, jv)
				active--
			case jv.admitted < 0:
				code, s := jv.v.json(http.MethodGet, "/foyer/v1/rooms/"+testRoom+"/status")
				if code != http.StatusOK {
					continue // a poll refused during a failover; the next round tries again
				}
				if s.Place != nil && *s.Place > 0 {
					if jv.lastPlace > 0 && *s.Place > jv.lastPlace {
						t.Fatalf("ticket %d: place rose from %d to %d", jv.number, jv.lastPlace, *s.Place)
					}
					jv.lastPlace = *s.Place
				}
				if s.Admitted {
					if active++; active > journeyCap {
						t.Fatalf("%d admitted at once, above the cap of %d", active, journeyCap)
					}
					jv.admitted, jv.token = round, s.Token
				}
			}
		}
		if !midDone && done >= first/2 {
			midDone = true
			mid()
			for range later {
				join()
			}
		}
		if done == len(all) && midDone {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("journey unfinished after 40s: %d of %d visitors released", done, len(all))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// release gives the visitor's slot back through the API, as the visitor does (abandoned: only
// the booking backend may report booked).
func release(t *testing.T, jv *journeyVisitor) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, b := jv.v.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/release", "application/json",
			strings.NewReader(`{"outcome":"abandoned"}`),
			map[string]string{"Authorization": "Bearer " + jv.token, "Content-Type": "application/json"})
		if resp.StatusCode == http.StatusNoContent {
			jv.released = true
			return
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("release of ticket %d: %d %s", jv.number, resp.StatusCode, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// TestJourneyOnClusterWithOneSeed: redis.addrs with one seed of a 3-master cluster builds a
// cluster client (a plain one fails on MOVED), and the whole journey works on it.
func TestJourneyOnClusterWithOneSeed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three redis-servers")
	}
	cl := redistest.StartCluster(t, 3)
	rdb, closeStore, err := OpenStore(context.Background(), RedisConfig{Addrs: cl.Addrs()[:1], Timeout: 500 * time.Millisecond},
		zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("one cluster seed built a %T, want *redis.ClusterClient", rdb)
	}
	h := newHarness(t, harnessOpt{rdb: rdb, prefix: redistest.Prefix(t), rooms: journeyRoom})
	journey(t, h, 8, 0, nil)
}

// TestOpenStoreOneSeedOfASingleServer: one seed that is a plain server builds a plain client.
func TestOpenStoreOneSeedOfASingleServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	srv := redistest.StartServer(t)
	rdb, closeStore, err := OpenStore(context.Background(), RedisConfig{Addrs: []string{srv.Addr()}, Timeout: time.Second},
		zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if _, ok := rdb.(*redis.Client); !ok {
		t.Fatalf("one seed of a single server built a %T, want *redis.Client", rdb)
	}
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestJourneyOnSentinelWithFailover: the journey on a Sentinel-managed Redis (one master, one
// replica, three sentinels) with SENTINEL FAILOVER half-way through the line: no ticket number
// twice, never above the cap, no place rising, and every visitor admitted and released.
func TestJourneyOnSentinelWithFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two redis-servers and three sentinels")
	}
	st := redistest.StartSentinel(t)
	rdb, closeStore, err := OpenStore(context.Background(), RedisConfig{Addrs: st.Addrs(), MasterName: redistest.SentinelMaster,
		Timeout: 500 * time.Millisecond}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	h := newHarness(t, harnessOpt{rdb: rdb, prefix: redistest.Prefix(t), rooms: journeyRoom})
	journey(t, h, 8, 4, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		before, _ := st.MasterAddr(ctx)
		now, err := st.Failover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("failover: master %s -> %s", before, now)
	})
}
