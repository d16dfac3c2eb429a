package queue

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// room is one room's in-process state: the cached snapshot and the batching of joins and
// liveness marks.
type room struct {
	name string
	keys roomKeys

	snap atomic.Pointer[snapshot]
	// catching is set while a join's catch-up step runs (join.go catchUp): one at a time, so a
	// batch of refused joins costs one step, not one each.
	catching atomic.Bool
	// known is the highest ticket number known to have been issued (from joins here and from
	// validly signed tickets presented here). Redis's counter below it means data was lost.
	known atomic.Int64
	// offset is Redis's clock minus the local clock, in ns, from the last step.
	offset   atomic.Int64
	stepping atomic.Bool
	// stepped is when the loop last started a step (unix ns); quiet is set while the loop skips
	// the room for being idle (idle.go).
	stepped atomic.Int64
	quiet   atomic.Bool
	// refreshMu serialises steps of this engine for the room, so replies arrive in order.
	refreshMu sync.Mutex

	join joiner
	live liveness
	// served and issue are what a restore after a data loss needs (loss.go).
	served   served
	issue    issueRate
	released releasedMemo

	// lanes, spent and outage serve Poll without Redis: returners' lane numbers, tickets
	// known to be spent, and the pacing of fail-open admissions.
	lanes laneMap
	spent positionSet
	// relanes remembers re-entry-lane numbers, like lanes (reentry.go).
	relanes laneMap
	outage  outage

	// notes are the fairness record's notes until the next flush (record.go).
	notes recordNotes

	rateMu  sync.Mutex
	samples []rateSample

	logMu   sync.Mutex
	lastLog time.Time

	// minute is the last unix minute this engine found recorded in the minute series (minutes.go).
	minute atomic.Int64
}

func newRoom(prefix, name string) *room {
	r := &room{name: name, keys: newRoomKeys(prefix, name)}
	r.join.r = r
	return r
}

// logErr logs background failures at most every 5 seconds per room.
func (r *room) logErr(log zerolog.Logger, what string, err error) {
	r.logMu.Lock()
	now := time.Now()
	if now.Sub(r.lastLog) < 5*time.Second {
		r.logMu.Unlock()
		return
	}
	r.lastLog = now
	r.logMu.Unlock()
	log.Warn().Str("room", r.name).Str("op", what).Err(err).Msg("queue background call failed")
}

func (r *room) raiseKnown(n int64) {
	for {
		cur := r.known.Load()
		if n <= cur || r.known.CompareAndSwap(cur, n) {
			return
		}
	}
}

// redisNow estimates Redis's clock.
func (r *room) redisNow() time.Time { return time.Now().Add(time.Duration(r.offset.Load())) }

// snapshot is an immutable view of a room as of one step.
type snapshot struct {
	settings     Settings
	head, issued int64
	pq           int64
	opened       bool
	openedAt     time.Time
	created      time.Time
	seed         []byte
	commitment   string
	perm         *prequeuePerm
	restoredHead int64
	// rseq is the last returning-lane number given, rserved the last one served.
	rseq, rserved int64
	// eserved is the last re-entry-lane number served; reentering the lane's length (reentry.go).
	eserved, reentering int64
	// restoredAt is the time of the room's last restore after a data loss (zero: none), and
	// restoredFrom the Redis time of the cache it was restored from.
	restoredAt, restoredFrom time.Time
	offers                   int64
	active                   int64
	returning                int64
	skipped                  int64
	stats                    map[string]int64
	redisNow                 time.Time
	fetched                  time.Time
}

// position is the place in line of ticket n: the shuffle for pre-queue tickets, the number
// otherwise; 0 before opening.
func (s *snapshot) position(n int64) int64 {
	if !s.opened {
		return 0
	}
	if n <= s.pq {
		return s.perm.position(n)
	}
	return n
}

// state is the state visitors see at time now (Redis clock).
func (s *snapshot) state(now time.Time) State {
	switch s.settings.State {
	case StateClosed:
		return StateClosed
	}
	if s.settings.Remaining == 0 {
		return StateSoldOut
	}
	switch s.settings.State {
	case StatePaused:
		return StatePaused
	}
	if s.opened {
		return StateOpen
	}
	if !s.settings.PrequeueOpensAt.IsZero() && now.Before(s.settings.PrequeueOpensAt) {
		return StateScheduled
	}
	return StatePrequeue
}

var errNoRoom = errors.New("queue: room missing in store")

// runStep runs step.lua and decodes the snapshot.
func (e *Engine) runStep(ctx context.Context, r *room) (*snapshot, error) {
	k := r.keys
	now := r.redisNow()
	absent := int64(60000)
	if s := r.snap.Load(); s != nil && s.settings.AbsentAfter > 0 {
		absent = s.settings.AbsentAfter.Milliseconds()
	}
	epoch := now.UnixMilli() / absent
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	sent := time.Now()
	v, err := stepScript.Run(cctx, e.rdb,
		[]string{k.meta, k.stats, k.offers, k.leases, k.lease, k.skipped, k.returning, k.orphans,
			k.seen(epoch), k.seen(epoch - 1), k.reentryLane()},
		e.cfg.MaxSkipsPerStep, e.cfg.RoomTTL.Milliseconds(), 1000).Result()
	if err != nil {
		return nil, storeErr("queue: step "+r.name, err)
	}
	s, err := decodeStep(v)
	if err != nil {
		return nil, fmt.Errorf("queue: step %s: %w", r.name, err)
	}
	got := time.Now()
	s.fetched = got
	// Redis's clock read mid-call: compare with the local midpoint.
	r.offset.Store(int64(s.redisNow.Sub(sent.Add(got.Sub(sent) / 2))))
	return s, nil
}

func decodeStep(v any) (*snapshot, error) {
	a, err := asSlice(v, 1)
	if err != nil {
		return nil, err
	}
	tag, err := tagOf(a)
	if err != nil {
		return nil, err
	}
	if tag == "NOROOM" {
		return nil, errNoRoom
	}
	if tag != "OK" || len(a) != 9 {
		return nil, replyErr{"step: " + tag}
	}
	now, err := asInt(a[1])
	if err != nil {
		return nil, err
	}
	meta, err := asMap(a[2])
	if err != nil {
		return nil, err
	}
	s, err := snapshotFromMeta(meta)
	if err != nil {
		return nil, err
	}
	s.redisNow = time.UnixMilli(now)
	for i, p := range []*int64{&s.offers, &s.active, &s.returning, &s.skipped} {
		if *p, err = asInt(a[3+i]); err != nil {
			return nil, err
		}
	}
	if s.reentering, err = asInt(a[8]); err != nil {
		return nil, err
	}
	st, err := asMap(a[7])
	if err != nil {
		return nil, err
	}
	s.stats = make(map[string]int64, len(st))
	for k, v := range st {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, replyErr{"stats field " + k}
		}
		s.stats[k] = n
	}
	return s, nil
}

func snapshotFromMeta(m map[string]string) (*snapshot, error) {
	set, err := settingsFromMeta(m)
	if err != nil {
		return nil, err
	}
	var firstErr error
	num := func(k string) int64 {
		n, err := strconv.ParseInt(m[k], 10, 64)
		if err != nil && firstErr == nil {
			firstErr = replyErr{fmt.Sprintf("meta field %s=%q", k, m[k])}
		}
		return n
	}
	s := &snapshot{
		settings:     set,
		head:         num("head"),
		issued:       num("counter"),
		pq:           num("pq"),
		opened:       m["opened"] == "1",
		openedAt:     timeOfMs(num("opened_ms")),
		created:      timeOfMs(num("created_ms")),
		commitment:   m["commit"],
		restoredHead: num("restored_head"),
		rseq:         optNum(m, "rseq"),
		rserved:      optNum(m, "rserved"),
		eserved:      optNum(m, "eserved"),
	}
	if m["restored_ms"] != "" {
		s.restoredAt, s.restoredFrom = timeOfMs(num("restored_ms")), timeOfMs(num("restored_from_ms"))
	}
	if firstErr != nil {
		return nil, firstErr
	}
	seed, err := hex.DecodeString(m["seed"])
	if err != nil || len(seed) != SeedLen {
		return nil, replyErr{"meta seed"}
	}
	s.seed = seed
	return s, nil
}

// refresh runs one step for the room and installs the snapshot; when the room's data was lost
// (meta gone, or counter or head behind what this engine knows) it restores it from the cache
// first. After any restore (by this engine or another) it sends this engine's account of the
// claims it saw, once (answerRestore).
func (e *Engine) refresh(ctx context.Context, r *room) (*snapshot, error) {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	// What this engine knew before the step was sent is certainly in Redis unless data was
	// lost; what it learns while the step is in flight (a join's reply) may not be in the reply.
	old, known := r.snap.Load(), r.known.Load()
	s, err := e.runStep(ctx, r)
	if err == nil && !regressed(old, known, s) {
		r.issue.ok(time.Now(), s.issued, s.head)
		return e.installAnswering(ctx, r, old, s), nil
	}
	if err != nil && !errors.Is(err, errNoRoom) {
		r.issue.fail(time.Now())
		return nil, err
	}
	if old == nil {
		return nil, fmt.Errorf("queue: room %s: %w", r.name, ErrUnknownRoom)
	}
	// A room re-created (by a gateway without a cache) after our copy was made carries a new
	// seed: ours is the one the visitors' places were computed with.
	recreated := s != nil && s.created.After(old.created)
	if rerr := e.restore(ctx, r, old, recreated); rerr != nil {
		return nil, rerr
	}
	if s, err = e.runStep(ctx, r); err != nil {
		return nil, err
	}
	r.issue.ok(time.Now(), s.issued, s.head)
	return e.installAnswering(ctx, r, old, s), nil
}

// installAnswering installs s, announces the claims made here since the last step, and, when s
// shows a restore this engine has not answered yet, sends its account of the claims it saw
// before the loss.
func (e *Engine) installAnswering(ctx context.Context, r *room, old, s *snapshot) *snapshot {
	s = e.install(r, s)
	e.announceClaims(ctx, r)
	if old != nil && !s.restoredAt.IsZero() && !s.restoredAt.Equal(old.restoredAt) {
		if err := e.answerRestore(ctx, r, s); err != nil {
			r.logErr(e.log, "answer restore", err)
		}
	}
	return s
}

// regressed reports whether Redis's room s is behind what was known before the step: data loss.
func regressed(old *snapshot, known int64, s *snapshot) bool {
	if s.issued < known {
		return true
	}
	return old != nil && (s.head < old.head || (old.opened && !s.opened) ||
		s.settings.Version < old.settings.Version || s.created.After(old.created))
}

// restore rebuilds the room in Redis from the snapshot old (see restore.lua). The counter and
// the head are restored beyond what this engine knows by margins (issueRate.margins) that cover
// what other gateways may have issued and admitted since its cache was taken: a number is never
// issued twice, and a position admitted before the loss is never offered again as if new.
// Positions at or behind the restored head come back (as orphans, through the returning set)
// only as far as old counted outstanding admissions (offers, skips within grace, returning
// visitors), plus the head margin and a second of admissions.
func (e *Engine) restore(ctx context.Context, r *room, old *snapshot, recreated bool) error {
	knownIssued := max(old.issued, r.known.Load())
	margin, headMargin := r.issue.margins(time.Now(), e.cfg.CallTimeout)
	counter := knownIssued + margin
	head := old.head
	if old.opened {
		head = min(old.head+headMargin, knownIssued)
	}
	budget := old.offers + old.skipped + old.returning + (head - old.head) +
		max(1, int64(math.Ceil(float64(old.settings.RatePerMinute)/60)))
	// capacity held for the orphans: what outstanding admissions held, within the cap
	holds := max(0, min(budget, old.offers+old.returning+(head-old.head), int64(old.settings.MaxActive)-old.active))
	absent := old.settings.AbsentAfter.Milliseconds()
	if absent <= 0 {
		absent = 60000
	}
	epoch := r.redisNow().UnixMilli() / absent
	args := []any{e.cfg.RoomTTL.Milliseconds(), old.active, old.settings.Session.Milliseconds(),
		budget, msOf(old.redisNow), mergeWindow.Milliseconds(), 3 * absent, knownIssued,
		orphanSettle.Milliseconds(), holds}
	mode := "nx"
	if recreated {
		mode = "set"
	}
	f := old.settings.fields()
	for i := 0; i < len(f); i += 2 {
		args = append(args, mode, f[i], f[i+1])
	}
	if old.settings.Remaining >= 0 { // a sold-out room stays sold out through a data loss (soldout.go)
		args = append(args, mode, "stock", strconv.FormatInt(old.settings.Remaining, 10))
	}
	args = append(args,
		mode, "seed", hex.EncodeToString(old.seed),
		mode, "commit", old.commitment,
		mode, "created_ms", msOf(old.created),
		"max", "version", old.settings.Version,
		"max", "counter", counter,
		"max", "head", max(old.head, head),
		"max", "restored_head", old.restoredHead,
	)
	if old.opened {
		args = append(args, "max", "opened", 1, "max", "pq", old.pq, "max", "opened_ms", msOf(old.openedAt))
	} else {
		args = append(args, "nx", "opened", 0, "nx", "pq", 0, "nx", "opened_ms", 0)
	}
	for k, v := range old.stats {
		args = append(args, "smax", k, v)
	}
	k := r.keys
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	v, err := restoreScript.Run(cctx, e.rdb, []string{k.meta, k.stats, k.leases, k.lease, k.offers,
		k.skipped, k.returning, k.seen(epoch), k.seen(epoch - 1)}, args...).Result()
	if err != nil {
		return storeErr("queue: restore "+r.name, err)
	}
	a, err := asSlice(v, 5)
	if err != nil {
		return fmt.Errorf("queue: restore %s: %w", r.name, err)
	}
	var n [5]int64
	for i := range n {
		if n[i], err = asInt(a[i]); err != nil {
			return fmt.Errorf("queue: restore %s: %w", r.name, err)
		}
	}
	e.restores.Add(1)
	r.live.reset()
	r.lanes.reset()
	r.relanes.reset()
	r.spent.reset()
	e.log.Warn().Str("room", r.name).Bool("meta_existed", n[0] == 1).Bool("fresh_loss", n[3] == 1).
		Int64("head_before", n[1]).Int64("head_after", n[2]).Int64("counter", counter).
		Int64("counter_margin", margin).Int64("orphan_budget", budget).Int64("placeholders", n[4]).
		Msg("room data was lost; restored from the gateway cache")
	return nil
}

// install merges a fresh snapshot into the cache (head and issued never go back) and returns it.
func (e *Engine) install(r *room, s *snapshot) *snapshot {
	for {
		old := r.snap.Load()
		if old != nil {
			s.head = max(s.head, old.head)
			s.issued = max(s.issued, old.issued)
			if old.perm != nil && old.pq == s.pq && bytes.Equal(old.seed, s.seed) {
				s.perm = old.perm
			}
			if old.redisNow.After(s.redisNow) && old.settings.Version > s.settings.Version {
				return old // a slower, older reply
			}
			if old.settings.Version > s.settings.Version {
				// a step sent before an update this engine made and installed: the version only
				// grows (a regression is a data loss, restored before install)
				s.settings = old.settings
			}
		}
		if s.perm == nil && s.opened && s.pq > 0 {
			s.perm = newPrequeuePerm(s.seed, s.pq)
		}
		if r.snap.CompareAndSwap(old, s) {
			r.raiseKnown(s.issued)
			r.sample(s.redisNow, s.stats["admitted"])
			return s
		}
	}
}

// bumpHead raises the cached head after a claim saw a newer one.
func (r *room) bumpHead(head int64) {
	for {
		old := r.snap.Load()
		if old == nil || head <= old.head {
			return
		}
		c := *old
		c.head = head
		if r.snap.CompareAndSwap(old, &c) {
			return
		}
	}
}

type rateSample struct {
	at       time.Time
	admitted int64
}

// sample records (time, admitted) at most once a second, keeping a minute.
func (r *room) sample(at time.Time, admitted int64) {
	r.rateMu.Lock()
	defer r.rateMu.Unlock()
	n := len(r.samples)
	if n > 0 {
		last := r.samples[n-1]
		if admitted < last.admitted || at.Before(last.at) {
			r.samples = r.samples[:0] // data loss or clock jump: start over
		} else if at.Sub(last.at) < time.Second {
			return
		}
	}
	r.samples = append(r.samples, rateSample{at, admitted})
	if len(r.samples) > 61 {
		r.samples = append(r.samples[:0], r.samples[len(r.samples)-61:]...)
	}
}

// admittedWithin counts admissions over the last d (Redis's clock, from the step samples); ok
// is false until the samples cover d.
func (r *room) admittedWithin(d time.Duration) (int64, bool) {
	r.rateMu.Lock()
	defer r.rateMu.Unlock()
	n := len(r.samples)
	if n < 2 {
		return 0, false
	}
	last := r.samples[n-1]
	for i := n - 2; i >= 0; i-- {
		if last.at.Sub(r.samples[i].at) >= d {
			return last.admitted - r.samples[i].admitted, true
		}
	}
	return 0, false
}

// sessionLength is the mean length of the sessions that ended (released or expired); ok once
// a few have.
func (r *room) sessionLength() (time.Duration, bool) {
	s := r.snap.Load()
	if s == nil || s.stats["sessions"] < 5 {
		return 0, false
	}
	return time.Duration(s.stats["session_ms"]/s.stats["sessions"]) * time.Millisecond, true
}

// admitRate is the measured admissions per minute over the last minute (at least 5 s of data);
// ok is false until there is enough.
func (r *room) admitRate() (float64, bool) {
	r.rateMu.Lock()
	defer r.rateMu.Unlock()
	if len(r.samples) < 2 {
		return 0, false
	}
	a, b := r.samples[0], r.samples[len(r.samples)-1]
	d := b.at.Sub(a.at)
	if d < 5*time.Second {
		return 0, false
	}
	return float64(b.admitted-a.admitted) * float64(time.Minute) / float64(d), true
}

func parseLeaseData(d string) (pos, ticket int64, claimed, maxUntil time.Time, visitor string, err error) {
	parts := strings.SplitN(d, "|", 5)
	if len(parts) != 5 {
		return 0, 0, time.Time{}, time.Time{}, "", replyErr{"lease data"}
	}
	var n [4]int64
	for i := 0; i < 4; i++ {
		if n[i], err = strconv.ParseInt(parts[i], 10, 64); err != nil {
			return 0, 0, time.Time{}, time.Time{}, "", replyErr{"lease data"}
		}
	}
	return n[0], n[1], time.UnixMilli(n[2]), time.UnixMilli(n[3]), parts[4], nil
}

// optNum reads a meta field that is absent until first written (0 then).
func optNum(m map[string]string, k string) int64 {
	n, _ := strconv.ParseInt(m[k], 10, 64)
	return n
}
