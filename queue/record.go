package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The public fairness record (issue 14): what anyone may know of how a room's line treated its
// visitors, computed from what foyer records, with no personal data: how many were let in in
// line order, skips and returns, the distribution of waits, how often the ETA range shown held,
// and (Fairness) the pre-queue commitment and seed.
//
// Two things are noted for it besides the outcome ledger, both per position, written in one
// script call per room per flush (record_note.lua), never on a visitor's request:
//   - the first ETA range shown at a position (Poll, when the visitor had been shown no place
//     before): 12 bytes at offset (position-1)*12 of one string, first wins; positions beyond
//     MaxRecordPosition are not noted. 12 bytes per position shown an ETA.
//   - the positions let in through the returning lane (skipped while away, back within grace;
//     or re-offered once after a data loss): one bit per position, noted when claim.lua puts
//     the visitor in the lane.
// A note is lost only if its gateway dies within the flush interval (a second) after the poll.

var (
	recordNoteScript = mustScript("record_note")
	recordReadScript = mustScript("record_read")
)

func init() {
	allScripts = append(allScripts, recordNoteScript, recordReadScript)
}

// MaxRecordPosition bounds the positions whose first ETA is noted (12 MiB per room at most).
const MaxRecordPosition = 1 << 20

// maxNotesPerFlush bounds the notes a room keeps between two flushes; beyond, they are dropped.
const maxNotesPerFlush = 50_000

// recordNotes collects a room's notes until the next flush.
type recordNotes struct {
	mu       sync.Mutex
	eta      map[int64][12]byte
	returned []int64
	dropped  int64
	// noted marks the positions whose first ETA this engine already sent (at most 128 KiB), so
	// apps that never send Foyer-Place are noted once, not on every poll.
	noted []uint64
}

// etaNote packs the first ETA shown: when (Redis ms, 6 bytes) and the range in whole seconds as
// the visitor saw it (3 bytes each, at most 2^24-1 s).
func etaNote(at time.Time, lo, hi time.Duration) [12]byte {
	var b [12]byte
	ms := uint64(max(at.UnixMilli(), 1))
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	put3 := func(o int, d time.Duration) {
		s := uint64(min(max(int64(d/time.Second), 0), 1<<24-1))
		b[o], b[o+1], b[o+2] = byte(s>>16), byte(s>>8), byte(s)
	}
	put3(6, lo)
	put3(9, hi)
	return b
}

// parseETANote is etaNote's inverse; false for an empty or unwritten slot.
func parseETANote(s string) (atMs, lo, hi int64, ok bool) {
	if len(s) != 12 {
		return 0, 0, 0, false
	}
	b := []byte(s)
	atMs = int64(b[0])<<40 | int64(b[1])<<32 | int64(b[2])<<24 | int64(b[3])<<16 | int64(b[4])<<8 | int64(b[5])
	lo = int64(b[6])<<16 | int64(b[7])<<8 | int64(b[8])
	hi = int64(b[9])<<16 | int64(b[10])<<8 | int64(b[11])
	return atMs, lo, hi, atMs > 0
}

// noteShown keeps the first ETA range a visitor at pos was shown (until the flush).
func (r *room) noteShown(pos int64, at time.Time, lo, hi time.Duration) {
	if pos < 1 || pos > MaxRecordPosition {
		return
	}
	n := &r.notes
	n.mu.Lock()
	defer n.mu.Unlock()
	w, bit := int((pos-1)>>6), uint64(1)<<((pos-1)&63)
	if w < len(n.noted) && n.noted[w]&bit != 0 {
		return
	}
	if _, ok := n.eta[pos]; ok {
		return
	}
	if len(n.eta) >= maxNotesPerFlush {
		n.dropped++
		return
	}
	if n.eta == nil {
		n.eta = map[int64][12]byte{}
	}
	n.eta[pos] = etaNote(at, lo, hi)
	if w >= len(n.noted) {
		n.noted = slices.Grow(n.noted, w+1-len(n.noted))[:w+1]
	}
	n.noted[w] |= bit
}

// noteReturned marks pos as let in through the returning lane (until the flush).
func (r *room) noteReturned(pos int64) {
	n := &r.notes
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.returned) >= maxNotesPerFlush {
		n.dropped++
		return
	}
	n.returned = append(n.returned, pos)
}

// flushNotes sends a room's notes in one call (a failed flush gives them back once).
func (e *Engine) flushNotes(ctx context.Context, r *room) error {
	n := &r.notes
	n.mu.Lock()
	eta, ret := n.eta, n.returned
	n.eta, n.returned = nil, nil
	n.mu.Unlock()
	if len(eta) == 0 && len(ret) == 0 {
		return nil
	}
	args := make([]any, 0, 2+2*len(eta)+len(ret))
	args = append(args, e.cfg.LedgerTTL.Milliseconds(), len(eta))
	for pos, b := range eta {
		args = append(args, strconv.FormatInt(pos, 10), string(b[:]))
	}
	for _, pos := range ret {
		args = append(args, strconv.FormatInt(pos, 10))
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	if err := recordNoteScript.Run(cctx, e.rdb, []string{r.keys.firstETA(), r.keys.returned()}, args...).Err(); err != nil {
		n.mu.Lock()
		if n.eta == nil {
			n.eta = eta // given back: noted stays set, so they go with the next flush
		}
		if n.returned == nil {
			n.returned = ret
		}
		n.mu.Unlock()
		return storeErr("queue: record notes "+r.name, err)
	}
	return nil
}

// Record is a room's public fairness record. Counters are exact; the figures from the ledger
// cover the admissions it holds (Basis).
type Record struct {
	Room       string
	State      State
	Opened     bool
	OpenedAt   time.Time
	ComputedAt time.Time
	// Joined, Skipped and Returned are the room's counters since creation (exact): tickets
	// issued, positions skipped because their visitor was away (or did not take an offer in
	// time), and visitors back within grace who entered the returning lane.
	Joined, Skipped, Returned int64
	// Prequeue is the pre-queue size P (after the opening).
	Prequeue int64
	// Admissions are the admissions in the outcome ledger; LedgerBound its size bound
	// (records beyond it, or older than the ledger's TTL, are gone: Trimmed says it may be so).
	Admissions  int64
	LedgerBound int64
	Trimmed     bool
	// Order: InOrder admissions were let in at their turn (nobody from further back was let in
	// before them by more than the offer window); ReturnedLane came in through the returning
	// lane; Overtaken were let in after someone from further back (expected 0).
	InOrder, ReturnedLane, Overtaken int64
	// OfferWindow is the tolerance of the order check: how long an offer waits for its claim.
	OfferWindow time.Duration
	// Waits is the distribution of waits: from joining (or the opening, for the pre-queue) to
	// being let in.
	Waits Quantiles
	// ETA: of the admissions let in at their turn that were shown an ETA range (the first one
	// shown), how many got in within it, before it, after it.
	ETAJudged, ETAHeld, ETAEarly, ETALate int64
	// Feedback counts the visitors' ratings (Feedback[r], r = 1..5); comments are not public.
	Feedback      [6]int64
	FeedbackTotal int64
}

// Quantiles of a distribution (nearest rank: the smallest value with at least p of the
// values at or below it), in seconds.
type Quantiles struct {
	N                                 int64
	Min, P10, P25, P50, P75, P90, P99 float64
	Max, Mean                         float64
}

// quantiles of xs (sorted in place).
func quantiles(xs []float64) Quantiles {
	q := Quantiles{N: int64(len(xs))}
	if len(xs) == 0 {
		return q
	}
	slices.Sort(xs)
	rank := func(p float64) float64 {
		k := int(math.Ceil(p*float64(len(xs)))) - 1
		return xs[min(max(k, 0), len(xs)-1)]
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	q.Min, q.Max, q.Mean = xs[0], xs[len(xs)-1], sum/float64(len(xs))
	q.P10, q.P25, q.P50, q.P75, q.P90, q.P99 = rank(0.10), rank(0.25), rank(0.50), rank(0.75), rank(0.90), rank(0.99)
	return q
}

// recordPage is the number of ledger records one record_read call returns.
const recordPage = 1000

// recordCacheFor is how long a computed record is served before it is computed again.
const recordCacheFor = 30 * time.Second

type cachedRecord struct {
	mu  sync.Mutex
	at  time.Time
	rec Record
}

// FairnessRecord returns the room's public fairness record, computed at most every 30 s per
// room on this engine (concurrent callers share one computation): it reads the whole outcome
// ledger in pages of 1,000 records, one script call each, and the feedback counts (one more).
func (e *Engine) FairnessRecord(ctx context.Context, room string) (Record, error) {
	r, err := e.roomFor(ctx, room)
	if err != nil {
		return Record{}, err
	}
	v, _ := e.records.LoadOrStore(room, &cachedRecord{})
	c := v.(*cachedRecord)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < recordCacheFor {
		return c.rec, nil
	}
	rec, err := e.computeRecord(ctx, r)
	if err != nil {
		return Record{}, err
	}
	c.rec, c.at = rec, time.Now()
	return rec, nil
}

type admission struct {
	pos, atMs, joinedS int64
	note               string
	returned           bool
}

// computeRecord reads the ledger with the notes and computes the record.
func (e *Engine) computeRecord(ctx context.Context, r *room) (Record, error) {
	s := r.snap.Load()
	k := r.keys
	rec := Record{Room: r.name, State: s.state(r.redisNow()), Opened: s.opened, OpenedAt: s.openedAt,
		Joined: max(s.issued, r.known.Load()), Skipped: s.stats["skipped"], Returned: s.stats["returned"],
		Prequeue: s.pq, LedgerBound: int64(e.cfg.LedgerMax), OfferWindow: s.settings.AbsentAfter}
	seen := map[string]bool{}
	var adms []admission
	var nowMs int64
	for start := int64(0); start < int64(e.cfg.LedgerMax); start += recordPage {
		cctx, cancel := e.callCtx(ctx)
		v, err := recordReadScript.Run(cctx, e.rdb, []string{k.ledger(), k.ledgerIndex(), k.firstETA(), k.returned()},
			start, recordPage).Result()
		cancel()
		if err != nil {
			return Record{}, storeErr("queue: fairness record "+r.name, err)
		}
		a, err := asSlice(v, 2)
		if err != nil || (len(a)-2)%4 != 0 {
			return Record{}, fmt.Errorf("queue: fairness record %s: %w", r.name, replyErr{"record_read: shape"})
		}
		if nowMs, err = asInt(a[0]); err != nil {
			return Record{}, fmt.Errorf("queue: fairness record %s: %w", r.name, err)
		}
		total, _ := asInt(a[1])
		rec.Trimmed = total >= int64(e.cfg.LedgerMax)
		for i := 2; i < len(a); i += 4 {
			id, _ := asString(a[i])
			d, _ := asString(a[i+1])
			note, _ := asString(a[i+2])
			ret, _ := asInt(a[i+3])
			if seen[id] {
				continue // the index moved between two pages
			}
			seen[id] = true
			var j ledgerJSON
			if err := json.Unmarshal([]byte(d), &j); err != nil || j.P < 1 {
				continue
			}
			adms = append(adms, admission{pos: j.P, atMs: j.A, joinedS: j.J, note: note, returned: ret == 1})
		}
		if start+recordPage >= total {
			break
		}
	}
	rec.ComputedAt = timeOfMs(nowMs)
	figure(&rec, adms, msOf(s.openedAt))
	fb, err := e.Feedback(ctx, r.name, 0)
	if err != nil {
		return Record{}, err
	}
	rec.Feedback, rec.FeedbackTotal = fb.Counts, fb.Total
	return rec, nil
}

// figure computes the ledger's figures of rec from its admissions.
func figure(rec *Record, adms []admission, openedMs int64) {
	rec.Admissions = int64(len(adms))
	tol := rec.OfferWindow.Milliseconds()
	// order: walking from the back of the line, minAt is the earliest admission of anyone
	// further back who was let in at their turn
	byPos := slices.Clone(adms)
	slices.SortFunc(byPos, func(a, b admission) int { return compareInt(b.pos, a.pos) })
	minAt := int64(math.MaxInt64)
	judged := map[int64]bool{} // positions let in at their turn
	for i := 0; i < len(byPos); {
		k := i
		for k < len(byPos) && byPos[k].pos == byPos[i].pos {
			k++
		}
		for _, x := range byPos[i:k] {
			switch {
			case x.returned:
				rec.ReturnedLane++
			case minAt < x.atMs-tol:
				rec.Overtaken++
			default:
				rec.InOrder++
				judged[x.pos] = true
			}
		}
		for _, x := range byPos[i:k] {
			if !x.returned {
				minAt = min(minAt, x.atMs)
			}
		}
		i = k
	}
	waits := make([]float64, 0, len(adms))
	for _, x := range adms {
		if x.joinedS > 0 {
			from := max(x.joinedS*1000, openedMs)
			// whole seconds: joining is known to the second (the ticket's issue time)
			waits = append(waits, math.Round(float64(max(x.atMs-from, 0))/1000))
		}
		if at, lo, hi, ok := parseETANote(x.note); ok && judged[x.pos] {
			rec.ETAJudged++
			switch {
			case x.atMs < at+lo*1000:
				rec.ETAEarly++
			case x.atMs < at+(hi+1)*1000:
				rec.ETAHeld++
			default:
				rec.ETALate++
			}
		}
	}
	rec.Waits = quantiles(waits)
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
