package queue

import (
	"fmt"
	"strconv"
	"time"
)

// State is a room's state as visitors see it.
type State string

// Room states. A room's stored state is one of open, paused, closed (set by the organiser); the
// state shown is derived from it and the schedule: scheduled before PrequeueOpensAt, prequeue
// until OpensAt, then open.
const (
	StateScheduled State = "scheduled"
	StatePrequeue  State = "prequeue"
	StateOpen      State = "open"
	StatePaused    State = "paused"
	StateClosed    State = "closed"
	// StateSoldOut is shown while the stock reported for the room (Settings.Remaining) is 0:
	// nobody is admitted, and waiting visitors are told at once (see soldout.go).
	StateSoldOut State = "sold_out"
)

// Settings are a room's runtime settings, kept in Redis with a version.
type Settings struct {
	// RatePerMinute is the admission pace.
	RatePerMinute int
	// MaxActive caps admitted sessions alive at once (offers waiting to be claimed included).
	MaxActive int
	// Session is a lease's length; Extend slides it, up to MaxSession after the claim.
	Session    time.Duration
	MaxSession time.Duration
	// AbsentAfter is how long without a poll makes a visitor absent; it is also how long an
	// admitted visitor has to claim. Visitors should poll at most every AbsentAfter/3.
	AbsentAfter time.Duration
	// Grace is how long a skipped visitor may come back and be let in ahead of the line.
	Grace time.Duration
	// OpensAt is when the line opens and the pre-queue is shuffled; zero means at creation.
	OpensAt time.Time
	// PrequeueOpensAt is when joining starts; zero means at creation.
	PrequeueOpensAt time.Time
	// State is the organiser's switch: open (follow the schedule), paused or closed.
	State State
	// QueueAll turns off passthrough: every visitor waits for an admission step, even with no line.
	QueueAll bool
	// OnStoreError is "closed" (default: no one new is admitted while Redis is down) or "open".
	OnStoreError string
	// Remaining is the stock left as last reported by the backend (Engine.ReportStock) or an
	// organiser (a patch); RemainingUnknown (-1) when nobody reported any, 0 means sold out.
	// It is read from the store but never part of a settings write unless a patch sets it, so
	// changing another setting cannot overwrite a newer report (see soldout.go).
	Remaining int64
	// CapFollowsStock makes the cap min(MaxActive, Remaining) while Remaining is known.
	CapFollowsStock bool
	// PoWMode is the proof-of-work on join: "auto" (default: nobody solves anything until an
	// address passes its join allowance, fleet-wide, or the room its join pressure), "on"
	// (every join pays) or "off" (past the allowance an address is refused with 429).
	PoWMode string
	// PoWDifficulty is the base difficulty in leading zero bits (default 18: about a second of
	// a mid-range phone's JavaScript), raised under pressure.
	PoWDifficulty int
	// ReentryShare is the share of the rate (0..1) that re-entries may use: a visitor whose
	// booking failed (the backend reported failed, or foyer's ledger flagged it charged but not
	// booked) goes back in from the re-entry lane, ahead of the line, once per admission
	// (reentry.go). 0 turns re-entry off. Its zero value is meaningful, so WithDefaults keeps
	// it: DefaultSettings and a room's configuration set DefaultReentryShare.
	ReentryShare float64
	// Version increases with every change.
	Version int64
}

// SettingsPatch is a partial settings change; nil fields are kept.
type SettingsPatch struct {
	RatePerMinute   *int
	MaxActive       *int
	Session         *time.Duration
	MaxSession      *time.Duration
	AbsentAfter     *time.Duration
	Grace           *time.Duration
	OpensAt         *time.Time
	PrequeueOpensAt *time.Time
	State           *State
	QueueAll        *bool
	OnStoreError    *string
	Remaining       *int64
	CapFollowsStock *bool
	PoWMode         *string
	PoWDifficulty   *int
	ReentryShare    *float64
}

// Setting bounds.
const (
	MaxRatePerMinute = 10_000_000
	MaxMaxActive     = 10_000_000
	// MaxRemaining bounds a reported stock.
	MaxRemaining = 1_000_000_000
	// MinPoWDifficulty and MaxPoWDifficulty bound PoWDifficulty (leading zero bits).
	MinPoWDifficulty = 8
	MaxPoWDifficulty = 32
)

// Proof-of-work modes (Settings.PoWMode).
const (
	PoWOff  = "off"
	PoWAuto = "auto"
	PoWOn   = "on"
)

// DefaultSettings are the one set of defaults of a room's rules: zero fields of a room's
// configuration, of EnsureRoom's settings and of a restore take these.
//
// AbsentAfter and Grace follow how phones really behave (see docs/queue.md): iOS Safari
// suspends a page's JavaScript about 3 s after the screen locks and Chrome wakes a hidden tab's
// timers at most once a minute after 5 minutes, so a visitor who is still there may go a minute
// or more without a poll. Two minutes without a poll before a turn is skipped tolerates a missed
// once-a-minute wake-up; thirty minutes of grace keeps the place of a phone locked for the
// 1-10 minutes typical of a long line.
func DefaultSettings() Settings {
	return Settings{
		RatePerMinute: 60,
		MaxActive:     100,
		Session:       10 * time.Minute,
		MaxSession:    30 * time.Minute,
		AbsentAfter:   2 * time.Minute,
		Grace:         30 * time.Minute,
		State:         StateOpen,
		OnStoreError:  "closed",
		Remaining:     RemainingUnknown,
		PoWMode:       PoWAuto,
		PoWDifficulty: 18,
		ReentryShare:  DefaultReentryShare,
	}
}

// WithDefaults returns s with every zero field set from DefaultSettings (MaxSession defaults
// to the larger of the default and Session), except Remaining and ReentryShare, whose zero
// values mean sold out and re-entry off. The stored state open stands for scheduled and
// prequeue too: those are derived from the schedule.
func (s Settings) WithDefaults() Settings {
	d := DefaultSettings()
	if s.RatePerMinute == 0 {
		s.RatePerMinute = d.RatePerMinute
	}
	if s.MaxActive == 0 {
		s.MaxActive = d.MaxActive
	}
	if s.Session == 0 {
		s.Session = d.Session
	}
	if s.MaxSession == 0 {
		s.MaxSession = max(d.MaxSession, s.Session)
	}
	if s.AbsentAfter == 0 {
		s.AbsentAfter = d.AbsentAfter
	}
	if s.Grace == 0 {
		s.Grace = d.Grace
	}
	if s.State == "" || s.State == StateScheduled || s.State == StatePrequeue {
		s.State = StateOpen
	}
	if s.OnStoreError == "" {
		s.OnStoreError = d.OnStoreError
	}
	if s.PoWMode == "" {
		s.PoWMode = d.PoWMode
	}
	if s.PoWDifficulty == 0 {
		s.PoWDifficulty = d.PoWDifficulty
	}
	return s
}

// Validate reports every invalid field at once as a *ValidationError.
func (s Settings) Validate() error {
	var v ValidationError
	if s.RatePerMinute < 1 || s.RatePerMinute > MaxRatePerMinute {
		v.add("rate_per_minute", fmt.Sprintf("must be between 1 and %d", MaxRatePerMinute))
	}
	if s.MaxActive < 1 || s.MaxActive > MaxMaxActive {
		v.add("max_active", fmt.Sprintf("must be between 1 and %d", MaxMaxActive))
	}
	if s.Session < 10*time.Second || s.Session > 24*time.Hour || s.Session%time.Second != 0 {
		v.add("session_seconds", "must be whole seconds between 10 and 86400")
	}
	if s.MaxSession < s.Session || s.MaxSession > 7*24*time.Hour || s.MaxSession%time.Second != 0 {
		v.add("max_session_seconds", "must be whole seconds, at least session_seconds and at most 7 days")
	}
	if s.AbsentAfter < time.Second || s.AbsentAfter > time.Hour || s.AbsentAfter%time.Millisecond != 0 {
		v.add("absent_after_seconds", "must be between 1 second and 1 hour")
	}
	if s.Grace < 0 || s.Grace > 24*time.Hour {
		v.add("grace_seconds", "must be between 0 and 24 hours")
	}
	if !s.OpensAt.IsZero() && (s.OpensAt.Year() < 2000 || s.OpensAt.Year() > 9999) {
		v.add("opens_at", "must be a date between 2000 and 9999")
	}
	if !s.PrequeueOpensAt.IsZero() {
		if s.PrequeueOpensAt.Year() < 2000 || s.PrequeueOpensAt.Year() > 9999 {
			v.add("prequeue_opens_at", "must be a date between 2000 and 9999")
		} else if !s.OpensAt.IsZero() && s.PrequeueOpensAt.After(s.OpensAt) {
			v.add("prequeue_opens_at", "must not be after opens_at")
		}
	}
	switch s.State {
	case StateOpen, StatePaused, StateClosed:
	default:
		v.add("state", "must be one of open, paused, closed")
	}
	if s.OnStoreError != "closed" && s.OnStoreError != "open" {
		v.add("on_store_error", "must be closed or open")
	}
	if s.Remaining < RemainingUnknown || s.Remaining > MaxRemaining {
		v.add("remaining", fmt.Sprintf("must be between 0 and %d (or null: unknown)", MaxRemaining))
	}
	if s.PoWMode != PoWOff && s.PoWMode != PoWAuto && s.PoWMode != PoWOn {
		v.add("proof_of_work", "must be off, auto or on")
	}
	if s.PoWDifficulty < MinPoWDifficulty || s.PoWDifficulty > MaxPoWDifficulty {
		v.add("pow_difficulty", fmt.Sprintf("must be between %d and %d", MinPoWDifficulty, MaxPoWDifficulty))
	}
	if !(s.ReentryShare >= 0 && s.ReentryShare <= 1) { // also refuses NaN
		v.add("reentry_share", "must be between 0 (off) and 1")
	}
	return v.orNil()
}

// SettingDiff is one field whose value differs between two settings, named by its
// Validate/admin API field name, with both values as text.
type SettingDiff struct {
	Field      string
	Want, Have string
}

// Diff lists the organiser-settable fields where want differs from have (Version ignored),
// in a fixed order. OpensAt and PrequeueOpensAt are compared only when want sets them.
func (s Settings) Diff(have Settings) []SettingDiff {
	var out []SettingDiff
	add := func(field string, want, got any) {
		w, h := fmt.Sprint(want), fmt.Sprint(got)
		if w != h {
			out = append(out, SettingDiff{Field: field, Want: w, Have: h})
		}
	}
	add("rate_per_minute", s.RatePerMinute, have.RatePerMinute)
	add("max_active", s.MaxActive, have.MaxActive)
	add("session_seconds", s.Session, have.Session)
	add("max_session_seconds", s.MaxSession, have.MaxSession)
	add("absent_after_seconds", s.AbsentAfter, have.AbsentAfter)
	add("grace_seconds", s.Grace, have.Grace)
	if !s.OpensAt.IsZero() && !s.OpensAt.Equal(have.OpensAt) {
		add("opens_at", s.OpensAt.UTC().Format(time.RFC3339), have.OpensAt.UTC().Format(time.RFC3339))
	}
	if !s.PrequeueOpensAt.IsZero() && !s.PrequeueOpensAt.Equal(have.PrequeueOpensAt) {
		add("prequeue_opens_at", s.PrequeueOpensAt.UTC().Format(time.RFC3339), have.PrequeueOpensAt.UTC().Format(time.RFC3339))
	}
	add("queue_all", s.QueueAll, have.QueueAll)
	add("on_store_error", s.OnStoreError, have.OnStoreError)
	add("proof_of_work", s.PoWMode, have.PoWMode)
	add("pow_difficulty", s.PoWDifficulty, have.PoWDifficulty)
	add("reentry_share", s.ReentryShare, have.ReentryShare)
	return out
}

func (s Settings) apply(p SettingsPatch) Settings {
	if p.RatePerMinute != nil {
		s.RatePerMinute = *p.RatePerMinute
	}
	if p.MaxActive != nil {
		s.MaxActive = *p.MaxActive
	}
	if p.Session != nil {
		s.Session = *p.Session
	}
	if p.MaxSession != nil {
		s.MaxSession = *p.MaxSession
	}
	if p.AbsentAfter != nil {
		s.AbsentAfter = *p.AbsentAfter
	}
	if p.Grace != nil {
		s.Grace = *p.Grace
	}
	if p.OpensAt != nil {
		s.OpensAt = *p.OpensAt
	}
	if p.PrequeueOpensAt != nil {
		s.PrequeueOpensAt = *p.PrequeueOpensAt
	}
	if p.State != nil {
		s.State = *p.State
	}
	if p.QueueAll != nil {
		s.QueueAll = *p.QueueAll
	}
	if p.OnStoreError != nil {
		s.OnStoreError = *p.OnStoreError
	}
	if p.Remaining != nil {
		s.Remaining = *p.Remaining
	}
	if p.CapFollowsStock != nil {
		s.CapFollowsStock = *p.CapFollowsStock
	}
	if p.PoWMode != nil {
		s.PoWMode = *p.PoWMode
	}
	if p.PoWDifficulty != nil {
		s.PoWDifficulty = *p.PoWDifficulty
	}
	if p.ReentryShare != nil {
		s.ReentryShare = *p.ReentryShare
	}
	return s
}

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeOfMs(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// fields is the settings' form in the meta hash (durations and times in ms).
func (s Settings) fields() []any {
	return []any{
		"rate", strconv.Itoa(s.RatePerMinute),
		"max_active", strconv.Itoa(s.MaxActive),
		"session_ms", strconv.FormatInt(s.Session.Milliseconds(), 10),
		"max_session_ms", strconv.FormatInt(s.MaxSession.Milliseconds(), 10),
		"absent_ms", strconv.FormatInt(s.AbsentAfter.Milliseconds(), 10),
		"grace_ms", strconv.FormatInt(s.Grace.Milliseconds(), 10),
		"opens_at_ms", strconv.FormatInt(msOf(s.OpensAt), 10),
		"prequeue_at_ms", strconv.FormatInt(msOf(s.PrequeueOpensAt), 10),
		"state", string(s.State),
		"queue_all", b01(s.QueueAll),
		"on_store_error", s.OnStoreError,
		"cap_stock", b01(s.CapFollowsStock),
		"pow_mode", s.PoWMode,
		"pow_bits", strconv.Itoa(s.PoWDifficulty),
		"reentry_share", strconv.FormatFloat(s.ReentryShare, 'f', -1, 64),
	}
}

// settingsFromMeta reads settings from the meta hash's fields.
func settingsFromMeta(m map[string]string) (Settings, error) {
	var firstErr error
	num := func(k string) int64 {
		v, err := strconv.ParseInt(m[k], 10, 64)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("queue: meta field %s=%q: %w", k, m[k], err)
		}
		return v
	}
	s := Settings{
		RatePerMinute:   int(num("rate")),
		MaxActive:       int(num("max_active")),
		Session:         time.Duration(num("session_ms")) * time.Millisecond,
		MaxSession:      time.Duration(num("max_session_ms")) * time.Millisecond,
		AbsentAfter:     time.Duration(num("absent_ms")) * time.Millisecond,
		Grace:           time.Duration(num("grace_ms")) * time.Millisecond,
		OpensAt:         timeOfMs(num("opens_at_ms")),
		PrequeueOpensAt: timeOfMs(num("prequeue_at_ms")),
		State:           State(m["state"]),
		QueueAll:        m["queue_all"] == "1",
		OnStoreError:    m["on_store_error"],
		Remaining:       stockOf(m),
		CapFollowsStock: m["cap_stock"] == "1",
		ReentryShare:    reentryShareOf(m),
		Version:         num("version"),
	}
	// A room stored before proof-of-work became a setting has neither field: the defaults.
	s.PoWMode = m["pow_mode"]
	if _, ok := m["pow_bits"]; ok {
		s.PoWDifficulty = int(num("pow_bits"))
	}
	if s.PoWMode == "" {
		s.PoWMode = PoWAuto
	}
	if s.PoWDifficulty == 0 {
		s.PoWDifficulty = DefaultSettings().PoWDifficulty
	}
	return s, firstErr
}
