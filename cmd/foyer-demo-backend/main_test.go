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

// TestIssuerDefaultIsFoyers: without --issuer the backend expects the iss foyer writes by
// default ("foyer"), so foyer's tokens verify out of the box.
func TestIssuerDefaultIsFoyers(t *testing.T) {
	var errb bytes.Buffer
	run([]string{"-h"}, &errb)
	i := strings.Index(errb.String(), "-issuer")
	if i < 0 {
		t.Fatalf("no -issuer flag in the usage:\n%s", errb.String())
	}
	line := errb.String()[i:]
	if j := strings.Index(line, "\n  -"); j >= 0 {
		line = line[:j]
	}
	if !strings.Contains(line, `(default "foyer")`) {
		t.Fatalf("-issuer default is not foyer's: %q", line)
	}
}
