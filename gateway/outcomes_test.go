package gateway

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyerhq/foyer/admission"
)

// outcomesHarness is a proxy-mode room in front of a box office whose payment answers 200
// with an order id header and whose confirmation answers 504 (its own upstream timed out)
// while failConfirm is set.
func outcomesHarness(t *testing.T) (*harness, *atomic.Bool) {
	t.Helper()
	var failConfirm atomic.Bool
	var orders atomic.Int64
	office := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/book/pay"):
			w.Header().Set("X-Order-Id", "ORD-"+string(rune('A'+orders.Add(1)-1)))
			w.WriteHeader(http.StatusOK)
		case strings.HasPrefix(r.URL.Path, "/book/confirm") && failConfirm.Load():
			w.WriteHeader(http.StatusGatewayTimeout)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(office.Close)
	h := newHarness(t, harnessOpt{rooms: func(string) []RoomConfig {
		rc := defaultRoom(office.URL)
		rc.Outcomes = OutcomesConfig{Payment: []string{"/book/pay"}, Confirm: []string{"/book/confirm"}, OrderHeader: "X-Order-Id"}
		return []RoomConfig{rc}
	}})
	return h, &failConfirm
}

// flaggedNow reads the refund list until it has want entries (observations are written just
// after the answer goes out).
func (h *harness) flaggedNow(t *testing.T, want int) []outcomeRecord {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := h.call(adminCall{method: http.MethodGet, path: adminPath + "/rooms/" + testRoom + "/flagged"})
		var out struct {
			Count   int             `json:"count"`
			Flagged []outcomeRecord `json:"flagged"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &out) != nil {
			t.Fatalf("flagged: %d %s", r.status, r.body)
		}
		if out.Count == want || time.Now().After(deadline) {
			if out.Count != want || len(out.Flagged) != want {
				t.Fatalf("flagged: %d, want %d: %s", out.Count, want, r.body)
			}
			return out.Flagged
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPaymentThenTimedOutConfirmationIsFlagged: through the proxy, a visitor pays (200, order
// id) and the confirmation times out: flagged with the order reference; a visitor who pays and
// confirms is not; a visitor who pays and whose session ends with no confirmation is. The
// refund list exports as JSON and CSV, and resolving one is audited and takes it off.
func TestPaymentThenTimedOutConfirmationIsFlagged(t *testing.T) {
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
	// the first pays, the confirmation times out
	a := admitted()
	failConfirm.Store(true)
	if post(a, "/book/pay") != 200 || post(a, "/book/confirm") != http.StatusGatewayTimeout {
		t.Fatal("box office answers")
	}
	fl := h.flaggedNow(t, 1)
	if fl[0].Flag != "confirm_timeout" || fl[0].OrderRef != "ORD-A" || fl[0].Payment["2xx"] != 1 || fl[0].Confirm["timeout"] != 1 ||
		fl[0].Visitor != visitorID(a.cookie(admission.VisitorCookieName)) || fl[0].Lease == "" {
		t.Fatalf("flagged record: %+v", fl[0])
	}
	// the second pays and confirms: not flagged
	failConfirm.Store(false)
	b := admitted()
	if post(b, "/book/pay") != 200 || post(b, "/book/confirm") != 200 {
		t.Fatal("box office answers")
	}
	// the third pays; the backend releases it abandoned before any confirmation
	c := admitted()
	if post(c, "/book/pay") != 200 {
		t.Fatal("pay")
	}
	if code := h.release(c.cookie(admission.CookieNameFor(testRoom)), `{"outcome":"abandoned"}`); code != http.StatusNoContent {
		t.Fatalf("release: %d", code)
	}
	fl = h.flaggedNow(t, 2)
	if fl[1].Flag != "no_confirmation" || fl[1].OrderRef != "ORD-C" || fl[1].Outcome != "abandoned" {
		t.Fatalf("second flagged: %+v", fl[1])
	}
	// every admission has its record
	r := h.call(adminCall{method: http.MethodGet, path: adminPath + "/rooms/" + testRoom + "/outcomes"})
	if r.status != http.StatusOK || strings.Count(string(r.body), `"lease"`) != 3 {
		t.Fatalf("outcomes: %d %s", r.status, r.body)
	}
	// CSV export, with the order references
	r = h.call(adminCall{method: http.MethodGet, path: adminPath + "/rooms/" + testRoom + "/flagged?format=csv"})
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || r.status != http.StatusOK || len(rows) != 3 || rows[0][3] != "order_ref" || rows[1][3] != "ORD-A" || rows[2][3] != "ORD-C" {
		t.Fatalf("csv: %d %v %q", r.status, err, r.body)
	}
	// resolve the first: audited, off the list; twice is a conflict; a bad resolution a 400
	path := adminPath + "/rooms/" + testRoom + "/flagged/" + fl[0].Lease + "/resolve"
	r = h.call(adminCall{method: http.MethodPost, path: path, body: `{"resolution":"refunded","note":"card refunded 15:02"}`})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"resolved_by":"tester"`) {
		t.Fatalf("resolve: %d %s", r.status, r.body)
	}
	if r = h.call(adminCall{method: http.MethodPost, path: path, body: `{"resolution":"refunded"}`}); r.status != http.StatusConflict {
		t.Fatalf("second resolve: %d", r.status)
	}
	if r = h.call(adminCall{method: http.MethodPost, path: path, body: `{"resolution":"forgotten"}`}); r.status != http.StatusBadRequest {
		t.Fatalf("bad resolution: %d", r.status)
	}
	h.flaggedNow(t, 1)
	au := h.call(adminCall{method: http.MethodGet, path: adminPath + "/audit"})
	if !strings.Contains(string(au.body), `"action":"resolve"`) || !strings.Contains(string(au.body), `"order_ref":"ORD-A"`) {
		t.Fatalf("resolution not audited: %s", au.body)
	}
}
