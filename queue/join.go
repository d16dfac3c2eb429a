package queue

import (
	"context"
	"errors"
	"fmt"
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
	pending []chan joinResult
	busy    bool
}

type joinResult struct {
	number   int64
	prequeue bool
	pq       int64
	at       time.Time
	err      error
}

// Join issues the next ticket of room for visitor and returns it with its encoded, signed form.
// Concurrent joins of a room share Redis round trips. Errors: ErrInvalidRoomName, ErrUnknownRoom,
// ErrRoomClosed, ErrRoomScheduled, ErrStoreUnavailable.
func (e *Engine) Join(ctx context.Context, room, visitor string) (Ticket, string, error) {
	if !ValidVisitorID(visitor) {
		return Ticket{}, "", fmt.Errorf("queue: join: visitor id must be 1-%d printable bytes", MaxVisitorLen)
	}
	r, err := e.roomFor(ctx, room)
	if err != nil {
		return Ticket{}, "", err
	}
	ch := make(chan joinResult, 1)
	j := &r.join
	j.mu.Lock()
	if len(j.pending) >= maxPendingJoins {
		j.mu.Unlock()
		return Ticket{}, "", fmt.Errorf("queue: join %s: %d joins waiting: %w", room, maxPendingJoins, ErrBusy)
	}
	j.pending = append(j.pending, ch)
	if !j.busy {
		j.busy = true
		go e.joinLoop(context.WithoutCancel(ctx), r)
	}
	j.mu.Unlock()
	var res joinResult
	select {
	case res = <-ch:
	case <-ctx.Done():
		return Ticket{}, "", fmt.Errorf("queue: join %s: %w", room, ctx.Err())
	}
	if res.err != nil {
		return Ticket{}, "", res.err
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
		return Ticket{}, "", err
	}
	if !res.prequeue {
		e.see(r, res.number) // after opening, a ticket's position is its number
	}
	return t, enc, nil
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
		batch := append([]chan joinResult(nil), j.pending[:n]...)
		j.pending = append(j.pending[:0], j.pending[n:]...)
		j.mu.Unlock()

		last, opened, pq, at, err := e.issue(ctx, r, int64(n))
		for i, ch := range batch {
			if err != nil {
				ch <- joinResult{err: err}
				continue
			}
			ch <- joinResult{number: last - int64(n) + 1 + int64(i), prequeue: !opened, pq: pq, at: at}
		}
	}
}

// issue runs join.lua for n tickets, restoring the room first if its data was lost.
func (e *Engine) issue(ctx context.Context, r *room, n int64) (last int64, opened bool, pq int64, at time.Time, err error) {
	for attempt := 0; ; attempt++ {
		last, opened, pq, at, err = e.issueOnce(ctx, r, n)
		if !errors.Is(err, errNoRoom) || attempt > 0 {
			break
		}
		old := r.snap.Load()
		if old == nil {
			return 0, false, 0, at, fmt.Errorf("queue: join %s: %w", r.name, ErrUnknownRoom)
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

func (e *Engine) issueOnce(ctx context.Context, r *room, n int64) (int64, bool, int64, time.Time, error) {
	// Twice the call deadline: one call carries a whole batch of joins, and giving up on it
	// while Redis (or this process) is merely slow fails all of them and may waste the numbers
	// it issued; join.lua is not retried.
	cctx, cancel := context.WithTimeout(ctx, 2*e.cfg.CallTimeout)
	defer cancel()
	v, err := joinScript.Run(cctx, e.rdb, []string{r.keys.meta}, n, r.known.Load()).Result()
	if err != nil {
		return 0, false, 0, time.Time{}, storeErr("queue: join "+r.name, err)
	}
	return decodeJoin(r.name, v)
}

func decodeJoin(room string, v any) (int64, bool, int64, time.Time, error) {
	a, err := asSlice(v, 1)
	if err != nil {
		return 0, false, 0, time.Time{}, fmt.Errorf("queue: join %s: %w", room, err)
	}
	tag, err := tagOf(a)
	if err != nil {
		return 0, false, 0, time.Time{}, fmt.Errorf("queue: join %s: %w", room, err)
	}
	switch tag {
	case "NOROOM":
		return 0, false, 0, time.Time{}, errNoRoom
	case "CLOSED":
		return 0, false, 0, time.Time{}, fmt.Errorf("queue: join %s: %w", room, ErrRoomClosed)
	case "SCHEDULED":
		return 0, false, 0, time.Time{}, fmt.Errorf("queue: join %s: %w", room, ErrRoomScheduled)
	case "OK":
	default:
		return 0, false, 0, time.Time{}, fmt.Errorf("queue: join %s: %w", room, replyErr{"join: " + tag})
	}
	if len(a) != 5 {
		return 0, false, 0, time.Time{}, fmt.Errorf("queue: join %s: %w", room, replyErr{"join: length"})
	}
	var n [4]int64
	for i := range n {
		if n[i], err = asInt(a[1+i]); err != nil {
			return 0, false, 0, time.Time{}, fmt.Errorf("queue: join %s: %w", room, err)
		}
	}
	return n[0], n[1] == 1, n[2], time.UnixMilli(n[3]), nil
}
