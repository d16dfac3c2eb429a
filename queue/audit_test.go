package queue

import (
	"context"
	"fmt"
	"testing"

	"github.com/foyerhq/foyer/queue/redistest"
)

// The audit entry is written by the update itself: its before/after are the versions the
// update replaced and wrote, newest first across rooms, bounded by the limit.
func TestAuditWrittenByTheUpdate(t *testing.T) {
	db := redistest.New(t)
	e, err := New(db.Client, Config{Prefix: db.Prefix, TicketKeys: []TicketKey{{ID: 1, Secret: []byte("0123456789abcdef0123456789abcdef")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, room := range []string{"a", "b"} {
		if _, err := e.EnsureRoom(ctx, room, Settings{RatePerMinute: 10}); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(before, after Settings) []byte {
		return fmt.Appendf(nil, `{"from":%d,"to":%d,"v":%d}`, before.RatePerMinute, after.RatePerMinute, after.Version)
	}
	for i, room := range []string{"a", "b", "a"} {
		rate := 20 + i
		if _, _, err := e.UpdateSettings(ctx, room, SettingsPatch{RatePerMinute: &rate}, 0, entry); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.Audit(ctx, []string{"a", "b"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0]) != `{"from":20,"to":22,"v":3}` || string(got[1]) != `{"from":10,"to":21,"v":2}` {
		t.Fatalf("audit = %q, want the two newest changes, newest first, with their real before/after", got)
	}
	if _, err := e.Audit(ctx, []string{"a"}, 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
}
