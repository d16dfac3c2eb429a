package queue

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Stall says why a line is not moving, so a visitor is told that in words rather than shown a
// number the room does not believe.
type Stall string

// Stalls.
const (
	// StallNone: the line moves (or the room is not open yet).
	StallNone Stall = ""
	// StallSessions: the cap is full and no session has ended lately, so nobody can go in
	// until one does.
	StallSessions Stall = "sessions"
	// StallPaused: the organiser paused admissions; places are kept.
	StallPaused Stall = "paused"
)

// stallWindow is how long without an admission, with the cap full, makes a line stalled.
const stallWindow = 10 * time.Second

// PollOptions carry what the visitor tells foyer besides the ticket.
type PollOptions struct {
	// BestPlace is the lowest place this visitor was shown before, by any replica (the page
	// and apps send it back); 0 if none. Replicas' caches may differ by a step: within that
	// slack the shown place is clamped to it, so it never rises.
	BestPlace int64
}

// Decision is the whole answer to one poll: what the visitor is told and, when it is their
// turn, their admission. It is decided here, in one call; the gateway only signs and writes.
type Decision struct {
	Status
	// Lease is the visitor's admission when it is their turn (claimed by this poll, or earlier
	// by another tab of theirs); nil while they wait. An Unbacked lease is a fail-open
	// admission made while Redis was unreachable.
	Lease *Lease
	// ClaimTook is how long the claim call to Redis took, when this poll made one.
	ClaimTook time.Duration
}

// unbackedPrefix starts the id of a lease-less (fail-open) admission: no lease exists in Redis
// to extend or release. It contains no '.', so it is never a valid lease id.
const unbackedPrefix = "open-"

// IsUnbacked reports whether a lease id is that of a fail-open admission made while Redis was
// unreachable (Lease.Unbacked): nothing in Redis to extend or release.
func IsUnbacked(jti string) bool { return strings.HasPrefix(jti, unbackedPrefix) }

// unbackedSession bounds a fail-open admission's token: an outage admits on trust, so the
// trust is short.
const unbackedSession = 5 * time.Minute

// Poll decides a visitor's status and, when it is their turn, their admission, in one call.
// A visitor who is not at the front costs no Redis round trip: their place, ETA and next poll
// come from the cache. A claim is sent only when the head has reached the ticket (an offer is
// waiting, or the visitor is back from an absence), or when the ticket is next and there is
// capacity for a passthrough. A returner gets a real place in the returning lane, remembered
// here, and is not sent to Redis again until the lane reaches them. A spent ticket is
// remembered and refused without Redis. While Redis is unreachable a room with OnStoreError
// "open" admits without a lease, paced at this replica's share of the rate and of the
// capacity last seen. Errors: ErrTicketSpent, ErrBadTicket, ErrBeyondIssued, ErrUnknownRoom,
// ErrInvalidRoomName; a store failure is not an error but Status.StoreDown.
func (e *Engine) Poll(ctx context.Context, t Ticket, o PollOptions) (Decision, error) {
	r, err := e.roomFor(ctx, t.Room)
	if err != nil {
		if errors.Is(err, ErrStoreUnavailable) {
			return Decision{Status: Status{StoreDown: true, PollAfter: jitter(3 * time.Second)}}, nil
		}
		if errors.Is(err, ErrRoomClosed) { // a deleted room in its closing period (registry.go)
			return Decision{Status: Status{State: StateClosed, PollAfter: jitter(30 * time.Second)}}, nil
		}
		return Decision{}, err
	}
	s := r.snap.Load()
	d := Decision{}
	if d.Status, err = e.status(r, s, t); err != nil {
		return Decision{}, err
	}
	pos := d.Position
	if e.shouldClaim(r, s, &d.Status) {
		start := time.Now()
		l, lane, err := e.claim(ctx, r, t, pos)
		d.ClaimTook = time.Since(start)
		switch {
		case err == nil && lane > 0:
			r.lanes.set(pos, lane)
			if d.Status, err = e.status(r, r.snap.Load(), t); err != nil {
				return Decision{}, err
			}
		case err == nil && lane < 0: // a second chance: in the re-entry lane (reentry.go)
			r.relanes.set(pos, -lane)
			if d.Status, err = e.status(r, r.snap.Load(), t); err != nil {
				return Decision{}, err
			}
		case err == nil:
			r.lanes.forget(pos)
			r.relanes.forget(pos)
			d.Lease = &l
			d.Admitted, d.Place, d.Ahead, d.ETALow, d.ETAHigh, d.PollAfter, d.Stalled = true, 0, 0, 0, 0, 0, StallNone
			d.Reentry = l.ReentryOf != ""
			return d, nil
		case errors.Is(err, ErrTicketSpent):
			r.lanes.forget(pos)
			r.spent.add(pos)
			return Decision{}, err
		case errors.Is(err, ErrStoreUnavailable) && e.Answering(t.Room):
			// slow, not gone: the room's figures were refreshed lately, so this claim met a
			// busy Redis or a starved process; the next poll (soon) claims again
			d.Admitted, d.PollAfter = false, jitter(time.Second)
		case errors.Is(err, ErrStoreUnavailable):
			d.StoreDown = true
		case errors.Is(err, ErrNotYourTurn), errors.Is(err, ErrRoomPaused), errors.Is(err, ErrSoldOut):
			d.Admitted = false
		default:
			return Decision{}, err
		}
	}
	if d.StoreDown && d.State == StateOpen && s.settings.OnStoreError == "open" && pos > 0 {
		if l, ok := e.admitUnbacked(r, s, t, time.Now()); ok {
			d.Lease = &l
			d.Admitted, d.Place, d.Ahead, d.ETALow, d.ETAHigh, d.PollAfter = true, 0, 0, 0, 0, 0
			return d, nil
		}
	}
	if d.Admitted && d.Lease == nil {
		d.Admitted = false // the head reached the ticket, but the claim did not land this time
		d.PollAfter = jitter(time.Second)
	}
	if o.BestPlace == 0 && d.Place > 0 && !d.Returning && d.ETAHigh > 0 {
		// the first place (and ETA range) this visitor is shown: noted for the fairness record
		r.noteShown(pos, r.redisNow(), d.ETALow, d.ETAHigh)
	}
	if o.BestPlace > 0 && d.Place > o.BestPlace {
		if d.Place-o.BestPlace <= placeSlack(s) {
			d.Place, d.Ahead = o.BestPlace, o.BestPlace-1
		} else {
			d.PlaceRose = true
		}
	}
	return d, nil
}

// placeSlack is how far two replicas' caches may disagree about a place: a few steps of the
// head at the room's rate.
func placeSlack(s *snapshot) int64 {
	return 2 + int64(math.Ceil(float64(s.settings.RatePerMinute)/30))
}

// shouldClaim says whether this poll must ask Redis: only when the visitor may really go in now.
func (e *Engine) shouldClaim(r *room, s *snapshot, st *Status) bool {
	if st.Position == 0 || st.StoreDown || st.State == StateClosed {
		return false
	}
	if st.Admitted {
		return true // the head reached the ticket: an offer, a lease, or back from an absence
	}
	if st.Returning || st.Reentry || st.State != StateOpen || s.settings.QueueAll {
		return false
	}
	// passthrough: next in line, nobody returning, capacity free (claim.lua checks credit)
	return st.Position == s.head+1 && s.returning == 0 && s.active+s.offers < int64(s.settings.MaxActive)
}

// status computes what the visitor is told from the cache, and records the visitor as present.
func (e *Engine) status(r *room, s *snapshot, t Ticket) (Status, error) {
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
		StoreDown: e.stale(r, s),
	}
	pos := s.position(t.Number)
	if pos == 0 {
		st.PollAfter = pollAfter(s, st, now)
		return st, nil
	}
	// Only a position the head has reached can be spent (claim.lua says SPENT nowhere else):
	// a waiting visitor's poll takes no lock for it.
	if pos <= s.head && r.spent.has(pos) {
		return Status{}, fmt.Errorf("queue: status %s: position %d: %w", t.Room, pos, ErrTicketSpent)
	}
	e.see(r, pos)
	st.Position = pos
	if pos <= s.head {
		if lane, ok := r.relanes.get(pos); ok && lane > s.eserved {
			// a second chance (reentry.go): only re-entries with a lower lane number go first
			st.Reentry = true
			st.Place = lane - s.eserved
		} else if lane, ok := r.lanes.get(pos); ok && lane > s.rserved {
			// back from an absence: only returners with a lower lane number go first
			st.Returning = true
			st.Place = lane - s.rserved
		} else {
			st.Admitted = st.State != StateClosed
		}
	} else {
		// Everyone who may still go in first: the positions before this one, the returners
		// waiting, and every skipped visitor who may come back within grace (served ahead of
		// the line). Counting all of them keeps the place from ever having to rise.
		st.Place = pos - s.head + s.returning + s.skipped
	}
	if st.Place > 0 {
		st.Ahead = st.Place - 1
		st.Stalled = r.stall(s, st.State)
		if st.State == StateOpen && st.Stalled == StallNone {
			st.ETALow, st.ETAHigh = r.eta(s, pos, st.Returning, st.Place)
			if st.Reentry {
				st.ETALow, st.ETAHigh = reentryETA(s, st.Place)
			}
		}
		stockLow(s, &st) // issue 14: sold-out honesty
	}
	st.PollAfter = pollAfter(s, st, now)
	return st, nil
}

// stall says why the line is not moving, if it is not.
func (r *room) stall(s *snapshot, state State) Stall {
	switch {
	case state == StatePaused:
		return StallPaused
	case state != StateOpen:
		return StallNone
	case s.active+s.offers >= int64(s.settings.MaxActive):
		if n, ok := r.admittedWithin(stallWindow); ok && n == 0 {
			return StallSessions
		}
	}
	return StallNone
}

// eta bounds the wait from what the room really does. Admissions needed before this visitor:
// at least the present share of the positions ahead (absent ones are skipped without using the
// pace) plus the returners waiting; at most every position ahead plus every skipped visitor
// who may still come back. The line goes no faster than the configured rate (nor, while the
// cap binds, than sessions end), so that bounds the low end; the high end takes the slowest of
// the configured rate, the rate measured over the last minute (or since the opening, when that
// is more recent: a window reaching back before the opening would count the closed time), and
// the cap's turnover while it binds. Before anything is measured (the opening) the high end
// assumes the cap may bind (MaxActive per Session, at least a quarter of the rate) and the low
// end that 30% of those ahead may leave. A tenth of the rate bounds the slow end, so a range
// is never unbounded (a line that really stopped is stalled, and shown no number).
func (r *room) eta(s *snapshot, pos int64, returning bool, place int64) (time.Duration, time.Duration) {
	var lo, hi float64
	if returning {
		lo, hi = float64(place), float64(place)
	} else {
		behind := float64(pos - s.head - 1) // main-line positions before this one
		// the share ahead who will still be there: measured, else assume up to 30% may leave
		present := 0.7
		if a, k := float64(s.stats["admitted"]), float64(s.stats["skipped"]); a+k >= 20 {
			present = a / (a + k)
		}
		lo = behind*present + float64(s.returning) + 1
		hi = behind + float64(s.returning+s.skipped) + 1
	}
	conf := float64(s.settings.RatePerMinute)
	fast, slow := conf, conf
	window := time.Minute
	if o := s.settings.OpensAt; !o.IsZero() {
		window = min(window, r.redisNow().Sub(o))
	}
	measured, known := 0.0, false
	if window >= 5*time.Second {
		if n, ok := r.admittedWithin(window); ok {
			measured, known = float64(n)/window.Minutes(), true
			slow = min(slow, measured)
		}
	}
	if !known && s.settings.Session > 0 {
		// nothing measured yet (the opening): the cap may come to bind, and sessions last at
		// most Session, so the line moves at least MaxActive per Session; a quarter of the
		// rate bounds that guess, and the range narrows once the rate is measured (5 s)
		slow = min(slow, max(float64(s.settings.MaxActive)/s.settings.Session.Minutes(), conf/4))
	}
	if capRate, sessions, ok := r.capTurnover(s); ok {
		slow = min(slow, capRate)
		if sessions {
			// measured session lengths: the cap lets no more than that through for long
			fast = min(fast, max(capRate, measured))
		}
	}
	if s.reentering > 0 {
		// second chances waiting take up to their share of the pace (reentry.go); they are
		// not counted in the place, which must never rise when one arrives
		slow *= 1 - s.settings.ReentryShare
	}
	slow = max(slow, conf/10)
	fast = max(fast, slow)
	d := func(n, perMin float64) time.Duration {
		return time.Duration(n / perMin * float64(time.Minute))
	}
	return d(lo, fast*1.1), d(hi, slow*0.8)
}

// capTurnover estimates admissions per minute when the cap binds (ok): the cap's slots turn
// over as sessions end, about MaxActive per typical session. It uses the mean measured session
// (measured) once 5 sessions ended, else the leases' configured length: the longest a session
// lasts unless extended, so then the figure is only a floor on the line's pace.
func (r *room) capTurnover(s *snapshot) (perMin float64, measured, ok bool) {
	if s.active+s.offers < int64(s.settings.MaxActive) {
		return 0, false, false
	}
	sess := s.settings.Session
	if m, ok := r.sessionLength(); ok && m > 0 {
		sess, measured = m, true
	}
	return float64(s.settings.MaxActive) / sess.Minutes(), measured, true
}

// pollAfter suggests when to ask again: short near the front, up to 30 s far back, never more
// than a third of AbsentAfter (so a polling visitor is never taken for absent), with ±20%
// jitter; before the opening, a landing spread over the first seconds after it.
func pollAfter(s *snapshot, st Status, now time.Time) time.Duration {
	var d time.Duration
	switch {
	case st.StoreDown:
		d = 3 * time.Second
	case st.State == StateScheduled || st.State == StatePrequeue:
		until := st.OpensAt.Sub(now)
		switch {
		case st.OpensAt.IsZero():
			d = 5 * time.Second
		case until > 2*time.Minute:
			d = 30 * time.Second
		case until > 20*time.Second:
			d = until / 3
		default:
			// land between the opening and a few seconds after it, spread out
			return max(until, 0) + 500*time.Millisecond + time.Duration(mrand.Int64N(int64(4*time.Second)))
		}
		return jitter(d)
	case st.State == StatePaused:
		d = 10 * time.Second
	case st.State == StateClosed:
		d = 60 * time.Second
	case st.State == StateSoldOut:
		d = 30 * time.Second // the page asks less often; a restock is seen within this
	case st.Admitted:
		d = time.Second
	case st.Stalled != StallNone:
		d = 10 * time.Second
	default:
		d = min(max(st.ETALow/6, 2*time.Second), 30*time.Second)
		if st.Place <= 3 {
			d = time.Second
		}
	}
	return jitter(min(d, s.settings.AbsentAfter/3))
}

func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*mrand.Float64()))
}

// admitUnbacked makes a fail-open admission while Redis is unreachable: at most this
// replica's share of the room's rate (credit accrues at rate / replicas, burst 1) and of the
// capacity that was free when Redis was last seen, each admission holding its share of the
// cap until its short token expires.
func (e *Engine) admitUnbacked(r *room, s *snapshot, t Ticket, now time.Time) (Lease, bool) {
	replicas := max(1, e.replicas.Load())
	free := int64(s.settings.MaxActive) - s.active - s.offers
	share := free / replicas
	o := &r.outage
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last.IsZero() {
		o.last, o.credit = now, 1 // the first admission of an outage may go at once
	}
	if now.After(o.last) {
		perMs := float64(s.settings.RatePerMinute) / float64(replicas) / 60000
		o.credit = min(1, o.credit+float64(now.Sub(o.last).Milliseconds())*perMs)
		o.last = now
	}
	live := o.until[:0]
	for _, u := range o.until {
		if u.After(now) {
			live = append(live, u)
		}
	}
	o.until = live
	if o.credit < 1 || int64(len(o.until)) >= share {
		return Lease{}, false
	}
	o.credit--
	exp := now.Add(min(s.settings.Session, unbackedSession))
	o.until = append(o.until, exp)
	var b [12]byte
	_, _ = rand.Read(b[:])
	return Lease{JTI: unbackedPrefix + base64.RawURLEncoding.EncodeToString(b[:]), Visitor: t.Visitor, Room: t.Room,
		Ticket: t.Number, Position: s.position(t.Number), IssuedAt: now, ExpiresAt: exp, MaxUntil: exp, Unbacked: true}, true
}

// outage paces fail-open admissions of a room on this replica.
type outage struct {
	mu     sync.Mutex
	credit float64
	last   time.Time
	until  []time.Time // expiries of the unbacked admissions still holding a slot
}

// positionSet is a bounded set of positions (spent tickets), forgotten all at once when full:
// a forgotten one only costs one Redis call to learn again.
type positionSet struct {
	mu sync.Mutex
	m  map[int64]struct{}
}

const maxRemembered = 100_000

func (p *positionSet) add(pos int64) {
	p.mu.Lock()
	if p.m == nil || len(p.m) >= maxRemembered {
		p.m = map[int64]struct{}{}
	}
	p.m[pos] = struct{}{}
	p.mu.Unlock()
}

func (p *positionSet) has(pos int64) bool {
	p.mu.Lock()
	_, ok := p.m[pos]
	p.mu.Unlock()
	return ok
}

func (p *positionSet) reset() {
	p.mu.Lock()
	p.m = nil
	p.mu.Unlock()
}

// laneMap remembers the returning-lane number of returners polling here (bounded like
// positionSet), so their polls need no Redis call until the lane reaches them.
type laneMap struct {
	mu sync.Mutex
	m  map[int64]int64
}

func (l *laneMap) set(pos, lane int64) {
	l.mu.Lock()
	if l.m == nil || len(l.m) >= maxRemembered {
		l.m = map[int64]int64{}
	}
	l.m[pos] = lane
	l.mu.Unlock()
}

func (l *laneMap) get(pos int64) (int64, bool) {
	l.mu.Lock()
	n, ok := l.m[pos]
	l.mu.Unlock()
	return n, ok
}

func (l *laneMap) forget(pos int64) {
	l.mu.Lock()
	delete(l.m, pos)
	l.mu.Unlock()
}

func (l *laneMap) reset() {
	l.mu.Lock()
	l.m = nil
	l.mu.Unlock()
}
