package queue

import "time"

// Idle rooms (issue 15). A room with nobody waiting, admitted, offered, skipped or coming
// back, no join or poll on this engine since its last step, and not about to open, has nothing
// for the admission step to do: the loop steps it only every Config.IdleStepEvery (a keep-alive
// that also refreshes its TTL, notices a data loss and picks up joins made on other replicas)
// instead of every StepEvery. Anything that can change that wakes it at the next tick: a join
// or a poll here raises the room's known counter or marks a visitor, an announced settings
// change steps it at once, and the keep-alive shows what other replicas did. With 1,000 idle
// rooms this turns 10,000 step scripts a second per replica into 200 (docs/rooms.md).

// defaultIdleStepEvery is Config.IdleStepEvery's default.
const defaultIdleStepEvery = 5 * time.Second

// idle reports whether the loop may skip the room's step at now, and records it (r.quiet).
// A quiet room's cache is not stale while Redis answers the engine (Engine.stale).
func (e *Engine) idle(r *room, now time.Time) bool {
	s := r.snap.Load()
	quiet := s != nil && s.head >= s.issued && r.known.Load() <= s.issued &&
		s.active == 0 && s.offers == 0 && s.returning == 0 && s.skipped == 0 && !r.live.any() &&
		!e.stale(r, s) && (s.opened || s.settings.OpensAt.Sub(r.redisNow()) > e.cfg.IdleStepEvery+time.Second) &&
		now.Sub(time.Unix(0, r.stepped.Load())) < e.cfg.IdleStepEvery
	if quiet {
		r.quiet.Store(true) // cleared by the next step that works: its cache is fresh then
	}
	return quiet
}

// any reports whether marks are waiting for a flush.
func (l *liveness) any() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending) > 0 || len(l.older) > 0
}
