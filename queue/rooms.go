package queue

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// EnsureRoom creates the room with settings s (zero fields take DefaultSettings) unless it
// exists, in which case the stored settings win; it returns the settings in force. Creating a
// room draws its pre-queue seed and publishes the seed's SHA-256 (Fairness).
func (e *Engine) EnsureRoom(ctx context.Context, name string, s Settings) (Settings, error) {
	if !ValidRoomName(name) {
		return Settings{}, fmt.Errorf("queue: ensure room %q: %w", name, ErrInvalidRoomName)
	}
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	seed := make([]byte, SeedLen)
	if _, err := rand.Read(seed); err != nil {
		return Settings{}, fmt.Errorf("queue: ensure room %s: seed: %w", name, err)
	}
	sum := sha256.Sum256(seed)
	args := append([]any{e.cfg.RoomTTL.Milliseconds()}, s.fields()...)
	args = append(args, "seed", hex.EncodeToString(seed), "commit", hex.EncodeToString(sum[:]))
	r := e.cached(name)
	if r == nil {
		r = newRoom(e.cfg.Prefix, name)
	}
	cctx, cancel := e.callCtx(ctx)
	v, err := createScript.Run(cctx, e.rdb, []string{r.keys.meta}, args...).Result()
	cancel()
	if err != nil {
		return Settings{}, storeErr("queue: ensure room "+name, err)
	}
	if _, err := asSlice(v, 2); err != nil {
		return Settings{}, fmt.Errorf("queue: ensure room %s: %w", name, err)
	}
	snap, err := e.refresh(ctx, r)
	if err != nil {
		return Settings{}, err
	}
	e.register(r)
	return snap.settings, nil
}

// Settings returns a room's settings: from this engine's cache when the room is loaded here,
// otherwise from one read-only call. It never runs the admission step: reads do not write.
func (e *Engine) Settings(ctx context.Context, room string) (Settings, error) {
	if !ValidRoomName(room) {
		return Settings{}, fmt.Errorf("queue: settings: room %q: %w", room, ErrInvalidRoomName)
	}
	if st, ok := e.CachedSettings(room); ok {
		return st, nil
	}
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	m, err := e.rdb.HGetAll(cctx, newRoomKeys(e.cfg.Prefix, room).meta).Result()
	if err != nil {
		return Settings{}, storeErr("queue: settings "+room, err)
	}
	if len(m) == 0 {
		return Settings{}, fmt.Errorf("queue: settings %s: %w", room, ErrUnknownRoom)
	}
	return settingsFromMeta(m)
}

// CheckPatch reports whether a patch would be accepted on the cached settings: a
// *ValidationError naming every bad field (the same checks UpdateSettings makes), or nil.
func (e *Engine) CheckPatch(room string, p SettingsPatch) error {
	r := e.cached(room)
	if r == nil || r.snap.Load() == nil {
		return fmt.Errorf("queue: check %s: %w", room, ErrUnknownRoom)
	}
	s := r.snap.Load()
	return checkPatch(s.settings, s.opened, p)
}

func checkPatch(cur Settings, opened bool, p SettingsPatch) error {
	var verr ValidationError
	next := cur.apply(p)
	if err := next.Validate(); err != nil {
		verr = *err.(*ValidationError)
	}
	if _, bad := verr.Fields["max_session_seconds"]; bad && p.MaxSession == nil && p.Session != nil {
		// the organiser changed session only: name that field, with the bound it hit
		delete(verr.Fields, "max_session_seconds")
		if _, also := verr.Fields["session_seconds"]; !also {
			verr.Fields["session_seconds"] = fmt.Sprintf("must be at most the room's max_session_seconds, %d", int64(next.MaxSession/time.Second))
		}
	}
	if opened && p.OpensAt != nil && !p.OpensAt.Equal(cur.OpensAt) {
		verr.add("opens_at", "cannot change: the room has opened")
	}
	return verr.orNil()
}

// AuditEntry builds the organisers' audit record of a change from the settings it replaced
// and the settings it wrote (opaque bytes to the queue; JSON by convention).
type AuditEntry func(before, after Settings) []byte

// UpdateSettings applies a patch, validated as a whole (a *ValidationError names every bad
// field), in one atomic script that also records the audit entry built by audit (before and
// after are exactly the versions replaced and written) and announces the change, so every
// replica steps with it at once. ifVersion (0: any) is optimistic concurrency:
// ErrVersionConflict if the settings are no longer at that version. opens_at cannot change
// once the room has opened.
//
// Cost: one round trip when this engine's cache holds the current version, two when another
// replica changed the settings since (the conflict reply carries the current ones).
func (e *Engine) UpdateSettings(ctx context.Context, room string, p SettingsPatch, ifVersion int64, audit AuditEntry) (before, after Settings, err error) {
	r, err := e.roomFor(ctx, room)
	if err != nil {
		return Settings{}, Settings{}, err
	}
	s := r.snap.Load()
	cur, opened := s.settings, s.opened
	for attempt := 0; attempt < 5; attempt++ {
		if ifVersion != 0 && cur.Version != ifVersion {
			return cur, Settings{}, fmt.Errorf("queue: update %s: version %d, current %d: %w", room, ifVersion, cur.Version, ErrVersionConflict)
		}
		if err := checkPatch(cur, opened, p); err != nil {
			return cur, Settings{}, err
		}
		next := cur.apply(p)
		next.Version = cur.Version + 1
		var entry []byte
		if audit != nil {
			entry = audit(cur, next)
		}
		opensChanged := p.OpensAt != nil && !p.OpensAt.Equal(cur.OpensAt)
		args := append([]any{cur.Version, b01(opensChanged), entry, AuditMax, settingsChannel(e.cfg.Prefix), room},
			next.fields()...)
		if p.Remaining != nil { // stock is written only when the organiser sets it (soldout.go)
			args = append(args, "stock", strconv.FormatInt(next.Remaining, 10))
		}
		cctx, cancel := e.callCtx(ctx)
		v, err := updateScript.Run(cctx, e.rdb, []string{r.keys.meta, r.keys.audit}, args...).Result()
		cancel()
		if err != nil {
			return cur, Settings{}, storeErr("queue: update "+room, err)
		}
		a, err := asSlice(v, 1)
		if err != nil {
			return cur, Settings{}, fmt.Errorf("queue: update %s: %w", room, err)
		}
		tag, err := tagOf(a)
		if err != nil {
			return cur, Settings{}, fmt.Errorf("queue: update %s: %w", room, err)
		}
		switch tag {
		case "CONFLICT", "OK":
			if len(a) != 2 {
				return cur, Settings{}, fmt.Errorf("queue: update %s: %w", room, replyErr{"update: length"})
			}
			meta, err := asMap(a[1])
			if err != nil {
				return cur, Settings{}, fmt.Errorf("queue: update %s: %w", room, err)
			}
			got, err := snapshotFromMeta(meta)
			if err != nil {
				return cur, Settings{}, fmt.Errorf("queue: update %s: %w", room, err)
			}
			if tag == "OK" {
				r.installSettings(got.settings)
				return cur, got.settings, nil
			}
			cur, opened = got.settings, got.opened // another replica changed them: re-apply on theirs
		case "OPENED":
			return cur, Settings{}, &ValidationError{Fields: map[string]string{"opens_at": "cannot change: the room has opened"}}
		case "NOROOM":
			if _, err := e.refresh(ctx, r); err != nil { // restores from the cache
				return cur, Settings{}, err
			}
		default:
			return cur, Settings{}, fmt.Errorf("queue: update %s: %w", room, replyErr{"update: " + tag})
		}
	}
	return cur, Settings{}, fmt.Errorf("queue: update %s: too many concurrent changes: %w", room, ErrVersionConflict)
}

// installSettings puts newer settings into the cached snapshot at once (the step that the
// announcement triggers brings the rest).
func (r *room) installSettings(st Settings) {
	for {
		old := r.snap.Load()
		if old == nil || old.settings.Version >= st.Version {
			return
		}
		c := *old
		c.settings = st
		if r.snap.CompareAndSwap(old, &c) {
			return
		}
	}
}

// RoomView is a cached snapshot of a room, for dashboards and the admin API.
type RoomView struct {
	Room     string
	Settings Settings
	// State is the state visitors see now.
	State State
	// Head is the last position reached; Issued the last ticket number; Prequeue the
	// pre-queue size P (known once opened).
	Head, Issued, Prequeue int64
	Opened                 bool
	OpenedAt               time.Time
	// Waiting counts tickets not yet reached plus returning visitors.
	Waiting, Active, Offers, Returning, Skipped int64
	AdmitRatePerMinute                          float64
	// StoreOK is false when the cache missed several refreshes.
	StoreOK   bool
	UpdatedAt time.Time
}

// View returns the cached snapshot of a room; false if the room is not known here.
func (e *Engine) View(room string) (RoomView, bool) {
	r := e.cached(room)
	if r == nil {
		return RoomView{}, false
	}
	s := r.snap.Load()
	if s == nil {
		return RoomView{}, false
	}
	rate, _ := r.admitRate()
	issued := max(s.issued, r.known.Load()) // as Stats: joins made here since the last step count at once
	return RoomView{
		Room:               room,
		Settings:           s.settings,
		State:              s.state(r.redisNow()),
		Head:               s.head,
		Issued:             issued,
		Prequeue:           s.pq,
		Opened:             s.opened,
		OpenedAt:           s.openedAt,
		Waiting:            max(0, issued-s.head) + s.returning,
		Active:             s.active,
		Offers:             s.offers,
		Returning:          s.returning,
		Skipped:            s.skipped,
		AdmitRatePerMinute: rate,
		StoreOK:            !e.stale(r, s),
		UpdatedAt:          s.fetched,
	}, true
}

// Stats are a room's counters since creation (Active and Offers are current).
type Stats struct {
	Joined, Waiting, Admitted, Skipped, Returned, Active, Offers int64
	// Released counts ended leases by outcome; "expired" counts leases that timed out.
	Released map[Outcome]int64
	// AdmitRatePerMinute is measured over the last minute (0 until 5 s of data).
	AdmitRatePerMinute float64
	// Reentry counts second chances (reentry.go).
	Reentry ReentryStats
}

// OutcomeExpired counts leases that ended by timing out (Stats.Released only).
const OutcomeExpired Outcome = "expired"

// Stats returns the room's counters from the cache (loading the room if needed).
func (e *Engine) Stats(ctx context.Context, room string) (Stats, error) {
	r, err := e.roomFor(ctx, room)
	if err != nil {
		return Stats{}, err
	}
	s := r.snap.Load()
	rate, _ := r.admitRate()
	issued := max(s.issued, r.known.Load()) // joins made here since the last step count at once
	st := Stats{
		Joined:             issued,
		Waiting:            max(0, issued-s.head) + s.returning,
		Admitted:           s.stats["admitted"],
		Skipped:            s.stats["skipped"],
		Returned:           s.stats["returned"],
		Active:             s.active,
		Offers:             s.offers,
		Released:           map[Outcome]int64{},
		AdmitRatePerMinute: rate,
		Reentry:            reentryStats(s),
	}
	for _, o := range []Outcome{OutcomeBooked, OutcomeAbandoned, OutcomeFailed, OutcomeExpired} {
		st.Released[o] = s.stats["released:"+string(o)]
	}
	return st, nil
}

// Fairness is what a visitor needs to check the pre-queue shuffle.
type Fairness struct {
	Room string
	// Commitment is hex SHA-256 of the seed, published from the room's creation.
	Commitment string
	// Algorithm names the permutation (see VerifyPrequeuePlace).
	Algorithm string
	OpensAt   time.Time
	Opened    bool
	// Seed (hex) and PrequeueSize (P) are revealed once the room has opened.
	Seed         string
	PrequeueSize int64
}

// FairnessAlgorithm describes the pre-queue permutation.
const FairnessAlgorithm = "foyer-prequeue-v1: Feistel, 6 rounds, AES-256 round function keyed by SHA-256(\"foyer-prequeue-v1\" || seed), cycle-walking on 1..P"

// Fairness returns the room's seed commitment and, after opening, the seed and P.
func (e *Engine) Fairness(room string) (Fairness, error) {
	if !ValidRoomName(room) {
		return Fairness{}, fmt.Errorf("queue: fairness: room %q: %w", room, ErrInvalidRoomName)
	}
	r := e.cached(room)
	if r == nil || r.snap.Load() == nil {
		return Fairness{}, fmt.Errorf("queue: fairness %s: %w", room, ErrUnknownRoom)
	}
	s := r.snap.Load()
	f := Fairness{Room: room, Commitment: s.commitment, Algorithm: FairnessAlgorithm,
		OpensAt: s.settings.OpensAt, Opened: s.opened}
	if s.opened {
		f.Seed = hex.EncodeToString(s.seed)
		f.PrequeueSize = s.pq
	}
	return f, nil
}

// CachedSettings returns a room's settings from this engine's cache (at most a step old, and
// refreshed right after any change is announced) with no Redis call; false if the room is not
// loaded here. This is what every per-request decision reads.
func (e *Engine) CachedSettings(room string) (Settings, bool) {
	r := e.cached(room)
	if r == nil {
		return Settings{}, false
	}
	s := r.snap.Load()
	if s == nil {
		return Settings{}, false
	}
	return s.settings, true
}
