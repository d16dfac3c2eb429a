package main

import (
	"strings"
	"testing"
)

// TestRoomCreateDelete: `foyer room create` makes a room from a template with overrides,
// `foyer room delete` removes it, and each refusal names its cause.
func TestRoomCreateDelete(t *testing.T) {
	base := startGateway(t)
	t.Setenv("FOYER_ADMIN_TOKEN", "script:"+roomTestToken)
	flags := []string{"--url", base}

	code, out, errs := roomRun(append(flags, "create", "screen-9", "--template", "screening", "rate=30", "--display-name", "Late show")...)
	if code != 0 || !strings.Contains(out, "created room screen-9 (Late show) from template screening") ||
		!strings.Contains(out, "30 a minute") || !strings.Contains(out, "/screen/screen-9/") {
		t.Fatalf("create: %d %q %q", code, out, errs)
	}
	if code, out, _ := roomRun(append(flags, "list")...); code != 0 || !strings.Contains(out, "screen-9") {
		t.Fatalf("list after create: %d %q", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"create", "screen-10"}, 2, "--template"},
		{[]string{"create", "screen-10", "--template", "opera"}, 1, "template: unknown template"},
		{[]string{"create", "screen-10", "--template", "screening", "max_active=-4"}, 1, "settings.max_active"},
		{[]string{"create", "screen-9", "--template", "screening"}, 1, "room_exists"},
		{[]string{"create", "festival", "--template", "screening"}, 1, "YAML"},
		{[]string{"delete", "festival"}, 1, "configured_room"},
		{[]string{"delete", "nope"}, 1, "unknown_room"},
	} {
		code, _, errs := roomRun(append(flags, tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: %d %q, want %d naming %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	code, out, errs = roomRun(append(flags, "delete", "screen-9")...)
	if code != 0 || !strings.Contains(out, "deleted room screen-9: it is closed") {
		t.Fatalf("delete: %d %q %q", code, out, errs)
	}
	if code, out, _ := roomRun(append(flags, "list")...); code != 0 || strings.Contains(out, "screen-9") {
		t.Fatalf("list after delete: %d %q", code, out)
	}
}
