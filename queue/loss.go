package queue

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// What an engine remembers so that a restore after a data loss (room.go: refresh, restore) can
// keep its promises: which positions it saw claimed (so a served visitor is not let in again),
// the leases it claimed lately (so a lease claimed after the restoring cache was taken still
// counts against the cap), and how fast numbers were issued (so the restored counter leaves room
// for every number another gateway may have handed out).

// recentClaimKeep is how long recent claims are kept: far more than a cache can be old.
const recentClaimKeep = 30 * time.Second

// mergeWindow is how soon after a restore another restore of the room is taken for a second
// gateway noticing the same loss (a merge) rather than a new loss.
const mergeWindow = 10 * time.Second

// orphanSettle is how long after a restore orphans wait before they are let in: time for every
// live gateway to step once and mark the positions it saw claimed (answerRestore), so that a
// visitor served before the loss is not taken for one whose admission was lost.
const orphanSettle = 2 * time.Second

// minCounterMargin is added to every restored counter, for joins the rate samples missed.
const minCounterMargin = 32

// minHeadMargin is added to every restored head, for the admissions of the step in flight.
const minHeadMargin = 2

// maxServedPosition bounds the served bitmap (8 MiB a room); positions beyond it are not
// remembered.
const maxServedPosition = 1 << 26

// served is what an engine saw of a room's claims.
type served struct {
	mu sync.Mutex
	// bits has bit p set when position p was claimed here, in Redis's bit order (bit 0 is the
	// high bit of byte 0), ready for BITOP.
	bits   []byte
	any    bool
	recent []Lease
	// pending are positions claimed here, still to be announced to the other engines.
	pending []int64
	// answered is the restore (restored_ms) this engine has sent its account for.
	answered int64
}

// mark sets position p in the bitmap; the caller holds mu.
func (s *served) mark(p int64) {
	if p > 0 && p < maxServedPosition {
		i := int(p >> 3)
		if i >= len(s.bits) {
			s.bits = append(s.bits, make([]byte, i+1-len(s.bits)+len(s.bits)/4)...)
		}
		s.bits[i] |= 0x80 >> (p & 7)
		s.any = true
	}
}

// heard records positions another engine announced as claimed.
func (s *served) heard(ps []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		s.mark(p)
	}
}

// takePending returns the positions to announce (at most maxAnnounce).
func (s *served) takePending() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(len(s.pending), maxAnnounce)
	out := append([]int64(nil), s.pending[:n]...)
	s.pending = append(s.pending[:0], s.pending[n:]...)
	return out
}

// claimed records a lease this engine got from claim.lua.
func (s *served) claimed(l Lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mark(l.Position)
	if len(s.pending) < 16*maxAnnounce {
		s.pending = append(s.pending, l.Position)
	}
	cut := l.IssuedAt.Add(-recentClaimKeep)
	k := 0
	for _, r := range s.recent {
		if r.IssuedAt.After(cut) && r.JTI != l.JTI {
			s.recent[k] = r
			k++
		}
	}
	s.recent = append(s.recent[:k], l)
}

// account returns the claimed-position bitmap and the number of leases claimed in (from, to)
// (Redis clock), for the restore restoredAt; ok is false when it was answered already.
func (s *served) account(restoredAt int64, from, to time.Time) (bits []byte, n int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answered == restoredAt {
		return nil, 0, false
	}
	s.answered = restoredAt
	for _, r := range s.recent {
		if r.IssuedAt.After(from) && r.IssuedAt.Before(to) {
			n++
		}
	}
	if s.any {
		bits = append([]byte(nil), s.bits...)
	}
	return bits, n, true
}

// issueRate follows the room's counter as the steps see it (every gateway's joins), and the
// health of this engine's steps.
type issueRate struct {
	mu        sync.Mutex
	samples   []issueSample
	lastOK    time.Time
	firstFail time.Time
}

type issueSample struct {
	at           time.Time
	issued, head int64
}

// ok records a successful step at local time at.
func (q *issueRate) ok(at time.Time, issued, head int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.lastOK, q.firstFail = at, time.Time{}
	n := len(q.samples)
	if n > 0 {
		last := q.samples[n-1]
		if issued < last.issued || head < last.head {
			q.samples = q.samples[:0]
		} else if at.Sub(last.at) < 250*time.Millisecond {
			return
		}
	}
	q.samples = append(q.samples, issueSample{at, issued, head})
	if len(q.samples) > 241 { // a minute
		q.samples = append(q.samples[:0], q.samples[len(q.samples)-241:]...)
	}
}

// fail records a failed step.
func (q *issueRate) fail(at time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.firstFail.IsZero() {
		q.firstFail = at
	}
}

// margins are how far the counter and the head may have moved beyond what this engine's cache
// shows before the data was lost: twice the peak rate of the last minute (numbers issued,
// positions reached) over the time since this engine's last good step, counted until a little
// after its steps began to fail (a Redis that stopped answering here stopped answering
// everyone: one Redis, one network), plus minCounterMargin numbers and minHeadMargin positions.
func (q *issueRate) margins(now time.Time, callTimeout time.Duration) (counter, head int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.lastOK.IsZero() {
		return minCounterMargin, minHeadMargin
	}
	end := now
	if !q.firstFail.IsZero() {
		if f := q.firstFail.Add(2 * callTimeout); f.Before(end) {
			end = f
		}
	}
	window := end.Sub(q.lastOK)
	if window < 0 {
		window = 0
	}
	var peakIssued, peakHead float64
	for i := 1; i < len(q.samples); i++ {
		a, b := q.samples[i-1], q.samples[i]
		if d := b.at.Sub(a.at).Seconds(); d > 0 {
			peakIssued = max(peakIssued, float64(b.issued-a.issued)/d)
			peakHead = max(peakHead, float64(b.head-a.head)/d)
		}
	}
	w := 2 * window.Seconds()
	return int64(math.Ceil(peakIssued*w)) + minCounterMargin, int64(math.Ceil(peakHead*w)) + minHeadMargin
}

// answerRestore sends this engine's account of the room (claimed positions, leases claimed
// after the restoring cache was taken) once per restore; see spend.lua.
func (e *Engine) answerRestore(ctx context.Context, r *room, s *snapshot) error {
	bits, n, ok := r.served.account(s.restoredAt.UnixMilli(), s.restoredFrom, s.restoredAt)
	if !ok || (len(bits) == 0 && n == 0) {
		return nil
	}
	until := s.restoredAt.Add(s.settings.Session)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	k := r.keys
	v, err := spendScript.Run(cctx, e.rdb, []string{k.orphans, k.upload, k.leases, k.meta},
		string(bits), e.cfg.RoomTTL.Milliseconds(), n, until.UnixMilli(), s.restoredAt.UnixMilli()).Result()
	if err != nil {
		r.served.forget(s.restoredAt.UnixMilli())
		return storeErr("queue: spend "+r.name, err)
	}
	a, err := asSlice(v, 1)
	if err != nil {
		return fmt.Errorf("queue: spend %s: %w", r.name, err)
	}
	tag, err := tagOf(a)
	if err != nil {
		return fmt.Errorf("queue: spend %s: %w", r.name, err)
	}
	e.log.Info().Str("room", r.name).Str("reply", tag).Int("positions_bytes", len(bits)).Int("placeholders", n).
		Msg("sent this gateway's account of claims to the restored room")
	return nil
}

// maxAnnounce bounds the positions of one announcement.
const maxAnnounce = 5000

// announceClaims publishes the positions claimed here since the last announcement (one PUBLISH
// per room per step, only when there were claims), so that every live engine can mark them
// spent after a restore even if this one is gone by then. Best effort: a lost announcement only
// weakens the case where this engine dies together with Redis.
func (e *Engine) announceClaims(ctx context.Context, r *room) {
	ps := r.served.takePending()
	if len(ps) == 0 {
		return
	}
	b := make([]byte, 0, len(r.name)+1+8*len(ps))
	b = append(b, r.name...)
	b = append(b, '|')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, p, 10)
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	if err := e.rdb.Publish(cctx, claimsChannel(e.cfg.Prefix), b).Err(); err != nil {
		r.logErr(e.log, "announce claims", err)
	}
}

// heardClaims records an announcement "room|p1,p2,..." from any engine (this one included).
func (e *Engine) heardClaims(payload string) {
	name, list, ok := strings.Cut(payload, "|")
	if !ok || !ValidRoomName(name) {
		return
	}
	r := e.cached(name)
	if r == nil {
		return
	}
	var ps []int64
	for _, f := range strings.Split(list, ",") {
		if p, err := strconv.ParseInt(f, 10, 64); err == nil && p > 0 {
			ps = append(ps, p)
		}
	}
	r.served.heard(ps)
}

// forget lets the account of restore restoredAt be sent again (its sending failed).
func (s *served) forget(restoredAt int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answered == restoredAt {
		s.answered = 0
	}
}

// maxReleasedMemo bounds the lease ids a room remembers as released here.
const maxReleasedMemo = 1 << 16

// releasedMemo remembers the lease ids released through this engine until their tokens can no
// longer be presented, so that a release repeated after a data loss (which took Redis's record
// of the first one) cannot take a lost lease's placeholder.
type releasedMemo struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

// seen reports whether jti was released here and its token may still be presented.
func (m *releasedMemo) seen(jti string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.ids[jti]
	return ok && now.Before(until)
}

// add remembers jti until until.
func (m *releasedMemo) add(jti string, until, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ids == nil {
		m.ids = map[string]time.Time{}
	}
	if len(m.ids) >= maxReleasedMemo {
		for k, u := range m.ids {
			if !now.Before(u) {
				delete(m.ids, k)
			}
		}
		if len(m.ids) >= maxReleasedMemo {
			return
		}
	}
	m.ids[jti] = until
}
