package queue

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// clearEngine is an engine (no Redis call is made) with one cached room: rate perMin a minute
// admitted over the last five minutes, head and issued as given.
func clearEngine(t *testing.T, rate, maxActive int, issued, head, active int64, admittedPerMin float64) (*Engine, *room, *snapshot) {
	t.Helper()
	e, err := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Config{TicketKeys: testTicketKeys, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	r, open := etaRoom(t, 5*time.Minute, admittedPerMin)
	r.name = "clear"
	s := etaSnap(open, rate, maxActive, head, active)
	s.issued, s.settings.Remaining, s.settings.State = issued, -1, StateOpen
	r.snap.Store(s)
	e.register(r)
	return e, r, s
}

// The case: 191 waiting, a rate of 50 a minute, 41 slots whose sessions last a minute
// on average: 41 a minute go in, so the line clears in about 4.7 minutes, not the 3.8 that
// waiting / rate says; the cap is the limit named.
func TestClearanceCapBinds(t *testing.T) {
	e, _, s := clearEngine(t, 50, 41, 1191, 1000, 41, 41)
	s.stats["sessions"], s.stats["session_ms"] = 200, 200*60_000
	c, ok := e.Clearance("clear")
	if !ok {
		t.Fatal("room not cached")
	}
	if c.Waiting != 191 || c.Limit != LimitCap || !c.SessionMeasured || c.Session != time.Minute {
		t.Fatalf("%+v: want 191 waiting, the cap binding, a measured one-minute session", c)
	}
	if c.PerMinute != 41 || c.In != 280*time.Second { // ceil(191 / 41 * 60)
		t.Errorf("pace %v, clears in %v: want 41 a minute, 280 s", c.PerMinute, c.In)
	}
	if naive := time.Duration(191*60/50) * time.Second; c.In <= naive {
		t.Errorf("clears in %v, no later than waiting / rate (%v)", c.In, naive)
	}
	if !c.Measured || c.MeasuredPerMinute < 40 || c.MeasuredPerMinute > 42 {
		t.Errorf("measured %v (%v), want about 41", c.MeasuredPerMinute, c.Measured)
	}
}

// While the free slots hold the whole line, the rate binds even if the cap turns over more
// slowly: 300 waiting at 200 a minute, 500 slots free, sessions of 10 minutes (100 a minute):
// 90 s. With a longer line the free slots go at the rate and the rest at the turnover.
func TestClearanceFreeSlotsFirst(t *testing.T) {
	e, _, _ := clearEngine(t, 200, 1000, 1300, 1000, 500, 100)
	c, _ := e.Clearance("clear")
	if c.Limit != LimitRate || c.Free != 500 || c.PerMinute != 200 || c.In != 90*time.Second {
		t.Errorf("%+v: want the rate binding, 90 s", c)
	}
	e, _, _ = clearEngine(t, 200, 1000, 2000, 1000, 900, 100) // 1000 waiting, 100 free
	c, _ = e.Clearance("clear")
	// 100 at 200 a minute, then 900 at 100 a minute (1000 slots of 10 minutes): 30 s + 540 s
	if c.Limit != LimitCap || c.PerMinute != 100 || c.In != 570*time.Second {
		t.Errorf("%+v: want the cap binding after the free slots, 570 s", c)
	}
}

// Before five sessions ended, the configured session length stands in; with short sessions
// the rate binds.
func TestClearanceRateBinds(t *testing.T) {
	e, _, s := clearEngine(t, 60, 100, 1300, 1000, 20, 60)
	s.settings.Session = 30 * time.Second // 100 slots of 30 s: 200 a minute, the rate binds
	c, _ := e.Clearance("clear")
	if c.Limit != LimitRate || c.PerMinute != 60 || c.In != 5*time.Minute || c.SessionMeasured || c.CapPerMinute != 200 {
		t.Errorf("%+v: want the rate binding, 300 waiting at 60 a minute: 5 minutes", c)
	}
}

// A line that does not move says why, and no time.
func TestClearanceNotMoving(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*snapshot)
		want Limit
	}{
		{"paused", func(s *snapshot) { s.settings.State = StatePaused }, LimitPaused},
		{"closed", func(s *snapshot) { s.settings.State = StateClosed }, LimitClosed},
		{"sold out", func(s *snapshot) { s.settings.Remaining = 0 }, LimitClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, s := clearEngine(t, 60, 100, 1300, 1000, 20, 60)
			tc.mod(s)
			if c, _ := e.Clearance("clear"); c.Limit != tc.want || c.In != 0 || c.PerMinute != 0 {
				t.Errorf("%+v: want %q and no time", c, tc.want)
			}
		})
	}
	t.Run("stalled", func(t *testing.T) {
		e, _, _ := clearEngine(t, 60, 10, 1300, 1000, 10, 0) // cap full, nothing admitted for minutes
		if c, _ := e.Clearance("clear"); c.Limit != LimitStalled || c.In != 0 {
			t.Errorf("%+v: want stalled", c)
		}
	})
	t.Run("empty", func(t *testing.T) {
		e, _, _ := clearEngine(t, 60, 10, 1000, 1000, 0, 0)
		if c, _ := e.Clearance("clear"); c.Limit != LimitNone || c.Waiting != 0 || c.In != 0 {
			t.Errorf("%+v: want nobody waiting", c)
		}
	})
	if _, ok := (&Engine{rooms: map[string]*room{}}).Clearance("nowhere"); ok {
		t.Error("an unknown room has a clearance")
	}
}
