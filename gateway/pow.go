package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math"
	"math/bits"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/queue"
)

// Proof-of-work on join.
//
// A join may have to carry the solution of a challenge: a stateless string signed by the
// gateway (HMAC-SHA-256 over room, difficulty, expiry, a random nonce and the visitor's id),
// handed out in a 428 pow_required answer. The client finds a counter such that
// SHA-256(challenge ":" counter) starts with `difficulty` zero bits (the queue page does it in a
// Web Worker, web/static/pow.js) and joins again with the header "Foyer-PoW: challenge:counter".
// Checking costs one HMAC and one SHA-256 (about a microsecond). A solution is good once,
// fleet-wide: its nonce is spent inside the coalesced join call (queue.JoinOptions.Proof, kept
// until the challenge expires), after a per-replica cache of spent nonces that refuses a replay
// on the same replica without a round trip.
//
// Modes (queue.Settings.PoWMode, a stored room setting: rooms[].proof_of_work.mode and
// .difficulty seed it, PATCH .../rooms/{room} {"proof_of_work": ..., "pow_difficulty": ...}
// changes it on every replica within a second):
//   - off: never; past limits.joins_per_minute (fleet-wide) an address gets 429.
//   - auto (default): nobody solves anything until their address (an IPv4 address, an IPv6
//     /64) passes joins_per_minute, counted fleet-wide, or the room's joins on this replica
//     pass room_joins_per_second; then, instead of a refusal, a challenge whose difficulty
//     grows by one bit (twice the work) each time the excess doubles, up to max_difficulty.
//   - on: every join pays at least difficulty bits, raised the same way.

// powHeader carries a solution: "<challenge>:<counter>".
const powHeader = "Foyer-PoW"

// Bounds of the proof-of-work.
const (
	powTTL          = 5 * time.Minute // a challenge's life: enough for a slow phone at a high difficulty
	powMinBits      = 8
	powMaxBits      = 32
	powOverScale    = 100     // joins past the allowance that double the work (500 behind one NAT: 4x)
	powSpentMax     = 1 << 20 // spent nonces kept per replica (~60 MB at worst); beyond, challenges are refused
	maxPoWHeaderLen = 256
)

// PoWConfig configures a room's proof-of-work on join.
type PoWConfig struct {
	// Mode is off, auto (default) or on: the seed of the room's stored setting
	// (queue.Settings.PoWMode); for an existing room the stored value wins.
	Mode string `yaml:"mode"`
	// Difficulty is the base number of leading zero bits (default 18: about a second of a
	// mid-range phone's JavaScript): the seed of queue.Settings.PoWDifficulty.
	Difficulty int `yaml:"difficulty"`
	// MaxDifficulty caps the raised difficulty (default 0: the difficulty in force + 6, 64
	// times the work).
	MaxDifficulty int `yaml:"max_difficulty"`
	// RoomJoinsPerSecond is the join pressure (the fleet's joins per second: this replica's, or
	// the rise of the room's shared ticket counter, whichever is higher) above which every join of the room
	// pays, one more bit each time the pressure doubles; 0 (default) turns it off.
	RoomJoinsPerSecond int `yaml:"room_joins_per_second"`
}

// powChallenge is the JSON an app (or the queue page) receives with pow_required.
type powChallenge struct {
	Challenge  string `json:"challenge"`
	Difficulty int    `json:"difficulty"`
	Algorithm  string `json:"algorithm"`
	Header     string `json:"header"`
	ExpiresAt  string `json:"expires_at"`
}

// powState is a gateway's proof-of-work machinery: the signing key, the spent nonces, the rooms'
// join pressure. Safe for concurrent use.
type powState struct {
	// keys sign challenges (the first) and verify them (any): derived from the ticket secrets,
	// so every replica has them, and replaced with them on a reload (SetChallengeKeys).
	keys atomic.Pointer[[][]byte]

	mu    sync.Mutex
	spent map[string]int64 // nonce -> expiry (unix)
	gcAt  int64

	pmu      sync.Mutex
	pressure map[string]*roomPressure
}

type roomPressure struct {
	sec  int64
	n    float64 // joins in the current second, here
	rate float64 // smoothed joins per second, here
	// The fleet's joins: the room's ticket counter is shared, so the rise of the highest ticket
	// number this replica was given, over a second or more, is every replica's joins per second
	// (free: the number comes with each join's reply). top, topAt: the number and when it was
	// seen; fleet the joins per second it implied.
	top   int64
	topAt time.Time
	fleet float64
}

// fleetFresh is how long the fleet's measured join rate counts without a newer ticket number.
const fleetFresh = 5 * time.Second

func newPoWState(key []byte) *powState {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // one replica only: Build passes a key shared by every replica
	}
	p := &powState{spent: map[string]int64{}, pressure: map[string]*roomPressure{}}
	p.setKeys([][]byte{key})
	return p
}

// setKeys installs the challenge keys: the first signs, every one verifies (so a challenge
// handed out before a rotation can still be solved and used after it).
func (p *powState) setKeys(keys [][]byte) {
	if len(keys) > 0 {
		p.keys.Store(&keys)
	}
}

// challengeKeys derives the proof-of-work keys from the ticket secrets, in their order (the
// first signs): every replica with the same secrets has the same keys.
func challengeKeys(tickets []queue.TicketKey) [][]byte {
	out := make([][]byte, 0, len(tickets))
	for _, t := range tickets {
		m := hmac.New(sha256.New, t.Secret)
		m.Write([]byte("foyer proof-of-work challenge key"))
		out = append(out, m.Sum(nil))
	}
	return out
}

// fill is kept for the config's defaults pass: mode and difficulty default in
// queue.Settings.WithDefaults (auto, 18), max_difficulty at use (the difficulty in force + 6).
func (p *PoWConfig) fill() {}

// problems lists what is wrong with p, for Config.Validate (mode and difficulty are checked by
// queue.Settings.Validate, as the room's seed).
func (p PoWConfig) problems(field string) []string {
	var out []string
	if p.MaxDifficulty != 0 && (p.MaxDifficulty < max(p.Difficulty, powMinBits) || p.MaxDifficulty > powMaxBits) {
		out = append(out, field+".max_difficulty: must be between difficulty and 32")
	}
	if p.RoomJoinsPerSecond < 0 {
		out = append(out, field+".room_joins_per_second: must not be negative")
	}
	return out
}

// extraBits is how many bits an excess of n over its allowance adds: one per doubling of
// n/scale + 1.
func extraBits(n, scale float64) int {
	if n <= 0 {
		return 0
	}
	return int(math.Log2(1 + n/scale))
}

// pressureOf is room's pressure record. Caller holds p.pmu.
func (p *powState) pressureOf(room string, now time.Time) *roomPressure {
	rp := p.pressure[room]
	if rp == nil {
		rp = &roomPressure{sec: now.Unix()}
		p.pressure[room] = rp
	}
	return rp
}

// observeTicket notes the ticket number a join of room was given at now (the room's counter,
// shared by every replica) and, a second or more after the last one noted, the fleet's joins
// per second between them. A number not above the highest seen (a visitor joining again keeps
// their ticket) says nothing.
func (p *powState) observeTicket(room string, number int64, now time.Time) {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	rp := p.pressureOf(room, now)
	switch {
	case rp.top == 0 || now.Sub(rp.topAt) > fleetFresh:
		rp.top, rp.topAt, rp.fleet = max(number, rp.top), now, 0 // a fresh start: no rate yet
	case number <= rp.top:
	case now.Sub(rp.topAt) >= time.Second:
		rp.fleet = float64(number-rp.top) / now.Sub(rp.topAt).Seconds()
		rp.top, rp.topAt = number, now
	}
}

// roomExtra counts a join of room at now and returns the bits the room's pressure adds.
func (p *powState) roomExtra(rm *room, now time.Time, count bool) int {
	limit := float64(rm.cfg.ProofOfWork.RoomJoinsPerSecond)
	if limit <= 0 {
		return 0
	}
	p.pmu.Lock()
	defer p.pmu.Unlock()
	rp := p.pressureOf(rm.cfg.Name, now)
	if sec := now.Unix(); sec != rp.sec {
		for ; rp.sec < sec && sec-rp.sec < 10; rp.sec++ { // a quiet second decays the rate
			rp.rate = 0.5*rp.rate + 0.5*rp.n
			rp.n = 0
		}
		if rp.sec != sec {
			rp.sec, rp.rate, rp.n = sec, 0, 0
		}
	}
	if count {
		rp.n++
	}
	r := max(rp.rate, rp.n)
	if !rp.topAt.IsZero() && now.Sub(rp.topAt) < fleetFresh {
		r = max(r, rp.fleet) // the other replicas' joins press on the room too
	}
	if r <= limit {
		return 0
	}
	return 1 + extraBits(r-limit, limit)
}

// checkJoinPoW decides, before any round trip, whether this join may go to the engine: it
// returns the options the join carries (the address and its fleet-wide allowance, a verified
// proof to spend), or a 429 (mode off, past the address's allowance on this replica) or a 428
// pow_required carrying a challenge. The room's mode and difficulty are its stored settings
// (a PATCH reaches every replica). Called by join before the engine's JoinWith; joinRefused
// turns the engine's fleet-wide verdict (over the allowance, proof spent) into the same answers.
//
// Ordering: the fleet-wide count lives in the coalesced join call, which runs after this check.
// So the call itself is the gate: a join without a proof past its address's allowance gets no
// number there (atomically, whichever replica it came through), and is answered with a
// challenge (or a 429 in mode off) whose difficulty comes from the fleet-wide count. The count
// each reply carries is fed to this replica's limiter, so the address's next joins here get
// their challenge without a round trip; the local limiter is only that cheap first filter.
func (s *Server) checkJoinPoW(c echo.Context, rm *room, visitor string) (queue.JoinOptions, error) {
	st := s.settings(rm)
	now := s.now()
	key := clientKey(c.RealIP())
	var opt queue.JoinOptions
	if n := s.cfg.Limits.JoinsPerMinute; n > 0 {
		opt.Address, opt.Allowance = key, n
	}
	if st.PoWMode == queue.PoWOff {
		if ok, wait := s.joins.allow(key, now); !ok {
			s.m.rateLimited.Inc()
			return opt, tooManyJoins(wait)
		}
		return opt, nil
	}
	if h := c.Request().Header.Get(powHeader); h != "" {
		if ps, err := s.pow.check(h, rm.cfg.Name, visitor, now); err == nil {
			s.pow.roomExtra(rm, now, true)
			s.obs.powSolved(rm.cfg.Name)
			opt.Proof, opt.ProofExpires = ps.nonce, time.Unix(ps.exp, 0)
			return opt, nil // exempt from the allowance, counted fleet-wide by the join
		}
		// a bad, stale or spent solution earns a new challenge, not a verdict
	}
	over := s.joins.over(key, now)
	roomBits := s.pow.roomExtra(rm, now, false)
	if st.PoWMode == queue.PoWAuto && over == 0 && roomBits == 0 {
		s.joins.take(key, now)
		s.pow.roomExtra(rm, now, true)
		return opt, nil
	}
	over = s.joins.take(key, now) // handing out a challenge counts: hoarding them costs too
	return opt, s.challenge(rm, st, visitor, over, roomBits, now)
}

// tooManyJoins is the 429 of mode off.
func tooManyJoins(wait time.Duration) error {
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
		Message: "too many joins from your address; try again shortly", RetryAfter: int(wait/time.Second) + 1}
}

// challenge is the 428 pow_required for a join over its allowance by over joins, in a room
// whose pressure adds roomBits.
func (s *Server) challenge(rm *room, st queue.Settings, visitor string, over, roomBits int, now time.Time) error {
	base := st.PoWDifficulty
	top := rm.cfg.ProofOfWork.MaxDifficulty
	if top == 0 {
		top = base + 6
	}
	top = min(max(top, base), powMaxBits)
	bitsN := min(base+extraBits(float64(over), powOverScale)+max(roomBits-1, 0), top)
	ch := s.pow.issue(rm.cfg.Name, visitor, bitsN, now)
	s.m.rateLimited.Inc()
	return &Error{Status: http.StatusPreconditionRequired, Code: "pow_required",
		Message: "solve the proof-of-work in pow and join again with the Foyer-PoW header", PoW: &ch}
}

// afterJoin feeds the fleet-wide count a join's reply carried to this replica's limiter, and
// turns the engine's refusals (the address over its allowance fleet-wide, a proof already
// spent on another replica) into a challenge, or a 429 in mode off. Other errors pass through.
func (s *Server) afterJoin(rm *room, visitor string, opt queue.JoinOptions, info queue.JoinInfo, err error) error {
	now := s.now()
	over := 0
	if opt.Allowance > 0 {
		over = max(int(math.Ceil(info.AddressJoins))-opt.Allowance, 0)
		s.joins.raise(opt.Address, over, now)
	}
	var ae *queue.AllowanceError
	switch {
	case errors.As(err, &ae):
		over = max(over, 1)
		s.joins.raise(opt.Address, over, now)
		st := s.settings(rm)
		if st.PoWMode == queue.PoWOff {
			s.m.rateLimited.Inc()
			// the sliding count drains at the allowance per minute
			return tooManyJoins(time.Duration(float64(over) * float64(time.Minute) / float64(max(ae.Allowance, 1))))
		}
		return s.challenge(rm, st, visitor, over, s.pow.roomExtra(rm, now, false), now)
	case errors.Is(err, queue.ErrProofSpent):
		st := s.settings(rm)
		return s.challenge(rm, st, visitor, max(over, s.joins.take(opt.Address, now)), s.pow.roomExtra(rm, now, false), now)
	}
	return err
}

// issue signs a challenge for room and visitor at difficulty bits.
func (p *powState) issue(room, visitor string, bitsN int, now time.Time) powChallenge {
	var nonce [12]byte
	_, _ = rand.Read(nonce[:])
	exp := now.Add(powTTL).Unix()
	body := "p1." + room + "." + strconv.Itoa(bitsN) + "." + strconv.FormatInt(exp, 10) + "." +
		base64.RawURLEncoding.EncodeToString(nonce[:])
	ch := body + "." + base64.RawURLEncoding.EncodeToString(powMAC((*p.keys.Load())[0], body, visitor))
	return powChallenge{Challenge: ch, Difficulty: bitsN, Algorithm: "sha256-leading-zero-bits",
		Header: powHeader, ExpiresAt: time.Unix(exp, 0).UTC().Format(time.RFC3339)}
}

func powMAC(key []byte, body, visitor string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	m.Write([]byte{0})
	m.Write([]byte(visitor))
	return m.Sum(nil)[:16]
}

// Reasons a solution is refused.
var (
	errPoWMalformed = errors.New("pow: malformed solution")
	errPoWForged    = errors.New("pow: challenge not ours, or for another room or visitor")
	errPoWExpired   = errors.New("pow: challenge expired")
	errPoWWeak      = errors.New("pow: hash does not meet the difficulty")
	errPoWSpent     = errors.New("pow: solution already used")
)

// parsedSolution is a Foyer-PoW header taken apart.
type parsedSolution struct {
	body, nonce, room string
	bits              int
	exp               int64
	mac               []byte
	input             string // what is hashed: challenge ":" counter
}

// parseSolution takes "p1.<room>.<bits>.<exp>.<nonce>.<mac>:<counter>" apart, strictly.
func parseSolution(h string) (parsedSolution, error) {
	var ps parsedSolution
	if len(h) > maxPoWHeaderLen {
		return ps, errPoWMalformed
	}
	ch, counter, ok := strings.Cut(h, ":")
	if !ok || len(counter) == 0 || len(counter) > 20 {
		return ps, errPoWMalformed
	}
	for i := 0; i < len(counter); i++ {
		if counter[i] < '0' || counter[i] > '9' {
			return ps, errPoWMalformed
		}
	}
	parts := strings.Split(ch, ".")
	if len(parts) != 6 || parts[0] != "p1" || !roomName.MatchString(parts[1]) || len(parts[4]) != 16 {
		return ps, errPoWMalformed
	}
	b, err := strconv.Atoi(parts[2])
	if err != nil || b < powMinBits || b > powMaxBits || strconv.Itoa(b) != parts[2] {
		return ps, errPoWMalformed
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || exp <= 0 || strconv.FormatInt(exp, 10) != parts[3] {
		return ps, errPoWMalformed
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(mac) != 16 {
		return ps, errPoWMalformed
	}
	ps = parsedSolution{body: ch[:len(ch)-len(parts[5])-1], nonce: parts[4], room: parts[1], bits: b, exp: exp, mac: mac, input: h}
	return ps, nil
}

// leadingZeroBits counts the leading zero bits of sum.
func leadingZeroBits(sum []byte) int {
	n := 0
	for _, b := range sum {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// verify checks a solution for room and visitor at now and spends it on this replica.
func (p *powState) verify(h, room, visitor string, now time.Time) error {
	_, err := p.check(h, room, visitor, now)
	return err
}

// signed reports whether one of the challenge keys signed ps's challenge for visitor.
func (p *powState) signed(ps parsedSolution, visitor string) bool {
	for _, k := range *p.keys.Load() {
		if hmac.Equal(ps.mac, powMAC(k, ps.body, visitor)) {
			return true
		}
	}
	return false
}

// check is verify returning the solution: its nonce is the id the join spends fleet-wide.
func (p *powState) check(h, room, visitor string, now time.Time) (parsedSolution, error) {
	ps, err := parseSolution(h)
	if err != nil {
		return ps, err
	}
	if ps.room != room || !p.signed(ps, visitor) {
		return ps, errPoWForged
	}
	t := now.Unix()
	if t > ps.exp || ps.exp-t > int64(powTTL/time.Second)+60 {
		return ps, errPoWExpired
	}
	sum := sha256.Sum256([]byte(ps.input))
	if leadingZeroBits(sum[:]) < ps.bits {
		return ps, errPoWWeak
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t-p.gcAt > 30 || len(p.spent) >= powSpentMax {
		for k, e := range p.spent {
			if e < t {
				delete(p.spent, k)
			}
		}
		p.gcAt = t
	}
	if _, ok := p.spent[ps.nonce]; ok || len(p.spent) >= powSpentMax {
		return ps, errPoWSpent
	}
	p.spent[ps.nonce] = ps.exp
	return ps, nil
}

// powPage answers a browser whose join needs a proof-of-work with the queue page in its
// "joining" state: the page's script fetches the challenge (the join's 428), solves it in a
// Web Worker and joins. Any other error, or a client that is not a browser, gets err.
func (s *Server) powPage(c echo.Context, rm *room, dest destination, err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Code != "pow_required" || !wantsHTML(c.Request()) {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.renderQueuePage(c, rm, statusBody{Room: rm.cfg.Name, State: "open"}, dest)
}
