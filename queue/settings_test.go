package queue

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSettingsValidation(t *testing.T) {
	bad := Settings{RatePerMinute: -1, MaxActive: 0, Session: time.Second, MaxSession: time.Millisecond,
		AbsentAfter: 2 * time.Hour, Grace: -time.Second, State: "weird", OnStoreError: "maybe",
		OpensAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), PrequeueOpensAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	err := bad.Validate()
	var v *ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	for _, f := range []string{"rate_per_minute", "max_active", "session_seconds", "max_session_seconds",
		"absent_after_seconds", "grace_seconds", "state", "on_store_error", "prequeue_opens_at"} {
		if v.Fields[f] == "" {
			t.Errorf("no message for %s in %v", f, v.Fields)
		}
	}
	if err := DefaultSettings().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestUpdateSettings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		e1, e2 := newTestEngine(t, b), newTestEngine(t, b)
		s := ensure(t, e1, "conf", Settings{RatePerMinute: 100, MaxActive: 10})
		if again := ensure(t, e2, "conf", Settings{RatePerMinute: 999}); again.RatePerMinute != 100 || again.Version != s.Version {
			t.Fatalf("EnsureRoom of an existing room changed it: %+v", again)
		}
		runEngine(t, e1)
		runEngine(t, e2)
		rate := 4321
		start := time.Now()
		_, got, err := e1.UpdateSettings(ctx, "conf", SettingsPatch{RatePerMinute: &rate}, s.Version, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.RatePerMinute != rate || got.Version != s.Version+1 || got.MaxActive != 10 {
			t.Fatalf("updated settings %+v", got)
		}
		for {
			if v, ok := e2.View("conf"); ok && v.Settings.RatePerMinute == rate {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatal("the second engine did not see the change within a second")
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("seen by the other engine after %v", time.Since(start))
		if _, _, err := e2.UpdateSettings(ctx, "conf", SettingsPatch{RatePerMinute: &rate}, s.Version, nil); !errors.Is(err, ErrVersionConflict) {
			t.Fatalf("stale version: %v", err)
		}
		neg, zero := -5, 0
		long := 48 * time.Hour
		_, _, err = e2.UpdateSettings(ctx, "conf", SettingsPatch{RatePerMinute: &neg, MaxActive: &zero, Session: &long}, 0, nil)
		var v *ValidationError
		if !errors.As(err, &v) || len(v.Fields) < 3 {
			t.Fatalf("bad patch: %v, want every field named", err)
		}
		if cur, _ := e2.Settings(ctx, "conf"); cur.RatePerMinute != rate {
			t.Fatalf("a rejected patch changed the settings: %+v", cur)
		}
		past := time.Now().Add(-time.Hour)
		if _, _, err := e2.UpdateSettings(ctx, "conf", SettingsPatch{OpensAt: &past}, 0, nil); !errors.As(err, &v) || v.Fields["opens_at"] == "" {
			t.Fatalf("moving opens_at of an opened room: %v", err)
		}
	})
}

func TestStateChanges(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	ensure(t, e, "states", Settings{RatePerMinute: 6000, MaxActive: 10, QueueAll: true})
	js := join(t, e, "states", 3)
	paused := StatePaused
	if _, _, err := e.UpdateSettings(ctx, "states", SettingsPatch{State: &paused}, 0, nil); err != nil {
		t.Fatal(err)
	}
	js = append(js, join(t, e, "states", 3)...) // joining a paused room is fine
	head := step(t, e, "states").head
	time.Sleep(50 * time.Millisecond)
	if s := step(t, e, "states"); s.head != head {
		t.Fatalf("a paused room admitted: head %d -> %d", head, s.head)
	}
	if st := status(t, e, js[5].t); st.State != StatePaused || st.Place != 6-head {
		t.Fatalf("status in a paused room: %+v", st)
	}
	closed := StateClosed
	if _, _, err := e.UpdateSettings(ctx, "states", SettingsPatch{State: &closed}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Join(ctx, "states", NewVisitorID()); !errors.Is(err, ErrRoomClosed) {
		t.Fatalf("join of a closed room: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if s := step(t, e, "states"); s.head != head {
		t.Fatalf("a closed room admitted: head %d -> %d", head, s.head)
	}
	if st := status(t, e, js[0].t); st.State != StateClosed || st.Admitted {
		t.Fatalf("status in a closed room: %+v", st)
	}
	if _, err := e.Claim(ctx, js[0].t); !errors.Is(err, ErrRoomClosed) && !errors.Is(err, ErrNotYourTurn) {
		t.Fatalf("claim in a closed room: %v", err)
	}

	later := time.Now().Add(time.Hour)
	e2 := newTestEngine(t, b)
	ensure(t, e2, "sched", Settings{PrequeueOpensAt: later, OpensAt: later.Add(time.Hour)})
	if _, _, err := e2.Join(ctx, "sched", NewVisitorID()); !errors.Is(err, ErrRoomScheduled) {
		t.Fatalf("join before the pre-queue opens: %v", err)
	}
	if v, _ := e2.View("sched"); v.State != StateScheduled {
		t.Fatalf("state %s, want scheduled", v.State)
	}
}

func TestBadInput(t *testing.T) {
	b := singleBackend(t)
	ctx := context.Background()
	e := newTestEngine(t, b)
	for _, name := range []string{"", "Upper", "has space", "a_b", "ü", string(make([]byte, 65))} {
		if ValidRoomName(name) {
			t.Errorf("%q accepted", name)
		}
		if _, err := e.EnsureRoom(ctx, name, Settings{}); !errors.Is(err, ErrInvalidRoomName) {
			t.Errorf("EnsureRoom(%q): %v", name, err)
		}
		if _, _, err := e.Join(ctx, name, "v"); !errors.Is(err, ErrInvalidRoomName) {
			t.Errorf("Join(%q): %v", name, err)
		}
		if _, err := e.Status(ctx, Ticket{Room: name, Number: 1}); !errors.Is(err, ErrInvalidRoomName) {
			t.Errorf("Status(%q): %v", name, err)
		}
		if err := e.Release(ctx, name, "1.x", OutcomeBooked); !errors.Is(err, ErrInvalidRoomName) {
			t.Errorf("Release(%q): %v", name, err)
		}
		if _, err := e.Fairness(name); !errors.Is(err, ErrInvalidRoomName) {
			t.Errorf("Fairness(%q): %v", name, err)
		}
	}
	if _, _, err := e.Join(ctx, "nowhere", "v"); !errors.Is(err, ErrUnknownRoom) {
		t.Errorf("join of an unknown room: %v", err)
	}
	if _, err := e.Stats(ctx, "nowhere"); !errors.Is(err, ErrUnknownRoom) {
		t.Errorf("stats of an unknown room: %v", err)
	}
	var v *ValidationError
	if _, err := e.EnsureRoom(ctx, "neg", Settings{RatePerMinute: -3, MaxActive: -1}); !errors.As(err, &v) || len(v.Fields) != 2 {
		t.Errorf("negative settings: %v", err)
	}
	ensure(t, e, "ok", Settings{})
	if _, _, err := e.Join(ctx, "ok", ""); err == nil {
		t.Error("empty visitor id accepted")
	}
	if _, err := e.Status(ctx, Ticket{Room: "ok", Visitor: "v", Number: maxAheadOfIssued + 10}); !errors.Is(err, ErrBeyondIssued) {
		t.Errorf("absurd ticket number: %v", err)
	}
	if _, err := e.DecodeTicket("ok", "garbage!"); !errors.Is(err, ErrBadTicket) {
		t.Errorf("garbage ticket: %v", err)
	}
	for name, cfg := range map[string]Config{
		"no keys":        {},
		"slow refresh":   {TicketKeys: testTicketKeys, RefreshEvery: time.Second},
		"step > refresh": {TicketKeys: testTicketKeys, RefreshEvery: 100 * time.Millisecond, StepEvery: 200 * time.Millisecond},
	} {
		if _, err := New(b.rdb, cfg); err == nil {
			t.Errorf("New with %s: no error", name)
		}
	}
}
