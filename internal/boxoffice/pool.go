package boxoffice

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
)

// errQueueFull is returned by acquire when the waiting room of the pool itself is full.
var errQueueFull = errors.New("boxoffice: worker queue full")

// pool is the office's worker slots. A request takes a slot for its whole processing. When none
// is free it waits; a freed slot goes to a waiter picked at random, the way threads contending
// for a pool (or clients retrying at a load balancer) really get served, which spreads the waits
// between zero and the timeout. It is safe for concurrent use.
type pool struct {
	mu       sync.Mutex
	free     int
	maxQueue int
	waiters  []*waiter
	onChange func(inflight, queued int) // called under mu
	size     int
}

type waiter struct {
	ch      chan struct{}
	idx     int
	granted bool
}

func newPool(size, maxQueue int, onChange func(inflight, queued int)) *pool {
	return &pool{free: size, size: size, maxQueue: maxQueue, onChange: onChange}
}

// acquire takes a slot, waiting until ctx is done. It returns errQueueFull at once when
// maxQueue requests already wait, and ctx.Err() when the wait ran out.
func (p *pool) acquire(ctx context.Context) error {
	p.mu.Lock()
	if p.free > 0 && len(p.waiters) == 0 {
		p.free--
		p.changed()
		p.mu.Unlock()
		return nil
	}
	if len(p.waiters) >= p.maxQueue {
		p.mu.Unlock()
		return errQueueFull
	}
	w := &waiter{ch: make(chan struct{}), idx: len(p.waiters)}
	p.waiters = append(p.waiters, w)
	p.changed()
	p.mu.Unlock()

	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		if w.granted {
			// The slot arrived as the deadline struck: pass it on.
			p.mu.Unlock()
			p.release()
			return ctx.Err()
		}
		p.remove(w.idx)
		p.changed()
		p.mu.Unlock()
		return ctx.Err()
	}
}

// release gives a slot back, to a random waiter when there is one.
func (p *pool) release() {
	p.mu.Lock()
	if n := len(p.waiters); n > 0 {
		w := p.waiters[rand.IntN(n)]
		p.remove(w.idx)
		w.granted = true
		close(w.ch)
	} else {
		p.free++
	}
	p.changed()
	p.mu.Unlock()
}

// remove drops waiter i by moving the last one into its place. Caller holds mu.
func (p *pool) remove(i int) {
	last := len(p.waiters) - 1
	p.waiters[i] = p.waiters[last]
	p.waiters[i].idx = i
	p.waiters[last] = nil
	p.waiters = p.waiters[:last]
}

// changed reports the new occupancy. Caller holds mu.
func (p *pool) changed() {
	if p.onChange != nil {
		p.onChange(p.size-p.free, len(p.waiters))
	}
}

// inflight is how many slots are taken.
func (p *pool) inflight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size - p.free
}

// releaseIf releases a slot when taken is true.
func (p *pool) releaseIf(taken bool) {
	if taken {
		p.release()
	}
}
