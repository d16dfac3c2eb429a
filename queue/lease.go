package queue

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Lease is an admitted visitor's session slot, counted against MaxActive until it is released
// or expires.
type Lease struct {
	// JTI identifies the lease; it goes into the admission token. It is the position and the
	// claim time (Redis clock, unix ms, as estimated by the claiming engine), both in base 36,
	// then a random part: "<position>.<claim ms>.<random>". After a restore the claim time
	// tells whether a lease Redis does not know was lost (claimed before) or ended (after).
	JTI     string
	Visitor string
	Room    string
	// Ticket is the ticket number the lease was claimed with.
	Ticket int64
	// Position is the ticket's place in the room's order.
	Position int64
	// IssuedAt is the claim time; ExpiresAt the current end; MaxUntil the end Extend cannot pass.
	IssuedAt, ExpiresAt, MaxUntil time.Time
	// Unbacked marks a fail-open admission made while Redis was unreachable (Poll): no lease
	// exists in Redis, nothing to extend or release; IsUnbacked tells it from its JTI.
	Unbacked bool
	// ReentryOf is the lease of the failed admission this one is the second chance of ("" if
	// it is not a re-entry; reentry.go).
	ReentryOf string
}

// Outcome is why a lease was released.
type Outcome string

// Release outcomes.
const (
	OutcomeBooked    Outcome = "booked"
	OutcomeAbandoned Outcome = "abandoned"
	OutcomeFailed    Outcome = "failed"
)

// Valid reports whether o is one of the known outcomes.
func (o Outcome) Valid() bool {
	return o == OutcomeBooked || o == OutcomeAbandoned || o == OutcomeFailed
}

// ErrInvalidOutcome means Release got an outcome other than booked, abandoned or failed.
var ErrInvalidOutcome = errors.New("queue: invalid outcome")

const maxJTILen = 64

func newJTI(pos int64, at time.Time) string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatInt(pos, 36) + "." + strconv.FormatInt(at.UnixMilli(), 36) + "." +
		base64.RawURLEncoding.EncodeToString(b[:])
}

func validJTI(s string) bool {
	if len(s) == 0 || len(s) > maxJTILen || strings.IndexByte(s, '.') < 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Claim turns an admitted ticket into a lease. It is idempotent per ticket: two tabs of one
// visitor get the same lease. When the ticket is next in line and there is credit and
// capacity, it is admitted at once (passthrough), counted against the rate and the cap like
// any admission. Errors: ErrNotYourTurn (also while a returning visitor waits to be served),
// ErrTicketSpent, ErrRoomClosed, ErrRoomPaused, ErrSoldOut, ErrUnknownRoom, ErrStoreUnavailable.
func (e *Engine) Claim(ctx context.Context, t Ticket) (Lease, error) {
	r, err := e.roomFor(ctx, t.Room)
	if err != nil {
		return Lease{}, err
	}
	s := r.snap.Load()
	pos := s.position(t.Number)
	if pos == 0 {
		if s.settings.State == StateClosed {
			return Lease{}, fmt.Errorf("queue: claim %s: %w", t.Room, ErrRoomClosed)
		}
		return Lease{}, fmt.Errorf("queue: claim %s: not open yet: %w", t.Room, ErrNotYourTurn)
	}
	if pos > s.head+1 {
		// Not next: no need to ask Redis (the cache is at most a step old).
		if s.state(r.redisNow()) == StateClosed {
			return Lease{}, fmt.Errorf("queue: claim %s: %w", t.Room, ErrRoomClosed)
		}
		return Lease{}, fmt.Errorf("queue: claim %s: place %d: %w", t.Room, pos-s.head, ErrNotYourTurn)
	}
	l, lane, err := e.claim(ctx, r, t, pos)
	if err == nil && lane != 0 {
		return Lease{}, fmt.Errorf("queue: claim %s: returning, lane %d: %w", t.Room, lane, ErrNotYourTurn)
	}
	return l, err
}

// claim runs the claim script for a position (retrying once after restoring a lost room). A
// returner's lane number is returned with ErrNotYourTurn's place taken by lane > 0 and a nil
// error: the caller remembers it; a re-entry's lane number (reentry.go) as lane < 0 (minus it).
func (e *Engine) claim(ctx context.Context, r *room, t Ticket, pos int64) (Lease, int64, error) {
	r.raiseKnown(t.Number)
	for attempt := 0; ; attempt++ {
		l, lane, err := e.claimOnce(ctx, r, t, pos)
		if err == nil && lane == 0 {
			e.ledgerAdmit(ctx, r, l, t.IssuedAt) // issue 14: the outcome ledger's record (idempotent)
		}
		if err == nil && lane > 0 {
			r.noteReturned(pos) // issue 14: the fairness record counts it let in out of line order
		}
		if !errors.Is(err, errNoRoom) || attempt > 0 {
			return l, lane, err
		}
		if _, err := e.refresh(ctx, r); err != nil {
			return Lease{}, 0, err
		}
	}
}

func (e *Engine) claimOnce(ctx context.Context, r *room, t Ticket, pos int64) (Lease, int64, error) {
	k := r.keys
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	v, err := claimScript.Run(cctx, e.rdb,
		[]string{k.meta, k.stats, k.offers, k.leases, k.lease, k.skipped, k.returning, k.orphans,
			k.reentry(), k.reentryLane(), k.ledger()},
		pos, t.Visitor, newJTI(pos, r.redisNow()), 1, e.cfg.RoomTTL.Milliseconds(), t.Number).Result()
	if err != nil {
		return Lease{}, 0, storeErr("queue: claim "+r.name, err)
	}
	a, err := asSlice(v, 1)
	if err != nil {
		return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, err)
	}
	tag, err := tagOf(a)
	if err != nil {
		return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, err)
	}
	if len(a) >= 2 {
		if h, err := asInt(a[len(a)-1]); err == nil {
			r.bumpHead(h)
		}
	}
	switch tag {
	case "LEASE":
		if len(a) != 6 {
			return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, replyErr{"claim: length"})
		}
		l, err := leaseFrom(r.name, a[1], a[2], a[3])
		if err == nil {
			r.served.claimed(l)
			l.ReentryOf, err = asString(a[4])
		}
		return l, 0, err
	case "WAIT":
		return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, ErrNotYourTurn)
	case "RETURNING":
		if len(a) != 3 {
			return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, replyErr{"claim: length"})
		}
		lane, err := asInt(a[1])
		if err != nil || lane < 1 {
			return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, replyErr{"claim: lane"})
		}
		return Lease{}, lane, nil
	case "REENTRY":
		if len(a) != 3 {
			return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, replyErr{"claim: length"})
		}
		lane, err := asInt(a[1])
		if err != nil || lane < 1 {
			return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, replyErr{"claim: lane"})
		}
		return Lease{}, -lane, nil
	case "SPENT":
		return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, ErrTicketSpent)
	case "CLOSED":
		return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, ErrRoomClosed)
	case "PAUSED":
		return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, ErrRoomPaused)
	case "SOLDOUT":
		return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, ErrSoldOut)
	case "NOROOM":
		return Lease{}, 0, errNoRoom
	}
	return Lease{}, 0, fmt.Errorf("queue: claim %s: %w", r.name, replyErr{"claim: " + tag})
}

func leaseFrom(room string, jtiV, dataV, expV any) (Lease, error) {
	jti, err := asString(jtiV)
	if err != nil {
		return Lease{}, err
	}
	d, err := asString(dataV)
	if err != nil {
		return Lease{}, err
	}
	exp, err := asInt(expV)
	if err != nil {
		return Lease{}, err
	}
	pos, ticket, claimed, maxUntil, visitor, err := parseLeaseData(d)
	if err != nil {
		return Lease{}, err
	}
	return Lease{JTI: jti, Visitor: visitor, Room: room, Ticket: ticket, Position: pos,
		IssuedAt: claimed, ExpiresAt: time.UnixMilli(exp), MaxUntil: maxUntil}, nil
}

type extendMemo struct {
	at    time.Time
	lease Lease
}

// Extend slides a lease's expiry to now + Session, never past MaxUntil (Redis's clock decides).
// now is the caller's clock, used only to spare Redis: an extension of the same lease by this
// engine less than Session/20 ago is returned as is. ErrUnknownLease if the lease is gone.
func (e *Engine) Extend(ctx context.Context, room, jti string, now time.Time) (Lease, error) {
	if !ValidRoomName(room) {
		return Lease{}, fmt.Errorf("queue: extend: room %q: %w", room, ErrInvalidRoomName)
	}
	if !validJTI(jti) {
		return Lease{}, fmt.Errorf("queue: extend %s: malformed lease id: %w", room, ErrUnknownLease)
	}
	r, err := e.roomFor(ctx, room)
	if err != nil {
		return Lease{}, err
	}
	memoKey := room + "\x00" + jti
	e.extendMu.Lock()
	m, ok := e.extendMemo[memoKey]
	e.extendMu.Unlock()
	if ok && now.Sub(m.at) >= 0 && now.Sub(m.at) < r.snap.Load().settings.Session/20 {
		return m.lease, nil
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	v, err := extendScript.Run(cctx, e.rdb, []string{r.keys.meta, r.keys.lease, r.keys.leases}, jti).Result()
	if err != nil {
		return Lease{}, storeErr("queue: extend "+room, err)
	}
	a, err := asSlice(v, 1)
	if err != nil {
		return Lease{}, fmt.Errorf("queue: extend %s: %w", room, err)
	}
	tag, err := tagOf(a)
	if err != nil {
		return Lease{}, fmt.Errorf("queue: extend %s: %w", room, err)
	}
	if tag == "UNKNOWN" {
		return Lease{}, fmt.Errorf("queue: extend %s: %w", room, ErrUnknownLease)
	}
	if tag != "OK" || len(a) != 3 {
		return Lease{}, fmt.Errorf("queue: extend %s: %w", room, replyErr{"extend: " + tag})
	}
	l, err := leaseFrom(room, jti, a[1], a[2])
	if err != nil {
		return Lease{}, fmt.Errorf("queue: extend %s: %w", room, err)
	}
	e.extendMu.Lock()
	e.extendMemo[memoKey] = extendMemo{at: now, lease: l}
	e.extendMu.Unlock()
	return l, nil
}

func (e *Engine) pruneExtendMemo(now time.Time) {
	e.extendMu.Lock()
	defer e.extendMu.Unlock()
	for k, m := range e.extendMemo {
		if now.Sub(m.at) > time.Minute || now.After(m.lease.ExpiresAt) {
			delete(e.extendMemo, k)
		}
	}
}

// Release ends a lease now, freeing its slot under the cap at once, and counts the outcome.
// It is one-shot: a released lease id is remembered (in Redis, until its token can no longer be
// presented) and releasing it again changes nothing. A lease lost with Redis's data frees one of
// the placeholders the restore put in its stead, once, and only if it was claimed before the
// restore. ErrUnknownLease if it was never issued, already released or expired.
func (e *Engine) Release(ctx context.Context, room, jti string, outcome Outcome) error {
	if !ValidRoomName(room) {
		return fmt.Errorf("queue: release: room %q: %w", room, ErrInvalidRoomName)
	}
	if !outcome.Valid() {
		return fmt.Errorf("queue: release %s: outcome %q: %w", room, outcome, ErrInvalidOutcome)
	}
	if !validJTI(jti) {
		return fmt.Errorf("queue: release %s: malformed lease id: %w", room, ErrUnknownLease)
	}
	r := e.cached(room)
	if r != nil && r.released.seen(jti, time.Now()) {
		return fmt.Errorf("queue: release %s: released already: %w", room, ErrUnknownLease)
	}
	a, tag, err := e.releaseOnce(ctx, room, jti, outcome)
	if err == nil && tag == "NOROOM" {
		// the room's data was lost and not restored yet: restore it (from this engine's cache)
		// so the lost lease's placeholder can be taken, then try once more
		if r == nil {
			if r, err = e.roomFor(ctx, room); err != nil {
				return err
			}
		} else if _, err = e.refresh(ctx, r); err != nil {
			return err
		}
		a, tag, err = e.releaseOnce(ctx, room, jti, outcome)
	} else if err == nil && tag == "UNKNOWN" && r != nil && r.snap.Load() != nil {
		// Redis may have restarted from an older snapshot that this engine has not stepped
		// since: let a step notice (and restore), then try once more
		before := r.snap.Load().restoredAt
		if s, rerr := e.refresh(ctx, r); rerr == nil && !s.restoredAt.Equal(before) {
			a, tag, err = e.releaseOnce(ctx, room, jti, outcome)
		}
	}
	if err != nil {
		return err
	}
	e.extendMu.Lock()
	delete(e.extendMemo, room+"\x00"+jti)
	e.extendMu.Unlock()
	if tag == "OK" || tag == "UNKNOWN" {
		e.ledgerEnd(ctx, room, jti, outcome) // issue 14: the outcome ledger (a late report still counts)
	}
	switch tag {
	case "OK":
		if r != nil && r.snap.Load() != nil {
			// remembered as long as the token can be presented: the lease's max-until time, or
			// (a lost lease, or data without it) one max session from now
			until := time.Now().Add(r.snap.Load().settings.MaxSession)
			if len(a) == 2 {
				if d, err := asString(a[1]); err == nil && d != "" {
					if _, _, _, mu, _, err := parseLeaseData(d); err == nil {
						until = mu
					}
				}
			}
			r.released.add(jti, until, time.Now())
		}
		return nil
	case "UNKNOWN", "NOROOM":
		return fmt.Errorf("queue: release %s: %w", room, ErrUnknownLease)
	}
	return fmt.Errorf("queue: release %s: %w", room, replyErr{"release: " + tag})
}

func (e *Engine) releaseOnce(ctx context.Context, room, jti string, outcome Outcome) ([]any, string, error) {
	k := newRoomKeys(e.cfg.Prefix, room)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	v, err := releaseScript.Run(cctx, e.rdb, []string{k.lease, k.leases, k.stats, k.meta, k.released, k.reentry()},
		jti, string(outcome), e.cfg.RoomTTL.Milliseconds()).Result()
	if err != nil {
		return nil, "", storeErr("queue: release "+room, err)
	}
	a, err := asSlice(v, 1)
	if err != nil {
		return nil, "", fmt.Errorf("queue: release %s: %w", room, err)
	}
	tag, err := tagOf(a)
	if err != nil {
		return nil, "", fmt.Errorf("queue: release %s: %w", room, err)
	}
	return a, tag, nil
}
