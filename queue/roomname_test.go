package queue

import (
	"strings"
	"testing"
)

func TestValidRoomNameAccepts(t *testing.T) {
	for _, name := range []string{"a", "0", "-", "biff-2026", strings.Repeat("z", 64)} {
		if !ValidRoomName(name) {
			t.Errorf("%q refused", name)
		}
	}
	for _, name := range []string{strings.Repeat("z", 65), "a/b", "{a}", "a:b", "A"} {
		if ValidRoomName(name) {
			t.Errorf("%q accepted", name)
		}
	}
}
