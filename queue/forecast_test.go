package queue

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The forecast's model on crafted inputs: known joins per minute give a known line and
// clearing time.
func TestForecastModel(t *testing.T) {
	tests := []struct {
		name   string
		in     forecastInput
		basis  string
		arrLo  int64
		arrHi  int64
		lineLo int64
		lineHi int64
		clrLo  time.Duration
		clrHi  time.Duration
	}{
		{
			// joins growing by 10 a minute: flat 40/min (the last three) -> 400 in 10 min, the
			// trend from 50/min rising 10/min -> 50*10 + 10*100/2 = 1000; widened by 2 sqrt:
			// 400-40 = 360 and 1000+63.2 -> 1064
			name: "growing", in: forecastInput{joined: 150, perMin: []float64{10, 20, 30, 40, 50}, left: 10 * time.Minute, pace: 100, limit: "rate"},
			basis: "trend", arrLo: 360, arrHi: 1064,
			// pre-queue 510..1214; spike 255..1821; line 765..3035; at 100/min
			lineLo: 765, lineHi: 3035, clrLo: 459 * time.Second, clrHi: 1821 * time.Second,
		},
		{
			// steady 60/min for 5 min left: 300 both ways, ±2·sqrt(300) = 34.6
			name: "steady", in: forecastInput{joined: 600, perMin: []float64{60, 60, 60, 60}, left: 5 * time.Minute, pace: 300},
			basis: "trend", arrLo: 265, arrHi: 335,
			// pre-queue 865..935; spike 432..1403; line 1297..2338
			lineLo: 1297, lineHi: 2338, clrLo: 260 * time.Second, clrHi: 468 * time.Second,
		},
		{
			// one minute measured: flat only
			name: "one minute", in: forecastInput{joined: 20, perMin: []float64{20}, left: 2 * time.Minute, pace: 60},
			basis: "flat", arrLo: 27, arrHi: 53, // 40 ± 12.6
			// pre-queue 47..73; spike 23..110
			lineLo: 70, lineHi: 183, clrLo: 70 * time.Second, clrHi: 183 * time.Second,
		},
		{
			// falling to zero within the time left: the trend stops at zero
			name: "falling", in: forecastInput{joined: 100, perMin: []float64{40, 30, 20}, left: 10 * time.Minute, pace: 0},
			// flat 30*10 = 300; trend from 20 falling 10/min: stops after 2 min: 20 joins
			basis: "trend", arrLo: 11, arrHi: 335, // 20-8.9 = 11.05; 300+34.6
			lineLo: 166, lineHi: 1088,
		},
		{
			name: "nothing measured", in: forecastInput{joined: 7, left: 30 * time.Minute, pace: 10},
			basis: "none", arrLo: 0, arrHi: 0, lineLo: 10, lineHi: 18, clrLo: 60 * time.Second, clrHi: 108 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := forecastFrom(tt.in)
			if f.Basis != tt.basis || f.ArrivalsLow != tt.arrLo || f.ArrivalsHigh != tt.arrHi || f.LineLow != tt.lineLo ||
				f.LineHigh != tt.lineHi || f.ClearLow != tt.clrLo || f.ClearHigh != tt.clrHi {
				t.Fatalf("forecast = basis %s arrivals %d..%d line %d..%d clear %v..%v; want %s %d..%d %d..%d %v..%v",
					f.Basis, f.ArrivalsLow, f.ArrivalsHigh, f.LineLow, f.LineHigh, f.ClearLow, f.ClearHigh,
					tt.basis, tt.arrLo, tt.arrHi, tt.lineLo, tt.lineHi, tt.clrLo, tt.clrHi)
			}
			if f.PrequeueLow != tt.in.joined+f.ArrivalsLow || f.LineLow != f.PrequeueLow+f.SpikeLow || f.LineHigh < f.LineLow {
				t.Fatalf("inconsistent: %+v", f)
			}
		})
	}
}

// A gap in the minute series (no replica recorded) spreads its joins over its minutes; the
// opening ends the pre-queue's minutes; a counter going back starts again.
func TestPrequeueMinutes(t *testing.T) {
	at := func(m int64, issued int64, opened bool) MinuteSample {
		return MinuteSample{T: time.Unix(m*60, 0), Issued: issued, Opened: opened}
	}
	got := prequeueMinutes([]MinuteSample{at(100, 0, false), at(101, 10, false), at(104, 70, false), at(105, 90, false), at(106, 200, true)})
	want := []float64{10, 20, 20, 20, 20}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("per minute %v, want %v", got, want)
	}
	got = prequeueMinutes([]MinuteSample{at(100, 50, false), at(101, 60, false), at(102, 5, false), at(103, 25, false)})
	if fmt.Sprint(got) != "[20]" {
		t.Fatalf("after a reset: %v, want [20]", got)
	}
}

// TestForecastFromCraftedPrequeue: a room opening in ten minutes with 150 pre-queue joins,
// whose minute series says 10, 20, 30, 40, 50 joined in the last five minutes, forecasts the
// line the model gives for those joins, at the cap's turnover (it binds before the rate).
func TestForecastFromCraftedPrequeue(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	tm, err := b.rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	opens := tm.Add(10 * time.Minute)
	ensure(t, e, "fc", Settings{RatePerMinute: 600, MaxActive: 50, Session: time.Minute, OpensAt: opens})
	join(t, e, "fc", 150)
	step(t, e, "fc")
	k := newRoomKeys(b.prefix, "fc")
	m := tm.Unix() / 60
	for i, issued := range []int64{0, 10, 30, 60, 100, 150} {
		mm := m - 5 + int64(i)
		b.rdb.ZAdd(ctx, k.minutes(), redis.Z{Score: float64(mm), Member: fmt.Sprintf("%d|%d|0|0|0|0|0|0|0|0", mm, issued)})
	}
	f, err := e.Forecast(ctx, "fc")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(f.PerMinute) != "[10 20 30 40 50]" || f.Joined != 150 || f.Basis != "trend" || f.Opened {
		t.Fatalf("basis: %+v", f)
	}
	if f.Limit != "cap" || f.Pace != 50 || f.CapPerMinute != 50 {
		t.Fatalf("pace %v (%s), cap %v: want the cap's 50/min", f.Pace, f.Limit, f.CapPerMinute)
	}
	// about ten minutes left (the test's own time passes): the model's figures for 10 min, within 2%
	want := forecastFrom(forecastInput{joined: 150, perMin: []float64{10, 20, 30, 40, 50}, left: 10 * time.Minute, pace: 50})
	near := func(a, b int64) bool { return math.Abs(float64(a-b)) <= 0.02*float64(b)+1 }
	if !near(f.LineLow, want.LineLow) || !near(f.LineHigh, want.LineHigh) || !near(int64(f.ClearHigh), int64(want.ClearHigh)) {
		t.Fatalf("line %d..%d clear %v..%v; want about %d..%d, %v..%v", f.LineLow, f.LineHigh, f.ClearLow, f.ClearHigh,
			want.LineLow, want.LineHigh, want.ClearLow, want.ClearHigh)
	}
}

// TestRecordMinuteOncePerMinute: the first replica to record a minute writes it, a second
// replica finds it (its own figures are not written), and both read the same series.
func TestRecordMinuteOncePerMinute(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e1, e2 := newTestEngine(t, b), newTestEngine(t, b)
	ensure(t, e1, "mn", Settings{RatePerMinute: 600, MaxActive: 50, OpensAt: time.Now().Add(time.Hour)})
	join(t, e1, "mn", 3)
	step(t, e1, "mn")
	if _, err := e2.roomFor(ctx, "mn"); err != nil {
		t.Fatal(err)
	}
	if err := e1.RecordMinute(ctx, "mn", 2); err != nil {
		t.Fatal(err)
	}
	if err := e2.RecordMinute(ctx, "mn", 7); err != nil {
		t.Fatal(err)
	}
	s1, err := e1.Minutes(ctx, "mn", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := e2.Minutes(ctx, "mn", time.Time{})
	if len(s1) == 0 || len(s1) > 2 || fmt.Sprint(s1) != fmt.Sprint(s2) {
		t.Fatalf("series: %+v and %+v", s1, s2)
	}
	// the minute crossed between the two calls at most once: the first record is e1's
	if s1[0].Issued != 3 || s1[0].Flagged != 2 || s1[0].Opened {
		t.Fatalf("first record %+v: want 3 issued, 2 flagged, not opened", s1[0])
	}
	n := len(s1)
	if err := e1.RecordMinute(ctx, "mn", 9); err != nil { // same minute again: no call
		t.Fatal(err)
	}
	if s, _ := e1.Minutes(ctx, "mn", time.Time{}); len(s) > n+1 {
		t.Fatalf("recorded twice: %+v", s)
	}
}
