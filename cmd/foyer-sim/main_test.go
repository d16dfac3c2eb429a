package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, "usage: foyer-sim"},
		{[]string{"help"}, 0, "festival"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"run", "--mode", "sideways", "--visitors", "10"}, 2, `unknown mode "sideways"`},
		{[]string{"festival", "--visitors", "0"}, 2, "visitors"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(tt.args, &out, &errb); code != tt.code || !strings.Contains(out.String()+errb.String(), tt.out) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tt.args, code, out.String()+errb.String(), tt.code, tt.out)
		}
	}
}

// TestSizing: foyer's room is sized from the box office: the cap is no more than the bookings
// its workers clear within half its timeout (a burst of every admitted visitor cannot make a
// payment time out), the rate half of what its workers serve at full load; the line of the
// crowd still drains in about a quarter of an hour.
func TestSizing(t *testing.T) {
	for _, n := range []int{100, 10000, 100000} {
		z := sizeFor(n, 30)
		oc := officeConfig(z, 30)
		if err := oc.Validate(); err != nil || oc.Workers != z.Workers {
			t.Fatalf("officeConfig(%+v): %v", z, err)
		}
		step := oc.StepBase + time.Duration(oc.Workers)*oc.StepPerInflight
		booking := 3*step + oc.PaymentTime
		if time.Duration(z.Cap)*booking > time.Duration(oc.Workers)*oc.Timeout/2 || z.Cap < oc.Workers {
			t.Errorf("sizeFor(%d): cap %d: %v of bookings for %d workers, over half the %v timeout", n, z.Cap,
				time.Duration(z.Cap)*booking, oc.Workers, oc.Timeout)
		}
		if want := z.Cap + z.Rate*30/60*15; z.MaxActive != want {
			t.Errorf("sizeFor(%d): room cap %d, want the cap %d plus 15 s of wall time's admissions at 30x: %d", n, z.MaxActive, z.Cap, want)
		}
		if perMin := float64(oc.Workers) * float64(time.Minute) / float64(step+booking); float64(z.Rate) > perMin/2 {
			t.Errorf("sizeFor(%d): rate %d over half the office's %.0f a minute", n, z.Rate, perMin)
		}
		if z.Rate*20 < n || z.Seats*z.Screenings*100 < n*225 {
			t.Errorf("sizeFor(%d) = %+v: the line should drain within 20 min and the seats suffice", n, z)
		}
	}
	if z := sizeFor(10000, 30); z.Workers != 84 || z.Rate != 700 || z.Cap != 420 || z.MaxActive != 5670 {
		t.Errorf("sizeFor(10000) = %+v; the README's figures say 84 workers, 700/min, cap 420 (5,670 at 30x)", z)
	}
}
