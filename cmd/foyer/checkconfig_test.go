package main

import (
	"bytes"
	"os"
	"path/filepath"
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

// TestCheckConfigFixtures runs check-config on every testdata/check-config/*.yaml and compares
// what it prints with the .want file beside it: every problem at once (unknown fields, values
// of the wrong type and validation problems together), each with its line and its field as
// the YAML names it, never a Go type. Regenerate a .want by hand, reading it.
func TestCheckConfigFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/check-config/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			var out, errs bytes.Buffer
			code := runCheckConfig([]string{f}, &out, &errs)
			if got := errs.String(); got != string(want) {
				t.Errorf("check-config %s printed:\n%s\nwant:\n%s", f, got, want)
			}
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if strings.Contains(errs.String(), "gateway.") || strings.Contains(errs.String(), "not found in type") {
				t.Errorf("names a Go type:\n%s", errs.String())
			}
		})
	}
}
