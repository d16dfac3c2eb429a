package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--nope"}, 2, "flag provided but not defined"},
		{[]string{"--workers", "-1", "--listen", "127.0.0.1:0"}, 2, "workers"},
		{[]string{"--speed", "-1", "--listen", "127.0.0.1:0"}, 2, "speed"},
	}
	for _, tt := range tests {
		var errb bytes.Buffer
		if code := run(tt.args, &errb); code != tt.code || !strings.Contains(errb.String(), tt.out) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tt.args, code, errb.String(), tt.code, tt.out)
		}
	}
}
