package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
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
	Remaining    *int64   `json:"remaining,omitempty"` // stock left, only while fewer than place (soldout.go)
	ETA          *etaBody `json:"eta_seconds"`
	PollAfterMS  int64    `json:"poll_after_ms"`
	Admitted     bool     `json:"admitted"`
	Redirect     string   `json:"redirect"`
	OpensAt      *string  `json:"opens_at"`
	Token        string   `json:"token,omitempty"`
	Ticket       string   `json:"ticket,omitempty"`
	Reconnecting bool     `json:"reconnecting"`
	Stalled      string   `json:"stalled,omitempty"`
	Returning    bool     `json:"returning,omitempty"`
	Notice       string   `json:"notice,omitempty"`
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
	if next := q.Get("next"); next != "" {
		if p, ok := localPath(next); ok && s.match(strings.SplitN(p, "?", 2)[0]) == rm {
			d.next = p
		}
	}
	return d, nil
}

func (d destination) redirect(rm *room, token string) string {
	if d.returnURL != "" {
		sep := "?"
		if strings.Contains(d.returnURL, "?") {
			sep = "&"
		}
		return d.returnURL + sep + "foyer_token=" + url.QueryEscape(token)
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
	if visitor != "" && t.Visitor != visitor {
		return queue.Ticket{}, "", false
	}
	return t, raw, true
}

// ensureVisitor returns the visitor id, setting a new cookie when there is none.
func (s *Server) ensureVisitor(c echo.Context) string {
	if v := visitorFrom(c.Request()); v != "" {
		return v
	}
	v := newVisitorID()
	s.setCookie(c.Response(), visitorCookie, v, 30*24*time.Hour)
	return v
}

// join takes a ticket for the visitor (rate limited per client) and sets the ticket cookie.
func (s *Server) join(c echo.Context, rm *room, visitor string) (queue.Ticket, string, error) {
	if ok, wait := s.joins.allow(c.RealIP(), s.now()); !ok {
		s.m.rateLimited.Inc()
		secs := int(wait/time.Second) + 1
		return queue.Ticket{}, "", &Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Message: "too many joins from your address; try again shortly", RetryAfter: secs}
	}
	// A join may wait for the coalesced call ahead of it and then for its own (each up to twice
	// the Redis timeout): a slow store makes a slower join, not an error.
	ctx, cancel := context.WithTimeout(c.Request().Context(), 4*s.cfg.Redis.Timeout)
	defer cancel()
	t, raw, err := s.engine.Join(ctx, rm.cfg.Name, visitor)
	if err != nil {
		return t, "", s.storeErrIn(rm, "join", err)
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

// placeHeader carries the lowest place the visitor was shown (the page and apps send it back),
// so a replica whose cache is a step behind never shows a higher one.
const placeHeader = "Foyer-Place"

// statusFor asks the queue for the visitor's decision (one call: status, and the lease when it
// is their turn) and writes it: the gateway's part is only to sign the admission token and set
// the admission cookie.
func (s *Server) statusFor(c echo.Context, rm *room, t queue.Ticket, dest destination) (statusBody, *admittedAs, error) {
	now := s.now()
	r := c.Request()
	var opt queue.PollOptions
	if h := r.Header.Get(placeHeader); h != "" && len(h) <= 12 {
		opt.BestPlace, _ = strconv.ParseInt(h, 10, 64)
	}
	d, err := s.engine.Poll(r.Context(), t, opt)
	if err != nil {
		return statusBody{}, nil, s.storeErr("status", err)
	}
	s.m.poll(rm.cfg.Name)
	b := statusBody{
		Room:         rm.cfg.Name,
		State:        string(d.State),
		UpdatedAt:    s.clockText(now),
		Reconnecting: d.StoreDown,
		Position:     d.Position,
		PollAfterMS:  d.PollAfter.Milliseconds(),
		Stalled:      string(d.Stalled),
		Returning:    d.Returning,
	}
	if d.PlaceRose {
		b.Notice = "place_rose"
	}
	if d.StoreDown {
		s.m.redisErrors.WithLabelValues("status").Inc()
	}
	if !d.OpensAt.IsZero() {
		o := d.OpensAt.In(rm.loc).Format(time.RFC3339)
		b.OpensAt = &o
	}
	if (d.State == queue.StateOpen || d.State == queue.StatePaused) && d.Position > 0 {
		place, ahead := d.Place, d.Ahead
		b.Place, b.Ahead = &place, &ahead
		if d.StockLow {
			rem := d.Remaining
			b.Remaining = &rem
		}
		if d.Stalled == queue.StallNone {
			b.ETA = &etaBody{Low: int64(d.ETALow / time.Second), High: int64(d.ETAHigh / time.Second)}
		}
	}
	if d.ClaimTook > 0 {
		result := "not_yet"
		if d.Lease != nil {
			result = "ok"
			s.m.claimLatency.WithLabelValues(rm.cfg.Name).Observe(d.ClaimTook.Seconds())
		}
		s.m.claims.WithLabelValues(rm.cfg.Name, result).Inc()
	}
	if d.Lease == nil {
		return b, nil, nil
	}
	adm, err := s.admit(rm, d.Lease, now)
	if err != nil {
		return b, nil, internalError(err)
	}
	zero := int64(0)
	b.Admitted, b.Token, b.Redirect = true, adm.token, dest.redirect(rm, adm.token)
	b.Place, b.Ahead, b.ETA, b.PollAfterMS = &zero, &zero, &etaBody{}, 0
	s.setCookie(c.Response(), admissionCookie, adm.token, time.Until(adm.claims.ExpiresAt)+time.Minute)
	return b, adm, nil
}

// admit signs the admission token for a lease the queue granted.
func (s *Server) admit(rm *room, l *queue.Lease, now time.Time) (*admittedAs, error) {
	cl := admission.Claims{Room: rm.cfg.Name, Visitor: l.Visitor, JTI: l.JTI,
		IssuedAt: now, NotBefore: now, ExpiresAt: l.ExpiresAt}
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
	if b.Remaining != nil {
		buf = append(buf, `,"remaining":`...)
		buf = strconv.AppendInt(buf, *b.Remaining, 10)
	}
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
	if b.Stalled != "" {
		buf = append(buf, `,"stalled":`...)
		buf = appendJSONString(buf, b.Stalled)
	}
	if b.Returning {
		buf = append(buf, `,"returning":true`...)
	}
	if b.Notice != "" {
		buf = append(buf, `,"notice":`...)
		buf = appendJSONString(buf, b.Notice)
	}
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
	// Remaining is the stock the backend says is left (optional; 0: sold out), see soldout.go.
	Remaining *int64 `json:"remaining"`
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
		tok = cookieValue(r, admissionCookie)
	}
	if tok == "" {
		return httpError(http.StatusUnauthorized, "no_token", "send the admission token as Authorization: Bearer <token>")
	}
	claims, err := s.verifier.Verify(tok, rm.cfg.Name, s.now())
	if err != nil {
		return &Error{Status: http.StatusUnauthorized, Code: "bad_token", Message: "the admission token was refused: " + refusalReason(err)}
	}
	var body releaseBody
	if r.ContentLength != 0 {
		dec := json.NewDecoder(io.LimitReader(r.Body, s.cfg.Limits.MaxBodyBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "the body must be {\"outcome\":\"booked|abandoned|failed\"}",
				Fields: map[string]string{"outcome": "must be booked, abandoned or failed"}}
		}
	}
	if body.Outcome == "" {
		body.Outcome = string(queue.OutcomeAbandoned)
	}
	out := queue.Outcome(body.Outcome)
	if out != queue.OutcomeBooked && out != queue.OutcomeAbandoned && out != queue.OutcomeFailed {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "unknown outcome",
			Fields: map[string]string{"outcome": "must be booked, abandoned or failed"}}
	}
	if err := s.reportStock(r.Context(), rm, body.Remaining); err != nil {
		return err
	}
	if queue.IsUnbacked(claims.JTI) { // admitted while the store was down: nothing to free
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
	if cookieValue(r, admissionCookie) == tok {
		s.clearCookie(c.Response(), admissionCookie)
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
