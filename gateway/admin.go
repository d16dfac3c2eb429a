package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/queue"
)

// adminCredential is an admin token kept as its SHA-256, so comparisons are constant-time and
// independent of the token's length.
type adminCredential struct {
	name   string
	digest [32]byte
}

func newAdminCredential(t AdminToken) adminCredential {
	return adminCredential{name: t.Name, digest: sha256.Sum256([]byte(t.Token))}
}

// requireAdmin checks the bearer admin token. Every configured token is compared, each in
// constant time, so timing says nothing about which one nearly matched. The admin API takes no
// cookies, so a cross-site request cannot ride on a browser's credentials (CSRF-safe).
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, tok, ok := strings.Cut(c.Request().Header.Get("Authorization"), " ")
		ok = ok && strings.EqualFold(scheme, "Bearer") // the scheme is case-insensitive (RFC 9110)
		if !ok || tok == "" || len(tok) > 512 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="foyer-admin"`)
			return httpError(http.StatusUnauthorized, "unauthorized", "an admin token is required: Authorization: Bearer <token>")
		}
		d := sha256.Sum256([]byte(tok))
		actor := ""
		for _, a := range s.admins {
			if subtle.ConstantTimeCompare(d[:], a.digest[:]) == 1 {
				actor = a.name
			}
		}
		if actor == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="foyer-admin", error="invalid_token"`)
			return httpError(http.StatusUnauthorized, "unauthorized", "the admin token is not valid")
		}
		c.Set("actor", actor)
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

// adminRoom is one room in the admin API.
type adminRoom struct {
	Name            string          `json:"name"`
	DisplayName     string          `json:"display_name"`
	State           string          `json:"state"`
	Mode            string          `json:"mode"`
	Paths           []string        `json:"paths"`
	Settings        adminSettings   `json:"settings"`
	Live            adminLive       `json:"live"`
	Backend         *BackendSummary `json:"backend"`
	ETAClearSeconds int64           `json:"eta_clear_seconds"`
	Clear           clearView       `json:"clear"` // why: clear.go
	Adaptive        *adaptiveView   `json:"adaptive,omitempty"`
	// Runtime is true for a room created through the admin API (it can be deleted there);
	// false for a room configured in the YAML.
	Runtime bool `json:"runtime"`
}

// adminSettings are a room's queue.Settings as the admin API shows them; every field but
// version can be PATCHed.
type adminSettings struct {
	RatePerMinute      int    `json:"rate_per_minute"`
	MaxActive          int    `json:"max_active"`
	SessionSeconds     int64  `json:"session_seconds"`
	MaxSessionSeconds  int64  `json:"max_session_seconds"`
	AbsentAfterSeconds int64  `json:"absent_after_seconds"`
	GraceSeconds       int64  `json:"grace_seconds"`
	OpensAt            string `json:"opens_at"`
	PrequeueOpensAt    string `json:"prequeue_opens_at,omitempty"`
	State              string `json:"state"`
	QueueAll           bool   `json:"queue_all"`
	OnStoreError       string `json:"on_store_error"`
	// Remaining is the stock left as last reported (null: unknown); SoldOut is Remaining == 0.
	Remaining       *int64 `json:"remaining"`
	SoldOut         bool   `json:"sold_out"`
	CapFollowsStock bool   `json:"cap_follows_stock"`
	// ProofOfWork is off, auto or on; PoWDifficulty its base difficulty in bits.
	ProofOfWork   string `json:"proof_of_work"`
	PoWDifficulty int    `json:"pow_difficulty"`
	// ReentryShare is the share of the rate second chances may use (0: off; reentry.go).
	ReentryShare float64 `json:"reentry_share"`
	Version      int64   `json:"version"`
}

type adminLive struct {
	Waiting           int64            `json:"waiting"`
	Joined            int64            `json:"joined"`
	Admitted          int64            `json:"admitted"`
	Active            int64            `json:"active"`
	Offers            int64            `json:"offers"`
	Skipped           int64            `json:"skipped"`
	Returned          int64            `json:"returned"`
	Released          map[string]int64 `json:"released"`
	AdmittedPerMinute float64          `json:"admitted_per_minute"`
	JoinsPerMinute    float64          `json:"joins_per_minute"`
	StoreOK           bool             `json:"store_ok"`
	// Reentry counts second chances (reentry.go).
	Reentry reentryLive `json:"reentry"`
}

func toAdminSettings(st queue.Settings, loc *time.Location) adminSettings {
	a := adminSettings{RatePerMinute: st.RatePerMinute, MaxActive: st.MaxActive,
		SessionSeconds: int64(st.Session / time.Second), MaxSessionSeconds: int64(st.MaxSession / time.Second),
		AbsentAfterSeconds: int64(st.AbsentAfter / time.Second), GraceSeconds: int64(st.Grace / time.Second),
		State: string(st.State), QueueAll: st.QueueAll, OnStoreError: st.OnStoreError, Version: st.Version,
		SoldOut: st.Remaining == 0, CapFollowsStock: st.CapFollowsStock, ReentryShare: st.ReentryShare,
		ProofOfWork: st.PoWMode, PoWDifficulty: st.PoWDifficulty}
	if st.Remaining >= 0 {
		n := st.Remaining
		a.Remaining = &n
	}
	if !st.OpensAt.IsZero() {
		a.OpensAt = st.OpensAt.In(loc).Format(time.RFC3339)
	}
	if !st.PrequeueOpensAt.IsZero() {
		a.PrequeueOpensAt = st.PrequeueOpensAt.In(loc).Format(time.RFC3339)
	}
	return a
}

func (s *Server) adminRoomView(ctx context.Context, name string, rm *room) (adminRoom, error) {
	st, err := s.engine.Settings(ctx, name)
	if err != nil {
		return adminRoom{}, s.storeErr("settings", err)
	}
	state := st.State
	if v, ok := s.engine.View(name); ok && v.State != "" {
		state = v.State // what visitors see now: prequeue before the opening, for example
	}
	a := adminRoom{Name: name, DisplayName: rm.cfg.DisplayName, State: string(state), Mode: rm.cfg.Mode,
		Paths: rm.cfg.Paths, Settings: toAdminSettings(st, rm.loc), Runtime: rm.runtime}
	if a.Paths == nil {
		a.Paths = []string{}
	}
	stats, err := s.engine.Stats(ctx, name)
	a.Live.StoreOK = err == nil
	a.Live.Released = map[string]int64{"booked": 0, "abandoned": 0, "failed": 0}
	if err == nil {
		a.Live.Waiting, a.Live.Joined, a.Live.Admitted = stats.Waiting, stats.Joined, stats.Admitted
		a.Live.Active, a.Live.Offers, a.Live.Skipped, a.Live.Returned = stats.Active, stats.Offers, stats.Skipped, stats.Returned
		for k, v := range stats.Released {
			a.Live.Released[string(k)] = v
		}
		a.Live.Reentry = toReentryLive(stats.Reentry)
	}
	if last, ok := rm.history.last(); ok {
		a.Live.AdmittedPerMinute, a.Live.JoinsPerMinute = last.AdmittedPerMinute, last.JoinsPerMinute
	}
	if rm.proxy != nil {
		b := rm.window.summary(s.now(), 30)
		a.Backend = &b
	}
	a.ETAClearSeconds, a.Clear = s.clearView(name, a.Live.Waiting, st)
	if rm.adaptive != nil {
		v := rm.adaptive.view(rm.cfg.Adaptive)
		a.Adaptive = &v
	}
	return a, nil
}

func (s *Server) handleAdminRooms(c echo.Context) error {
	set := s.roomSet()
	names := slices.Sorted(maps.Keys(set.rooms))
	out := struct {
		Rooms []adminRoom `json:"rooms"`
	}{Rooms: []adminRoom{}}
	for _, n := range names {
		a, err := s.adminRoomView(c.Request().Context(), n, set.rooms[n])
		if err != nil {
			return err
		}
		out.Rooms = append(out.Rooms, a)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) handleAdminRoom(c echo.Context) error {
	rm, err := s.liveRoomParam(c)
	if err != nil {
		return err
	}
	a, err := s.adminRoomView(c.Request().Context(), rm.cfg.Name, rm)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

// patchFields are the fields a PATCH may carry: every organiser-settable field of
// queue.Settings, by the names queue.Settings.Validate uses.
var patchFields = []string{"rate_per_minute", "max_active", "session_seconds", "max_session_seconds",
	"absent_after_seconds", "grace_seconds", "opens_at", "prequeue_opens_at", "state", "queue_all", "on_store_error",
	"remaining", "sold_out", "cap_follows_stock", "reentry_share", "proof_of_work", "pow_difficulty"}

// parsePatch decodes a PATCH body into a patch, checking each field's JSON type and naming each
// bad or unknown field; the values' bounds are queue.Settings.Validate's, checked on the whole
// result (settingsBad), so there is one set of limits.
func parsePatch(data []byte) (queue.SettingsPatch, map[string]string, error) {
	var p queue.SettingsPatch
	bad := map[string]string{}
	var body map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&body); err != nil || body == nil {
		return p, nil, errors.New("the body must be a JSON object")
	}
	if dec.More() {
		return p, nil, errors.New("the body must be one JSON object")
	}
	if len(body) == 0 {
		return p, nil, errors.New("nothing to change: send any of " + strings.Join(patchFields, ", "))
	}
	for k := range body {
		if !slices.Contains(patchFields, k) {
			bad[k] = "unknown field; allowed: " + strings.Join(patchFields, ", ")
		}
	}
	whole := func(name string) *int64 {
		raw := body[name]
		if raw == nil {
			return nil
		}
		var v int64
		if err := json.Unmarshal(raw, &v); err != nil {
			bad[name] = "must be a whole number"
			return nil
		}
		return &v
	}
	count := func(name string) *int {
		if v := whole(name); v != nil {
			n := int(max(min(*v, 1<<40), -1)) // out-of-range values stay out of range for Validate
			return &n
		}
		return nil
	}
	seconds := func(name string) *time.Duration {
		if v := whole(name); v != nil {
			d := time.Duration(max(min(*v, 1<<32), -1)) * time.Second
			return &d
		}
		return nil
	}
	str := func(name, msg string) *string {
		raw := body[name]
		if raw == nil {
			return nil
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			bad[name] = msg
			return nil
		}
		return &v
	}
	when := func(name string) *time.Time {
		const msg = "must be an RFC 3339 time string, e.g. 2026-10-02T14:00:00+09:00"
		if v := str(name, msg); v != nil {
			t, err := time.Parse(time.RFC3339, *v)
			if err != nil {
				bad[name] = msg
				return nil
			}
			return &t
		}
		return nil
	}
	p.RatePerMinute = count("rate_per_minute")
	p.MaxActive = count("max_active")
	p.Session = seconds("session_seconds")
	p.MaxSession = seconds("max_session_seconds")
	p.AbsentAfter = seconds("absent_after_seconds")
	p.Grace = seconds("grace_seconds")
	p.OpensAt = when("opens_at")
	p.PrequeueOpensAt = when("prequeue_opens_at")
	if v := str("state", "must be open, paused or closed"); v != nil {
		st := queue.State(*v)
		p.State = &st
	}
	if raw := body["queue_all"]; raw != nil {
		var v bool
		if err := json.Unmarshal(raw, &v); err != nil {
			bad["queue_all"] = "must be true or false"
		} else {
			p.QueueAll = &v
		}
	}
	p.OnStoreError = str("on_store_error", "must be closed or open")
	p.PoWMode = str("proof_of_work", "must be off, auto or on")
	p.PoWDifficulty = count("pow_difficulty")
	stockPatch(body, &p, bad)
	reentryPatch(body, &p, bad)
	return p, bad, nil
}

// handleAdminPatch: PATCH /foyer/admin/v1/rooms/{room}. All or nothing: any bad field changes
// nothing. If-Match carries the settings version for optimistic concurrency.
func (s *Server) handleAdminPatch(c echo.Context) error {
	rm, err := s.liveRoomParam(c)
	if err != nil {
		return err
	}
	r := c.Request()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return httpError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.Limits.MaxBodyBytes+1))
	var tooLarge *http.MaxBytesError // the body bound of every request (server.go bodyLimit)
	if err != nil && !errors.As(err, &tooLarge) {
		return httpError(http.StatusBadRequest, "invalid", "could not read the body")
	}
	if tooLarge != nil || int64(len(data)) > s.cfg.Limits.MaxBodyBytes {
		return httpError(http.StatusRequestEntityTooLarge, "too_large", "the body is too large")
	}
	patch, bad, err := parsePatch(data)
	if err != nil {
		return httpError(http.StatusBadRequest, "invalid", err.Error())
	}
	if len(bad) > 0 {
		s.settingsBad(rm, patch, bad)
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "some fields are not valid; nothing was changed", Fields: bad}
	}
	var ifVersion int64 // 0: any version, as with no If-Match or If-Match: *
	if im := strings.Trim(r.Header.Get("If-Match"), `" W/`); im != "" && im != "*" {
		if ifVersion, err = strconv.ParseInt(im, 10, 64); err != nil || ifVersion < 1 {
			return httpError(http.StatusBadRequest, "invalid", "If-Match must be the settings version, e.g. \"7\"")
		}
	}
	actor, _ := c.Get("actor").(string)
	if _, err := s.applyPatch(r.Context(), rm, patch, ifVersion, actor, ""); err != nil {
		return err
	}
	a, err := s.adminRoomView(r.Context(), rm.cfg.Name, rm)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", `"`+strconv.FormatInt(a.Settings.Version, 10)+`"`)
	return c.JSON(http.StatusOK, a)
}

// applyPatch changes a room's settings; the audit entry is written by the same atomic update,
// with the before and after it really replaced and wrote.
func (s *Server) applyPatch(ctx context.Context, rm *room, p queue.SettingsPatch, ifVersion int64, actor, reason string) (queue.Settings, error) {
	at := s.now().UTC()
	_, after, err := s.engine.UpdateSettings(ctx, rm.cfg.Name, p, ifVersion, func(before, after queue.Settings) []byte {
		b, _ := json.Marshal(auditEntry{At: at, Actor: actor, Room: rm.cfg.Name, Reason: reason,
			Before: toAdminSettings(before, rm.loc), After: toAdminSettings(after, rm.loc)})
		return b
	})
	if err != nil {
		var ve *queue.ValidationError
		switch {
		case errors.Is(err, queue.ErrVersionConflict):
			return after, httpError(http.StatusConflict, "version_conflict",
				"the settings changed since you read them; reload and try again")
		case errors.As(err, &ve):
			return after, &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "some fields are not valid; nothing was changed",
				Fields: ve.Fields}
		default:
			return after, s.storeErr("update_settings", err)
		}
	}
	s.log.Info().Str("room", rm.cfg.Name).Str("actor", actor).Str("reason", reason).
		Int("rate_per_minute", after.RatePerMinute).Int("max_active", after.MaxActive).
		Str("state", string(after.State)).Int64("version", after.Version).Msg("room settings changed")
	return after, nil
}

// settingsBad adds to bad what queue.Settings.Validate refuses among the fields that did
// parse, so a 400 names every bad field at once.
func (s *Server) settingsBad(rm *room, p queue.SettingsPatch, bad map[string]string) {
	var ve *queue.ValidationError
	if err := s.engine.CheckPatch(rm.cfg.Name, p); errors.As(err, &ve) {
		for k, msg := range ve.Fields {
			if _, dup := bad[k]; !dup {
				bad[k] = msg
			}
		}
	}
}

// auditEntry is one change in the audit log.
type auditEntry struct {
	At     time.Time     `json:"at"`
	Actor  string        `json:"actor"`
	Room   string        `json:"room"`
	Reason string        `json:"reason,omitempty"`
	Before adminSettings `json:"before"`
	After  adminSettings `json:"after"`
}

func (s *Server) handleAdminAudit(c echo.Context) error {
	limit := 100
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "limit must be 1..1000", Fields: map[string]string{"limit": "must be 1..1000"}}
		}
		limit = n
	}
	set := s.roomSet()
	names := append(slices.Sorted(maps.Keys(set.rooms)), slices.Sorted(maps.Keys(set.closing))...)
	raw, err := s.engine.Audit(c.Request().Context(), names, limit)
	if err != nil {
		return s.storeErr("audit", err)
	}
	out := struct {
		Entries []json.RawMessage `json:"entries"`
	}{Entries: make([]json.RawMessage, 0, len(raw))}
	for _, r := range raw {
		if json.Valid(r) {
			out.Entries = append(out.Entries, r)
		}
	}
	return c.JSON(http.StatusOK, out)
}
