package queue

import (
	"context"
	"errors"
	"testing"
	"time"
)

// hear waits for an announcement of name (or a full-read request) on e's RoomChanges.
func hear(t *testing.T, e *Engine, name string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-e.RoomChanges():
			if n == name || n == "" {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("no announcement of room %q", name)
		}
	}
}

// TestRoomRegistry: a runtime room created by one engine is announced to another, listed by
// the registry, refused a second time; deleted, it is listed as deleted, its keys expire at the
// end of the closing period, a poll of it says closed and a join is refused.
func TestRoomRegistry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		a, other := newTestEngine(t, b), newTestEngine(t, b)
		runEngine(t, a)
		runEngine(t, other)
		var audited Settings
		st, err := a.CreateRoom(ctx, "rt-1", []byte(`{"spec":1}`), Settings{RatePerMinute: 77},
			func(s Settings) []byte { audited = s; return []byte(`{"what":"created"}`) })
		if err != nil {
			t.Fatal(err)
		}
		if st.RatePerMinute != 77 || audited.Version != st.Version {
			t.Fatalf("settings %+v, audited %+v", st, audited)
		}
		t.Logf("the other engine heard of the creation after %s", hear(t, other, "rt-1"))
		defs, err := other.RoomDefs(ctx)
		if err != nil || len(defs) != 1 || defs[0].Name != "rt-1" || string(defs[0].Spec) != `{"spec":1}` || defs[0].Deleted() {
			t.Fatalf("defs %+v, %v", defs, err)
		}
		if raw, err := a.Audit(ctx, []string{"rt-1"}, 10); err != nil || len(raw) != 1 || string(raw[0]) != `{"what":"created"}` {
			t.Fatalf("audit %q, %v", raw, err)
		}
		if _, err := other.CreateRoom(ctx, "rt-1", []byte(`{}`), Settings{}, nil); !errors.Is(err, ErrRoomExists) {
			t.Fatalf("second creation: %v, want ErrRoomExists", err)
		}
		ensure(t, a, "seeded", Settings{})
		if _, err := a.CreateRoom(ctx, "seeded", []byte(`{}`), Settings{}, nil); !errors.Is(err, ErrRoomExists) {
			t.Fatalf("creation over a seeded room: %v, want ErrRoomExists", err)
		}
		if _, err := a.CreateRoom(ctx, "bad-settings", []byte(`{}`), Settings{RatePerMinute: -3}, nil); err == nil {
			t.Fatal("bad settings accepted")
		}
		if _, err := a.DeleteRoom(ctx, "seeded"); !errors.Is(err, ErrUnknownRoom) {
			t.Fatalf("deleting a room not in the registry: %v, want ErrUnknownRoom", err)
		}

		tk, _, err := other.Join(ctx, "rt-1", NewVisitorID())
		if err != nil {
			t.Fatal(err)
		}
		d, err := a.DeleteRoom(ctx, "rt-1")
		if err != nil || !d.Deleted() {
			t.Fatalf("delete: %+v, %v", d, err)
		}
		hear(t, other, "rt-1")
		got, ok, err := other.RoomDef(ctx, "rt-1")
		if err != nil || !ok || !got.Deleted() || string(got.Spec) != `{"spec":1}` {
			t.Fatalf("deleted def %+v %v %v", got, ok, err)
		}
		for _, e := range []*Engine{a, other} {
			if err := e.RetireRoom(ctx, "rt-1", got.ClosesAt()); err != nil {
				t.Fatal(err)
			}
		}
		ttl, err := b.rdb.PTTL(ctx, newRoomKeys(b.prefix, "rt-1").meta).Result()
		if err != nil || ttl <= 0 || ttl > ClosingPeriod {
			t.Fatalf("a deleted room's meta TTL %s (%v), want at most %s", ttl, err, ClosingPeriod)
		}
		if slices := other.Rooms(); contains(slices, "rt-1") {
			t.Fatalf("a retired room is still stepped: %v", slices)
		}
		dec, err := other.Poll(ctx, tk, PollOptions{})
		if err != nil || dec.State != StateClosed || dec.Lease != nil {
			t.Fatalf("poll of a deleted room: %+v, %v; want closed", dec, err)
		}
		if _, _, err := other.Join(ctx, "rt-1", NewVisitorID()); !errors.Is(err, ErrRoomClosed) {
			t.Fatalf("join of a deleted room: %v, want ErrRoomClosed", err)
		}
		if _, err := a.CreateRoom(ctx, "rt-1", []byte(`{}`), Settings{}, nil); !errors.Is(err, ErrRoomExists) {
			t.Fatalf("re-creation in the closing period: %v, want ErrRoomExists", err)
		}

		// a missed announcement: the version check asks for a full read within a second or so
		if _, err := other.RoomDefs(ctx); err != nil {
			t.Fatal(err)
		}
		for len(other.RoomChanges()) > 0 {
			<-other.RoomChanges()
		}
		if err := b.rdb.Incr(ctx, newRegistryKeys(b.prefix).version).Err(); err != nil {
			t.Fatal(err)
		}
		t.Logf("a silent change was noticed after %s", hear(t, other, ""))
	})
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
