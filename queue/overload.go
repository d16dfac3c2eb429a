package queue

// Answering reports whether Redis answered this engine lately for room: its cached figures
// were refreshed within the staleness bound. A call that timed out while Redis is answering
// met a slow store (or a starved process), not a lost one: callers tell visitors "busy" rather
// than "reconnecting".
func (e *Engine) Answering(room string) bool {
	r := e.cached(room)
	if r == nil {
		return false
	}
	s := r.snap.Load()
	return s != nil && !e.stale(r, s)
}
