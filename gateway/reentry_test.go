package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/admission"
)

// TestReentryThroughTheGateway: over real Redis, through the proxy in front of a box office.
// A visitor whose booking the backend reports failed goes back in from the re-entry line
// (status "reentry": true, a real place, then admitted with "reentry": true); one who paid and
// whose confirmation timed out gets one on foyer's own evidence; a visitor cannot grant itself
// one (its release may only say abandoned; "failed" is a 403) and one who gave up unpaid gets
// none; a copied ticket in another browser gets nothing from someone else's grant and leaves it
// intact; the re-entry's own failure earns no other; the admin API counts it all and the ledger
// says who granted each.
func TestReentryThroughTheGateway(t *testing.T) {
	t.Parallel()
	h, failConfirm := outcomesHarness(t)
	admitted := func() *visitor {
		v := h.visitor()
		v.join(testRoom)
		v.waitAdmitted(testRoom, 5*time.Second)
		return v
	}
	post := func(v *visitor, path string) int {
		resp, _ := v.do(http.MethodPost, path, "application/json", strings.NewReader("{}"), nil)
		return resp.StatusCode
	}
	token := func(v *visitor) string { return v.cookie(admission.CookieNameFor(testRoom)) }
	selfRelease := func(v *visitor, outcome string) int {
		resp, _ := v.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/release", "application/json",
			strings.NewReader(`{"outcome":"`+outcome+`"}`), map[string]string{"Authorization": "Bearer " + token(v), "Content-Type": "application/json"})
		return resp.StatusCode
	}
	statusCode := func(v *visitor) int {
		code, _ := v.json(http.MethodGet, "/foyer/v1/rooms/"+testRoom+"/status")
		return code
	}

	a := admitted() // the backend will report failed
	b := admitted() // gives up itself, unpaid
	c := admitted() // pays; the confirmation times out; the session ends
	failConfirm.Store(true)
	if post(c, "/book/pay") != 200 || post(c, "/book/confirm") != http.StatusGatewayTimeout {
		t.Fatal("box office answers")
	}
	h.flaggedNow(t, 1)

	// a visitor cannot report failed for itself; abandoned, unpaid, grants nothing
	if code := selfRelease(b, "failed"); code != http.StatusForbidden {
		t.Fatalf("visitor's own failed: %d, want 403", code)
	}
	if code := selfRelease(b, "abandoned"); code != http.StatusNoContent {
		t.Fatalf("visitor's abandon: %d", code)
	}
	if code := statusCode(b); code != http.StatusGone {
		t.Fatalf("after giving up unpaid: status %d, want 410 (no second chance)", code)
	}
	if code := h.release(token(a), `{"outcome":"failed"}`); code != http.StatusNoContent {
		t.Fatalf("backend failed: %d", code)
	}
	if code := selfRelease(c, "abandoned"); code != http.StatusNoContent {
		t.Fatalf("c gives up: %d", code)
	}

	// another browser holding a's and c's ticket cookies (its own visitor secret) is not them
	for _, owner := range []*visitor{a, c} {
		thief := h.visitor()
		thief.setCookie(ticketPrefix+testRoom, owner.cookie(ticketPrefix+testRoom))
		if code := statusCode(thief); code != http.StatusNotFound {
			t.Fatalf("a copied ticket's status: %d, want 404 no_ticket", code)
		}
		// it is sent to the back of the line as a newcomer with a ticket of its own
		if s := thief.join(testRoom); s.Reentry || s.Ticket == owner.cookie(ticketPrefix+testRoom) {
			t.Fatalf("a copied ticket joined as %+v", s)
		}
		// and the ticket alone, as an app would send it, without the secret
		resp, _ := h.visitor().do(http.MethodGet, "/foyer/v1/rooms/"+testRoom+"/status", "application/json", nil,
			map[string]string{"Foyer-Ticket": owner.cookie(ticketPrefix + testRoom)})
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("a ticket without its secret: %d", resp.StatusCode)
		}
	}

	// a and c come back: the re-entry line, then in, saying so
	for _, v := range []*visitor{a, c} {
		s := v.status(testRoom)
		if !s.Reentry || (!s.Admitted && (s.Place == nil || *s.Place < 1)) {
			t.Fatalf("back after a failed booking: %+v", s)
		}
		s = v.waitAdmitted(testRoom, 5*time.Second)
		if !s.Reentry || s.Token == "" {
			t.Fatalf("re-admitted: %+v", s)
		}
	}
	if resp, _ := a.do(http.MethodGet, "/book/", "text/plain", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("a back in: %d", resp.StatusCode)
	}
	// once: a's second booking fails too, reported by the backend: no third chance
	if code := h.release(token(a), `{"outcome":"failed"}`); code != http.StatusNoContent {
		t.Fatalf("backend failed again: %d", code)
	}
	if code := statusCode(a); code != http.StatusGone {
		t.Fatalf("after the re-entry failed: %d, want 410", code)
	}

	// the admin API counts them; the ledger names who granted each
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := h.call(adminCall{method: http.MethodGet, path: adminPath + "/rooms/" + testRoom})
		var room adminRoom
		if r.status != http.StatusOK || json.Unmarshal(r.body, &room) != nil {
			t.Fatalf("room: %d %s", r.status, r.body)
		}
		re := room.Live.Reentry
		if re.Granted.Backend == 1 && re.Granted.Evidence == 1 && re.Used == 2 && re.Admitted == 2 && room.Settings.ReentryShare == 0.1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reentry counts: %+v, share %v", re, room.Settings.ReentryShare)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := h.call(adminCall{method: http.MethodGet, path: adminPath + "/rooms/" + testRoom + "/outcomes"})
	var out struct {
		Records []outcomeRecord `json:"records"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	by := map[string]int{}
	reOf := 0
	for _, rec := range out.Records {
		if rec.ReentryGrantedBy != "" {
			by[rec.ReentryGrantedBy]++
			if rec.ReentryUsedAt == "" {
				t.Errorf("granted, not marked used: %+v", rec)
			}
		}
		if rec.ReentryOf != "" {
			reOf++
		}
	}
	if by["backend"] != 1 || by["evidence"] != 1 || reOf != 2 {
		t.Fatalf("ledger: granted %v, re-entries %d: %s", by, reOf, r.body)
	}
}

// TestReentryShareSetting: reentry_share is a room setting like the others: PATCHed (0 turns
// it off), bounded (a 400 names it and changes nothing), audited.
func TestReentryShareSetting(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{})
	path := adminPath + "/rooms/" + testRoom
	for _, tt := range []struct {
		body   string
		status int
		want   float64
	}{
		{`{"reentry_share": 0.25}`, 200, 0.25},
		{`{"reentry_share": 1.5}`, 400, 0.25},
		{`{"reentry_share": "some"}`, 400, 0.25},
		{`{"reentry_share": -0.1}`, 400, 0.25},
		{`{"reentry_share": 0}`, 200, 0},
	} {
		r := h.call(adminCall{method: http.MethodPatch, path: path, body: tt.body})
		if r.status != tt.status || (tt.status == 400 && !strings.Contains(string(r.body), `"reentry_share"`)) {
			t.Fatalf("%s: %d %s", tt.body, r.status, r.body)
		}
		g := h.call(adminCall{method: http.MethodGet, path: path})
		var room adminRoom
		if err := json.Unmarshal(g.body, &room); err != nil || room.Settings.ReentryShare != tt.want {
			t.Fatalf("%s: share %v, want %v (%v)", tt.body, room.Settings.ReentryShare, tt.want, err)
		}
	}
	au := h.call(adminCall{method: http.MethodGet, path: adminPath + "/audit"})
	if !strings.Contains(string(au.body), `"reentry_share":0.25`) {
		t.Fatalf("not audited: %s", au.body)
	}
}
