package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/admission"
	"github.com/foyerhq/foyer/queue"
)

// statusBody is the visitor status JSON of DESIGN.md's HTTP contract (plus a few fields the
// queue page uses).
type statusBody struct {
	Room         string   `json:"room"`
	State        string   `json:"state"`
	Place        *int64   `json:"place"`
	Ahead        *int64   `json:"ahead"`
	ETA          *etaBody `json:"eta_seconds"`
	PollAfterMS  int64    `json:"poll_after_ms"`
	Admitted     bool     `json:"admitted"`
	Redirect     string   `json:"redirect"`
	OpensAt      *string  `json:"opens_at"`
	Token        string   `json:"token,omitempty"`
	Ticket       string   `json:"ticket,omitempty"`
	Reconnecting bool     `json:"reconnecting"`
	Position     int64    `json:"position,omitempty"`
	JoinedPlace  int64    `json:"joined_place,omitempty"`
	UpdatedAt    string   `json:"updated_at"`
}

type etaBody struct {
	Low  int64 `json:"low"`
	High int64 `json:"high"`
}

// admittedAs is what statusFor learned when the visitor was admitted.
type admittedAs struct {
	claims admission.Claims
	token  string
}

// destination says where an admitted visitor goes: the return URL (token mode) or a
// protected path of the room (proxy mode).
type destination struct {
	returnURL string
	next      string
	bind      string // token mode: admission.Commitment of the site's session, for the token's cnf
}

func (s *Server) destinationFrom(r *http.Request, rm *room) (destination, error) {
	var d destination
	if r.URL.RawQuery == "" { // every app poll: nothing to parse
		return d, nil
	}
	q := r.URL.Query()
	if ret := q.Get("return"); ret != "" {
		if rm.returns == nil {
			return d, httpError(http.StatusBadRequest, "bad_return_url", "this room does not send visitors back to a return URL")
		}
		v, err := rm.returns.Validate(ret)
		if err != nil {
			return d, httpError(http.StatusBadRequest, "bad_return_url", "the return URL is not one this room may send visitors to")
		}
		d.returnURL = v
	}
	if bind := q.Get(admission.BindParam); bind != "" {
		if rm.returns == nil || !admission.ValidCommitment(bind) {
			return d, httpError(http.StatusBadRequest, "bad_bind", "bind must be the base64url SHA-256 of the site's session (token mode)")
		}
		d.bind = bind
	}
	if next := q.Get("next"); next != "" {
		if p, ok := localPath(next); ok && s.match(strings.SplitN(p, "?", 2)[0]) == rm {
			d.next = p
		}
	}
	return d, nil
}

func (d destination) redirect(rm *room, token string) string {
	if d.returnURL != "" {
		u, err := admission.HandoffURL(d.returnURL, token)
		if err != nil { // returnURL was validated: cannot happen
			return ""
		}
		return u
	}
	if d.next != "" {
		return d.next
	}
	if len(rm.cfg.Paths) > 0 {
		return rm.cfg.Paths[0]
	}
	return ""
}

// ticketFrom reads the visitor's ticket for rm from the Foyer-Ticket header or the room's
// ticket cookie. A ticket of another visitor (cookie mismatch) does not count.
func (s *Server) ticketFrom(r *http.Request, rm *room, visitor string) (queue.Ticket, string, bool) {
	raw := r.Header.Get(ticketHeader)
	if raw == "" || len(raw) > maxCookieValue {
		raw = cookieValue(r, ticketPrefix+rm.cfg.Name)
	}
	if raw == "" {
		return queue.Ticket{}, "", false
	}
	t, err := s.engine.DecodeTicket(rm.cfg.Name, raw)
	if err != nil {
		return queue.Ticket{}, "", false
	}
	if visitor == "" || t.Visitor != visitor { // no visitor secret, no ticket: a ticket alone is not a place
		return queue.Ticket{}, "", false
	}
	return t, raw, true
}

// ensureVisitor returns the visitor id, setting a new secret cookie when the request carries
// no secret (the new secret is kept in c for the claim's cnf).
func (s *Server) ensureVisitor(c echo.Context) string {
	if v := visitorFrom(c.Request()); v != "" {
		return v
	}
	secret := newVisitorID()
	s.setCookie(c.Response(), admission.VisitorCookieName, secret, 30*24*time.Hour)
	c.Set(newSecretKey, secret)
	return visitorID(secret)
}

// newSecretKey holds, in the echo context, a visitor secret set in this very response.
const newSecretKey = "foyer.new_visitor_secret"

// confirmation is the cnf of the token a claim issues: the token-mode site's bind value when
// the visitor came with one, else the commitment of the visitor's secret.
func confirmation(c echo.Context, dest destination) string {
	if dest.bind != "" {
		return dest.bind
	}
	secret := visitorSecret(c.Request())
	if s, ok := c.Get(newSecretKey).(string); ok && secret == "" {
		secret = s
	}
	return admission.Commitment(secret)
}

// join takes a ticket for the visitor (rate limited per client) and sets the ticket cookie.
func (s *Server) join(c echo.Context, rm *room, visitor string) (queue.Ticket, string, error) {
	// Per-address limit and proof-of-work (pow.go): 429 in mode off, else 428 pow_required
	// with a challenge whose difficulty grows with the address's or the room's pressure.
	if err := s.checkJoinPoW(c, rm, visitor); err != nil {
		return queue.Ticket{}, "", err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*s.cfg.Redis.Timeout)
	defer cancel()
	t, raw, err := s.engine.Join(ctx, rm.cfg.Name, visitor)
	if err != nil {
		return t, "", s.storeErr("join", err)
	}
	s.m.join(rm.cfg.Name)
	s.setCookie(c.Response(), ticketPrefix+rm.cfg.Name, raw, 7*24*time.Hour)
	return t, raw, nil
}

// storeErr turns engine errors into client errors.
func (s *Server) storeErr(op string, err error) error {
	switch {
	case errors.Is(err, queue.ErrRoomClosed):
		return httpError(http.StatusGone, "room_closed", "this sale is closed")
	case errors.Is(err, queue.ErrRoomScheduled):
		return httpError(http.StatusConflict, "not_open_yet", "the line for this sale has not opened yet")
	case errors.Is(err, queue.ErrRoomPaused):
		return httpError(http.StatusServiceUnavailable, "room_paused", "admissions are paused; your place is kept")
	case errors.Is(err, queue.ErrTicketSpent), errors.Is(err, queue.ErrBadTicket), errors.Is(err, queue.ErrBeyondIssued):
		return httpError(http.StatusGone, "bad_ticket", "this ticket can no longer be used; join the line again")
	case errors.Is(err, queue.ErrUnknownRoom):
		return httpError(http.StatusNotFound, "unknown_room", "there is no room with that name")
	case errors.Is(err, queue.ErrStoreUnavailable), errors.Is(err, context.DeadlineExceeded):
		s.m.redisErrors.WithLabelValues(op).Inc()
		return &Error{Status: http.StatusServiceUnavailable, Code: "reconnecting",
			Message: "the waiting room is reconnecting; keep this page open, your place is kept", RetryAfter: 3, Cause: err}
	default:
		return internalError(err)
	}
}

// statusFor computes the visitor's status and, when it is their turn, claims the slot and
// issues the admission token (setting the admission cookie).
func (s *Server) statusFor(c echo.Context, rm *room, t queue.Ticket, dest destination) (statusBody, *admittedAs, error) {
	now := s.now()
	// Status answers from the engine's cache; the rare Redis call it makes (a room not cached
	// yet) has the engine's own per-call deadline, so no timer is armed for the common case.
	st, err := s.engine.Status(c.Request().Context(), t)
	if err != nil && !errors.Is(err, queue.ErrStoreUnavailable) {
		return statusBody{}, nil, s.storeErr("status", err)
	}
	s.m.poll(rm.cfg.Name)
	b := statusBody{
		Room:         rm.cfg.Name,
		State:        string(st.State),
		UpdatedAt:    s.clockText(now),
		Reconnecting: st.StoreDown || err != nil,
		Position:     st.Position,
	}
	if !st.OpensAt.IsZero() {
		o := st.OpensAt.In(rm.loc).Format(time.RFC3339)
		b.OpensAt = &o
	}
	waitingOpen := st.State == queue.StateOpen || st.State == queue.StatePaused
	if waitingOpen && st.Position > 0 {
		place, ahead := max(st.Place, 0), max(st.Ahead, 0)
		b.Place, b.Ahead = &place, &ahead
		b.ETA = &etaBody{Low: int64(st.ETALow / time.Second), High: int64(st.ETAHigh / time.Second)}
	}
	tryClaim := st.Admitted || (st.State == queue.StateOpen && st.Place == 1)
	if tryClaim && !b.Reconnecting {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*s.cfg.Redis.Timeout)
		defer cancel()
		adm, err := s.claim(ctx, rm, t, confirmation(c, dest), now)
		switch {
		case err == nil:
			b.Admitted, b.Token = true, adm.token
			b.Redirect = dest.redirect(rm, adm.token)
			zero := int64(0)
			b.Place, b.Ahead = &zero, &zero
			b.ETA = &etaBody{}
			s.setCookie(c.Response(), admission.CookieNameFor(rm.cfg.Name), adm.token, time.Until(adm.claims.ExpiresAt)+time.Minute)
			return b, adm, nil
		case errors.Is(err, queue.ErrNotYourTurn), errors.Is(err, queue.ErrRoomPaused):
		case errors.Is(err, queue.ErrStoreUnavailable) || errors.Is(err, context.DeadlineExceeded):
			s.m.redisErrors.WithLabelValues("claim").Inc()
			b.Reconnecting = true
		default:
			return b, nil, s.storeErr("claim", err)
		}
	}
	if b.Reconnecting && rm.cfg.OnStoreError == "open" && st.State == queue.StateOpen {
		adm, err := s.issueUnbacked(rm, t, confirmation(c, dest), now)
		if err == nil {
			b.Admitted, b.Token, b.Redirect = true, adm.token, dest.redirect(rm, adm.token)
			s.setCookie(c.Response(), admission.CookieNameFor(rm.cfg.Name), adm.token, time.Until(adm.claims.ExpiresAt)+time.Minute)
			return b, adm, nil
		}
	}
	b.PollAfterMS = pollAfter(st, b.Reconnecting, now)
	return b, nil, nil
}

// claim takes the slot and signs the admission token.
func (s *Server) claim(ctx context.Context, rm *room, t queue.Ticket, cnf string, now time.Time) (*admittedAs, error) {
	start := time.Now()
	lease, err := s.engine.Claim(ctx, t)
	result := "ok"
	if err != nil {
		result = "not_yet"
		if !errors.Is(err, queue.ErrNotYourTurn) {
			result = "error"
		}
		s.m.claims.WithLabelValues(rm.cfg.Name, result).Inc()
		return nil, err
	}
	cl := admission.Claims{Room: rm.cfg.Name, Visitor: t.Visitor, Confirmation: cnf, JTI: lease.JTI,
		IssuedAt: now, NotBefore: now, ExpiresAt: lease.ExpiresAt}
	tok, err := s.issuer.Issue(cl)
	if err != nil {
		return nil, err
	}
	s.m.claims.WithLabelValues(rm.cfg.Name, result).Inc()
	s.m.claimLatency.WithLabelValues(rm.cfg.Name).Observe(time.Since(start).Seconds())
	return &admittedAs{claims: cl, token: tok}, nil
}

// issueUnbacked admits without a lease: only for rooms configured on_store_error: open while
// Redis is unreachable. The jti says so, and the session is the room's plain session.
func (s *Server) issueUnbacked(rm *room, t queue.Ticket, cnf string, now time.Time) (*admittedAs, error) {
	cl := admission.Claims{Room: rm.cfg.Name, Visitor: t.Visitor, Confirmation: cnf, JTI: "open-" + newVisitorID()[:16],
		IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(rm.cfg.Session)}
	tok, err := s.issuer.Issue(cl)
	if err != nil {
		return nil, err
	}
	return &admittedAs{claims: cl, token: tok}, nil
}

// clockTexts caches the RFC 3339 text of the current second: every status carries it.
var clockTexts atomic.Pointer[clockText]

type clockText struct {
	unix int64
	text string
}

// clockText is now, in UTC to the second, as RFC 3339.
func (s *Server) clockText(now time.Time) string {
	sec := now.Unix()
	if c := clockTexts.Load(); c != nil && c.unix == sec {
		return c.text
	}
	c := &clockText{unix: sec, text: now.UTC().Format(time.RFC3339)}
	clockTexts.Store(c)
	return c.text
}

// pollAfter spreads polls: short near the front, up to ~30 s far back, with ±20% jitter, and
// for the pre-queue a landing spread over the first seconds after opening.
func pollAfter(st queue.Status, reconnecting bool, now time.Time) int64 {
	var d time.Duration
	switch {
	case reconnecting:
		d = 3 * time.Second
	case st.State == queue.StateScheduled || st.State == queue.StatePrequeue:
		until := st.OpensAt.Sub(now)
		switch {
		case until > 2*time.Minute:
			d = 30 * time.Second
		case until > 20*time.Second:
			d = until / 3
		default:
			// land between the opening and a few seconds after it, spread out
			return int64(max(until, 0)/time.Millisecond) + 500 + rand.Int64N(4000)
		}
	case st.State == queue.StatePaused:
		d = 10 * time.Second
	case st.State == queue.StateClosed:
		d = 60 * time.Second
	default:
		d = st.ETALow / 6
		d = min(max(d, 2*time.Second), 30*time.Second)
		if st.Place <= 3 {
			d = time.Second
		}
	}
	if st.PollAfter > 0 && d > st.PollAfter && st.State != queue.StatePrequeue && st.State != queue.StateScheduled {
		d = st.PollAfter // the engine's bound: a polling visitor is never taken for absent
	}
	j := float64(d) * (0.8 + 0.4*rand.Float64())
	return int64(time.Duration(j) / time.Millisecond)
}

// handleJoin: POST /foyer/v1/rooms/{room}/join. Idempotent for a visitor who already holds a
// ticket for the room (refresh, second tab): they keep it.
func (s *Server) handleJoin(c echo.Context) error {
	rm, err := s.roomOf(c)
	if err != nil {
		return err
	}
	dest, err := s.destinationFrom(c.Request(), rm)
	if err != nil {
		return err
	}
	b, _, err := s.enter(c, rm, s.ensureVisitor(c), dest)
	if err != nil {
		return err
	}
	return writeStatus(c, &b)
}

// roomOf is roomParam with a map lookup first: a configured room needs no name check, and
// roomParam explains anything else.
func (s *Server) roomOf(c echo.Context) (*room, error) {
	if rm, ok := s.rooms[c.Param("room")]; ok {
		return rm, nil
	}
	return s.roomParam(c)
}

// handleStatus: GET /foyer/v1/rooms/{room}/status. This is the hot path (every waiting visitor,
// every few seconds): see docs/benchmarks.md before adding work to it.
func (s *Server) handleStatus(c echo.Context) error {
	rm, err := s.roomOf(c)
	if err != nil {
		return err
	}
	dest, err := s.destinationFrom(c.Request(), rm)
	if err != nil {
		return err
	}
	t, _, ok := s.ticketFrom(c.Request(), rm, visitorFrom(c.Request()))
	if !ok {
		return httpError(http.StatusNotFound, "no_ticket", "you have no ticket for this room yet; join first")
	}
	b, _, err := s.statusFor(c, rm, t, dest)
	if err != nil {
		return err
	}
	return writeStatus(c, &b)
}

// writeStatus sends the status JSON, exactly as c.JSON would encode it, without reflection.
func writeStatus(c echo.Context, b *statusBody) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if c.Request().URL.RawQuery != "" && c.QueryParams().Has("pretty") {
		return c.JSON(http.StatusOK, *b) // echo's indented form, for people reading it (a copy: b stays on the stack)
	}
	buf := statusBufs.Get().(*[]byte)
	*buf = appendStatusJSON((*buf)[:0], b)
	err := c.JSONBlob(http.StatusOK, *buf)
	if cap(*buf) <= 4096 {
		statusBufs.Put(buf)
	}
	return err
}

var statusBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendStatusJSON appends b as encoding/json (HTML-escaped, as echo's serializer) encodes it,
// with the trailing newline of json.Encoder. TestStatusJSONMatchesEncodingJSON keeps the two
// the same: a field added to statusBody must be added here.
func appendStatusJSON(buf []byte, b *statusBody) []byte {
	buf = append(buf, `{"room":`...)
	buf = appendJSONString(buf, b.Room)
	buf = append(buf, `,"state":`...)
	buf = appendJSONString(buf, b.State)
	buf = append(buf, `,"place":`...)
	buf = appendIntPtr(buf, b.Place)
	buf = append(buf, `,"ahead":`...)
	buf = appendIntPtr(buf, b.Ahead)
	buf = append(buf, `,"eta_seconds":`...)
	if b.ETA == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, `{"low":`...)
		buf = strconv.AppendInt(buf, b.ETA.Low, 10)
		buf = append(buf, `,"high":`...)
		buf = strconv.AppendInt(buf, b.ETA.High, 10)
		buf = append(buf, '}')
	}
	buf = append(buf, `,"poll_after_ms":`...)
	buf = strconv.AppendInt(buf, b.PollAfterMS, 10)
	buf = append(buf, `,"admitted":`...)
	buf = strconv.AppendBool(buf, b.Admitted)
	buf = append(buf, `,"redirect":`...)
	buf = appendJSONString(buf, b.Redirect)
	buf = append(buf, `,"opens_at":`...)
	if b.OpensAt == nil {
		buf = append(buf, "null"...)
	} else {
		buf = appendJSONString(buf, *b.OpensAt)
	}
	if b.Token != "" {
		buf = append(buf, `,"token":`...)
		buf = appendJSONString(buf, b.Token)
	}
	if b.Ticket != "" {
		buf = append(buf, `,"ticket":`...)
		buf = appendJSONString(buf, b.Ticket)
	}
	buf = append(buf, `,"reconnecting":`...)
	buf = strconv.AppendBool(buf, b.Reconnecting)
	if b.Position != 0 {
		buf = append(buf, `,"position":`...)
		buf = strconv.AppendInt(buf, b.Position, 10)
	}
	if b.JoinedPlace != 0 {
		buf = append(buf, `,"joined_place":`...)
		buf = strconv.AppendInt(buf, b.JoinedPlace, 10)
	}
	buf = append(buf, `,"updated_at":`...)
	buf = appendJSONString(buf, b.UpdatedAt)
	return append(buf, "}\n"...)
}

func appendIntPtr(buf []byte, p *int64) []byte {
	if p == nil {
		return append(buf, "null"...)
	}
	return strconv.AppendInt(buf, *p, 10)
}

// appendJSONString quotes s as encoding/json does with HTML escaping on: <, > and & as \u00XX,
// control characters escaped, invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(buf []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

type releaseBody struct {
	Outcome string `json:"outcome"`
}

// handleRelease: POST /foyer/v1/rooms/{room}/release with the admission token as bearer.
func (s *Server) handleRelease(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	r := c.Request()
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		tok = cookieValue(r, admission.CookieNameFor(rm.cfg.Name))
	}
	if tok == "" {
		return httpError(http.StatusUnauthorized, "no_token", "send the admission token as Authorization: Bearer <token>")
	}
	claims, err := s.verifier.Verify(tok, rm.cfg.Name, s.now())
	if err != nil {
		return &Error{Status: http.StatusUnauthorized, Code: "bad_token", Message: "the admission token was refused: " + refusalReason(err)}
	}
	// Honest outcomes: the outcome is required (no body is a 400, not "abandoned"); only a
	// booking backend (Foyer-Backend-Key) may say booked or failed; without it, only the
	// visitor the token is bound to may give up its own slot.
	var body releaseBody
	dec := json.NewDecoder(io.LimitReader(r.Body, s.cfg.Limits.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || !admission.Outcome(body.Outcome).Valid() {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "the body must be {\"outcome\":\"booked|abandoned|failed\"}",
			Fields: map[string]string{"outcome": "must be booked, abandoned or failed"}}
	}
	out := queue.Outcome(body.Outcome)
	backend, err := s.backendRelease(rm, r)
	if err != nil {
		return err
	}
	if !backend {
		if out != queue.OutcomeAbandoned {
			return httpError(http.StatusForbidden, "backend_only", "only the booking backend may report booked or failed (Foyer-Backend-Key)")
		}
		if !claims.Confirms(visitorSecret(r)) {
			return httpError(http.StatusForbidden, "visitor_mismatch", "only the visitor this admission belongs to may give it up")
		}
	}
	if strings.HasPrefix(claims.JTI, "open-") { // admitted while the store was down: nothing to free
		return c.NoContent(http.StatusNoContent)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*s.cfg.Redis.Timeout)
	defer cancel()
	if err := s.engine.Release(ctx, rm.cfg.Name, claims.JTI, out); err != nil {
		if errors.Is(err, queue.ErrUnknownLease) {
			return c.NoContent(http.StatusNoContent) // already released or expired: the slot is free
		}
		return s.storeErr("release", err)
	}
	if cookieValue(r, admission.CookieNameFor(rm.cfg.Name)) == tok {
		s.clearCookie(c.Response(), admission.CookieNameFor(rm.cfg.Name))
	}
	return c.NoContent(http.StatusNoContent)
}

// refusalReason is the client-facing reason a token was refused.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, admission.ErrExpired):
		return "expired"
	case errors.Is(err, admission.ErrNotYetValid):
		return "not yet valid"
	case errors.Is(err, admission.ErrWrongRoom):
		return "issued for another room"
	case errors.Is(err, admission.ErrUnknownKey):
		return "signed by an unknown key"
	case errors.Is(err, admission.ErrBadSignature):
		return "bad signature"
	default:
		return "malformed"
	}
}

// handleFairness: GET /foyer/v1/rooms/{room}/fairness.
func (s *Server) handleFairness(c echo.Context) error {
	rm, err := s.roomParam(c)
	if err != nil {
		return err
	}
	f, err := s.engine.Fairness(rm.cfg.Name)
	if err != nil {
		return s.storeErr("fairness", err)
	}
	body := fairnessBody{Room: f.Room, Commitment: f.Commitment, Algorithm: f.Algorithm, Opened: f.Opened,
		Seed: f.Seed, PrequeueSize: f.PrequeueSize,
		HowToVerify: "sha256(seed) must equal commitment; the place of pre-queue ticket n (1..prequeue_size) is the " +
			"algorithm's permutation of n keyed by the seed (queue.VerifyPrequeuePlace in foyer's source)"}
	if !f.OpensAt.IsZero() {
		body.OpensAt = f.OpensAt.In(rm.loc).Format(time.RFC3339)
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, body)
}

// fairnessBody is the public record of the pre-queue shuffle.
type fairnessBody struct {
	Room         string `json:"room"`
	Commitment   string `json:"commitment"`
	Algorithm    string `json:"algorithm"`
	OpensAt      string `json:"opens_at,omitempty"`
	Opened       bool   `json:"opened"`
	Seed         string `json:"seed,omitempty"`
	PrequeueSize int64  `json:"prequeue_size"`
	HowToVerify  string `json:"how_to_verify"`
}

// handleJWKS serves the public keys that verify admission tokens.
func (s *Server) handleJWKS(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", s.keys.JWKS())
}
