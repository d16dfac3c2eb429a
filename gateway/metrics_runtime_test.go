package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// /metrics carries the Go runtime and process collectors and, per room, foyer_room_state: 1 for
// the state visitors see, 0 for the others, following a change made through the admin API.
func TestMetricsRuntimeAndRoomState(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	v := h.visitor()
	scrape := func() string {
		_, body := v.do(http.MethodGet, "/metrics", "", nil, nil)
		return string(body)
	}
	waitFor := func(lines ...string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			body := scrape()
			missing := ""
			for _, l := range lines {
				if !strings.Contains(body, l+"\n") {
					missing = l
					break
				}
			}
			if missing == "" {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("/metrics lacks %q:\n%s", missing, grepLines(body, "foyer_room_state"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	body := waitFor(`foyer_room_state{room="festival",state="open"} 1`, `foyer_room_state{room="festival",state="paused"} 0`,
		`foyer_room_state{room="festival",state="sold_out"} 0`)
	for _, name := range []string{"go_goroutines ", "go_memstats_heap_alloc_bytes ", "process_open_fds ", "process_max_fds ", "process_cpu_seconds_total "} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if code, b := h.admin(http.MethodPatch, festivalPath, `{"state": "paused"}`, nil); code != http.StatusOK {
		t.Fatalf("pause: %d %s", code, b)
	}
	waitFor(`foyer_room_state{room="festival",state="paused"} 1`, `foyer_room_state{room="festival",state="open"} 0`)
}
