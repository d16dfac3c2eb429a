package sim

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/internal/boxoffice"
)

func sampleResult(label string, waiting []int) *Result {
	r := &Result{Label: label, Visitors: 10, Outcomes: map[string]int{"booked": 7, "gave_up": 3},
		Errors: map[string]int64{"503": 12, "504": 3}, ErrorsTotal: 15, GotIn: 8,
		Backend: &boxoffice.Stats{PeakConcurrency: 120, Capacity: boxoffice.Capacity{Workers: 8}, ChargedNotBooked: 2,
			CustomersChargedNotBooked: 1}}
	for i, w := range waiting {
		r.Series = append(r.Series, Point{T: float64(i*60 - 60), Waiting: w, GotInPerMin: float64(w) / 2})
	}
	return r
}

func TestReportTableAndHTML(t *testing.T) {
	runs := []*Result{sampleResult("straight", []int{5, 9, 2}), sampleResult("through foyer", []int{4, 6, 0})}
	var table bytes.Buffer
	if err := WriteTable(&table, runs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"straight", "through foyer", "120 / 8", "2 (1)", "15 (503 12, 504 3)"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var html bytes.Buffer
	if err := WriteHTML(&html, Report{Title: "t", Runs: runs, Notes: []string{"a <note>"}}); err != nil {
		t.Fatal(err)
	}
	h := html.String()
	if n := strings.Count(h, "<svg"); n != 6 {
		t.Errorf("%d charts, want 6", n)
	}
	for _, want := range []string{"<polyline", "Line length", "a &lt;note&gt;", "<td>120 / 8</td>"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(h, "<script") || strings.Contains(h, "http://") && !strings.Contains(h, "http://www.w3.org/2000/svg") {
		t.Error("the report must be self-contained: no scripts, no outside references")
	}
}

func TestRehearsalFindsTheBackendsLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a crowd for seconds; not in -short")
	}
	const speed = 60
	_, srv := smallOffice(t, speed) // about 300 visitors a minute at most
	sc := smallCrowd(100, speed)
	reh, err := Rehearse(context.Background(), sc, RehearseConfig{
		TargetP95: 3 * time.Second, MinRate: 120, MaxRate: 2000, Steps: 1, TrialMinutes: 1,
		Target: func(_ context.Context, rate float64) (Target, func(), error) {
			return Target{Mode: Paced, URL: srv.URL, ResetBackend: true, RatePerMinute: rate, MaxActive: 1000}, func() {}, nil
		},
		Options: Options{Workers: 256},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range reh.Trials {
		t.Logf("%d/min p95 %.0f ms cbnb %d errors %d pass %v", tr.Rate, tr.P95Ms, tr.ChargedNotBooked, tr.Errors, tr.Pass)
	}
	t.Log(reh.Summary)
	// 120/min is well within the office's reach and 2000/min far beyond it.
	if reh.Recommended < 120 || reh.Recommended >= 1000 {
		t.Fatalf("recommended %d/min, want between 120 and 1000", reh.Recommended)
	}
	if !reh.Trials[0].Pass || reh.Trials[len(reh.Trials)-1].Pass {
		t.Fatalf("the lowest trial should pass and the highest fail: %+v", reh.Trials)
	}
}
