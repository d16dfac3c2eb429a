package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

type phase uint8

const (
	phArrive phase = iota // not yet in touch with the site
	phWait                // in the line
	phBrowse              // in: load the programme
	phBook                // press "book"
	phDone
)

// Outcome is how a visitor's visit ended.
type Outcome uint8

// The outcomes.
const (
	Unfinished Outcome = iota // the run ended first
	Booked
	SoldOut   // every screening tried was sold out
	GaveUp    // too many errors
	Abandoned // left the line for good
	Refused   // the room was closed
	Bot       // a bot: joined and never polled
)

var outcomeNames = [...]string{"unfinished", "booked", "sold_out", "gave_up", "abandoned", "refused", "bot"}

// kind is how a visitor behaves while waiting (Crowd).
type kind uint8

const (
	kDesktop   kind = iota // visible tab, polls as told
	kPhone                 // locks and sleeps now and then
	kHidden                // hidden desktop tab, throttled
	kImpatient             // reloads every few seconds
	kBot                   // joins, never polls
)

var kindNames = [...]string{"desktop", "phone", "hidden", "impatient", "bot"}

// shown is what one answer in the line showed the visitor: its ETA range (sale seconds from
// at; lo < 0 when none was shown) and its place.
type shown struct {
	at, lo, hi float32
	place      int32
	returning  bool
}

func (o Outcome) String() string { return outcomeNames[o] }

// visitor is one person; its tabs (one or two) share it under mu.
type visitor struct {
	mu  sync.Mutex
	id  int32
	out Outcome
	ph  phase
	// behaviour
	prequeue  bool
	tabs      int8 // open tabs still running
	errs      int16
	tries     int8
	seats     int8
	sentBack  int8
	admitted  bool
	owner     *tab
	screening int32
	arrival   float64 // sale seconds, as scheduled
	joined    float64 // when its first request went out (NaN before): the order the site saw
	abandonAt float64 // +Inf when patient
	awayAt    float64 // +Inf when staying
	awayUntil float64
	tab2At    float64 // +Inf for one tab
	lastWait  float64 // last moment told to wait
	adm       Interval
	position  int64 // the place in the room's order foyer reported (after the shuffle)
	doneAt    float64
	kind      kind
	group     int32   // shared address group (-1: its own address)
	returnAt  float64 // a leaver who comes back: when (+Inf otherwise)
	left      bool    // left the line at some point (a returning leaver)
	hidden    float64 // a hidden tab: from when its timers are throttled (+Inf otherwise)
	// what the line showed it, after the opening: every answer while waiting (the first is
	// the ETA at join), the best place (sent back as Foyer-Place), rises seen and notices
	seen      []shown
	bestPlace int64
	rises     int32
	notices   int32
	skippedAt float64 // first answer that said "returning" (NaN: never)
	jar       jar
	token     string
}

// tab is one browser tab of a visitor: the unit the engine schedules.
type tab struct {
	r      *runner
	v      *visitor
	second bool
}

// action is one HTTP exchange a tab is about to make.
type action uint8

const (
	actNone action = iota
	actJoin
	actPoll
	actList
	actBook
)

var actionNames = [...]string{"none", "join", "poll", "list", "book"}

// reply is what came back.
type reply struct {
	status     int
	body       []byte
	retryAfter float64 // wall seconds
	err        errKind
	placeSent  int64 // the best place the request carried (Foyer-Place)
}

type errKind uint8

const (
	errNone errKind = iota
	errConn
	errTimeout
	errRateLimited
	errOverloaded // 503
	errGatewayTimeout
	errServer // other 5xx
	errDenied // 401/403
	errClient // other 4xx
	errBadReply
	numErrKinds
)

var errKindNames = [numErrKinds]string{"", "connection", "client_timeout", "429", "503", "504", "5xx", "401_403",
	"4xx", "bad_reply"}

// statusReply is foyer's status JSON (the fields the simulator uses).
type statusReply struct {
	State       string  `json:"state"`
	Place       *int64  `json:"place"`
	PollAfterMs float64 `json:"poll_after_ms"`
	Admitted    bool    `json:"admitted"`
	Token       string  `json:"token"`
	Redirect    string  `json:"redirect"`
	Position    int64   `json:"position"`
	ETA         *struct {
		Low  float64 `json:"low"`
		High float64 `json:"high"`
	} `json:"eta_seconds"`
	Returning bool   `json:"returning"`
	Stalled   string `json:"stalled"`
	Notice    string `json:"notice"`
}

var pollAfterKey = []byte(`"poll_after_ms"`)

// step runs the tab's next move.
func (t *tab) step(ctx context.Context, wall time.Time) (time.Time, bool) {
	r, v := t.r, t.v
	now := r.clock.sale(wall)
	v.mu.Lock()
	act, at, ok := r.decide(t, now)
	if !ok {
		v.tabs--
		v.mu.Unlock()
		return time.Time{}, false
	}
	if act == actNone {
		v.mu.Unlock()
		return r.clock.wall(at), true
	}
	if math.IsNaN(v.joined) && (act == actJoin || act == actList) {
		v.joined = now
	}
	method, path, body, bearer := r.request(v, act)
	cookie := v.jar.header(path)
	place := int64(0)
	if act == actPoll {
		place = v.bestPlace
	}
	v.mu.Unlock()

	rep := r.call(ctx, v, act, method, path, body, cookie, bearer, place)
	rep.placeSent = place
	if ctx.Err() != nil {
		return time.Time{}, false
	}

	now = r.clock.sale(time.Now())
	v.mu.Lock()
	at, ok = r.handle(t, act, rep, now)
	if !ok {
		v.tabs--
	}
	v.mu.Unlock()
	if !ok {
		return time.Time{}, false
	}
	return r.clock.wall(at), true
}

// decide picks the tab's next action at sale time now, or a later time to look again
// (actNone), or ends the tab (ok false). Caller holds v.mu.
func (r *runner) decide(t *tab, now float64) (act action, at float64, ok bool) {
	v := t.v
	if v.ph == phDone {
		return actNone, 0, false
	}
	if t.second {
		// The second tab only polls the line; once in, the tab that saw it drives.
		if v.ph == phArrive {
			return actNone, now + 2, true
		}
		if v.ph != phWait {
			if v.owner == t {
				return r.ownerAction(v, now)
			}
			return actNone, 0, false
		}
		return r.waitAction(v, now)
	}
	if v.owner != nil && v.owner != t {
		return actNone, 0, false
	}
	switch v.ph {
	case phArrive:
		switch r.tgt.Mode {
		case Foyer:
			return actJoin, 0, true
		case Paced:
			v.ph = phWait
			v.joined = now
			r.pacer.join(v)
			return actNone, 0, false // the pacer wakes the tab up when it is in
		default:
			v.ph = phBrowse
			return actList, 0, true
		}
	case phWait:
		return r.waitAction(v, now)
	default:
		return r.ownerAction(v, now)
	}
}

func (r *runner) ownerAction(v *visitor, now float64) (action, float64, bool) {
	switch v.ph {
	case phBrowse:
		return actList, 0, true
	case phBook:
		return actBook, 0, true
	}
	return actNone, 0, false
}

// waitAction handles leaving, stepping away and polling while in the line. Caller holds v.mu.
func (r *runner) waitAction(v *visitor, now float64) (action, float64, bool) {
	if now >= v.abandonAt {
		if !math.IsInf(v.returnAt, 1) && !v.left {
			// closes the tab, and comes back later with the same cookies
			v.left = true
			v.awayAt, v.awayUntil = now, v.returnAt
			return actNone, v.returnAt, true
		}
		if !v.left {
			r.finish(v, Abandoned, now)
			return actNone, 0, false
		}
	}
	if now >= v.awayAt && now < v.awayUntil {
		return actNone, v.awayUntil, true
	}
	if v.kind == kPhone && now >= v.awayUntil {
		// awake again: it will lock once more
		c := r.sc.Crowd
		v.awayAt = now + rand.ExpFloat64()*c.PhoneAwake.Seconds()
		v.awayUntil = v.awayAt + uniformSec(c.SleepMin, c.SleepMax)
	}
	return actPoll, 0, true
}

// request builds the HTTP request of act. Caller holds v.mu.
func (r *runner) request(v *visitor, act action) (method, path string, body []byte, bearer string) {
	switch act {
	case actJoin:
		return http.MethodPost, r.roomPath + "/join", nil, ""
	case actPoll:
		return http.MethodGet, r.roomPath + "/status", nil, ""
	case actList:
		// One page of the programme: what a browser shows first, and cheap to carry.
		return http.MethodGet, r.tgt.BasePath + "/api/screenings?limit=20", nil, r.bearer(v)
	default:
		body = fmt.Appendf(nil, `{"customer":"v%d","screening":%d,"seats":%d}`, v.id, v.screening, v.seats)
		return http.MethodPost, r.tgt.BasePath + "/api/bookings", body, r.bearer(v)
	}
}

func (r *runner) bearer(v *visitor) string {
	if r.tgt.BearerToken {
		return v.token
	}
	return ""
}

// call makes one HTTP exchange. It touches no visitor state but v.id and v.jar (under v.mu).
func (r *runner) call(ctx context.Context, v *visitor, act action, method, path string, body []byte, cookie, bearer string, place int64) reply {
	r.count.requests[act].Add(1)
	ctx, cancel := context.WithTimeout(ctx, r.clientTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return reply{err: errConn}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if place > 0 {
		req.Header.Set("Foyer-Place", strconv.FormatInt(place, 10))
	}
	if r.tgt.ForwardedFor {
		req.Header.Set("X-Forwarded-For", r.addr(v))
	}
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return reply{err: errTimeout}
		}
		return reply{err: errConn}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	rep := reply{status: resp.StatusCode, body: data}
	if err != nil {
		rep.err = errConn
		if ctx.Err() != nil {
			rep.err = errTimeout
		}
	}
	if len(resp.Header["Set-Cookie"]) > 0 {
		v.mu.Lock()
		v.jar.update(resp.Header)
		v.mu.Unlock()
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		rep.retryAfter, _ = strconv.ParseFloat(ra, 64)
	}
	if rep.err == errNone {
		switch s := resp.StatusCode; {
		case s == http.StatusTooManyRequests:
			rep.err = errRateLimited
		case s == http.StatusServiceUnavailable:
			rep.err = errOverloaded
		case s == http.StatusGatewayTimeout:
			rep.err = errGatewayTimeout
		case s >= 500:
			rep.err = errServer
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			rep.err = errDenied
		}
	}
	return rep
}

// addr is the address v's requests come from: a shared one for a group or a bot, else its own.
func (r *runner) addr(v *visitor) string {
	if v.group >= 0 {
		return fmt.Sprintf("203.0.%d.%d", (v.group>>8)&0xff, v.group&0xff)
	}
	return visitorAddr(v.id)
}

// visitorAddr is a documentation-range address per visitor, so a gateway that trusts the
// loopback proxy rate-limits each simulated visitor on its own. Only a header: no traffic
// goes there.
func visitorAddr(id int32) string {
	return fmt.Sprintf("198.%d.%d.%d", 18+(id>>16)&1, (id>>8)&0xff, id&0xff)
}

// handle applies a reply at sale time now and returns when the tab acts next. Caller holds v.mu.
func (r *runner) handle(t *tab, act action, rep reply, now float64) (float64, bool) {
	v := t.v
	if v.ph == phDone {
		return 0, false
	}
	if rep.err != errNone {
		return r.onError(v, act, rep, now)
	}
	switch act {
	case actJoin, actPoll:
		if v.ph != phWait && v.ph != phArrive {
			return 0, false // the other tab got in meanwhile
		}
		var st statusReply
		if json.Unmarshal(rep.body, &st) != nil || rep.status >= 400 {
			if rep.status == http.StatusForbidden || rep.status == http.StatusGone || st.State == "closed" {
				r.finish(v, Refused, now)
				return 0, false
			}
			return r.onError(v, act, reply{err: errBadReply, body: rep.body}, now)
		}
		if st.State == "closed" {
			r.finish(v, Refused, now)
			return 0, false
		}
		if v.ph == phArrive {
			v.ph = phWait
			v.lastWait = v.arrival
			// foyer decides who is in the pre-queue, on its own clock.
			v.prequeue = st.State == "prequeue" || st.State == "scheduled"
			if v.kind == kBot {
				r.finish(v, Bot, now) // joined; never polls
				return 0, false
			}
		}
		r.record(v, &st, rep.placeSent, now)
		if st.Position > 0 && st.State != "prequeue" && st.State != "scheduled" {
			v.position = st.Position
		}
		if st.Admitted {
			if !v.admitted { // the first time counts (a visitor sent back may get in again)
				v.admitted = true
				v.adm = Interval{Lo: math.Max(v.lastWait, 0), Hi: now}
				r.count.gotIn.Add(1)
			}
			if st.Token != "" {
				v.token = st.Token
			} else if tok := v.jar.get("foyer_admission"); tok != "" {
				v.token = tok
			}
			v.ph = phBrowse
			v.owner = t
			return now, true
		}
		v.lastWait = now
		poll := st.PollAfterMs
		if poll <= 0 {
			poll = 2000
		}
		// foyer runs on the wall clock: its poll interval is wall time.
		next := now + poll/1000*r.sc.Speed
		c := r.sc.Crowd
		switch {
		case v.kind == kImpatient:
			next = now + uniformSec(c.ReloadMin, c.ReloadMax)
		case v.kind == kHidden && now >= v.hidden:
			next = math.Max(next, now+c.HiddenEvery.Seconds())
		}
		return next, true
	case actList:
		if bytes.Contains(rep.body, pollAfterKey) {
			return r.sentBack(v, now)
		}
		if rep.status != http.StatusOK {
			return r.onError(v, act, reply{err: errClient, body: rep.body}, now)
		}
		if !v.admitted { // straight at the backend: getting the page is getting in
			v.admitted = true
			v.adm = Interval{Lo: now, Hi: now}
			r.count.gotIn.Add(1)
		}
		v.ph = phBook
		return now + math.Max(2, rand.ExpFloat64()*r.sc.ThinkMean.Seconds()), true
	case actBook:
		switch {
		case rep.status == http.StatusCreated:
			r.count.bookings.Add(1)
			r.finish(v, Booked, now)
			return 0, false
		case rep.status == http.StatusConflict:
			v.tries++
			if int(v.tries) >= r.sc.BookTries {
				r.finish(v, SoldOut, now)
				return 0, false
			}
			v.screening = 1 + rand.Int32N(int32(r.sc.Screenings))
			return now + 1 + 2*rand.Float64(), true
		case bytes.Contains(rep.body, pollAfterKey):
			return r.sentBack(v, now)
		default:
			return r.onError(v, act, reply{err: errClient, body: rep.body}, now)
		}
	}
	return 0, false
}

// record keeps what an answer in the line showed v: after the opening, its ETA range and
// place, and whether the place rose above the best it was shown (a broken promise: must not
// happen). Caller holds v.mu.
func (r *runner) record(v *visitor, st *statusReply, sent int64, now float64) {
	if st.State == "prequeue" || st.State == "scheduled" || st.State == "closed" {
		return // before the opening places are drawn, not promised
	}
	if st.Stalled != "" {
		r.count.stalled.Add(1)
	}
	if st.Notice != "" {
		v.notices++
	}
	if st.Returning && math.IsNaN(v.skippedAt) {
		v.skippedAt = now
	}
	if st.Admitted || st.Place == nil || *st.Place <= 0 {
		return
	}
	p := *st.Place
	// A rise is a place above the best the request carried: with two tabs, an answer may
	// arrive after the other tab's newer one, and only the page that sent it shows it.
	if sent > 0 && p > sent {
		v.rises++
		r.riseSample(fmt.Sprintf("visitor %d (%s, tabs %d): place %d after %d, returning %v, position %d, at T%+.0fs",
			v.id, kindNames[v.kind], v.tabs, p, sent, st.Returning, st.Position, now))
	}
	if v.bestPlace == 0 || p < v.bestPlace {
		v.bestPlace = p
	}
	sh := shown{at: float32(now), lo: -1, hi: -1, place: int32(min(p, math.MaxInt32)), returning: st.Returning}
	if st.ETA != nil && st.Stalled == "" {
		// foyer's ETA is wall seconds, whole (rounded down): the range shown is [low, high+1)
		sh.lo, sh.hi = float32(st.ETA.Low*r.sc.Speed), float32((st.ETA.High+1)*r.sc.Speed)
	}
	v.seen = append(v.seen, sh)
}

// sentBack handles a protected request answered with the line: the session ended or was never
// there; the visitor waits again.
func (r *runner) sentBack(v *visitor, now float64) (float64, bool) {
	v.sentBack++
	v.bestPlace = 0 // a new wait: a new place
	r.count.sentBack.Add(1)
	if v.sentBack > 3 {
		return r.onError(v, actList, reply{err: errDenied}, now)
	}
	v.ph = phWait
	v.owner = nil
	v.lastWait = now
	return now + 1, true
}

// onError counts an error and schedules the impatient retry, or gives up. Caller holds v.mu.
func (r *runner) onError(v *visitor, act action, rep reply, now float64) (float64, bool) {
	r.recordError(rep.err, act, rep.body, now)
	v.errs++
	if int(v.errs) > r.sc.Retries {
		r.finish(v, GaveUp, now)
		return 0, false
	}
	delay := uniformSec(r.sc.RetryMin, r.sc.RetryMax)
	if rep.err == errRateLimited && rep.retryAfter > 0 {
		// foyer's rate limit: its Retry-After is wall time. (A busy backend's Retry-After is
		// ignored: impatient people press reload.)
		delay = math.Max(delay, rep.retryAfter*r.sc.Speed)
	}
	return now + delay, true
}

// finish ends the visit. Caller holds v.mu.
func (r *runner) finish(v *visitor, out Outcome, now float64) {
	if v.ph == phDone {
		return
	}
	v.ph, v.out, v.doneAt = phDone, out, now
	if r.pacer != nil && v.admitted {
		r.pacer.leave()
	}
	if r.count.finished.Add(1) == int64(len(r.visitors)) {
		r.cancel()
	}
}
