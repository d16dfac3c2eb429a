package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/admission"
)

func (v *visitor) feedback(body string, hdr map[string]string) (int, errorDetail) {
	v.h.t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	for k, x := range hdr {
		h[k] = x
	}
	resp, b := v.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/feedback", "application/json", strings.NewReader(body), h)
	var e errorBody
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error
}

// Feedback is bounded and once per visitor: no ticket, no answer; a bad rating or an overlong
// comment is refused naming the field; the second answer of a visitor is refused; organisers
// see the distribution and the comments (admin API), the public record only the counts.
func TestFeedbackBoundsAndOncePerVisitor(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{})
	stranger := h.visitor()
	if code, e := stranger.feedback(`{"rating":5}`, nil); code != http.StatusForbidden || e.Code != "no_ticket" {
		t.Fatalf("no ticket: %d %+v", code, e)
	}
	v := h.visitor()
	v.join(testRoom)
	for _, c := range []struct{ body, field string }{
		{`{"rating":0}`, "rating"},
		{`{"rating":6,"comment":"x"}`, "rating"},
		{`{"rating":3,"comment":"` + strings.Repeat("가", 501) + `"}`, "comment"},
	} {
		if code, e := v.feedback(c.body, nil); code != http.StatusBadRequest || e.Fields[c.field] == "" {
			t.Fatalf("%s: %d %+v, want 400 naming %s", c.body, code, e, c.field)
		}
	}
	if code, e := v.feedback(`{"rating":2,"extra":1}`, nil); code != http.StatusBadRequest || e.Code != "invalid" {
		t.Fatalf("unknown field: %d %+v", code, e)
	}
	if code, e := v.feedback(`{"rating":4,"comment":"  long wait, <b>fair</b> though  "}`, nil); code != http.StatusNoContent {
		t.Fatalf("first answer: %d %+v", code, e)
	}
	if code, e := v.feedback(`{"rating":1}`, nil); code != http.StatusConflict || e.Code != "feedback_given" {
		t.Fatalf("second answer: %d %+v, want 409 feedback_given", code, e)
	}
	w := h.visitor()
	w.join(testRoom)
	if code, _ := w.feedback(`{"rating":5}`, nil); code != http.StatusNoContent {
		t.Fatalf("another visitor: %d", code)
	}
	r := h.call(adminCall{method: http.MethodGet, path: "/foyer/admin/v1/rooms/" + testRoom + "/feedback"})
	var fb adminFeedbackBody
	if err := json.Unmarshal(r.body, &fb); err != nil || r.status != 200 {
		t.Fatalf("admin feedback: %d %s", r.status, r.body)
	}
	if fb.Total != 2 || fb.Counts["4"] != 1 || fb.Counts["5"] != 1 || fb.Counts["1"] != 0 || fb.Comments != 1 ||
		len(fb.Newest) != 1 || fb.Newest[0].Comment != "long wait, <b>fair</b> though" || fb.Newest[0].Rating != 4 {
		t.Fatalf("admin feedback: %+v", fb)
	}
	if r := h.call(adminCall{method: http.MethodGet, path: "/foyer/admin/v1/rooms/" + testRoom + "/feedback", auth: "-"}); r.status != http.StatusUnauthorized {
		t.Fatalf("feedback without the admin token: %d", r.status)
	}
	_, body := v.do(http.MethodGet, "/foyer/v1/rooms/"+testRoom+"/fairness", "application/json", nil, nil)
	var fair fairnessBody
	if err := json.Unmarshal(body, &fair); err != nil || fair.Feedback == nil || fair.Feedback.Total != 2 || fair.Feedback.Counts["4"] != 1 {
		t.Fatalf("public record's feedback: %s", body)
	}
	if strings.Contains(string(body), "long wait") {
		t.Fatalf("the public record carries a comment: %s", body)
	}
}

// Feedback is limited per address: past the burst, 429 with Retry-After (before any store call).
func TestFeedbackRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{})
	v := h.visitor()
	limited := 0
	for i := 0; i < feedbackBurst+5; i++ {
		resp, _ := v.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/feedback", "application/json",
			strings.NewReader(`{"rating":3}`), map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	// the burst allows about feedbackBurst+1 at once; a slow machine may refill one or two
	if limited < 2 {
		t.Fatalf("%d of %d answers from one address refused, want the ones past the burst of %d", limited, feedbackBurst+5, feedbackBurst)
	}
}

// A visitor whose session ended and who comes back to the room is asked how it went
// (ask_feedback), and the feedback page is served in their language.
func TestSessionEndedAsksFeedback(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{rooms: func(b string) []RoomConfig {
		r := defaultRoom(b)
		r.QueueAll = false
		return []RoomConfig{r}
	}})
	v := h.visitor()
	if s := v.join(testRoom); s.AskFeedback {
		t.Fatalf("a new visitor is asked for feedback: %+v", s)
	}
	v.waitAdmitted(testRoom, 5*time.Second)
	resp, _ := v.do(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/release", "application/json", strings.NewReader(`{"outcome":"abandoned"}`),
		map[string]string{"Authorization": "Bearer " + v.cookie(admission.CookieNameFor(testRoom)), "Content-Type": "application/json"})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("release: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, s := v.json(http.MethodPost, "/foyer/v1/rooms/"+testRoom+"/join")
		if s.AskFeedback {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the session ended: %+v, want ask_feedback", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, body := v.do(http.MethodGet, "/foyer/v1/rooms/"+testRoom+"/feedback", "text/html", nil, map[string]string{"Accept-Language": "ko"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "기다리는 동안 어떠셨나요?") || !strings.Contains(string(body), `data-rating="5"`) {
		t.Fatalf("feedback page (ko): %d %.300s", resp.StatusCode, body)
	}
}
