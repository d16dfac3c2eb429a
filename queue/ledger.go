package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The outcome ledger (issue 14) keeps one record per admission: who (an opaque visitor id),
// which lease, when they were admitted and their session ended, the outcome the backend
// reported, and in proxy mode what foyer saw of the backend on the paths the organiser marked
// (payment, confirm): response classes, timeouts and the backend's order reference. From it
// foyer flags the visitors who were charged but not booked (Flagged), the refund list.
//
// Storage: per room, a hash lease id -> JSON record, a sorted set indexing it by admission
// time and a sorted set of the leases "at risk" (payment succeeded, no confirmation yet, not
// resolved). Bounded by Config.LedgerTTL (every key's TTL, refreshed by each admission, and
// records older than it trimmed) and Config.LedgerMax records per room (the oldest trimmed).
// Cost per admission: one script call at the claim (ledger_admit.lua) and one at the release
// (ledger_end.lua); observations cost one call per response on a marked path. An admission
// whose lease expires gets no write: "expired" is derived when the ledger is read (no outcome
// and the lease gone).

var (
	ledgerAdmitScript   = mustScript("ledger_admit")
	ledgerEndScript     = mustScript("ledger_end")
	ledgerObserveScript = mustScript("ledger_observe")
	ledgerResolveScript = mustScript("ledger_resolve")
	ledgerReadScript    = mustScript("ledger_read")
)

func init() {
	allScripts = append(allScripts, ledgerAdmitScript, ledgerEndScript, ledgerObserveScript,
		ledgerResolveScript, ledgerReadScript)
}

// Ledger bounds' defaults.
const (
	DefaultLedgerTTL = 30 * 24 * time.Hour
	DefaultLedgerMax = 200_000
)

// Observed counts responses by class: "2xx", "3xx", "4xx", "5xx", "timeout", "error".
type Observed map[string]int64

// failedNotOK reports whether any response failed and none succeeded.
func (o Observed) failedNotOK() (string, bool) {
	if o["2xx"] > 0 {
		return "", false
	}
	switch {
	case o["timeout"] > 0:
		return "timeout", true
	case o["5xx"] > 0 || o["error"] > 0:
		return "error", true
	case o["4xx"] > 0:
		return "refused", true
	}
	return "", false
}

// Flag reasons: why an admission is on the refund list.
const (
	// FlagConfirmFailed: the payment succeeded, the confirmation answered an error (and no
	// confirmation succeeded).
	FlagConfirmFailed = "confirm_failed"
	// FlagConfirmTimeout: the payment succeeded, the confirmation timed out.
	FlagConfirmTimeout = "confirm_timeout"
	// FlagNoConfirm: the payment succeeded and the session ended with no confirmation.
	FlagNoConfirm = "no_confirmation"
	// FlagFailedAfterPayment: the backend reported failed after a successful payment.
	FlagFailedAfterPayment = "failed_after_payment"
)

// LedgerRecord is one admission in the outcome ledger.
type LedgerRecord struct {
	Room    string
	Visitor string
	Lease   string
	// Position is the admission's place in the room's order.
	Position   int64
	AdmittedAt time.Time
	// SessionEnd is when the backend released the lease, or the lease's expiry (the current
	// one while it is alive; for an expired lease, the expiry known at its last write).
	SessionEnd time.Time
	// Outcome is booked, failed, abandoned (reported), expired (no report), or "" while the
	// session is alive.
	Outcome Outcome
	// Payment and Confirm are the backend's responses seen on the marked paths (proxy mode).
	Payment, Confirm Observed
	// PaidAt is the first successful payment response.
	PaidAt time.Time
	// OrderRef is the backend's order reference, from the configured response header.
	OrderRef string
	// Flag is why the admission is on the refund list ("" if it is not).
	Flag string
	// Resolution, ResolvedBy, ResolvedAt: an organiser's handling of a flagged admission.
	Resolution string
	ResolvedBy string
	ResolvedAt time.Time
	// ReentryGrantedBy says who granted this admission's visitor a second chance
	// (ReentryByBackend or ReentryByEvidence; "" if none), ReentryGrantedAt when, ReentryUntil
	// until when a backend's grant may be used, ReentryUsedAt when the visitor came back for
	// it. ReentryOf, in a re-entry's own record, is the failed admission's lease.
	ReentryGrantedBy               string
	ReentryGrantedAt, ReentryUntil time.Time
	ReentryUsedAt                  time.Time
	ReentryOf                      string
}

// ledgerJSON is the record's stored form (short keys: it is kept per admission).
type ledgerJSON struct {
	V   string   `json:"v"`
	P   int64    `json:"p"`
	A   int64    `json:"a"`
	X   int64    `json:"x"`
	E   int64    `json:"e,omitempty"`
	O   string   `json:"o,omitempty"`
	Pay Observed `json:"pay,omitempty"`
	Con Observed `json:"conf,omitempty"`
	Pat int64    `json:"pat,omitempty"`
	Cok int64    `json:"cok,omitempty"`
	Ref string   `json:"ref,omitempty"`
	Res string   `json:"res,omitempty"`
	Rby string   `json:"rby,omitempty"`
	Rat int64    `json:"rat,omitempty"`
	// second chance (reentry.go): granted by, granted at, grant valid until, used at; and, in
	// a re-entry's own record, the lease of the failed admission it replaces
	Rg  string `json:"rg,omitempty"`
	Rga int64  `json:"rga,omitempty"`
	Rgu int64  `json:"rgu,omitempty"`
	Ru  int64  `json:"ru,omitempty"`
	Re  string `json:"re,omitempty"`
	J   int64  `json:"j,omitempty"` // joined: the ticket's issue time, unix s (fairness record)
}

// UnmarshalJSON accepts Lua's cjson form of an empty table ({} or []).
func (o *Observed) UnmarshalJSON(b []byte) error {
	if string(b) == "[]" {
		*o = nil
		return nil
	}
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*o = m
	return nil
}

// ledgerAdmit records a new lease in the ledger (idempotent). A failure is logged, not
// returned: the visitor's admission must not fail for want of its record.
func (e *Engine) ledgerAdmit(ctx context.Context, r *room, l Lease, joined time.Time) {
	if l.Unbacked {
		return
	}
	rec, _ := json.Marshal(ledgerJSON{V: l.Visitor, P: l.Position, A: l.IssuedAt.UnixMilli(), X: l.ExpiresAt.UnixMilli(),
		Re: l.ReentryOf, J: max(joined.Unix(), 0)})
	k := r.keys
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	err := ledgerAdmitScript.Run(cctx, e.rdb, []string{k.ledger(), k.ledgerIndex(), k.ledgerRisk()},
		l.JTI, rec, l.IssuedAt.UnixMilli(), e.cfg.LedgerTTL.Milliseconds(), e.cfg.LedgerMax).Err()
	if err != nil {
		r.logErr(e.log, "ledger admit", err)
	}
}

// ledgerEnd records a release's outcome (logged, not returned: the slot is already free).
func (e *Engine) ledgerEnd(ctx context.Context, room, jti string, o Outcome) {
	k := newRoomKeys(e.cfg.Prefix, room)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	if err := ledgerEndScript.Run(cctx, e.rdb, []string{k.ledger(), k.ledgerRisk(), k.reentry(), k.meta, k.stats},
		jti, string(o), e.cfg.RoomTTL.Milliseconds()).Err(); err != nil {
		e.log.Warn().Err(err).Str("room", room).Msg("ledger end")
	}
}

// Observation kinds: the organiser's marked paths.
const (
	ObservePayment = "pay"
	ObserveConfirm = "conf"
)

var observeClasses = map[string]bool{"2xx": true, "3xx": true, "4xx": true, "5xx": true, "timeout": true, "error": true}

// maxOrderRef bounds a stored order reference.
const maxOrderRef = 128

// Observe records what foyer saw of the backend for one admission (proxy mode): a response of
// class (2xx, 3xx, 4xx, 5xx, timeout, error) on a payment or confirm path (ObservePayment,
// ObserveConfirm), with the backend's order reference if it sent one. One script call.
func (e *Engine) Observe(ctx context.Context, room, jti, kind, class, orderRef string) error {
	if !ValidRoomName(room) {
		return fmt.Errorf("queue: observe: room %q: %w", room, ErrInvalidRoomName)
	}
	if (kind != ObservePayment && kind != ObserveConfirm) || !observeClasses[class] || !validJTI(jti) {
		return fmt.Errorf("queue: observe %s: kind %q class %q: %w", room, kind, class, ErrInvalidObservation)
	}
	if len(orderRef) > maxOrderRef {
		orderRef = orderRef[:maxOrderRef]
	}
	k := newRoomKeys(e.cfg.Prefix, room)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	if err := ledgerObserveScript.Run(cctx, e.rdb, []string{k.ledger(), k.ledgerRisk(), k.reentry()},
		jti, kind, class, orderRef, e.cfg.RoomTTL.Milliseconds()).Err(); err != nil {
		return storeErr("queue: observe "+room, err)
	}
	return nil
}

// ErrInvalidObservation means Observe got an unknown kind or class, or a malformed lease id.
var ErrInvalidObservation = errors.New("queue: invalid observation")

// ErrNotFlagged means a resolution named an admission that is not in the ledger.
var ErrNotFlagged = errors.New("queue: no such admission in the ledger")

// ErrAlreadyResolved means the admission was marked resolved before.
var ErrAlreadyResolved = errors.New("queue: already resolved")

// Resolutions of a flagged admission.
const (
	ResolutionRefunded     = "refunded"
	ResolutionBookedByHand = "booked_by_hand"
)

// maxLedgerRead bounds one read of the ledger.
const maxLedgerRead = 10_000

// Flagged lists the room's admissions that were charged but not booked, oldest payment first
// (at most limit): the payment succeeded, and the confirmation failed or timed out, or the
// session ended with no confirmation, or the backend reported failed. Admissions still inside
// with a payment and no confirmation yet are not flagged (they may still confirm). One call.
func (e *Engine) Flagged(ctx context.Context, room string, limit int) ([]LedgerRecord, error) {
	recs, err := e.ledgerRead(ctx, room, "risk", limit)
	if err != nil {
		return nil, err
	}
	out := recs[:0]
	for _, r := range recs {
		if r.Flag != "" {
			out = append(out, r)
		}
	}
	return out, nil
}

// Ledger returns the room's newest ledger records (at most limit), newest first. One call.
func (e *Engine) Ledger(ctx context.Context, room string, limit int) ([]LedgerRecord, error) {
	return e.ledgerRead(ctx, room, "all", limit)
}

func (e *Engine) ledgerRead(ctx context.Context, room, which string, limit int) ([]LedgerRecord, error) {
	if !ValidRoomName(room) {
		return nil, fmt.Errorf("queue: ledger: room %q: %w", room, ErrInvalidRoomName)
	}
	limit = max(1, min(limit, maxLedgerRead))
	k := newRoomKeys(e.cfg.Prefix, room)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	v, err := ledgerReadScript.Run(cctx, e.rdb, []string{k.ledger(), k.ledgerIndex(), k.ledgerRisk(), k.leases}, which, limit).Result()
	if err != nil {
		return nil, storeErr("queue: ledger "+room, err)
	}
	a, err := asSlice(v, 1)
	if err != nil || (len(a)-1)%3 != 0 {
		return nil, fmt.Errorf("queue: ledger %s: %w", room, replyErr{"ledger_read: shape"})
	}
	now, err := asInt(a[0])
	if err != nil {
		return nil, fmt.Errorf("queue: ledger %s: %w", room, err)
	}
	out := make([]LedgerRecord, 0, (len(a)-1)/3)
	for i := 1; i < len(a); i += 3 {
		id, err1 := asString(a[i])
		d, err2 := asString(a[i+1])
		exp, err3 := asInt(a[i+2])
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("queue: ledger %s: %w", room, err)
		}
		r, err := decodeLedger(room, id, d, exp, now)
		if err != nil {
			return nil, fmt.Errorf("queue: ledger %s: %w", room, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// decodeLedger builds a record from its stored JSON, whether its lease is alive (expiry ms,
// or -1 when gone) and Redis's time, and decides its flag.
func decodeLedger(room, id, d string, exp, now int64) (LedgerRecord, error) {
	var j ledgerJSON
	if err := json.Unmarshal([]byte(d), &j); err != nil {
		return LedgerRecord{}, fmt.Errorf("record %s: %w", id, err)
	}
	r := LedgerRecord{Room: room, Visitor: j.V, Lease: id, Position: j.P, AdmittedAt: timeOfMs(j.A),
		Outcome: Outcome(j.O), Payment: j.Pay, Confirm: j.Con, PaidAt: timeOfMs(j.Pat), OrderRef: j.Ref,
		Resolution: j.Res, ResolvedBy: j.Rby, ResolvedAt: timeOfMs(j.Rat),
		ReentryGrantedBy: j.Rg, ReentryGrantedAt: timeOfMs(j.Rga), ReentryUntil: timeOfMs(j.Rgu),
		ReentryUsedAt: timeOfMs(j.Ru), ReentryOf: j.Re}
	alive := exp > now && r.Outcome == ""
	switch {
	case j.E > 0:
		r.SessionEnd = timeOfMs(j.E)
	case alive:
		r.SessionEnd = timeOfMs(exp)
	default:
		r.SessionEnd = timeOfMs(j.X)
	}
	if r.Outcome == "" && !alive {
		r.Outcome = OutcomeExpired
	}
	r.Flag = flagOf(j, alive)
	return r, nil
}

// flagOf decides whether a record is charged-but-not-booked.
func flagOf(j ledgerJSON, alive bool) string {
	if j.Pat == 0 || j.Cok != 0 || j.O == string(OutcomeBooked) || j.Res != "" {
		return ""
	}
	if why, bad := j.Con.failedNotOK(); bad {
		if why == "timeout" {
			return FlagConfirmTimeout
		}
		return FlagConfirmFailed
	}
	if j.O == string(OutcomeFailed) {
		return FlagFailedAfterPayment
	}
	if !alive {
		return FlagNoConfirm
	}
	return ""
}

// Resolve marks a flagged admission resolved (ResolutionRefunded or ResolutionBookedByHand)
// by actor, writing the audit entry built by audit in the same atomic call; the admission
// leaves the refund list. ErrNotFlagged if there is no such record, ErrAlreadyResolved if it
// was resolved before (the record is returned).
func (e *Engine) Resolve(ctx context.Context, room, jti, resolution, actor string, audit func(LedgerRecord) []byte) (LedgerRecord, error) {
	if !ValidRoomName(room) {
		return LedgerRecord{}, fmt.Errorf("queue: resolve: room %q: %w", room, ErrInvalidRoomName)
	}
	if resolution != ResolutionRefunded && resolution != ResolutionBookedByHand {
		return LedgerRecord{}, &ValidationError{Fields: map[string]string{"resolution": "must be refunded or booked_by_hand"}}
	}
	if !validJTI(jti) {
		return LedgerRecord{}, fmt.Errorf("queue: resolve %s: %w", room, ErrNotFlagged)
	}
	k := newRoomKeys(e.cfg.Prefix, room)
	// the audit entry describes the record as resolved: build it from the current record
	cur, err := e.ledgerOne(ctx, room, jti)
	if err != nil {
		return LedgerRecord{}, err
	}
	cur.Resolution, cur.ResolvedBy = resolution, actor
	var entry []byte
	if audit != nil {
		entry = audit(cur)
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	v, err := ledgerResolveScript.Run(cctx, e.rdb, []string{k.ledger(), k.ledgerRisk(), k.audit},
		jti, resolution, actor, entry, AuditMax).Result()
	if err != nil {
		return LedgerRecord{}, storeErr("queue: resolve "+room, err)
	}
	a, err := asSlice(v, 1)
	if err != nil {
		return LedgerRecord{}, fmt.Errorf("queue: resolve %s: %w", room, err)
	}
	tag, err := tagOf(a)
	if err != nil {
		return LedgerRecord{}, fmt.Errorf("queue: resolve %s: %w", room, err)
	}
	switch tag {
	case "NONE":
		return LedgerRecord{}, fmt.Errorf("queue: resolve %s: %w", room, ErrNotFlagged)
	case "OK", "RESOLVED":
		d, err := asString(a[len(a)-1])
		if err != nil {
			return LedgerRecord{}, fmt.Errorf("queue: resolve %s: %w", room, err)
		}
		r, err := decodeLedger(room, jti, d, -1, 0)
		if err != nil {
			return LedgerRecord{}, fmt.Errorf("queue: resolve %s: %w", room, err)
		}
		if tag == "RESOLVED" {
			return r, fmt.Errorf("queue: resolve %s: %w", room, ErrAlreadyResolved)
		}
		return r, nil
	}
	return LedgerRecord{}, fmt.Errorf("queue: resolve %s: %w", room, replyErr{"ledger_resolve: " + tag})
}

// ledgerOne reads one record (a plain HGET: reads do not need a script).
func (e *Engine) ledgerOne(ctx context.Context, room, jti string) (LedgerRecord, error) {
	k := newRoomKeys(e.cfg.Prefix, room)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	d, err := e.rdb.HGet(cctx, k.ledger(), jti).Result()
	if errors.Is(err, redis.Nil) {
		return LedgerRecord{}, fmt.Errorf("queue: resolve %s: %w", room, ErrNotFlagged)
	}
	if err != nil {
		return LedgerRecord{}, storeErr("queue: ledger "+room, err)
	}
	return decodeLedger(room, jti, d, -1, 0)
}
