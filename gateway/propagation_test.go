package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
	"github.com/foyerhq/foyer/queue/redistest"
)

// propagationBound is how soon an organiser's change must be in force on every replica
// (DESIGN.md: <= 1 s). The measured delays are logged; they are far below it.
const propagationBound = time.Second

// twoReplicas starts two gateways, each with its own engine and its own Redis client, on one
// Redis key prefix: two replicas of one deployment.
func twoReplicas(t *testing.T) (a, b *harness) {
	t.Helper()
	db := redistest.New(t)
	opt, err := redis.ParseURL(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	second := redis.NewClient(opt)
	t.Cleanup(func() { _ = second.Close() })
	a = newHarness(t, harnessOpt{rdb: db.Client, prefix: db.Prefix})
	b = newHarness(t, harnessOpt{rdb: second, prefix: db.Prefix})
	return a, b
}

// inForce polls cond every 10 ms until it holds and returns how long that took from since;
// it fails the test when propagationBound passes first.
func inForce(t *testing.T, what string, since time.Time, cond func() bool) time.Duration {
	t.Helper()
	for {
		if cond() {
			return time.Since(since)
		}
		if time.Since(since) > propagationBound {
			t.Fatalf("%s: not in force on the other replica within %s", what, propagationBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSettingsPropagateToOtherReplica: a change made through one replica's admin API is in
// force in the other replica's cache (what its visitors are served from) within one second,
// both ways. The delay is measured from the moment the PATCH is sent.
func TestSettingsPropagateToOtherReplica(t *testing.T) {
	t.Parallel()
	a, b := twoReplicas(t)
	var delays []time.Duration
	for i := range 8 {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		rate := 700 + 10*i
		sent := time.Now()
		r := from.call(patchCall(fmt.Sprintf(`{"rate_per_minute": %d}`, rate)))
		if r.status != http.StatusOK {
			t.Fatalf("patch %d: %d %s", i, r.status, r.body)
		}
		version := r.room(t).Settings.Version
		d := inForce(t, fmt.Sprintf("rate %d", rate), sent, func() bool {
			v, ok := to.engine.View(testRoom)
			return ok && v.Settings.RatePerMinute == rate && v.Settings.Version == version
		})
		delays = append(delays, d)
		// the other replica's admin API answers the same
		g := to.call(adminCall{method: http.MethodGet, path: festivalPath}).room(t)
		if g.Settings.RatePerMinute != rate || g.Settings.Version != version {
			t.Fatalf("other replica's GET room: rate %d version %d, want %d %d", g.Settings.RatePerMinute, g.Settings.Version, rate, version)
		}
	}
	slices.Sort(delays)
	t.Logf("settings change in force on the other replica after (PATCH sent -> cache updated, %d changes): min %s, median %s, max %s; bound %s",
		len(delays), delays[0].Round(time.Millisecond), delays[len(delays)/2].Round(time.Millisecond),
		delays[len(delays)-1].Round(time.Millisecond), propagationBound)
}

// TestStatePropagatesToVisitors: visitors waiting on one replica see a pause made through the
// other within a second, keep their place, see the resume, and cannot join once the room is
// closed on either replica.
func TestStatePropagatesToVisitors(t *testing.T) {
	t.Parallel()
	a, b := twoReplicas(t)
	// a cap of one: the first visitor goes in, the others wait
	if r := a.call(patchCall(`{"max_active": 1}`)); r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	first := b.visitor()
	first.join(testRoom)
	first.waitAdmitted(testRoom, 5*time.Second)
	waiting := b.visitor()
	joined := waiting.join(testRoom)
	if joined.Admitted || joined.Place == nil || *joined.Place < 1 {
		t.Fatalf("second visitor not waiting: %+v", joined)
	}
	place := *joined.Place

	statusOn := func(h *harness) (int, statusBody) {
		t.Helper()
		resp, body := h.visitor().do(http.MethodGet, "/foyer/v1/rooms/"+testRoom+"/status", "application/json", nil,
			map[string]string{ticketHeader: waiting.ticket, admission.VisitorSecretHeader: waiting.cookie(admission.VisitorCookieName)})
		var s statusBody
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, &s); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, s
	}

	// pause through A: the visitor polling B sees it
	sent := time.Now()
	if r := a.call(patchCall(`{"state": "paused"}`)); r.status != http.StatusOK {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	var last statusBody
	pause := inForce(t, "pause", sent, func() bool {
		_, last = statusOn(b)
		return last.State == string(queue.StatePaused)
	})
	if last.Place == nil || *last.Place != place || last.Admitted || last.Reconnecting {
		t.Fatalf("paused visitor: %+v, want place %d kept", last, place)
	}

	// resume through B: A serves "open" again
	sent = time.Now()
	if r := b.call(patchCall(`{"state": "open"}`)); r.status != http.StatusOK {
		t.Fatalf("resume: %d %s", r.status, r.body)
	}
	resume := inForce(t, "resume", sent, func() bool {
		_, last = statusOn(a)
		return last.State == string(queue.StateOpen)
	})

	// close through A: joins on B are refused
	sent = time.Now()
	if r := a.call(patchCall(`{"state": "closed"}`)); r.status != http.StatusOK {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	var code int
	closing := inForce(t, "close", sent, func() bool {
		var body []byte
		var resp *http.Response
		resp, body = b.visitor().do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join", "application/json", nil, nil)
		code = resp.StatusCode
		var e errorBody
		_ = json.Unmarshal(body, &e)
		return code == http.StatusGone && e.Error.Code == "room_closed"
	})
	if c, s := statusOn(b); c == http.StatusOK && s.State != string(queue.StateClosed) {
		t.Errorf("waiting visitor on the other replica after close: %d %+v", c, s)
	}
	t.Logf("state changes seen by visitors of the other replica after: pause %s, resume %s, close %s",
		pause.Round(time.Millisecond), resume.Round(time.Millisecond), closing.Round(time.Millisecond))
}
