package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// maxJoinBatch bounds the tickets one join.lua call issues.
const maxJoinBatch = 10000

// maxPendingJoins bounds the joins waiting for a join.lua call: one more would wait for a
// third call, longer than a caller's deadline, so it is shed (ErrBusy) instead. A variable
// for tests.
var maxPendingJoins = 2 * maxJoinBatch

// joiner coalesces concurrent joins of a room: while one join.lua call is in flight, arrivals
// queue up and the next call issues all of them with one INCRBY-like step.
type joiner struct {
	r       *room
	mu      sync.Mutex
	pending []joinReq
	busy    bool
}

// joinReq is one join waiting for a join.lua call.
type joinReq struct {
	opt JoinOptions
	ch  chan joinResult
}

type joinResult struct {
	number   int64
	prequeue bool
	pq       int64
	at       time.Time
	joins    float64 // the address's sliding count of joins (JoinInfo.AddressJoins)
	err      error
}

// JoinOptions are what a join carries besides its visitor: the unit a per-address allowance
// counts, and a proof-of-work it paid. Both ride in the coalesced join.lua call: counting an
// address fleet-wide and spending a proof fleet-wide cost no extra round trip.
type JoinOptions struct {
	// Address is the client's unit (an IPv4 address, an IPv6 /64). Its joins of the room are
	// counted fleet-wide over a sliding minute; "" counts nothing.
	Address string
	// Allowance is how many joins per minute Address may make without a proof; one more is
	// refused (*AllowanceError, ErrOverAllowance) and gets no number. 0: no limit.
	Allowance int
	// Proof is the id of a proof-of-work the caller verified (its nonce). A join with a proof
	// is exempt from the allowance (it is still counted) and is refused with ErrProofSpent
	// when the id was used before, on any replica, until ProofExpires.
	Proof        string
	ProofExpires time.Time
}

// JoinInfo is what a join learnt besides its ticket.
type JoinInfo struct {
	// AddressJoins is the address's joins of the room in the last minute (sliding), fleet-wide,
	// this one included; 0 without an address.
	AddressJoins float64
}

// ErrOverAllowance: the address used its joins of the minute (JoinOptions.Allowance); the join
// got no number. The error is an *AllowanceError.
var ErrOverAllowance = errors.New("queue: address over its join allowance")

// ErrProofSpent: the join's proof-of-work was used before (on any replica); no number.
var ErrProofSpent = errors.New("queue: proof-of-work already used")

// AllowanceError is a join refused past its address's allowance.
type AllowanceError struct {
	// Joins is the address's sliding count of joins of the last minute, Allowance the limit.
	Joins     float64
	Allowance int
}

func (e *AllowanceError) Error() string {
	return fmt.Sprintf("queue: address made %.1f joins in the last minute (allowance %d)", e.Joins, e.Allowance)
}

// Unwrap makes errors.Is(err, ErrOverAllowance) hold.
func (e *AllowanceError) Unwrap() error { return ErrOverAllowance }

// addressWindow is the window an address's joins are counted over.
const addressWindow = time.Minute

// Join issues the next ticket of room for visitor and returns it with its encoded, signed form.
// Concurrent joins of a room share Redis round trips. Errors: ErrInvalidRoomName, ErrUnknownRoom,
// ErrRoomClosed, ErrRoomScheduled, ErrStoreUnavailable.
func (e *Engine) Join(ctx context.Context, room, visitor string) (Ticket, string, error) {
	t, enc, _, err := e.JoinWith(ctx, room, visitor, JoinOptions{})
	return t, enc, err
}

// JoinWith is Join with an address to count and a proof-of-work to spend (JoinOptions); besides
// Join's errors it returns *AllowanceError (ErrOverAllowance) and ErrProofSpent, which issue no
// ticket.
func (e *Engine) JoinWith(ctx context.Context, room, visitor string, opt JoinOptions) (Ticket, string, JoinInfo, error) {
	if !ValidVisitorID(visitor) {
		return Ticket{}, "", JoinInfo{}, fmt.Errorf("queue: join: visitor id must be 1-%d printable bytes", MaxVisitorLen)
	}
	if len(opt.Address) > 64 || len(opt.Proof) > 64 {
		return Ticket{}, "", JoinInfo{}, fmt.Errorf("queue: join: address and proof ids are at most 64 bytes")
	}
	r, err := e.roomFor(ctx, room)
	if err != nil {
		return Ticket{}, "", JoinInfo{}, err
	}
	ch := make(chan joinResult, 1)
	j := &r.join
	j.mu.Lock()
	if len(j.pending) >= maxPendingJoins {
		j.mu.Unlock()
		return Ticket{}, "", JoinInfo{}, fmt.Errorf("queue: join %s: %d joins waiting: %w", room, maxPendingJoins, ErrBusy)
	}
	j.pending = append(j.pending, joinReq{opt: opt, ch: ch})
	if !j.busy {
		j.busy = true
		go e.joinLoop(context.WithoutCancel(ctx), r)
	}
	j.mu.Unlock()
	var res joinResult
	select {
	case res = <-ch:
	case <-ctx.Done():
		return Ticket{}, "", JoinInfo{}, fmt.Errorf("queue: join %s: %w", room, ctx.Err())
	}
	info := JoinInfo{AddressJoins: res.joins}
	if res.err != nil {
		e.catchUp(ctx, r, res.err)
		return Ticket{}, "", info, res.err
	}
	t := Ticket{
		Room:     room,
		Visitor:  visitor,
		Number:   res.number,
		IssuedAt: res.at.Truncate(time.Second),
		Prequeue: res.prequeue,
	}
	signer := e.tickets.signer()
	t.KeyID = signer.sign
	enc, err := signer.encode(t)
	if err != nil {
		return Ticket{}, "", info, err
	}
	if !res.prequeue {
		e.see(r, res.number) // after opening, a ticket's position is its number
	}
	return t, enc, info, nil
}

// joinLoop issues tickets for pending joins, batch after batch, until none are left.
func (e *Engine) joinLoop(ctx context.Context, r *room) {
	j := &r.join
	for {
		j.mu.Lock()
		n := min(len(j.pending), maxJoinBatch)
		if n == 0 {
			j.busy = false
			j.mu.Unlock()
			return
		}
		batch := append([]joinReq(nil), j.pending[:n]...)
		j.pending = append(j.pending[:0], j.pending[n:]...)
		j.mu.Unlock()

		res, err := e.issueBatch(ctx, r, batch)
		for i, q := range batch {
			if err != nil {
				q.ch <- joinResult{err: err}
				continue
			}
			q.ch <- res[i]
		}
	}
}

// issue issues n plain tickets (no address, no proof) in one call; for tests and tools.
func (e *Engine) issue(ctx context.Context, r *room, n int64) (last int64, opened bool, pq int64, at time.Time, err error) {
	res, err := e.issueBatch(ctx, r, make([]joinReq, n))
	if err != nil {
		return 0, false, 0, time.Time{}, err
	}
	x := res[len(res)-1]
	return x.number, !x.prequeue, x.pq, x.at, nil
}

// issueBatch runs join.lua for a batch, restoring the room first if its data was lost.
func (e *Engine) issueBatch(ctx context.Context, r *room, batch []joinReq) (res []joinResult, err error) {
	var last int64
	for attempt := 0; ; attempt++ {
		res, last, err = e.issueOnce(ctx, r, batch)
		if !errors.Is(err, errNoRoom) || attempt > 0 {
			break
		}
		old := r.snap.Load()
		if old == nil {
			return nil, fmt.Errorf("queue: join %s: %w", r.name, ErrUnknownRoom)
		}
		r.refreshMu.Lock()
		err = e.restore(ctx, r, old, false)
		r.refreshMu.Unlock()
		if err != nil {
			return
		}
	}
	if errors.Is(err, errNoRoom) {
		err = fmt.Errorf("queue: join %s: %w", r.name, ErrUnknownRoom)
	}
	if err == nil {
		r.raiseKnown(last)
	}
	return
}

// joinArgs builds join.lua's keys and arguments for a batch at now (the Redis clock as this
// engine knows it): the address counts of this minute and the last, the spent-proof hashes by
// the minute of their expiry, then five arguments per join.
func (e *Engine) joinArgs(r *room, batch []joinReq, now time.Time) ([]string, []any) {
	w := addressWindow.Milliseconds()
	ms := now.UnixMilli()
	minute := ms / w
	weight := 1 - float64(ms%w)/float64(w)
	keys := []string{r.keys.meta, r.keys.joinCounts(minute), r.keys.joinCounts(minute - 1)}
	args := make([]any, 0, 4+5*len(batch))
	args = append(args, len(batch), r.known.Load(), strconv.FormatFloat(weight, 'f', 4, 64), 2*w)
	plain := true
	for _, q := range batch {
		plain = plain && q.opt == (JoinOptions{})
	}
	if plain { // no per-join arguments: every join gets a number (join.lua's fast path)
		return keys, args
	}
	spent := map[int64]int{} // expiry minute -> index in keys after the first three
	for _, q := range batch {
		idx, expAt := 0, int64(0)
		if q.opt.Proof != "" {
			em := q.opt.ProofExpires.UnixMilli()/w + 1 // kept until the minute after the expiry
			if idx = spent[em]; idx == 0 {
				keys = append(keys, r.keys.spentProofs(em))
				idx = len(keys) - 3
				spent[em] = idx
			}
			expAt = (em + 1) * w
		}
		args = append(args, q.opt.Address, q.opt.Allowance, idx, q.opt.Proof, expAt)
	}
	return keys, args
}

func (e *Engine) issueOnce(ctx context.Context, r *room, batch []joinReq) ([]joinResult, int64, error) {
	// Twice the call deadline: one call carries a whole batch of joins, and giving up on it
	// while Redis (or this process) is merely slow fails all of them and may waste the numbers
	// it issued; join.lua is not retried.
	cctx, cancel := context.WithTimeout(ctx, 2*e.cfg.CallTimeout)
	defer cancel()
	keys, args := e.joinArgs(r, batch, r.redisNow())
	v, err := joinScript.Run(cctx, e.rdb, keys, args...).Result()
	if err != nil {
		return nil, 0, storeErr("queue: join "+r.name, err)
	}
	return decodeJoin(r.name, v, batch)
}

// decodeJoin reads join.lua's reply into one result per join of batch, and the last number
// issued.
func decodeJoin(room string, v any, batch []joinReq) ([]joinResult, int64, error) {
	fail := func(err error) ([]joinResult, int64, error) {
		return nil, 0, fmt.Errorf("queue: join %s: %w", room, err)
	}
	a, err := asSlice(v, 1)
	if err != nil {
		return fail(err)
	}
	tag, err := tagOf(a)
	if err != nil {
		return fail(err)
	}
	switch tag {
	case "NOROOM":
		return nil, 0, errNoRoom
	case "CLOSED":
		return fail(ErrRoomClosed)
	case "SCHEDULED":
		return fail(ErrRoomScheduled)
	case "OK":
	default:
		return fail(replyErr{"join: " + tag})
	}
	if len(a) == 5 { // the fast path: every join got a number
		a = append(a, make([]any, 2*len(batch))...)
		for i := 5; i < len(a); i++ {
			a[i] = int64(0)
		}
	}
	if len(a) != 5+2*len(batch) {
		return fail(replyErr{"join: length"})
	}
	ints := make([]int64, len(a)-1)
	for i := range ints {
		if ints[i], err = asInt(a[1+i]); err != nil {
			return fail(err)
		}
	}
	last, opened, pq, at := ints[0], ints[1] == 1, ints[2], time.UnixMilli(ints[3])
	issued := int64(0)
	for i := range batch {
		if ints[4+2*i] == 0 {
			issued++
		}
	}
	res := make([]joinResult, len(batch))
	next := last - issued + 1
	for i, q := range batch {
		joins := float64(ints[5+2*i]) / 1000
		res[i] = joinResult{joins: joins}
		switch ints[4+2*i] {
		case 0:
			res[i] = joinResult{number: next, prequeue: !opened, pq: pq, at: at, joins: joins}
			next++
		case 1:
			res[i].err = &AllowanceError{Joins: joins, Allowance: q.opt.Allowance}
		case 2:
			res[i].err = fmt.Errorf("queue: join %s: %w", room, ErrProofSpent)
		default:
			return fail(replyErr{"join: outcome"})
		}
	}
	return res, last, nil
}

// catchUp brings the room's cached state up to what a join just learnt from Redis: a join
// refused as closed (or scheduled) while this engine still holds the room open means a change
// whose announcement has not arrived here yet; one step now, so this replica's visitors are
// told the same as the joiner at once, not at the announcement or the next step.
func (e *Engine) catchUp(ctx context.Context, r *room, err error) {
	s := r.snap.Load()
	if s == nil {
		return
	}
	st := s.state(r.redisNow())
	stale := errors.Is(err, ErrRoomClosed) && st != StateClosed || errors.Is(err, ErrRoomScheduled) && st != StateScheduled
	if stale && r.catching.CompareAndSwap(false, true) {
		defer r.catching.Store(false)
		_, _ = e.refresh(ctx, r)
	}
}
