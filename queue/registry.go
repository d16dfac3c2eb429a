package queue

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Runtime rooms (issue 15): rooms created and deleted while the gateways run. A room's
// definition (opaque here: the gateway's JSON) is kept in a registry in Redis, one hash for the
// rooms defined and one for the rooms deleted less than ClosingPeriod ago, with a version
// number that every change increases. A change is announced on the rooms channel (its payload
// is the room's name) so every engine hears of it at once; every engine also reads the version
// once a second (Run's flush tick), so a missed announcement delays a change by a second at
// most. RoomChanges delivers both to the gateway, which owns what a definition means.

// ClosingPeriod is how long a deleted room keeps answering its visitors that it is closed
// before its keys expire (and its name can be used again).
const ClosingPeriod = time.Hour

// ErrRoomExists means a room of that name exists (defined, in the store, or deleted less than
// ClosingPeriod ago).
var ErrRoomExists = errors.New("queue: room exists")

var (
	defineScript   = mustScript("define")
	undefineScript = mustScript("undefine")
	retireScript   = mustScript("retire")
	noteScript     = mustScript("note")
)

func init() {
	allScripts = append(allScripts, defineScript, undefineScript, retireScript, noteScript)
}

// registryKeys are the registry's keys: one hash tag of their own, "{~rooms}" ('~' is not
// allowed in a room name, so no room's keys share it), so the scripts touch one Cluster slot.
// They have no TTL: a definition lasts until the room is deleted.
type registryKeys struct{ defs, gone, version string }

func newRegistryKeys(prefix string) registryKeys {
	b := prefix + ":{~rooms}:"
	return registryKeys{defs: b + "defs", gone: b + "deleted", version: b + "version"}
}

// roomsChannel announces runtime room changes (payload: the room's name). A channel, not a key.
func roomsChannel(prefix string) string { return prefix + ":rooms" }

// RoomDef is one runtime room in the registry.
type RoomDef struct {
	Name string
	// Spec is the gateway's definition, opaque to the queue.
	Spec []byte
	// DeletedAt is when the room was deleted (Redis's clock); zero for a defined room.
	DeletedAt time.Time
}

// Deleted reports whether the room was deleted.
func (d RoomDef) Deleted() bool { return !d.DeletedAt.IsZero() }

// ClosesAt is the end of a deleted room's closing period.
func (d RoomDef) ClosesAt() time.Time { return d.DeletedAt.Add(ClosingPeriod) }

// roomRegistry is the engine's side of the registry: announcements heard, the version last read.
type roomRegistry struct {
	changes chan string // a room's name, or "" for "read them all"
	mu      sync.Mutex
	version int64 // the version of the last full read (RoomDefs)
	// known is set once this engine heard of a runtime room (an announcement, or a registry
	// with a version): from then on a missing version key means the registry was lost.
	known   bool
	retired map[string]time.Time
}

func (g *roomRegistry) notify(name string) {
	if name != "" {
		g.mu.Lock()
		g.known = true
		g.mu.Unlock()
	}
	select {
	case g.changes <- name:
	default: // full: ask for a full read instead, which covers this one
		select {
		case g.changes <- "":
		default:
		}
	}
}

// RoomChanges delivers the names of runtime rooms created or deleted, by any engine, as they
// are announced; "" means "read them all" (the registry's version moved without an
// announcement heard here, or too many arrived at once). Read it from one goroutine.
func (e *Engine) RoomChanges() <-chan string { return e.reg.changes }

// WithPatch returns s with the fields p sets changed (no validation: see Validate).
func (s Settings) WithPatch(p SettingsPatch) Settings { return s.apply(p) }

// CreateRoom creates a runtime room: its settings s (zero fields take DefaultSettings) as
// EnsureRoom would, but refusing a room that exists (ErrRoomExists), then its definition spec
// in the registry, announced to every engine, and the organiser's audit entry built by audit
// from the settings in force (nil: none). A *ValidationError names bad settings.
func (e *Engine) CreateRoom(ctx context.Context, name string, spec []byte, s Settings, audit func(Settings) []byte) (Settings, error) {
	if !ValidRoomName(name) {
		return Settings{}, fmt.Errorf("queue: create room %q: %w", name, ErrInvalidRoomName)
	}
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	if e.retiredUntil(name).After(time.Now()) {
		return Settings{}, fmt.Errorf("queue: create room %s: deleted less than %s ago: %w", name, ClosingPeriod, ErrRoomExists)
	}
	k := newRegistryKeys(e.cfg.Prefix)
	cctx, cancel := e.callCtx(ctx)
	defined, err := e.rdb.HExists(cctx, k.defs, name).Result()
	cancel()
	if err != nil {
		return Settings{}, storeErr("queue: create room "+name, err)
	}
	if defined {
		return Settings{}, fmt.Errorf("queue: create room %s: defined already: %w", name, ErrRoomExists)
	}
	seed := make([]byte, SeedLen)
	if _, err := rand.Read(seed); err != nil {
		return Settings{}, fmt.Errorf("queue: create room %s: seed: %w", name, err)
	}
	sum := sha256.Sum256(seed)
	args := append([]any{e.cfg.RoomTTL.Milliseconds()}, s.fields()...)
	args = append(args, "seed", hex.EncodeToString(seed), "commit", hex.EncodeToString(sum[:]))
	r := newRoom(e.cfg.Prefix, name)
	cctx, cancel = e.callCtx(ctx)
	v, err := createScript.Run(cctx, e.rdb, []string{r.keys.meta}, args...).Result()
	cancel()
	if err != nil {
		return Settings{}, storeErr("queue: create room "+name, err)
	}
	a, err := asSlice(v, 2)
	if err != nil {
		return Settings{}, fmt.Errorf("queue: create room %s: %w", name, err)
	}
	if created, err := asInt(a[0]); err != nil || created != 1 {
		// a configured room, or a deleted one whose keys have not expired yet
		return Settings{}, fmt.Errorf("queue: create room %s: the room exists in the store: %w", name, ErrRoomExists)
	}
	cctx, cancel = e.callCtx(ctx)
	err = defineScript.Run(cctx, e.rdb, []string{k.defs, k.gone, k.version}, name, spec, roomsChannel(e.cfg.Prefix)).Err()
	cancel()
	if err != nil {
		return Settings{}, storeErr("queue: define room "+name, err)
	}
	e.reg.mu.Lock()
	delete(e.reg.retired, name)
	e.reg.known = true // so a registry lost later is noticed even if the announcement never arrives here
	e.reg.mu.Unlock()
	snap, err := e.refresh(ctx, r)
	if err != nil {
		return Settings{}, err
	}
	e.register(r)
	if audit != nil {
		cctx, cancel = e.callCtx(ctx)
		err = noteScript.Run(cctx, e.rdb, []string{r.keys.audit}, audit(snap.settings), AuditMax).Err()
		cancel()
		if err != nil { // the room exists: say the record is missing rather than undo it
			return snap.settings, storeErr("queue: create room "+name+": audit", err)
		}
	}
	return snap.settings, nil
}

// DefineRoom writes a runtime room's definition back into the registry (a gateway that serves
// the room found it missing: the registry lost data) and announces it.
func (e *Engine) DefineRoom(ctx context.Context, name string, spec []byte) error {
	if !ValidRoomName(name) {
		return fmt.Errorf("queue: define room %q: %w", name, ErrInvalidRoomName)
	}
	k := newRegistryKeys(e.cfg.Prefix)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	if err := defineScript.Run(cctx, e.rdb, []string{k.defs, k.gone, k.version}, name, spec, roomsChannel(e.cfg.Prefix)).Err(); err != nil {
		return storeErr("queue: define room "+name, err)
	}
	return nil
}

// DeleteRoom removes a runtime room's definition from the registry (keeping it among the
// deleted rooms for ClosingPeriod) and announces it; ErrUnknownRoom if no runtime room has that
// name. It does not close the room: the caller closes it first (UpdateSettings, audited), so
// its visitors are told. Every engine then retires it (RetireRoom).
func (e *Engine) DeleteRoom(ctx context.Context, name string) (RoomDef, error) {
	if !ValidRoomName(name) {
		return RoomDef{}, fmt.Errorf("queue: delete room %q: %w", name, ErrInvalidRoomName)
	}
	k := newRegistryKeys(e.cfg.Prefix)
	cctx, cancel := e.callCtx(ctx)
	v, err := undefineScript.Run(cctx, e.rdb, []string{k.defs, k.gone, k.version}, name,
		roomsChannel(e.cfg.Prefix), ClosingPeriod.Milliseconds()).Result()
	cancel()
	if err != nil {
		return RoomDef{}, storeErr("queue: delete room "+name, err)
	}
	a, err := asSlice(v, 1)
	if err != nil {
		return RoomDef{}, fmt.Errorf("queue: delete room %s: %w", name, err)
	}
	tag, err := tagOf(a)
	if err != nil {
		return RoomDef{}, fmt.Errorf("queue: delete room %s: %w", name, err)
	}
	if tag == "NOROOM" {
		return RoomDef{}, fmt.Errorf("queue: delete room %s: no runtime room of that name: %w", name, ErrUnknownRoom)
	}
	if tag != "OK" || len(a) != 3 {
		return RoomDef{}, fmt.Errorf("queue: delete room %s: %w", name, replyErr{"undefine: " + tag})
	}
	at, err := asInt(a[1])
	if err != nil {
		return RoomDef{}, fmt.Errorf("queue: delete room %s: %w", name, err)
	}
	return RoomDef{Name: name, DeletedAt: time.UnixMilli(at)}, nil
}

// RoomDefs reads the whole registry: the defined runtime rooms and those deleted less than
// ClosingPeriod ago, sorted by name. One round trip (the keys share a slot).
func (e *Engine) RoomDefs(ctx context.Context) ([]RoomDef, error) {
	k := newRegistryKeys(e.cfg.Prefix)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	var defs, gone *redis.MapStringStringCmd
	var ver *redis.StringCmd
	_, err := e.rdb.TxPipelined(cctx, func(p redis.Pipeliner) error {
		ver = p.Get(cctx, k.version)
		defs = p.HGetAll(cctx, k.defs)
		gone = p.HGetAll(cctx, k.gone)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, storeErr("queue: room registry", err)
	}
	out := make([]RoomDef, 0, len(defs.Val())+len(gone.Val()))
	for n, spec := range defs.Val() {
		out = append(out, RoomDef{Name: n, Spec: []byte(spec)})
	}
	now := time.Now()
	for n, v := range gone.Val() {
		d, ok := parseGone(n, v)
		if ok && now.Before(d.ClosesAt()) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	v, _ := strconv.ParseInt(ver.Val(), 10, 64)
	e.reg.mu.Lock()
	e.reg.version = v
	e.reg.known = e.reg.known || v > 0
	e.reg.mu.Unlock()
	return out, nil
}

// RoomDef reads one room's entry in the registry; false if it has none (never a runtime
// room, or deleted longer than ClosingPeriod ago).
func (e *Engine) RoomDef(ctx context.Context, name string) (RoomDef, bool, error) {
	k := newRegistryKeys(e.cfg.Prefix)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	var def, gone *redis.StringCmd
	_, err := e.rdb.TxPipelined(cctx, func(p redis.Pipeliner) error {
		def = p.HGet(cctx, k.defs, name)
		gone = p.HGet(cctx, k.gone, name)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return RoomDef{}, false, storeErr("queue: room registry "+name, err)
	}
	if def.Err() == nil {
		e.reg.mu.Lock()
		e.reg.known = true
		e.reg.mu.Unlock()
		return RoomDef{Name: name, Spec: []byte(def.Val())}, true, nil
	}
	if gone.Err() == nil {
		if d, ok := parseGone(name, gone.Val()); ok && time.Now().Before(d.ClosesAt()) {
			return d, true, nil
		}
	}
	return RoomDef{}, false, nil
}

func parseGone(name, v string) (RoomDef, bool) {
	ms, spec, ok := strings.Cut(v, "|")
	at, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return RoomDef{}, false
	}
	return RoomDef{Name: name, Spec: []byte(spec), DeletedAt: time.UnixMilli(at)}, true
}

// checkRegistry asks for a full read when the registry's version is not the one last read
// (an announcement missed: a Pub/Sub reconnection), or when the registry is gone although this
// engine heard of runtime rooms (Redis lost it: the gateways write their rooms back). One GET a
// second.
func (e *Engine) checkRegistry(ctx context.Context) {
	cctx, cancel := e.callCtx(ctx)
	v, err := e.rdb.Get(cctx, newRegistryKeys(e.cfg.Prefix).version).Int64()
	cancel()
	missing := errors.Is(err, redis.Nil)
	if err != nil && !missing {
		return
	}
	e.reg.mu.Lock()
	moved := v != e.reg.version || (missing && e.reg.known)
	e.reg.mu.Unlock()
	if moved {
		e.reg.notify("")
	}
}

// RetireRoom stops this engine's work on a deleted room: it is no longer stepped, flushed or
// loaded again; until the end of its closing period a poll is answered "closed" from nothing
// (Poll) and a join refused (ErrRoomClosed). Then it gives the room's keys that deadline
// (retire.lua), after its own last step, so no step of this engine extends them. Idempotent.
func (e *Engine) RetireRoom(ctx context.Context, name string, closesAt time.Time) error {
	e.reg.mu.Lock()
	if e.reg.retired == nil {
		e.reg.retired = map[string]time.Time{}
	}
	e.reg.retired[name] = closesAt
	for n, t := range e.reg.retired { // prune the closed ones
		if time.Now().After(t) {
			delete(e.reg.retired, n)
		}
	}
	e.reg.mu.Unlock()
	e.mu.Lock()
	r := e.rooms[name]
	delete(e.rooms, name)
	e.mu.Unlock()
	if r != nil {
		r.refreshMu.Lock()     // a step in flight finishes first
		r.stepping.Store(true) // and the loop starts no other (the room is gone from its list anyway)
		r.refreshMu.Unlock()
	}
	k := newRoomKeys(e.cfg.Prefix, name)
	cctx, cancel := e.callCtx(ctx)
	defer cancel()
	err := retireScript.Run(cctx, e.rdb, []string{k.meta, k.stats, k.offers, k.leases, k.lease, k.skipped,
		k.returning, k.orphans, k.released, k.upload}, closesAt.UnixMilli()).Err()
	if err != nil {
		return storeErr("queue: retire room "+name, err)
	}
	return nil
}

// retiredUntil is the end of a retired room's closing period (zero: not retired here).
func (e *Engine) retiredUntil(name string) time.Time {
	e.reg.mu.Lock()
	defer e.reg.mu.Unlock()
	return e.reg.retired[name]
}

// Retired reports whether this engine retired the room (deleted, in its closing period).
func (e *Engine) Retired(name string) bool { return time.Now().Before(e.retiredUntil(name)) }
