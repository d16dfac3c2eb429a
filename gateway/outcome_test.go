package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/admission"
)

// TestReleaseOutcomesHonest: only a booking backend (backend key) reports booked or failed; a
// visitor may only give up its own slot; a missing or unknown outcome is a 400.
func TestReleaseOutcomesHonest(t *testing.T) {
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.QueueAll, r.MaxActive = false, 10
		return []RoomConfig{r}
	}, mod: func(c *Config) {
		c.BackendKeys = append(c.BackendKeys, BackendKey{Name: "other-room-backend", Key: "other-room-backend-key-0123456789ab", Rooms: []string{"elsewhere"}})
	}})
	admitted := func() *visitor {
		v := h.visitor()
		if resp, _ := v.do(http.MethodGet, "/book/", "text/plain", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("not let through: %d", resp.StatusCode)
		}
		return v
	}
	release := func(v *visitor, body string, hdr map[string]string) (int, string) {
		t.Helper()
		req := map[string]string{"Authorization": "Bearer " + v.cookie(admission.CookieNameFor(testRoom)), "Content-Type": "application/json"}
		for k, val := range hdr {
			req[k] = val
		}
		resp, b := v.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/release", "application/json", strings.NewReader(body), req)
		return resp.StatusCode, string(b)
	}
	a := admitted()
	for _, tt := range []struct {
		name, body string
		hdr        map[string]string
		status     int
		code       string
	}{
		{"visitor says booked", `{"outcome":"booked"}`, nil, 403, "backend_only"},
		{"visitor says failed", `{"outcome":"failed"}`, nil, 403, "backend_only"},
		{"empty body", ``, nil, 400, "invalid"},
		{"empty object", `{}`, nil, 400, "invalid"},
		{"unknown outcome", `{"outcome":"won"}`, nil, 400, "invalid"},
		{"wrong backend key", `{"outcome":"booked"}`, map[string]string{admission.BackendKeyHeader: "nope-nope-nope-nope-nope-nope-nope-nope"}, 401, "bad_backend_key"},
		{"another room's backend key", `{"outcome":"booked"}`, map[string]string{admission.BackendKeyHeader: "other-room-backend-key-0123456789ab"}, 401, "bad_backend_key"},
	} {
		if code, body := release(a, tt.body, tt.hdr); code != tt.status || !strings.Contains(body, `"`+tt.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, body, tt.status, tt.code)
		}
	}
	// someone holding only a's token cannot give a's slot up
	thief := h.visitor()
	thief.setCookie(admission.CookieNameFor(testRoom), a.cookie(admission.CookieNameFor(testRoom)))
	if code, body := release(thief, `{"outcome":"abandoned"}`, nil); code != 403 {
		t.Fatalf("abandon with a copied token: %d %s", code, body)
	}
	// a gives up its own slot
	if code, body := release(a, `{"outcome":"abandoned"}`, nil); code != 204 {
		t.Fatalf("own abandon: %d %s", code, body)
	}
	// the backend reports booked
	b := admitted()
	if code, body := release(b, `{"outcome":"booked"}`, map[string]string{admission.BackendKeyHeader: testBackendKey}); code != 204 {
		t.Fatalf("backend booked: %d %s", code, body)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, err := h.engine.Stats(t.Context(), testRoom)
		if err == nil && st.Released["booked"] == 1 && st.Released["abandoned"] == 1 && st.Released["failed"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outcomes recorded: %v %v", st.Released, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
