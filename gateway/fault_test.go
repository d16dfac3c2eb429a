package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue/redistest"
)

// TestRedisOutage stops the gateway's Redis mid-run and starts it again, empty (nothing kept
// on disk: every restart loses the data). While it is down waiting visitors keep their place
// and see "reconnecting", nobody new is admitted, and admitted visitors keep reaching the
// backend (tokens verify offline). When it is back the room is rebuilt from what the gateway
// and the visitors' signed tickets know: nobody loses a place, no ticket number is issued
// twice, and the line moves again.
func TestRedisOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: starts and stops a redis-server")
	}
	srv := redistest.StartServer(t)
	opt, _ := redis.ParseURL(srv.URL())
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	opt.MaxRetries = 0
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })

	h := newHarness(t, harnessOpt{rdb: rdb, prefix: redistest.Prefix(t), rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.RatePerMinute, r.MaxActive = 120, 3 // two a second; three admitted at most
		return []RoomConfig{r}
	}})

	// Three admitted, the rest wait behind the cap.
	const n = 8
	vs := make([]*visitor, n)
	for i := range vs {
		vs[i] = h.visitor()
		vs[i].join(testRoom)
	}
	for i := 0; i < 3; i++ {
		vs[i].waitAdmitted(testRoom, 5*time.Second)
	}
	places := map[int]int64{}
	for i := 3; i < n; i++ {
		s := vs[i].status(testRoom)
		if s.Admitted || s.Place == nil {
			t.Fatalf("visitor %d: %+v, want waiting behind the cap", i, s)
		}
		places[i] = *s.Place
	}

	check := func(phase string) {
		t.Helper()
		for i := 3; i < n; i++ {
			s := vs[i].status(testRoom)
			if s.Admitted {
				t.Fatalf("%s: visitor %d admitted while the store is down", phase, i)
			}
			if s.Place == nil || *s.Place > places[i] {
				t.Fatalf("%s: visitor %d place %v, was %d", phase, i, s.Place, places[i])
			}
			if !s.Reconnecting {
				t.Fatalf("%s: visitor %d not told about reconnecting: %+v", phase, i, s)
			}
		}
		before := h.hits.Load()
		resp, body := vs[0].do(http.MethodGet, "/book/seat", "text/html", nil, nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "backend:") || h.hits.Load() != before+1 {
			t.Fatalf("%s: an admitted visitor lost access: %d %.80q", phase, resp.StatusCode, body)
		}
	}

	for round, empty := range []bool{false, true} {
		_ = round
		srv.Stop()
		// the cache notices within a few refreshes; give it a moment
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if s := vs[n-1].status(testRoom); s.Reconnecting {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		start := time.Now()
		for time.Since(start) < 1500*time.Millisecond {
			check("down")
			time.Sleep(100 * time.Millisecond)
		}
		// readiness reflects it
		if resp, _ := h.visitor().do(http.MethodGet, "/readyz", "", nil, nil); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("readyz while Redis is down: %d", resp.StatusCode)
		}
		// a newcomer gets a clear answer, not a hang or a crash
		nv := h.visitor()
		reqStart := time.Now()
		resp, _ := nv.do(http.MethodPost, "/foyer/v1/rooms/festival/join", "application/json", nil, nil)
		if resp.StatusCode != http.StatusServiceUnavailable || time.Since(reqStart) > 3*time.Second {
			t.Fatalf("join while down: %d after %s", resp.StatusCode, time.Since(reqStart))
		}
		if err := srv.Start(); err != nil { // empty: nothing was kept
			t.Fatal(err)
		}
		if !empty {
			t.Log("redis restarted (data lost, as every restart here)")
		}
		// back: places kept or better, and the line moves again
		deadline = time.Now().Add(5 * time.Second)
		for {
			s := vs[n-1].status(testRoom)
			if !s.Reconnecting {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("still reconnecting 5s after Redis came back")
			}
			time.Sleep(50 * time.Millisecond)
		}
		for i := 3; i < n; i++ {
			s := vs[i].status(testRoom)
			if !s.Admitted && (s.Place == nil || *s.Place > places[i]) {
				t.Fatalf("after restart: visitor %d place %v, was %d", i, s.Place, places[i])
			}
		}
		// a new joiner goes to the back: no ticket number is reused
		late := h.visitor()
		ls := late.join(testRoom)
		if ls.Position <= int64(n) {
			t.Fatalf("after restart a new visitor got position %d: a number was issued twice", ls.Position)
		}
		// readiness is cached for a second (health.go): it may take that long to follow
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			resp, _ := h.visitor().do(http.MethodGet, "/readyz", "", nil, nil)
			if resp.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz 5s after Redis came back: %d", resp.StatusCode)
			}
		}
	}
	// Free the cap: the waiting visitors go in, in order.
	for i := 0; i < 3; i++ {
		resp, _ := vs[i].do(http.MethodPost, "/foyer/v1/rooms/festival/release", "application/json",
			strings.NewReader(`{"outcome":"booked"}`), map[string]string{"Authorization": "Bearer " + vs[i].cookie(admission.CookieNameFor(testRoom)), "Content-Type": "application/json", admission.BackendKeyHeader: testBackendKey})
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("release after restart: %d", resp.StatusCode)
		}
	}
	vs[3].waitAdmitted(testRoom, 5*time.Second)
	t.Log("the line resumed after two outages")
}
