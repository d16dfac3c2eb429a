package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/queue"
)

// prequeueHarness: a room opening after opensIn at 600 a minute, so a pre-queue forms and is let in.
func prequeueHarness(t *testing.T, opensIn time.Duration) *harness {
	return newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.OpensIn = opensIn
		return []RoomConfig{r}
	}})
}

func waitOpened(t *testing.T, h *harness) queue.Fairness {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := h.engine.Fairness(testRoom)
		if err == nil && f.Opened {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("the room did not open: %+v %v", f, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The public fairness record of a real line: pre-queue visitors see their pre-queue number in
// the status, the record's JSON carries the revealed seed and the figures (every one let in in
// order here, waits counted, feedback counts), and a browser asking for HTML gets the page for
// people, in its language, with the figures and the verifier.
func TestFairnessRecordEndToEnd(t *testing.T) {
	t.Parallel()
	h := prequeueHarness(t, 3*time.Second)
	const n = 6
	vs := make([]*visitor, n)
	numbers := map[*visitor]int64{}
	for i := range vs {
		vs[i] = h.visitor()
		s := vs[i].join(testRoom)
		if s.PrequeueNumber < 1 || s.PrequeueNumber > n {
			t.Fatalf("pre-queue join: prequeue_number %d, want 1..%d", s.PrequeueNumber, n)
		}
		numbers[vs[i]] = s.PrequeueNumber
	}
	f := waitOpened(t, h)
	seed := mustHex(t, f.Seed)
	for _, v := range vs {
		s := v.waitAdmitted(testRoom, 10*time.Second)
		_ = s
	}
	late := h.visitor()
	if s := late.join(testRoom); s.PrequeueNumber != 0 {
		t.Fatalf("a visitor after the opening has a pre-queue number: %+v", s)
	}
	late.waitAdmitted(testRoom, 10*time.Second)
	time.Sleep(1200 * time.Millisecond) // the gateways' notes go out once a second
	_, body := late.do(http.MethodGet, "/foyer/v1/rooms/"+testRoom+"/fairness", "application/json", nil, nil)
	var fair fairnessBody
	if err := json.Unmarshal(body, &fair); err != nil || fair.Record == nil {
		t.Fatalf("record: %v %s", err, body)
	}
	t.Logf("record: %s", body)
	rec := fair.Record
	if !fair.Opened || fair.PrequeueSize != n || fair.Seed != f.Seed || rec.Admissions != n+1 || rec.Order.InOrder != n+1 ||
		rec.Order.InOrderShare != 1 || rec.Joined != n+1 || rec.WaitsJSON["n"] != float64(n+1) {
		t.Fatalf("record after %d pre-queue visitors and one late one, all let in: %s", n, body)
	}
	if rec.Basis["joined, skipped, returned"] == "" || !strings.Contains(fair.HowToVerify, "foyer verify") {
		t.Fatalf("the record must say what is exact and how to verify: %s", body)
	}
	// each pre-queue visitor's position is the published permutation of their number
	for _, v := range vs {
		tk, err := h.engine.DecodeTicket(testRoom, v.ticket)
		if err != nil || tk.Number != numbers[v] {
			t.Fatalf("ticket %+v %v, number shown %d", tk, err, numbers[v])
		}
		if queue.VerifyPrequeuePlace(seed, n, tk.Number) < 1 {
			t.Fatal("number outside the pre-queue")
		}
	}
	// the page for people: HTML by content negotiation, JSON on request
	for _, c := range []struct{ lang, heading, inOrder string }{{"en", "Fairness record", "were let in at their turn"}, {"ko", "공정성 기록", "자기 차례에 입장"}} {
		resp, page := late.do(http.MethodGet, "/foyer/v1/rooms/"+testRoom+"/fairness", "text/html,application/xhtml+xml", nil, map[string]string{"Accept-Language": c.lang})
		s := string(page)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(s, c.heading) ||
			!strings.Contains(s, c.inOrder) || !strings.Contains(s, f.Seed) || !strings.Contains(s, `id="verify"`) || !strings.Contains(s, "/static/verify.") {
			t.Fatalf("page (%s): %d %s %.600s", c.lang, resp.StatusCode, resp.Header.Get("Content-Type"), s)
		}
	}
	resp, page := late.do(http.MethodGet, "/foyer/v1/rooms/"+testRoom+"/fairness?format=json", "text/html", nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(page), "{") {
		t.Fatalf("?format=json from a browser: %d %.100s", resp.StatusCode, page)
	}
}
