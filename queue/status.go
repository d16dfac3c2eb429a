package queue

import (
	"context"
	"time"
)

// Status is a visitor's view of their place.
type Status struct {
	State State
	// Position is the ticket's place in the room's order (after the pre-queue shuffle); 0
	// before opening.
	Position int64
	// Place counts everyone who will go in before this visitor, plus one (1 means next):
	// the positions before theirs, the returners waiting and every skipped visitor who may
	// still come back within grace (they are served ahead of the line), so it never has to
	// rise. For a returner, the returners ahead in the returning lane plus one; for a
	// re-entry (Reentry), the re-entries ahead in its lane plus one: re-entries are not counted
	// in the main line's places (one arriving must not raise them). 0 when admitted or before
	// opening.
	Place int64
	// Ahead is Place - 1.
	Ahead int64
	// StockLow means fewer are left (Remaining, as last reported) than this visitor's place:
	// they are told plainly, next to how many are ahead of them.
	StockLow  bool
	Remaining int64
	// Returning means the visitor was skipped while away, came back within grace, and waits in
	// the returning lane (served before the line).
	Returning bool
	// Reentry means the visitor's booking failed and they have a second chance (reentry.go):
	// waiting in the re-entry lane (Place is theirs in it), or, with Admitted, going back in
	// through it.
	Reentry bool
	// Stalled says why the line is not moving (no ETA then).
	Stalled Stall
	// PlaceRose means the place is above the best the visitor was shown by more than replicas
	// can disagree: after a data loss the line had to be rebuilt. Say so.
	PlaceRose bool
	// Admitted means the head has reached the ticket: the visitor may Claim now.
	Admitted bool
	// ETALow and ETAHigh bound the wait (zero while stalled); see Engine.Poll.
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
// present; it does no Redis round trip unless the room is not cached yet, and never claims
// (Poll does). A ticket numbered beyond the cached counter (issued by another replica, or
// before a data loss) raises this engine's floor, and the next step restores the counter if
// Redis lost it.
func (e *Engine) Status(ctx context.Context, t Ticket) (Status, error) {
	r, err := e.roomFor(ctx, t.Room)
	if err != nil {
		return Status{}, err
	}
	return e.status(r, r.snap.Load(), t)
}

// stale reports whether the cache missed several refreshes. A quiet room is stepped only every
// IdleStepEvery on purpose (idle.go): its cache is stale only if that is late too, or Redis
// stopped answering the engine.
func (e *Engine) stale(r *room, s *snapshot) bool {
	bound := max(time.Second, 5*e.cfg.RefreshEvery) + e.cfg.CallTimeout
	age := time.Since(s.fetched)
	if age <= bound {
		return false
	}
	return !r.quiet.Load() || age > e.cfg.IdleStepEvery+bound || time.Since(time.Unix(0, e.okAt.Load())) > bound
}
