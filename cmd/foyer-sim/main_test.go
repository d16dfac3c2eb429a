package main

import (
	"bytes"
	"strings"
	"testing"
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

func TestSizing(t *testing.T) {
	for _, n := range []int{100, 10000, 100000} {
		z := sizeFor(n, 30)
		if z.Rate*15 < n-15 || z.Workers*8 < z.Rate || z.MaxActive < 3*z.Rate || z.Seats*z.Screenings*100 < n*225 {
			t.Errorf("sizeFor(%d) = %+v: the line should drain in ~15 min with backend headroom and seats for the crowd", n, z)
		}
		oc := officeConfig(z, 30)
		if err := oc.Validate(); err != nil || oc.Workers != z.Workers {
			t.Errorf("officeConfig(%+v): %v", z, err)
		}
	}
}
