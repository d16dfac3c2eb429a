package main

import (
	"bytes"
	"strings"
	"testing"
)

// check-config used to say "ok" for the example config with placeholder tokens and secrets and
// an opening in the past: now each is a warning naming its field, and --strict fails on them.
func TestCheckConfigWarns(t *testing.T) {
	var out, errs bytes.Buffer
	if code := runCheckConfig([]string{"../../configs/biff-2026.yaml"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{
		"warning: admin.tokens[0].token: looks like a placeholder",
		"warning: tickets.secrets[0].secret: looks like a placeholder",
		"warning: rooms[0].opens_at: 2026-10-02T14:00:00+09:00 is in the past",
	} {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs.String())
		}
	}
	if !strings.Contains(out.String(), "warnings)") {
		t.Errorf("stdout: %s", out.String())
	}
	out.Reset()
	errs.Reset()
	if code := runCheckConfig([]string{"--strict", "../../configs/biff-2026.yaml"}, &out, &errs); code != 1 {
		t.Fatalf("--strict with warnings: exit %d, want 1", code)
	}
}
