package queue

import (
	"context"
	"slices"
	"strconv"
	"sync"
)

// maxTrackedPosition bounds the local "already sent this epoch" bitset (8 MiB); positions beyond
// it are still marked, just not de-duplicated.
const maxTrackedPosition = 1 << 26

// maxMarkBatch bounds the positions of one mark.lua call.
const maxMarkBatch = 20000

// liveness collects the positions seen polling, to be set in Redis's bitmap of the current
// epoch by one call per room per flush. A position is sent at most once per epoch.
type liveness struct {
	mu      sync.Mutex
	epoch   int64
	sent    []uint64
	pending []int64
	// older holds the pending marks of the previous epoch, still to be sent to its bitmap.
	older      []int64
	olderEpoch int64
}

func (l *liveness) see(pos, epoch int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if epoch != l.epoch {
		if epoch == l.epoch+1 && len(l.pending) > 0 {
			l.older, l.olderEpoch = append(l.older, l.pending...), l.epoch
		}
		l.pending = nil
		l.epoch = epoch
		clear(l.sent)
	}
	if pos < maxTrackedPosition {
		w, bit := int(pos>>6), uint64(1)<<(pos&63)
		if w >= len(l.sent) {
			l.sent = slices.Grow(l.sent, w+1-len(l.sent))[:w+1]
		}
		if l.sent[w]&bit != 0 {
			return
		}
		l.sent[w] |= bit
	}
	if len(l.pending) < 4*maxMarkBatch*8 {
		l.pending = append(l.pending, pos)
	}
}

// markBatch is positions seen during one epoch.
type markBatch struct {
	epoch int64
	pos   []int64
}

// take returns what is to be sent, by epoch.
func (l *liveness) take() []markBatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []markBatch
	if len(l.older) > 0 {
		out = append(out, markBatch{l.olderEpoch, l.older})
		l.older = nil
	}
	if len(l.pending) > 0 {
		out = append(out, markBatch{l.epoch, l.pending})
		l.pending = nil
	}
	return out
}

// giveBack returns positions whose flush failed; they are retried next time if their epoch
// still counts.
func (l *liveness) giveBack(b markBatch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case b.epoch == l.epoch && len(l.pending)+len(b.pos) < 4*maxMarkBatch*8:
		l.pending = append(l.pending, b.pos...)
	case b.epoch == l.epoch-1 && len(l.older)+len(b.pos) < 4*maxMarkBatch*8:
		l.older, l.olderEpoch = append(l.older, b.pos...), b.epoch
	}
}

// reset forgets what was sent: after a restore the bitmaps are gone.
func (l *liveness) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.sent)
}

// see records that the visitor at position pos is present.
func (e *Engine) see(r *room, pos int64) {
	s := r.snap.Load()
	if s == nil || pos < 1 {
		return
	}
	r.live.see(pos, r.redisNow().UnixMilli()/s.settings.AbsentAfter.Milliseconds())
}

// flush sends the seen positions of a room to the current epoch's bitmap.
func (e *Engine) flush(ctx context.Context, r *room) error {
	s := r.snap.Load()
	if s == nil {
		return nil
	}
	absent := s.settings.AbsentAfter.Milliseconds()
	for _, b := range r.live.take() {
		if err := e.mark(ctx, r, b, absent); err != nil {
			r.live.giveBack(b)
			return err
		}
	}
	return nil
}

func (e *Engine) mark(ctx context.Context, r *room, b markBatch, absent int64) error {
	key := r.keys.seen(b.epoch)
	p := b.pos
	for len(p) > 0 {
		n := min(len(p), maxMarkBatch)
		args := make([]any, 0, n+1)
		args = append(args, 3*absent)
		for _, pos := range p[:n] {
			args = append(args, strconv.FormatInt(pos, 10))
		}
		cctx, cancel := e.callCtx(ctx)
		err := markScript.Run(cctx, e.rdb, []string{key}, args...).Err()
		cancel()
		if err != nil {
			return storeErr("queue: mark "+r.name, err)
		}
		p = p[n:]
	}
	return nil
}
