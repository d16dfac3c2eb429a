package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/admission"
)

// release sends the backend's release call for an admitted visitor's token.
func (h *harness) release(token, body string) int {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/foyer/v1/rooms/"+testRoom+"/release", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(admission.BackendKeyHeader, testBackendKey) // the booking backend reports
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSoldOutReachesOtherReplica: the backend reports "remaining": 0 with its release call to
// one replica; a visitor waiting on the other replica is told sold_out within a second, nobody
// is admitted though the release freed the cap, and the organiser's restock lets the line move.
// While fewer are left than a visitor's place, the JSON says how many are left.
func TestSoldOutReachesOtherReplica(t *testing.T) {
	t.Parallel()
	a, b := twoReplicas(t)
	if r := a.call(patchCall(`{"max_active": 1}`)); r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	first := a.visitor()
	first.join(testRoom)
	adm := first.waitAdmitted(testRoom, 5*time.Second)
	second, third := b.visitor(), b.visitor()
	second.join(testRoom)
	third.join(testRoom)
	inForce(t, "the other replica's cache has the first admitted", time.Now(), func() bool {
		s := third.status(testRoom)
		return s.Place != nil && *s.Place == 2
	})
	if s := third.status(testRoom); s.Admitted || s.Remaining != nil {
		t.Fatalf("third before any stock report: %+v", s)
	}
	// an organiser says one is left: the third (place 2) is told, the second (place 1) is not
	r := a.call(patchCall(`{"remaining": 1}`))
	if r.status != http.StatusOK || r.room(t).Settings.Remaining == nil || *r.room(t).Settings.Remaining != 1 {
		t.Fatalf("patch remaining: %d %s", r.status, r.body)
	}
	inForce(t, "stock low", time.Now(), func() bool {
		s := third.status(testRoom)
		return s.Remaining != nil && *s.Remaining == 1
	})
	if s := second.status(testRoom); s.Remaining != nil {
		t.Fatalf("place 1 with 1 left told stock is low: %+v", s)
	}
	// the backend books the first and reports the last seat gone
	sent := time.Now()
	if code := a.release(adm.Token, `{"outcome":"booked","remaining":0}`); code != http.StatusNoContent {
		t.Fatalf("release: %d", code)
	}
	d := inForce(t, "sold out", sent, func() bool { return second.status(testRoom).State == "sold_out" })
	t.Logf("sold out seen on the other replica after %s", d)
	admitted := func() int64 {
		st, err := b.engine.Stats(context.Background(), testRoom)
		if err != nil {
			t.Fatal(err)
		}
		return st.Admitted
	}
	before := admitted()
	for range 20 { // the cap is free, yet nobody goes in
		for _, v := range []*visitor{second, third} {
			if s := v.status(testRoom); s.Admitted || s.State != "sold_out" {
				t.Fatalf("while sold out: %+v", s)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := admitted(); n != before {
		t.Fatalf("admitted went from %d to %d while sold out", before, n)
	}
	// a bad report is refused and changes nothing
	if code := a.release(adm.Token, `{"outcome":"booked","remaining":-3}`); code != http.StatusBadRequest {
		t.Fatalf("remaining -3: %d, want 400", code)
	}
	// the organiser restocks (audited): the line moves again
	if r := b.call(patchCall(`{"sold_out": false, "remaining": 5}`)); r.status != http.StatusOK {
		t.Fatalf("restock: %d %s", r.status, r.body)
	}
	second.waitAdmitted(testRoom, 5*time.Second)
	au := a.call(adminCall{method: http.MethodGet, path: adminPath + "/audit"})
	if !strings.Contains(string(au.body), `"remaining":5`) {
		t.Fatalf("restock not audited: %s", au.body)
	}
	if r := a.call(patchCall(`{"sold_out": true, "remaining": 3}`)); r.status != http.StatusBadRequest {
		t.Fatalf("contradicting patch: %d", r.status)
	}
}
