package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/queue"
)

// TestOutcomesPerMinute: cumulative minute records become outcomes per minute; a gap (no
// replica recorded) is spread over its minutes, a counter going back (a restore) counts 0, and
// the refund list's size is the one at each minute's end.
func TestOutcomesPerMinute(t *testing.T) {
	at := func(m int64, b, f, a, e, fl int64) queue.MinuteSample {
		return queue.MinuteSample{T: time.Unix(m*60, 0), Booked: b, Failed: f, Abandoned: a, Expired: e, Flagged: fl}
	}
	got := outcomesPerMinute([]queue.MinuteSample{
		at(100, 0, 0, 0, 0, 0), at(101, 10, 1, 2, 3, 1), at(103, 30, 1, 6, 3, 2), at(104, 5, 1, 6, 4, 2)})
	want := []outcomeMinute{
		{T: 6000, Booked: 10, Failed: 1, Abandoned: 2, Expired: 3, Flagged: 1},
		{T: 6060, Booked: 10, Abandoned: 2, Flagged: 2},
		{T: 6120, Booked: 10, Abandoned: 2, Flagged: 2},
		{T: 6180, Expired: 1, Flagged: 2},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("per minute:\n got %+v\nwant %+v", got, want)
	}
	if got := outcomesPerMinute(nil); got == nil || len(got) != 0 {
		t.Fatalf("no records: %#v, want an empty list", got)
	}
}

// TestAdminForecastAndOutcomesEndpoints: before the opening the admin API forecasts the line
// from the pre-queue (the joins so far at least), clears it at the cap's turnover (under the rate), says what the
// model assumes; the gateway records the room's minute in Redis on its own; the outcomes per
// minute are served and bad input is refused.
func TestAdminForecastAndOutcomesEndpoints(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{rooms: func(backend string) []RoomConfig {
		r := defaultRoom(backend)
		r.OpensIn = 10 * time.Minute
		return []RoomConfig{r}
	}})
	for i := 0; i < 5; i++ {
		h.visitor().join(testRoom)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ms, err := h.engine.Minutes(context.Background(), testRoom, time.Time{})
		if err == nil && len(ms) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway recorded no minute within 10 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, body := h.admin(http.MethodGet, adminPath+"/rooms/"+testRoom+"/forecast", "", nil)
	if code != http.StatusOK {
		t.Fatalf("forecast: %d %s", code, body)
	}
	var f forecastJSON
	if err := json.Unmarshal(body, &f); err != nil {
		t.Fatal(err)
	}
	if f.Opened || f.Joined != 5 || f.PrequeueAt.Low < 5 || f.Line.Low < f.PrequeueAt.Low || f.Line.High < f.Line.Low ||
		f.Pace != 10 || f.Limit != "cap" || f.CapPerMinute != 10 || f.OpensAt == "" || !strings.Contains(f.Model, "spike") {
		t.Fatalf("forecast: %s", body)
	}
	// the cap (100) turns over once per configured 10-minute session: 10/min, under the rate
	if want := int64(math.Ceil(float64(f.Line.Low) / 10 * 60)); f.ClearSeconds.Low != want {
		t.Fatalf("clear_seconds.low %d, want %d for a line of %d at 10/min", f.ClearSeconds.Low, want, f.Line.Low)
	}
	code, body = h.admin(http.MethodGet, adminPath+"/rooms/"+testRoom+"/outcomes/per-minute?minutes=30", "", nil)
	if code != http.StatusOK || !strings.HasPrefix(string(body), `{"minutes":[`) {
		t.Fatalf("outcomes per minute: %d %s", code, body)
	}
	for _, q := range []string{"0", "x", "100000"} {
		if code, body := h.admin(http.MethodGet, adminPath+"/rooms/"+testRoom+"/outcomes/per-minute?minutes="+q, "", nil); code != http.StatusBadRequest {
			t.Fatalf("minutes=%s: %d %s", q, code, body)
		}
	}
	if code, _ := h.admin(http.MethodGet, adminPath+"/rooms/nope/forecast", "", nil); code != http.StatusNotFound {
		t.Fatalf("unknown room: %d", code)
	}
}
