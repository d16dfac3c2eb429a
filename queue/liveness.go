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
}

func (l *liveness) see(pos, epoch int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if epoch != l.epoch {
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

func (l *liveness) take() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pending
	l.pending = nil
	return p
}

// giveBack returns positions whose flush failed; they are retried next time.
func (l *liveness) giveBack(p []int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending)+len(p) < 4*maxMarkBatch*8 {
		l.pending = append(l.pending, p...)
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
	p := r.live.take()
	if len(p) == 0 {
		return nil
	}
	absent := s.settings.AbsentAfter.Milliseconds()
	epoch := r.redisNow().UnixMilli() / absent
	key := r.keys.seen(epoch)
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
			r.live.giveBack(p)
			return storeErr("queue: mark "+r.name, err)
		}
		p = p[n:]
	}
	return nil
}
