package queue

import (
	"context"
	"fmt"
	"time"
)

// Status is a visitor's view of their place.
type Status struct {
	State State
	// Position is the ticket's place in the room's order (after the pre-queue shuffle); 0
	// before opening.
	Position int64
	// Place is Position minus the head: 1 means next. 0 when admitted or before opening.
	Place int64
	// Ahead is the number of positions before this one still to be served (Place - 1).
	Ahead int64
	// Admitted means the head has reached the ticket: the visitor may Claim now.
	Admitted bool
	// ETALow and ETAHigh bound the wait, from the configured and the measured admission rate.
	ETALow, ETAHigh time.Duration
	// OpensAt is the room's opening time (zero: at creation).
	OpensAt time.Time
	// PollAfter is when the visitor should ask again: soon near the front, never later than a
	// third of AbsentAfter (so a polling visitor is never taken for absent).
	PollAfter time.Duration
	// StoreDown means the cache could not be refreshed lately: the figures are the last known.
	StoreDown bool
}

// maxAheadOfIssued bounds how far beyond the room's counter a signed ticket may be and still
// raise it. A restarted Redis lost only recent numbers; a much larger one means a leaked key.
const maxAheadOfIssued = 1 << 24

// DecodeTicket checks and decodes an encoded ticket for room: size, encoding, signature (which
// binds the room), key id. Errors wrap ErrBadTicket or ErrInvalidRoomName.
func (e *Engine) DecodeTicket(room, s string) (Ticket, error) {
	return e.signer.decode(room, s)
}

// Status computes the visitor's place from the in-process cache and records the visitor as
// present; it does no Redis round trip unless the room is not cached yet. A ticket numbered
// beyond the cached counter (issued by another replica, or before a data loss) raises this
// engine's floor, and the next step restores the counter if Redis lost it.
func (e *Engine) Status(ctx context.Context, t Ticket) (Status, error) {
	r, err := e.roomFor(ctx, t.Room)
	if err != nil {
		return Status{}, err
	}
	s := r.snap.Load()
	if t.Number < 1 {
		return Status{}, fmt.Errorf("queue: status: ticket number %d: %w", t.Number, ErrBadTicket)
	}
	if t.Number > max(s.issued, r.known.Load())+maxAheadOfIssued {
		return Status{}, fmt.Errorf("queue: status: ticket %d, room counter %d: %w", t.Number, s.issued, ErrBeyondIssued)
	}
	r.raiseKnown(t.Number)
	now := r.redisNow()
	st := Status{
		State:     s.state(now),
		OpensAt:   s.settings.OpensAt,
		StoreDown: e.stale(s),
		PollAfter: e.pollAfter(s, 0),
	}
	pos := s.position(t.Number)
	if pos == 0 {
		return st, nil
	}
	e.see(r, pos)
	st.Position = pos
	place := pos - s.head
	if place <= 0 {
		st.Admitted = st.State != StateClosed
		st.PollAfter = 0
		return st, nil
	}
	st.Place, st.Ahead = place, place-1
	st.PollAfter = e.pollAfter(s, place)
	if st.State == StateOpen {
		st.ETALow, st.ETAHigh = eta(place, float64(s.settings.RatePerMinute), r)
	}
	return st, nil
}

// stale reports whether the cache missed several refreshes.
func (e *Engine) stale(s *snapshot) bool {
	return time.Since(s.fetched) > max(time.Second, 5*e.cfg.RefreshEvery)+e.cfg.CallTimeout
}

// pollAfter suggests the next poll: about a tenth of the expected wait, between 1 s and
// AbsentAfter/3.
func (e *Engine) pollAfter(s *snapshot, place int64) time.Duration {
	hi := s.settings.AbsentAfter / 3
	lo := min(time.Second, hi)
	if place <= 0 {
		return min(5*time.Second, hi)
	}
	wait := time.Duration(float64(place) / float64(s.settings.RatePerMinute) * float64(time.Minute))
	return min(max(wait/10, lo), hi)
}

// eta bounds the wait for place: the faster of the configured and measured rates gives the low
// end, the slower (plus 10%) the high end.
func eta(place int64, configured float64, r *room) (time.Duration, time.Duration) {
	fast, slow := configured, configured
	if m, ok := r.admitRate(); ok && m > 0 {
		fast, slow = max(configured, m), min(configured, m)
	}
	d := func(rate float64) time.Duration {
		return time.Duration(float64(place) / rate * float64(time.Minute))
	}
	return d(fast), d(slow) * 11 / 10
}
