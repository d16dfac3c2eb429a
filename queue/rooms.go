package queue

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// EnsureRoom creates the room with settings s (zero fields take DefaultSettings) unless it
// exists, in which case the stored settings win; it returns the settings in force. Creating a
// room draws its pre-queue seed and publishes the seed's SHA-256 (Fairness).
func (e *Engine) EnsureRoom(ctx context.Context, name string, s Settings) (Settings, error) {
	if !ValidRoomName(name) {
		return Settings{}, fmt.Errorf("queue: ensure room %q: %w", name, ErrInvalidRoomName)
	}
	s = s.withDefaults()
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

// Settings reads a room's settings from Redis (and refreshes the cache).
func (e *Engine) Settings(ctx context.Context, room string) (Settings, error) {
	r, err := e.roomFor(ctx, room)
	if err != nil {
		return Settings{}, err
	}
	s, err := e.refresh(ctx, r)
	if err != nil {
		return Settings{}, err
	}
	return s.settings, nil
}

// UpdateSettings applies a patch if the settings' version is ifVersion (0: any), validating
// the result as a whole (a *ValidationError names every bad field), and announces the change
// so every replica sees it within a second. ErrVersionConflict if ifVersion is stale.
// opens_at cannot change once the room has opened.
func (e *Engine) UpdateSettings(ctx context.Context, room string, p SettingsPatch, ifVersion int64) (Settings, error) {
	r, err := e.roomFor(ctx, room)
	if err != nil {
		return Settings{}, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := e.refresh(ctx, r)
		if err != nil {
			return Settings{}, err
		}
		if ifVersion != 0 && cur.settings.Version != ifVersion {
			return Settings{}, fmt.Errorf("queue: update %s: version %d, current %d: %w", room, ifVersion, cur.settings.Version, ErrVersionConflict)
		}
		next := cur.settings.apply(p)
		opensChanged := p.OpensAt != nil && !p.OpensAt.Equal(cur.settings.OpensAt)
		var verr ValidationError
		if err := next.Validate(); err != nil {
			verr = *err.(*ValidationError)
		}
		if opensChanged && cur.opened {
			verr.add("opens_at", "cannot change: the room has opened")
		}
		if err := verr.orNil(); err != nil {
			return Settings{}, err
		}
		args := append([]any{cur.settings.Version, b01(opensChanged)}, next.fields()...)
		cctx, cancel := e.callCtx(ctx)
		v, err := updateScript.Run(cctx, e.rdb, []string{r.keys.meta}, args...).Result()
		cancel()
		if err != nil {
			return Settings{}, storeErr("queue: update "+room, err)
		}
		a, err := asSlice(v, 1)
		if err != nil {
			return Settings{}, fmt.Errorf("queue: update %s: %w", room, err)
		}
		tag, err := tagOf(a)
		if err != nil {
			return Settings{}, fmt.Errorf("queue: update %s: %w", room, err)
		}
		switch tag {
		case "CONFLICT":
			if ifVersion != 0 {
				return Settings{}, fmt.Errorf("queue: update %s: %w", room, ErrVersionConflict)
			}
			continue // someone else changed other fields meanwhile: re-apply on theirs
		case "OPENED":
			return Settings{}, &ValidationError{Fields: map[string]string{"opens_at": "cannot change: the room has opened"}}
		case "NOROOM":
			if _, err := e.refresh(ctx, r); err != nil { // restores from the cache
				return Settings{}, err
			}
			continue
		case "OK":
		default:
			return Settings{}, fmt.Errorf("queue: update %s: %w", room, replyErr{"update: " + tag})
		}
		cctx, cancel = e.callCtx(ctx)
		if err := e.rdb.Publish(cctx, settingsChannel(e.cfg.Prefix), room).Err(); err != nil {
			e.log.Warn().Str("room", room).Err(err).Msg("settings change not announced; replicas see it at their next step")
		}
		cancel()
		s, err := e.refresh(ctx, r)
		if err != nil {
			return Settings{}, err
		}
		return s.settings, nil
	}
	return Settings{}, fmt.Errorf("queue: update %s: too many concurrent changes: %w", room, ErrVersionConflict)
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
	return RoomView{
		Room:               room,
		Settings:           s.settings,
		State:              s.state(r.redisNow()),
		Head:               s.head,
		Issued:             s.issued,
		Prequeue:           s.pq,
		Opened:             s.opened,
		OpenedAt:           s.openedAt,
		Waiting:            max(0, s.issued-s.head) + s.returning,
		Active:             s.active,
		Offers:             s.offers,
		Returning:          s.returning,
		Skipped:            s.skipped,
		AdmitRatePerMinute: rate,
		StoreOK:            !e.stale(s),
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
	st := Stats{
		Joined:             s.issued,
		Waiting:            max(0, s.issued-s.head) + s.returning,
		Admitted:           s.stats["admitted"],
		Skipped:            s.stats["skipped"],
		Returned:           s.stats["returned"],
		Active:             s.active,
		Offers:             s.offers,
		Released:           map[Outcome]int64{},
		AdmitRatePerMinute: rate,
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
