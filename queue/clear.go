package queue

import (
	"math"
	"time"
)

// Limit names what bounds how fast a room's line goes in.
type Limit string

// Limits.
const (
	// LimitNone: nobody is waiting.
	LimitNone Limit = ""
	// LimitRate: the configured rate; the cap's turnover would allow more.
	LimitRate Limit = "rate"
	// LimitCap: sessions end too slowly for the rate, and the line is longer than the free
	// slots: once they are taken, at most MaxActive per session length go in a minute.
	LimitCap Limit = "cap"
	// LimitPaused: the organiser paused admissions.
	LimitPaused Limit = "paused"
	// LimitStalled: the cap is full and no session has ended lately (Stall "sessions").
	LimitStalled Limit = "stalled"
	// LimitClosed: the room is closed or sold out; the line will not go in.
	LimitClosed Limit = "closed"
)

// Clearance is how long the room's current line takes to go in, and which limit decides it.
type Clearance struct {
	// Waiting is how many are in line (main line and returners).
	Waiting int64
	// Free is the cap's free slots now (MaxActive - active - offers).
	Free int64
	// Limit is what bounds the pace (LimitNone when nobody waits).
	Limit Limit
	// PerMinute is the pace once the free slots are taken: min(RatePerMinute, CapPerMinute)
	// (the rate when the free slots hold the whole line); 0 when the line does not move
	// (paused, stalled, closed).
	PerMinute float64
	// RatePerMinute is the configured rate.
	RatePerMinute int
	// CapPerMinute is the cap's turnover: MaxActive per Session.
	CapPerMinute float64
	// Session is the session length the turnover assumes: the mean of the sessions that ended
	// (released or expired) once five have (SessionMeasured), else the configured length.
	Session         time.Duration
	SessionMeasured bool
	// MeasuredPerMinute is the admissions over the last minute, when Measured (5 s of data).
	MeasuredPerMinute float64
	Measured          bool
	// In is how long the line takes: the free slots at the rate, the rest at PerMinute; 0 when
	// nobody waits or the line does not move.
	In time.Duration
}

// Clearance estimates when the room's line clears, from the cache (no Redis call): the line
// goes in at the configured rate while there are free slots under the cap, and then no faster
// than the cap turns over: MaxActive per session length (measured from the sessions that
// ended, else the configured length), the same turnover a visitor's ETA uses (capTurnover).
// ok is false when the room is not cached.
func (e *Engine) Clearance(room string) (Clearance, bool) {
	r := e.cached(room)
	if r == nil {
		return Clearance{}, false
	}
	s := r.snap.Load()
	if s == nil {
		return Clearance{}, false
	}
	issued := max(s.issued, r.known.Load())
	c := Clearance{Waiting: max(0, issued-s.head) + s.returning, RatePerMinute: s.settings.RatePerMinute,
		Free: max(0, int64(s.settings.MaxActive)-s.active-s.offers)}
	c.CapPerMinute, c.Session, c.SessionMeasured = r.capRate(s)
	c.MeasuredPerMinute, c.Measured = r.admitRate()
	if c.Waiting == 0 {
		return c, true
	}
	state := s.state(r.redisNow())
	switch {
	case state == StateClosed || state == StateSoldOut:
		c.Limit = LimitClosed
		return c, true
	case state == StatePaused:
		c.Limit = LimitPaused
		return c, true
	case r.stall(s, state) == StallSessions:
		c.Limit = LimitStalled
		return c, true
	}
	rate := float64(c.RatePerMinute)
	if rate <= 0 {
		c.Limit = LimitStalled
		return c, true
	}
	c.PerMinute, c.Limit = rate, LimitRate
	minutes := float64(c.Waiting) / rate
	if c.CapPerMinute < rate && c.Waiting > c.Free {
		if c.CapPerMinute <= 0 {
			c.PerMinute, c.Limit = 0, LimitStalled
			return c, true
		}
		c.PerMinute, c.Limit = c.CapPerMinute, LimitCap
		minutes = float64(c.Free)/rate + float64(c.Waiting-c.Free)/c.CapPerMinute
	}
	c.In = time.Duration(math.Ceil(minutes*60)) * time.Second
	return c, true
}

// capRate is the cap's turnover, admissions per minute: MaxActive per session, with the mean
// measured session once five sessions ended (measured), else the configured Session.
func (r *room) capRate(s *snapshot) (perMin float64, sess time.Duration, measured bool) {
	sess = s.settings.Session
	if m, ok := r.sessionLength(); ok && m > 0 {
		sess, measured = m, true
	}
	if sess <= 0 {
		return math.Inf(1), sess, measured
	}
	return float64(s.settings.MaxActive) / sess.Minutes(), sess, measured
}
